//! The harness of the end-to-end scenarios: a local stack on virtual time
//! running the real binaries as processes, with moto's DynamoDB.

use std::sync::Arc;
use std::time::Duration;

use hlx_asl_runner::{ExecutionDescription, StateMachine};
use hlx_core::JobRecord;
use hlx_healthlake_emulator::JobProfile;
use hlx_local_stack::{History, Lambdas, LocalStack, StackConfig};
use serde_json::Value;

use crate::MotoServer;

pub struct Scenario {
    _moto: MotoServer,
    pub dir: tempdir::Dir,
    pub stack: LocalStack,
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("hlx-e2e-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub async fn scenario(name: &str, configure: impl FnOnce(&mut StackConfig)) -> Scenario {
    let moto = MotoServer::start();
    let dir = tempdir::Dir::new(name);
    let mut config = StackConfig::new(dir.0.join("s3"));
    config.history = History::DynamoDb {
        endpoint: moto.endpoint.clone(),
        table: "hlx-jobs".into(),
    };
    config.profile =
        JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(3 * 3600));
    config.lambdas = Lambdas::Process {
        bin_dir: crate::bin_dir(),
    };
    configure(&mut config);
    let stack = LocalStack::start(config).await.expect("the local stack starts");
    Scenario {
        _moto: moto,
        dir,
        stack,
    }
}

impl Scenario {
    pub fn datastore(&self) -> &str {
        &self.stack.datastores[0]
    }

    pub async fn run(&self, name: &str, input: Value) -> ExecutionDescription {
        let handle = self
            .stack
            .start_execution(name, input)
            .expect("the execution starts");
        self.stack.runner.wait_all().await;
        handle.describe()
    }

    pub async fn record(&self, name: &str) -> JobRecord {
        self.stack
            .record(name)
            .await
            .expect("DynamoDB answers")
            .unwrap_or_else(|| panic!("{name} has no job record"))
    }

    /// Two state machines of one state, StartJob with the deployed
    /// definition's Parameters: an execution name run on both is a start
    /// repeated after its answer was lost.
    pub fn start_only_machines(&self) -> (Arc<StateMachine>, Arc<StateMachine>) {
        let definition = self.dir.0.join("start-only.asl.json");
        std::fs::write(&definition, START_ONLY).expect("the definition is written");
        let machine = hlx_local_stack::load_definition(Some(&definition)).expect("it loads");
        (
            Arc::new(machine.as_ref().clone().with_name("start-a")),
            Arc::new(machine.as_ref().clone().with_name("start-b")),
        )
    }

    pub fn exports_started(&self) -> usize {
        self.stack.emulator.export_jobs().len()
    }

    pub fn calls(&self, operation: &str) -> usize {
        self.stack
            .emulator
            .call_counts()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// Only StartJob, with the Parameters of the deployed definition.
const START_ONLY: &str = r#"{
  "StartAt": "StartJob",
  "States": {
    "StartJob": {
      "Type": "Task",
      "Resource": "${StartJobFunctionArn}",
      "Parameters": {
        "request.$": "$",
        "executionName.$": "$$.Execution.Name",
        "now.$": "$$.State.EnteredTime",
        "retryCount.$": "$$.State.RetryCount"
      },
      "End": true
    }
  }
}"#;

pub fn report(scenario: &str, execution: &ExecutionDescription) {
    println!(
        "scenario {scenario:<40} {:<9} {:>3} state transitions, {:>3} retries, {:>3} invocations",
        execution.status.as_str(),
        execution.stats.state_transitions,
        execution.stats.retries,
        execution.stats.total_task_invocations()
    );
}
