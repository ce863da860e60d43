//! [`FunctionConfig`]: the executable, arguments, environment and limits of
//! one function.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How to run one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    pub executable: PathBuf,
    pub args: Vec<String>,
    /// Extra environment (endpoint URLs, credentials, table names...).
    pub env: BTreeMap<String, String>,
    /// The function timeout, in real time. Default 30 s.
    pub timeout: Duration,
    /// How long a new process may take to ask for its first invocation.
    /// Default 10 s, Lambda's init limit.
    pub init_timeout: Duration,
    pub memory_mb: u32,
    /// `_HANDLER`. Default `bootstrap`.
    pub handler: String,
}

impl FunctionConfig {
    pub fn new(name: impl Into<String>, executable: impl Into<PathBuf>) -> FunctionConfig {
        FunctionConfig {
            name: name.into(),
            executable: executable.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            init_timeout: Duration::from_secs(10),
            memory_mb: 128,
            handler: "bootstrap".into(),
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> FunctionConfig {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn envs(mut self, env: impl IntoIterator<Item = (String, String)>) -> FunctionConfig {
        self.env.extend(env);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> FunctionConfig {
        self.timeout = timeout;
        self
    }

    pub fn init_timeout(mut self, timeout: Duration) -> FunctionConfig {
        self.init_timeout = timeout;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> FunctionConfig {
        self.args.push(arg.into());
        self
    }
}
