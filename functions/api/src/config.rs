//! The API's configuration: read once at start-up, checked by the same field
//! rules as an export (or import) request, so a bad deployment stops the
//! function before it takes a request, with the variable named.
//!
//! Imports are optional: without both import locations the import routes
//! answer that imports are not configured, and exports work as before.

use hlx_core::validation::{DATA_ACCESS_ROLE_ARN, DATASTORE_ID, KMS_KEY_ID, S3_URI};

/// The state machine the API starts (`arn:...:states:<region>:<account>:stateMachine:<name>`).
pub const ENV_STATE_MACHINE_ARN: &str = "HLX_STATE_MACHINE_ARN";
/// The data store used when a request names none (optional).
pub const ENV_DEFAULT_DATASTORE_ID: &str = "HLX_DEFAULT_DATASTORE_ID";
/// Where every API-started export writes (callers cannot choose it).
pub const ENV_EXPORT_S3_URI: &str = "HLX_EXPORT_S3_URI";
/// The KMS key HealthLake encrypts the export with.
pub const ENV_EXPORT_KMS_KEY_ID: &str = "HLX_EXPORT_KMS_KEY_ID";
/// The role HealthLake assumes to write the export (and to read an import's input).
pub const ENV_DATA_ACCESS_ROLE_ARN: &str = "HLX_DATA_ACCESS_ROLE_ARN";
/// Where API-started imports read from, by default; a request may name a
/// location inside it and nowhere else (the data access role may read only
/// there). Optional: empty or unset, imports are off.
pub const ENV_IMPORT_INPUT_S3_URI: &str = "HLX_IMPORT_INPUT_S3_URI";
/// Where every API-started import's logs go (callers cannot choose it).
/// Optional: empty or unset, imports are off.
pub const ENV_IMPORT_OUTPUT_S3_URI: &str = "HLX_IMPORT_OUTPUT_S3_URI";

/// Optional: the most hlx jobs in flight per data store (default
/// [`hlx_core::admission::DEFAULT_MAX_JOBS_IN_FLIGHT`]; 0: no limit). The
/// same variable sets start-job's limit.
pub const ENV_MAX_JOBS_IN_FLIGHT: &str = "HLX_MAX_JOBS_IN_FLIGHT";

/// The largest request body the API reads (16 KiB: an export request is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the API needs besides its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub state_machine_arn: String,
    pub default_datastore_id: Option<String>,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    /// The imports' input prefix; `None` when unset or empty.
    pub import_input_s3_uri: Option<String>,
    /// Where the imports' logs go; `None` when unset or empty.
    pub import_output_s3_uri: Option<String>,
    pub max_body_bytes: usize,
    /// The most hlx jobs in flight per data store (0: no limit).
    pub max_jobs_in_flight: u32,
}

/// Where API imports read and write, when both are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLocations<'a> {
    pub input_s3_uri: &'a str,
    pub output_s3_uri: &'a str,
}

