//! `hlx start`, `hlx status` and `hlx list`.

use clap::Args;
use hlx_core::store::MAX_PAGE;
use hlx_core::{DynamoDbJobStore, ExportRequest, JobStore};
use serde_json::{Value, json};

use crate::CliError;
use crate::aws::{self, GlobalArgs};
use crate::render;
use crate::view::{Backend, Execution, unknown};

pub const START_HELP: &str = "\
The export id is the Step Functions execution name, derived as the API derives
it: from --idempotency-key (`api-k-<hash>`), else from the request and the UTC
day (`api-<data store>-<yyyymmdd>-<hash>`). Starting the same export again
prints the existing one's id and exits 0; reusing a key for another request
exits 2.

Examples:
  hlx start --datastore-id 0123456789abcdef0123456789abcdef
  hlx start --datastore-id $DS --job-name audit-2026-q1 --idempotency-key audit-2026-q1 --json
  hlx start --datastore-id $DS --watch";

pub const STATUS_HELP: &str = "\
Reads the job record from the table (--table or HLX_TABLE_NAME). Without a
record (the execution has not written one yet, or no table is given) it asks
Step Functions (--state-machine-arn or HLX_STATE_MACHINE_ARN) and shows the
record the execution's history describes. Exit code 1 when the export failed,
timed out, was rejected or ended in error; 2 when no export has the id.

Examples:
  hlx status api-k-3f2a...
  hlx status arn:aws:states:us-east-1:123456789012:execution:hlx-export:api-k-3f2a... --json";

pub const LIST_HELP: &str = "\
With --datastore-id: the data store's job records from the table, newest
first. Without: the state machine's executions,
newest first, with their records when a table is given. --next-token
continues a list where the previous page stopped.

Examples:
  hlx list --datastore-id 0123456789abcdef0123456789abcdef
  hlx list --limit 5 --json | jq -r .nextToken";

/// Where to look for exports: the state machine and the job table.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The export state machine.
    #[arg(long, env = "HLX_STATE_MACHINE_ARN", value_name = "ARN")]
    pub state_machine_arn: Option<String>,
    /// The DynamoDB job table.
    #[arg(long, env = "HLX_TABLE_NAME", value_name = "NAME")]
    pub table: Option<String>,
}

impl TargetArgs {
    pub async fn backend(&self, global: &GlobalArgs) -> Result<Backend, CliError> {
        if self.state_machine_arn.is_none() && self.table.is_none() {
            return Err(CliError::Usage(
                "nothing to read: give --table (or HLX_TABLE_NAME) and/or --state-machine-arn \
                 (or HLX_STATE_MACHINE_ARN)"
                    .into(),
            ));
        }
        if let Some(arn) = &self.state_machine_arn {
            check_state_machine_arn(arn)?;
        }
        let config = aws::sdk_config(global).await?;
        Ok(Backend {
            sfn: aws::sfn(&config),
            store: self
                .table
                .as_ref()
                .map(|table| DynamoDbJobStore::new(aws::dynamodb(&config), table)),
            state_machine_arn: self.state_machine_arn.clone(),
        })
    }
}

