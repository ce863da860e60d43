//! hlx's functions as the release binaries, each run as a process behind a
//! local Lambda Runtime API, with the environment a deployed function has:
//! endpoints for HealthLake, S3, DynamoDB and Step Functions, the local
//! credentials, the table and the poll schedule.

use std::path::Path;

use hlx_asl_runner::{FunctionConfig, ProcessInvoker};
use hlx_core::PollSchedule;
use hlx_core::verification::VerifyPolicy;

use crate::config::History;
use crate::names::{ACCOUNT, EVENTS_FUNCTION, FUNCTIONS, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, REGION};

/// The invoker of the binaries in `bin_dir`. The processes keep history in
/// DynamoDB, so `history` must name a DynamoDB-compatible server.
pub(super) fn invoker(
    bin_dir: &Path,
    history: &History,
    schedule: &PollSchedule,
    verify: &VerifyPolicy,
    healthlake_endpoint: &str,
    sfn_endpoint: &str,
) -> Result<ProcessInvoker, String> {
    let History::DynamoDb { endpoint, table } = history else {
        return Err("the function processes keep history in DynamoDB: \
            give a DynamoDB-compatible endpoint (hlx local --dynamodb-endpoint URL)"
            .into());
    };
    let mut env: Vec<(String, String)> = vec![
        (
            "AWS_ENDPOINT_URL_HEALTHLAKE".into(),
            healthlake_endpoint.to_owned(),
        ),
        ("AWS_ENDPOINT_URL_S3".into(), healthlake_endpoint.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.clone()),
        ("AWS_ENDPOINT_URL_SFN".into(), sfn_endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID".into(), LOCAL_ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), LOCAL_SECRET_KEY.into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("HLX_TABLE_NAME".into(), table.clone()),
        ("RUST_LOG".into(), "info".into()),
    ];
    env.extend(schedule.to_env());
    env.extend(verify.to_env());
    let mut builder = ProcessInvoker::builder().region(REGION).account(ACCOUNT);
    let names = FUNCTIONS.iter().map(|(_, name)| *name).chain([EVENTS_FUNCTION]);
    for name in names {
        let executable = bin_dir.join(name);
        if !executable.is_file() {
            return Err(format!(
                "{} is missing: build the functions with `cargo build --profile local --workspace --bins`",
                executable.display()
            ));
        }
        builder = builder.function(FunctionConfig::new(format!("hlx-{name}"), executable).envs(env.clone()));
    }
    Ok(builder.build())
}