/// A setting that is missing or breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ApiConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |variable: &'static str| {
            lookup(variable)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError {
                    variable,
                    problem: "is not set".into(),
                })
        };
        let optional = |variable: &str| lookup(variable).filter(|v| !v.trim().is_empty());
        let config = Self {
            state_machine_arn: get(ENV_STATE_MACHINE_ARN)?,
            default_datastore_id: lookup(ENV_DEFAULT_DATASTORE_ID).filter(|v| !v.is_empty()),
            s3_uri: get(ENV_EXPORT_S3_URI)?,
            kms_key_id: get(ENV_EXPORT_KMS_KEY_ID)?,
            data_access_role_arn: get(ENV_DATA_ACCESS_ROLE_ARN)?,
            import_input_s3_uri: optional(ENV_IMPORT_INPUT_S3_URI),
            import_output_s3_uri: optional(ENV_IMPORT_OUTPUT_S3_URI),
            max_body_bytes: MAX_BODY_BYTES,
            max_jobs_in_flight: match optional(ENV_MAX_JOBS_IN_FLIGHT) {
                None => hlx_core::admission::DEFAULT_MAX_JOBS_IN_FLIGHT,
                Some(text) => {
                    hlx_core::admission::parse_max_jobs_in_flight(&text).map_err(|problem| ConfigError {
                        variable: ENV_MAX_JOBS_IN_FLIGHT,
                        problem,
                    })?
                }
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting by the rule the export request will be held to.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |variable: &'static str, result: Result<(), hlx_core::FieldError>| {
            result.map_err(|e| ConfigError {
                variable,
                problem: e.rule,
            })
        };
        if state_machine_parts(&self.state_machine_arn).is_none() {
            return Err(ConfigError {
                variable: ENV_STATE_MACHINE_ARN,
                problem: "must be a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)"
                    .into(),
            });
        }
        if let Some(datastore_id) = &self.default_datastore_id {
            rule(
                ENV_DEFAULT_DATASTORE_ID,
                DATASTORE_ID.check(ENV_DEFAULT_DATASTORE_ID, datastore_id),
            )?;
        }
        rule(ENV_EXPORT_S3_URI, S3_URI.check(ENV_EXPORT_S3_URI, &self.s3_uri))?;
        rule(
            ENV_EXPORT_KMS_KEY_ID,
            KMS_KEY_ID.check(ENV_EXPORT_KMS_KEY_ID, &self.kms_key_id),
        )?;
        rule(
            ENV_DATA_ACCESS_ROLE_ARN,
            DATA_ACCESS_ROLE_ARN.check(ENV_DATA_ACCESS_ROLE_ARN, &self.data_access_role_arn),
        )?;
        for (variable, value) in [
            (ENV_IMPORT_INPUT_S3_URI, &self.import_input_s3_uri),
            (ENV_IMPORT_OUTPUT_S3_URI, &self.import_output_s3_uri),
        ] {
            if let Some(value) = value {
                rule(variable, S3_URI.check(variable, value))?;
            }
        }
        if let Ok(locations) = self.import_locations()
            && is_inside(locations.output_s3_uri, locations.input_s3_uri)
        {
            return Err(ConfigError {
                variable: ENV_IMPORT_OUTPUT_S3_URI,
                problem: format!(
                    "must not be inside {ENV_IMPORT_INPUT_S3_URI} ({}): the next import would load this one's logs",
                    locations.input_s3_uri
                ),
            });
        }
        Ok(())
    }

    /// Both import locations, or the variables of the missing ones.
    pub fn import_locations(&self) -> Result<ImportLocations<'_>, Vec<&'static str>> {
        match (&self.import_input_s3_uri, &self.import_output_s3_uri) {
            (Some(input), Some(output)) => Ok(ImportLocations {
                input_s3_uri: input,
                output_s3_uri: output,
            }),
            (input, output) => Err([
                (ENV_IMPORT_INPUT_S3_URI, input.is_none()),
                (ENV_IMPORT_OUTPUT_S3_URI, output.is_none()),
            ]
            .into_iter()
            .filter_map(|(variable, missing)| missing.then_some(variable))
            .collect()),
        }
    }

    /// The ARN of this state machine's execution called `name`.
    pub fn execution_arn(&self, name: &str) -> String {
        execution_arn(&self.state_machine_arn, name).expect("the state machine ARN was validated at start-up")
    }
}