fn check_state_machine_arn(arn: &str) -> Result<(), CliError> {
    match api::config::execution_arn(arn, "x") {
        Some(_) => Ok(()),
        None => Err(CliError::Usage(format!(
            "--state-machine-arn {arn:?} is not a state machine ARN \
             (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        ))),
    }
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// The HealthLake data store to export.
    #[arg(long, env = "HLX_DEFAULT_DATASTORE_ID", value_name = "ID")]
    pub datastore_id: String,
    /// The job's name in HealthLake (default: derived from the export id).
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,
    /// Makes the start idempotent across days: the same key is the same export.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The export state machine.
    #[arg(long, env = "HLX_STATE_MACHINE_ARN", value_name = "ARN")]
    pub state_machine_arn: String,
    /// Where HealthLake writes the export.
    #[arg(long, env = "HLX_EXPORT_S3_URI", value_name = "S3_URI")]
    pub s3_uri: String,
    /// The KMS key HealthLake encrypts the export with.
    #[arg(long, env = "HLX_EXPORT_KMS_KEY_ID", value_name = "KEY_ID")]
    pub kms_key_id: String,
    /// The role HealthLake assumes to write the export.
    #[arg(long, env = "HLX_DATA_ACCESS_ROLE_ARN", value_name = "ARN")]
    pub data_access_role_arn: String,
    /// The job table, for --watch (else the execution is followed).
    #[arg(long, env = "HLX_TABLE_NAME", value_name = "NAME")]
    pub table: Option<String>,
    /// Follow the export until it ends, as `hlx watch` does.
    #[arg(long)]
    pub watch: bool,
    /// With --watch, how often to look: 5s, 1m, 500ms.
    #[arg(long, default_value = "5s", value_parser = crate::watch::parse_interval, requires = "watch")]
    pub interval: std::time::Duration,
}

/// The request's fields and the flags that set them.
const FLAGS: [(&str, &str); 5] = [
    ("datastoreId", "--datastore-id"),
    ("s3Uri", "--s3-uri"),
    ("kmsKeyId", "--kms-key-id"),
    ("dataAccessRoleArn", "--data-access-role-arn"),
    ("jobName", "--job-name"),
];

/// The execution input `hlx start` sends, checked by the domain's rules; an
/// error names the flag and the field.
pub fn export_request(args: &StartArgs) -> Result<ExportRequest, CliError> {
    let mut value = json!({
        "datastoreId": args.datastore_id,
        "s3Uri": args.s3_uri,
        "kmsKeyId": args.kms_key_id,
        "dataAccessRoleArn": args.data_access_role_arn,
        "trigger": "manual",
    });
    if let Some(name) = &args.job_name {
        value["jobName"] = json!(name);
    }
    ExportRequest::from_value(&value).map_err(|e| {
        let flag = FLAGS
            .iter()
            .find(|(field, _)| *field == e.field)
            .map_or(String::new(), |(_, flag)| format!("{flag} "));
        CliError::Usage(format!("invalid export request: {flag}({}) {}", e.field, e.rule))
    })
}

/// The execution name: the API's naming, so a key means the same export
/// whichever front end started it.
pub fn export_id(
    request: &ExportRequest,
    key: Option<&str>,
    now: jiff::Timestamp,
) -> Result<String, CliError> {
    match key {
        Some(key) => {
            api::naming::check_idempotency_key(key)
                .map_err(|rule| CliError::Usage(format!("--idempotency-key {rule}")))?;
            Ok(api::naming::name_for_key(key))
        }
        None => {
            let input = serde_json::to_string(request).expect("a request serializes");
            Ok(api::naming::name_for_request(&request.datastore_id, &input, now))
        }
    }
}

/// `hlx start`.
pub async fn start(global: &GlobalArgs, args: StartArgs) -> Result<u8, CliError> {
    check_state_machine_arn(&args.state_machine_arn)?;
    let request = export_request(&args)?;
    let name = export_id(&request, args.idempotency_key.as_deref(), jiff::Timestamp::now())?;
    let input = serde_json::to_string(&request).expect("a request serializes");
    let config = aws::sdk_config(global).await?;
    let backend = Backend {
        sfn: aws::sfn(&config),
        store: None,
        state_machine_arn: Some(args.state_machine_arn.clone()),
    };
    let arn = api::config::execution_arn(&args.state_machine_arn, &name).expect("the ARN was checked");
    let keyed = args.idempotency_key.is_some();
    // As the API does: an execution of that name answers for itself.
    let (arn, status, created) = match backend.describe(&arn).await? {
        Some(existing) => same_request(existing, &input, keyed)?,
        None => {
            let started = backend
                .sfn
                .start_execution()
                .state_machine_arn(&args.state_machine_arn)
                .name(&name)
                .input(&input)
                .send()
                .await;
            match started {
                Ok(out) => (
                    out.execution_arn().to_owned(),
                    api::api::STARTING.to_owned(),
                    true,
                ),
                // Started by someone else between the look and the start.
                Err(err) if aws::error_code(&err) == Some("ExecutionAlreadyExists") => {
                    match backend.describe(&arn).await? {
                        Some(existing) => same_request(existing, &input, keyed)?,
                        None => {
                            return Err(CliError::Aws(format!(
                                "StartExecution said {name} exists, DescribeExecution did not find it"
                            )));
                        }
                    }
                }
                Err(err) => return Err(aws::error("StartExecution", err)),
            }
        }
    };
    if global.json {
        println!(
            "{}",
            json!({"exportId": name, "executionArn": arn, "status": status, "created": created})
        );
    } else if created {
        println!("started export {name}");
        println!("  execution {arn}");
        println!("  follow it: hlx watch {name}");
    } else {
        println!("export {name} already exists ({status}): not started again");
        println!("  execution {arn}");
    }
    if args.watch {
        let watch = crate::watch::WatchArgs {
            id: name,
            target: TargetArgs {
                state_machine_arn: Some(args.state_machine_arn.clone()),
                table: args.table.clone(),
            },
            interval: args.interval,
        };
        return crate::watch::watch(global, watch).await;
    }
    Ok(0)
}

/// An execution of the export's name exists: the same request is the same
/// export; another request under that name is the caller's mistake.
fn same_request(existing: Execution, input: &str, keyed: bool) -> Result<(String, String, bool), CliError> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
    if existing.input.as_deref().and_then(parse) != parse(input) {
        let what = if keyed {
            "the idempotency key was already used for a different request"
        } else {
            "an export of that name already exists for a different request"
        };
        return Err(CliError::Usage(format!("{what} (export {})", existing.name)));
    }
    Ok((existing.arn, existing.status, false))
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The export id (the execution name) or the execution ARN.
    pub id: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `hlx status`.
pub async fn status(global: &GlobalArgs, args: StatusArgs) -> Result<u8, CliError> {
    let backend = args.target.backend(global).await?;
    let view = backend.export(&args.id).await?.ok_or_else(|| unknown(&args.id))?;
    if global.json {
        println!("{}", view.to_json());
    } else {
        print!("{}", render::status(&view));
    }
    Ok(view.outcome().exit_code())
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// List this data store's job records (else the state machine's executions).
    #[arg(long, value_name = "ID")]
    pub datastore_id: Option<String>,
    /// The page size.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
    pub limit: u32,
    /// Continue from where the previous page stopped.
    #[arg(long, value_name = "TOKEN")]
    pub next_token: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `hlx list`.
pub async fn list(global: &GlobalArgs, args: ListArgs) -> Result<u8, CliError> {
    let backend = args.target.backend(global).await?;
    match &args.datastore_id {
        Some(datastore_id) => {
            hlx_core::validation::DATASTORE_ID
                .check("datastoreId", datastore_id)
                .map_err(|e| CliError::Usage(format!("--datastore-id {}", e.rule)))?;
            let Some(store) = &backend.store else {
                return Err(CliError::Usage(
                    "listing a data store's exports reads the job table: give --table (or HLX_TABLE_NAME)"
                        .into(),
                ));
            };
            let page = store
                .list(
                    hlx_core::JobKind::Export,
                    datastore_id,
                    args.limit,
                    args.next_token.as_deref(),
                )
                .await
                .map_err(aws::store_error)?;
            if global.json {
                println!("{}", serde_json::to_value(&page).expect("a page serializes"));
            } else {
                let rows: Vec<Vec<String>> = page.records.iter().map(render::record_row).collect();
                if rows.is_empty() {
                    println!("no exports of data store {datastore_id}");
                } else {
                    print!(
                        "{}",
                        render::table(
                            &["EXPORT ID", "STATUS", "STARTED", "QUEUED", "RAN", "TRIGGER"],
                            &rows
                        )
                    );
                }
                print_next(page.next_token.as_deref());
            }
        }
        None => {
            let (executions, next_token) = backend.executions(args.limit, args.next_token.clone()).await?;
            let mut items = Vec::new();
            let mut rows = Vec::new();
            for e in &executions {
                let record = match &backend.store {
                    Some(store) => store
                        .get(hlx_core::JobKind::Export, &e.name)
                        .await
                        .map_err(aws::store_error)?,
                    None => None,
                };
                let mut item = json!({
                    "exportId": e.name,
                    "executionArn": e.arn,
                    "executionStatus": e.status,
                    "startDate": hlx_core::time::format(e.start),
                });
                if let Some(stop) = e.stop {
                    item["stopDate"] = json!(hlx_core::time::format(stop));
                }
                if let Some(record) = &record {
                    item["record"] = serde_json::to_value(record).expect("a record serializes");
                }
                items.push(item);
                rows.push(vec![
                    e.name.clone(),
                    e.status.clone(),
                    record.as_ref().map_or("-".into(), |r| r.status.to_string()),
                    render::time(e.start),
                    e.stop.map_or("-".into(), render::time),
                ]);
            }
            if global.json {
                let mut out = json!({ "executions": items });
                if let Some(token) = &next_token {
                    out["nextToken"] = json!(token);
                }
                println!("{out}");
            } else {
                if rows.is_empty() {
                    println!("no executions");
                } else {
                    print!(
                        "{}",
                        render::table(&["EXPORT ID", "EXECUTION", "RECORD", "STARTED", "STOPPED"], &rows)
                    );
                }
                print_next(next_token.as_deref());
            }
        }
    }
    Ok(0)
}

fn print_next(token: Option<&str>) {
    if let Some(token) = token {
        println!("more: --next-token {token}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> StartArgs {
        StartArgs {
            datastore_id: "0123456789abcdef0123456789abcdef".into(),
            job_name: None,
            idempotency_key: None,
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-export".into(),
            s3_uri: "s3://bucket/exports".into(),
            kms_key_id: "alias/exports".into(),
            data_access_role_arn: "arn:aws:iam::123456789012:role/HealthLakeExport".into(),
            table: None,
            watch: false,
            interval: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn the_request_is_manual_and_checked_field_by_field() {
        let request = export_request(&args()).unwrap();
        assert_eq!(request.trigger, hlx_core::Trigger::Manual);
        let mut bad = args();
        bad.s3_uri = "https://bucket/x".into();
        let err = export_request(&bad).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message().contains("--s3-uri (s3Uri)"), "{err:?}");
        let mut bad = args();
        bad.data_access_role_arn = "role".into();
        assert!(
            export_request(&bad)
                .unwrap_err()
                .message()
                .contains("--data-access-role-arn")
        );
    }

    #[test]
    fn ids_follow_the_api_naming() {
        let request = export_request(&args()).unwrap();
        let now: jiff::Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let keyed = export_id(&request, Some("fix-42"), now).unwrap();
        assert_eq!(keyed, api::naming::name_for_key("fix-42"));
        let daily = export_id(&request, None, now).unwrap();
        assert!(
            daily.starts_with("api-0123456789abcdef0123456789abcdef-20260301-"),
            "{daily}"
        );
        assert_eq!(
            daily,
            export_id(&request, None, "2026-03-01T23:00:00Z".parse().unwrap()).unwrap()
        );
        let err = export_id(&request, Some("no spaces"), now).unwrap_err();
        assert!(err.message().starts_with("--idempotency-key"), "{err:?}");
    }
}