/// Whether `uri` is `prefix` or lies under it, segment-wise: `s3://b/in/x`
/// is inside `s3://b/in` and `s3://b/in/`; `s3://b/inbox` is not.
pub fn is_inside(uri: &str, prefix: &str) -> bool {
    let (uri, prefix) = (uri.trim_end_matches('/'), prefix.trim_end_matches('/'));
    uri == prefix || uri.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// `arn:<partition>:states:<region>:<account>:stateMachine:<name>` → its parts
/// before `stateMachine`, and the name.
fn state_machine_parts(arn: &str) -> Option<(&str, &str)> {
    let (prefix, name) = arn.rsplit_once(":stateMachine:")?;
    let parts: Vec<&str> = prefix.split(':').collect();
    let well_formed = parts.len() == 5
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "states"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && !name.is_empty()
        && !name.contains(':');
    well_formed.then_some((prefix, name))
}

/// The ARN Step Functions gives the execution `name` of the state machine
/// `state_machine_arn`: `arn:...:execution:<state machine name>:<name>`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (prefix, machine) = state_machine_parts(state_machine_arn)?;
    Some(format!("{prefix}:execution:{machine}:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                ENV_STATE_MACHINE_ARN,
                "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job".to_owned(),
            ),
            (ENV_EXPORT_S3_URI, "s3://hlx-exports/api".to_owned()),
            (ENV_EXPORT_KMS_KEY_ID, "alias/hlx-exports".to_owned()),
            (
                ENV_DATA_ACCESS_ROLE_ARN,
                "arn:aws:iam::123456789012:role/HealthLakeExport".to_owned(),
            ),
        ])
    }

    fn read(env: &HashMap<&'static str, String>) -> Result<ApiConfig, ConfigError> {
        ApiConfig::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn a_complete_environment_reads() {
        let config = read(&env()).unwrap();
        assert_eq!(config.default_datastore_id, None);
        assert_eq!(config.max_body_bytes, 16 * 1024);
        assert_eq!(
            config.execution_arn("api-x"),
            "arn:aws:states:us-east-1:123456789012:execution:hlx-job:api-x"
        );
    }

    #[test]
    fn each_required_variable_is_named_when_missing_or_empty() {
        for variable in [
            ENV_STATE_MACHINE_ARN,
            ENV_EXPORT_S3_URI,
            ENV_EXPORT_KMS_KEY_ID,
            ENV_DATA_ACCESS_ROLE_ARN,
        ] {
            let mut env = env();
            env.remove(variable);
            assert_eq!(read(&env).unwrap_err().variable, variable);
            env.insert(variable, " ".into());
            let err = read(&env).unwrap_err();
            assert_eq!(err.variable, variable);
            assert_eq!(
                err.to_string(),
                format!("bad configuration: {variable} is not set")
            );
        }
    }

    #[test]
    fn settings_are_held_to_the_request_rules() {
        let cases = [
            (
                ENV_STATE_MACHINE_ARN,
                "arn:aws:states:us-east-1:123456789012:activity:x",
            ),
            (ENV_STATE_MACHINE_ARN, "hlx-job"),
            (ENV_EXPORT_S3_URI, "https://bucket/x"),
            (ENV_EXPORT_KMS_KEY_ID, "not a key"),
            (ENV_DATA_ACCESS_ROLE_ARN, "arn:aws:iam::1:role/x"),
            (ENV_DEFAULT_DATASTORE_ID, "semi;colon"),
        ];
        for (variable, value) in cases {
            let mut env = env();
            env.insert(variable, value.into());
            let err = read(&env).expect_err(value);
            assert_eq!(err.variable, variable, "{value}");
        }
    }

    fn with_imports() -> HashMap<&'static str, String> {
        let mut env = env();
        env.insert(ENV_IMPORT_INPUT_S3_URI, "s3://hlx-landing/fhir/".into());
        env.insert(ENV_IMPORT_OUTPUT_S3_URI, "s3://hlx-import-logs/api".into());
        env
    }

    #[test]
    fn imports_are_off_unless_both_locations_are_set() {
        let config = read(&env()).unwrap();
        assert_eq!(
            config.import_locations(),
            Err(vec![ENV_IMPORT_INPUT_S3_URI, ENV_IMPORT_OUTPUT_S3_URI])
        );
        let mut half = with_imports();
        half.insert(ENV_IMPORT_OUTPUT_S3_URI, " ".into());
        let config = read(&half).unwrap();
        assert_eq!(
            config.import_input_s3_uri.as_deref(),
            Some("s3://hlx-landing/fhir/")
        );
        assert_eq!(config.import_locations(), Err(vec![ENV_IMPORT_OUTPUT_S3_URI]));
        let config = read(&with_imports()).unwrap();
        assert_eq!(
            config.import_locations(),
            Ok(ImportLocations {
                input_s3_uri: "s3://hlx-landing/fhir/",
                output_s3_uri: "s3://hlx-import-logs/api",
            })
        );
    }

    #[test]
    fn import_locations_are_held_to_the_import_rules() {
        for (variable, value) in [
            (ENV_IMPORT_INPUT_S3_URI, "https://landing/x"),
            (ENV_IMPORT_OUTPUT_S3_URI, "s3://B/logs"),
            (ENV_IMPORT_OUTPUT_S3_URI, "s3://hlx-landing/fhir/logs"),
            (ENV_IMPORT_OUTPUT_S3_URI, "s3://hlx-landing/fhir"),
        ] {
            let mut env = with_imports();
            env.insert(variable, value.into());
            let err = read(&env).expect_err(value);
            assert_eq!(err.variable, variable, "{value}");
        }
        // A sibling prefix is not inside.
        let mut sibling = with_imports();
        sibling.insert(ENV_IMPORT_OUTPUT_S3_URI, "s3://hlx-landing/fhir-logs/".into());
        read(&sibling).unwrap();
        // A malformed location is refused even when the other one is missing.
        let mut input_only = env();
        input_only.insert(ENV_IMPORT_INPUT_S3_URI, "landing".into());
        assert_eq!(read(&input_only).unwrap_err().variable, ENV_IMPORT_INPUT_S3_URI);
    }

    #[test]
    fn inside_is_segment_wise() {
        for (uri, prefix) in [
            ("s3://b/in", "s3://b/in"),
            ("s3://b/in/", "s3://b/in"),
            ("s3://b/in/x/y", "s3://b/in/"),
            ("s3://b/x", "s3://b"),
        ] {
            assert!(is_inside(uri, prefix), "{uri} in {prefix}");
        }
        for (uri, prefix) in [
            ("s3://b/inbox", "s3://b/in"),
            ("s3://b", "s3://b/in"),
            ("s3://b-2/in", "s3://b"),
            ("s3://other/in", "s3://b/in"),
        ] {
            assert!(!is_inside(uri, prefix), "{uri} not in {prefix}");
        }
    }

    #[test]
    fn execution_arns_keep_the_partition_region_and_account() {
        assert_eq!(
            execution_arn(
                "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:m",
                "n"
            )
            .unwrap(),
            "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:n"
        );
        assert_eq!(execution_arn("arn:aws:states:r:1:stateMachine:", "n"), None);
        assert_eq!(execution_arn("arn:aws:lambda:r:1:stateMachine:m", "n"), None);
    }
}
