//! `hlx start`, `hlx status` and `hlx list`, and their twins under
//! `hlx import`: the same code paths, by [`JobKind`].

use clap::Args;
use hlx_aws::DynamoDbJobStore;
use hlx_core::store::MAX_PAGE;
use hlx_core::{JobKind, JobRequest, JobStore};
use hlx_report::Table;
use serde_json::{Value, json};

use crate::CliError;
use crate::aws::{self, GlobalArgs};
use crate::render;
use crate::view::{Backend, Execution, command, input_kind, unknown};

pub const START_HELP: &str = "\
The export id is the Step Functions execution name, derived as the API derives
it: from --idempotency-key (`api-k-<hash>`), else from the request and the UTC
day (`api-<data store>-<yyyymmdd>-<hash>`). Starting the same export again
prints the existing one's id and exits 0; reusing a key for another request
exits 2.

Examples:
  hlx start --datastore-id 0123456789abcdef0123456789abcdef
  hlx start --datastore-id $DS --job-name audit-2026-q1 --idempotency-key audit-2026-q1 --json
  hlx start --datastore-id $DS --watch
  hlx start --datastore-id $DS --incremental                  # what changed since the last completed export
  hlx start --datastore-id $DS --since 2026-11-01T00:00:00Z   # an explicit _since
  hlx start --datastore-id $DS --scope group/cohort-7 --type Patient,Observation";

pub const CANCEL_HELP: &str = "\
Asks HealthLake (FHIR REST DELETE on the export job) to cancel a running
export; the execution then records CANCEL_COMPLETED (or CANCEL_FAILED) when
its next check sees it. HealthLake refuses for data stores created before
2023-06-01: the refusal is printed as HealthLake worded it (exit code 3). An
export that has ended, or has no HealthLake job yet, exits 2.

Examples:
  hlx cancel api-0123456789abcdef0123456789abcdef-20261124-1a2b3c4d
  hlx cancel $ID --json";

pub const VERIFY_HELP: &str = "\
Reads every file of a completed export back from S3 (streamed, any size),
checks each line (a JSON object, its resourceType its folder's, an id that
follows FHIR's rule and is unique for its type), counts resources per type
against HealthLake's manifest and, for a full export, the previous full
export of the same scope, and keeps the verdict in the export's record
(HealthLake's status is untouched). Settings: HLX_VERIFY_MAX_DROP_SHARE.
Exit code 0 when VERIFIED, 1 when SUSPECT or UNVERIFIABLE, 2 when the
export is unknown or did not complete.

Examples:
  hlx verify nightly-0123456789ab-20261206 --table hlx-jobs
  hlx verify $ID --no-record --json";

pub const IMPORT_START_HELP: &str = "\
Loads the NDJSON under --input-s3-uri into the data store through the same
state machine as exports; HealthLake writes the import's success and failure
logs under --output-s3-uri. The request is checked by the import rules before
any call (a bad value names its flag; --output-s3-uri may not lie inside
--input-s3-uri). The import id is the execution name, derived as
`POST /imports` derives it: `api-import-k-<hash>` from --idempotency-key, else
`api-import-<data store>-<yyyymmdd>-<hash>` from the request and the UTC day.
Starting the same import again prints the existing one's id and exits 0;
reusing a key for another import request exits 2.

Examples:
  hlx import start --datastore-id $DS --input-s3-uri s3://landing/fhir/batch-7/
  hlx import start --idempotency-key batch-7 --job-name batch-7 --watch
  hlx import start --json | jq -r .importId";

pub const STATUS_HELP: &str = "\
Reads the job record from the table (--table or HLX_TABLE_NAME). Without a
record (the execution has not written one yet, or no table is given) it asks
Step Functions (--state-machine-arn or HLX_STATE_MACHINE_ARN) and shows the
record the execution's history describes. Exit code 1 when the export failed,
timed out, was rejected or ended in error; 2 when no export has the id.

Examples:
  hlx status api-k-3f2a...
  hlx status arn:aws:states:us-east-1:123456789012:execution:hlx-job:api-k-3f2a... --json";

pub const IMPORT_STATUS_HELP: &str = "\
As `hlx status`, for an import: its job record (kind import) with the input
location, the logs' location and HealthLake's counts (resources and files
imported, and with errors). COMPLETED_WITH_ERRORS exits 0, as for exports:
the failure log under the logs' location lists the refused resources. Exit
code 1 when the import failed, timed out, was rejected or ended in error; 2
when no import has the id (an export's id included).

Examples:
  hlx import status api-import-k-3f2a...
  hlx import status import-0123456789abcdef0123456789abcdef-2026-12-01 --json";

pub const LIST_HELP: &str = "\
With --datastore-id: the data store's job records from the table, newest
first. Without: the state machine's executions,
newest first, with their records when a table is given. --next-token
continues a list where the previous page stopped.

Examples:
  hlx list --datastore-id 0123456789abcdef0123456789abcdef
  hlx list --limit 5 --json | jq -r .nextToken";

pub const IMPORT_LIST_HELP: &str = "\
As `hlx list`, for imports: with --datastore-id, the data store's import
records, newest first; without, the imports among a page of the state
machine's executions (a page may show fewer than --limit).

Examples:
  hlx import list --datastore-id 0123456789abcdef0123456789abcdef
  hlx import list --limit 5 --json | jq -r .nextToken";

/// Where to look for exports and imports: the state machine and the job table.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The state machine (exports and imports run on the same one).
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

/// What starting an export and starting an import both take.
#[derive(Debug, Clone, Args)]
pub struct StartOptions {
    /// The HealthLake data store.
    #[arg(long, env = "HLX_DEFAULT_DATASTORE_ID", value_name = "ID")]
    pub datastore_id: String,
    /// The job's name in HealthLake (default: derived from the id).
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,
    /// Makes the start idempotent across days: the same key is the same job.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The state machine (exports and imports run on the same one).
    #[arg(long, env = "HLX_STATE_MACHINE_ARN", value_name = "ARN")]
    pub state_machine_arn: String,
    /// The KMS key HealthLake encrypts with (an export's files, an import's logs).
    #[arg(long, env = "HLX_EXPORT_KMS_KEY_ID", value_name = "KEY_ID")]
    pub kms_key_id: String,
    /// The role HealthLake assumes to read and write S3.
    #[arg(long, env = "HLX_DATA_ACCESS_ROLE_ARN", value_name = "ARN")]
    pub data_access_role_arn: String,
    /// The job table: the data store's slots are taken there before the
    /// start (as the API does), and --watch reads the record (else the
    /// execution is followed).
    #[arg(long, env = "HLX_TABLE_NAME", value_name = "NAME")]
    pub table: Option<String>,
    /// The most hlx jobs in flight per data store, one kept for the schedule (0: no limit).
    #[arg(long, env = "HLX_MAX_JOBS_IN_FLIGHT", value_name = "N", default_value_t = hlx_core::admission::DEFAULT_MAX_JOBS_IN_FLIGHT)]
    pub max_jobs_in_flight: u32,
    /// Follow the job until it ends, as `watch` does.
    #[arg(long)]
    pub watch: bool,
    /// With --watch, how often to look: 5s, 1m, 500ms.
    #[arg(long, default_value = "5s", value_parser = crate::watch::parse_interval, requires = "watch")]
    pub interval: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub options: StartOptions,
    /// Where HealthLake writes the export.
    #[arg(long, env = "HLX_EXPORT_S3_URI", value_name = "S3_URI")]
    pub s3_uri: String,
    /// Export only what changed since the last completed export of this data
    /// store and selection (the first one exports everything).
    #[arg(long, conflicts_with = "full")]
    pub incremental: bool,
    /// Force a full export (the default without --incremental or --since).
    #[arg(long)]
    pub full: bool,
    /// Export what changed on or after this time (RFC 3339), whatever the history says; implies --incremental.
    #[arg(long, value_name = "TIME", conflicts_with = "full")]
    pub since: Option<String>,
    /// Export what changed on or before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// `system` (default), `patient`, or `group/<groupId>`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Only these FHIR resource types (repeat, or comma-separate).
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ImportStartArgs {
    #[command(flatten)]
    pub options: StartOptions,
    /// Where HealthLake reads the NDJSON to import.
    #[arg(long, env = "HLX_IMPORT_INPUT_S3_URI", value_name = "S3_URI")]
    pub input_s3_uri: String,
    /// Where HealthLake writes the import's success and failure logs.
    #[arg(long, env = "HLX_IMPORT_OUTPUT_S3_URI", value_name = "S3_URI")]
    pub output_s3_uri: String,
}

/// The execution input `hlx start` sends, checked by the export rules.
pub fn export_request(args: &StartArgs) -> Result<JobRequest, CliError> {
    let o = &args.options;
    let mut value = json!({
        "datastoreId": o.datastore_id,
        "s3Uri": args.s3_uri,
        "kmsKeyId": o.kms_key_id,
        "dataAccessRoleArn": o.data_access_role_arn,
        "trigger": "manual",
    });
    if args.incremental || args.since.is_some() {
        value["mode"] = json!("incremental");
    }
    for (field, given) in [
        ("since", &args.since),
        ("until", &args.until),
        ("scope", &args.scope),
    ] {
        if let Some(given) = given {
            value[field] = json!(given);
        }
    }
    if !args.types.is_empty() {
        value["types"] = json!(args.types);
    }
    checked_request(JobKind::Export, value, o.job_name.as_deref())
}

/// The execution input `hlx import start` sends, checked by the import rules.
pub fn import_request(args: &ImportStartArgs) -> Result<JobRequest, CliError> {
    let o = &args.options;
    let value = json!({
        "kind": "import",
        "datastoreId": o.datastore_id,
        "inputS3Uri": args.input_s3_uri,
        "outputS3Uri": args.output_s3_uri,
        "kmsKeyId": o.kms_key_id,
        "dataAccessRoleArn": o.data_access_role_arn,
        "trigger": "manual",
    });
    checked_request(JobKind::Import, value, o.job_name.as_deref())
}

/// The request's fields that no flag sets.
const FIELDS_WITHOUT_FLAGS: [&str; 3] = ["kind", "trigger", "request"];

/// A request checked by its kind's rules; an error names the flag and the field.
fn checked_request(kind: JobKind, mut value: Value, job_name: Option<&str>) -> Result<JobRequest, CliError> {
    if let Some(name) = job_name {
        value["jobName"] = json!(name);
    }
    let request = JobRequest::from_value(&value).map_err(|e| {
        let flag = if FIELDS_WITHOUT_FLAGS.contains(&e.field.as_str()) {
            String::new()
        } else if e.field == "mode" {
            "--incremental/--full ".into()
        } else if e.field == "types" {
            "--type ".into()
        } else {
            format!("--{} ", aws::kebab(&e.field))
        };
        CliError::Usage(format!("invalid {kind} request: {flag}({}) {}", e.field, e.rule))
    })?;
    debug_assert_eq!(request.kind(), kind);
    Ok(request)
}

/// Admits the new execution's job as the API does ([`hlx_core::admission::admit`]); no free slot
/// is exit 3 with the reason, and nothing is started. True when this call
/// took the slot.
async fn take_slot(
    store: &hlx_aws::DynamoDbJobStore,
    request: &JobRequest,
    name: &str,
    max: u32,
) -> Result<bool, CliError> {
    match hlx_core::admission::admit(store, request, name, max, jiff::Timestamp::now()).await {
        Ok(admitted) => Ok(admitted == Some(true)),
        Err(refused @ hlx_core::HlxError::TooManyJobs(_)) => Err(CliError::Aws(refused.to_string())),
        Err(err) => Err(aws::store_error(err)),
    }
}

/// The execution name: the API's naming, so a key means the same job
/// whichever front end started it.
pub fn execution_name(
    request: &JobRequest,
    key: Option<&str>,
    now: jiff::Timestamp,
) -> Result<String, CliError> {
    match key {
        Some(key) => {
            api::naming::check_idempotency_key(key)
                .map_err(|rule| CliError::Usage(format!("--idempotency-key {rule}")))?;
            Ok(api::naming::name_for_key(request.kind(), key))
        }
        None => {
            let input = api::requests::execution_input(request);
            Ok(api::naming::name_for_request(
                request.kind(),
                request.datastore_id(),
                &input,
                now,
            ))
        }
    }
}

/// `hlx start`.
pub async fn start(global: &GlobalArgs, args: StartArgs) -> Result<u8, CliError> {
    check_state_machine_arn(&args.options.state_machine_arn)?;
    let request = export_request(&args)?;
    request.check_at(jiff::Timestamp::now()).map_err(|e| {
        CliError::Usage(format!(
            "invalid export request: --{} {}",
            aws::kebab(&e.field),
            e.rule
        ))
    })?;
    start_job(global, &args.options, request).await
}

/// `hlx import start`.
pub async fn start_import(global: &GlobalArgs, args: ImportStartArgs) -> Result<u8, CliError> {
    check_state_machine_arn(&args.options.state_machine_arn)?;
    let request = import_request(&args)?;
    start_job(global, &args.options, request).await
}

/// Starts a checked request, idempotently, as the API does.
async fn start_job(global: &GlobalArgs, options: &StartOptions, request: JobRequest) -> Result<u8, CliError> {
    let kind = request.kind();
    let name = execution_name(
        &request,
        options.idempotency_key.as_deref(),
        jiff::Timestamp::now(),
    )?;
    let input = api::requests::execution_input(&request);
    let config = aws::sdk_config(global).await?;
    let backend = Backend {
        sfn: aws::sfn(&config),
        store: None,
        state_machine_arn: Some(options.state_machine_arn.clone()),
    };
    let arn = api::config::execution_arn(&options.state_machine_arn, &name).expect("the ARN was checked");
    let keyed = options.idempotency_key.is_some();
    // As the API does: an execution of that name answers for itself.
    let (arn, status, created) = match backend.describe(&arn).await? {
        Some(existing) => same_request(kind, existing, &input, keyed)?,
        None => {
            let slots = options
                .table
                .as_ref()
                .map(|table| hlx_aws::DynamoDbJobStore::new(aws::dynamodb(&config), table));
            let mut newly = false;
            if let Some(store) = &slots {
                newly = take_slot(store, &request, &name, options.max_jobs_in_flight).await?;
            }
            let started = backend
                .sfn
                .start_execution()
                .state_machine_arn(&options.state_machine_arn)
                .name(&name)
                .input(&input)
                .send()
                .await;
            let exists =
                matches!(&started, Err(err) if aws::error_code(err) == Some("ExecutionAlreadyExists"));
            if let (Err(_), Some(store), true, false) = (&started, &slots, newly, exists) {
                // Nothing started under this slot (an execution of this name
                // that exists holds it): give it back; else it expires by itself.
                let _ = hlx_core::admission::release_slot(store, request.datastore_id(), &name).await;
            }
            match started {
                Ok(out) => (
                    out.execution_arn().to_owned(),
                    api::api::STARTING.to_owned(),
                    true,
                ),
                // Started by someone else between the look and the start.
                Err(err) if aws::error_code(&err) == Some("ExecutionAlreadyExists") => {
                    match backend.describe(&arn).await? {
                        Some(existing) => same_request(kind, existing, &input, keyed)?,
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
        let mut out = json!({"executionArn": arn, "status": status, "created": created});
        out[kind.id_field()] = json!(name);
        println!("{out}");
    } else if created {
        println!("started {kind} {name}");
        println!("  execution {arn}");
        println!("  follow it: {}", command(kind, &format!("watch {name}")));
    } else {
        println!("{kind} {name} already exists ({status}): not started again");
        println!("  execution {arn}");
    }
    if options.watch {
        let watch = crate::watch::WatchArgs {
            id: name,
            target: TargetArgs {
                state_machine_arn: Some(options.state_machine_arn.clone()),
                table: options.table.clone(),
            },
            interval: options.interval,
        };
        return crate::watch::watch(global, kind, watch).await;
    }
    Ok(0)
}

/// An execution of the job's name exists: the same request is the same
/// job; another request under that name is the caller's mistake.
fn same_request(
    kind: JobKind,
    existing: Execution,
    input: &str,
    keyed: bool,
) -> Result<(String, String, bool), CliError> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
    if existing.input.as_deref().and_then(parse) != parse(input) {
        let what = if keyed {
            "the idempotency key was already used for a different request".to_owned()
        } else {
            format!("an {kind} of that name already exists for a different request")
        };
        return Err(CliError::Usage(format!("{what} ({kind} {})", existing.name)));
    }
    Ok((existing.arn, existing.status, false))
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The id (the execution name) or the execution ARN.
    pub id: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `hlx status`, `hlx import status`.
pub async fn status(global: &GlobalArgs, kind: JobKind, args: StatusArgs) -> Result<u8, CliError> {
    let backend = args.target.backend(global).await?;
    let view = backend
        .job(kind, &args.id)
        .await?
        .ok_or_else(|| unknown(kind, &args.id))?;
    if global.json {
        println!("{}", view.to_json());
    } else {
        print!("{}", render::status(&view));
    }
    Ok(view.outcome().exit_code())
}

#[derive(Debug, Clone, Args)]
pub struct CancelArgs {
    /// The export id (the execution name).
    pub id: String,
    /// The DynamoDB job table: which HealthLake job the export is.
    #[arg(long, env = "HLX_TABLE_NAME", value_name = "NAME")]
    pub table: String,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The export id (the execution name).
    pub id: String,
    /// The DynamoDB job table: the export's record.
    #[arg(long, env = "HLX_TABLE_NAME", value_name = "NAME")]
    pub table: String,
    /// Print the verdict only; leave the record as it is.
    #[arg(long)]
    pub no_record: bool,
}

/// `hlx verify`.
pub async fn verify(global: &GlobalArgs, args: VerifyArgs) -> Result<u8, CliError> {
    use hlx_core::verify_export::{ReverifyError, reverify};
    let config = aws::sdk_config(global).await?;
    let store = DynamoDbJobStore::new(aws::dynamodb(&config), &args.table);
    let objects = hlx_aws::S3ExportObjects::from_config(&config);
    let policy = hlx_core::verification::VerifyPolicy::from_lookup(|name| std::env::var(name).ok())
        .map_err(CliError::Usage)?;
    let now = jiff::Timestamp::now();
    let verification = reverify(&objects, &store, &args.id, &policy, now, !args.no_record)
        .await
        .map_err(|err| match err {
            ReverifyError::Failed(err) => aws::store_error(err),
            other => CliError::Usage(other.to_string()),
        })?;
    if global.json {
        println!("{}", serde_json::to_string(&verification).expect("serializes"));
    } else {
        for line in render::verification(&verification) {
            println!("{line}");
        }
    }
    Ok(match verification.verdict {
        hlx_core::verification::Verdict::Verified => 0,
        _ => 1,
    })
}

/// `hlx cancel`.
pub async fn cancel(global: &GlobalArgs, args: CancelArgs) -> Result<u8, CliError> {
    let config = aws::sdk_config(global).await?;
    let store = DynamoDbJobStore::new(aws::dynamodb(&config), &args.table);
    let jobs = hlx_aws::SdkHealthLakeJobs::from_config(&config).map_err(aws::store_error)?;
    let accepted = hlx_core::cancel_export_by_id(&store, &jobs, &args.id)
        .await
        .map_err(|err| match err {
            hlx_core::CancelError::Failed(err) => {
                CliError::Aws(format!("HealthLake did not cancel {}: {err}", args.id))
            }
            other => CliError::Usage(other.to_string()),
        })?;
    if global.json {
        println!("{}", serde_json::to_string(&accepted).expect("serializes"));
    } else {
        println!(
            "{}: HealthLake job {} is {} (the execution records the end when it sees it)",
            accepted.export_id, accepted.job_id, accepted.job_status
        );
    }
    Ok(0)
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

/// `hlx list`, `hlx import list`.
pub async fn list(global: &GlobalArgs, kind: JobKind, args: ListArgs) -> Result<u8, CliError> {
    let backend = args.target.backend(global).await?;
    match &args.datastore_id {
        Some(datastore_id) => {
            hlx_core::validation::DATASTORE_ID
                .check("datastoreId", datastore_id)
                .map_err(|e| CliError::Usage(format!("--datastore-id {}", e.rule)))?;
            let Some(store) = &backend.store else {
                return Err(CliError::Usage(format!(
                    "listing a data store's {kind}s reads the job table: give --table (or HLX_TABLE_NAME)"
                )));
            };
            let page = store
                .list(kind, datastore_id, args.limit, args.next_token.as_deref())
                .await
                .map_err(aws::store_error)?;
            if global.json {
                println!("{}", api::api::page_answer(&page));
            } else {
                let rows: Vec<Vec<String>> =
                    page.records.iter().map(|r| render::record_row(kind, r)).collect();
                if rows.is_empty() {
                    println!("no {kind}s of data store {datastore_id}");
                } else {
                    print!("{}", Table::new(render::record_header(kind)).rows(rows).to_text());
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
                    Some(store) => store.get(kind, &e.name).await.map_err(aws::store_error)?,
                    None => None,
                };
                // The same state machine runs both kinds: without a record of
                // this kind, the execution's input says which it is.
                if record.is_none() {
                    let input = backend.describe(&e.arn).await?.and_then(|d| d.input);
                    if input_kind(input.as_deref()) != kind {
                        continue;
                    }
                }
                let mut item = json!({
                    "executionArn": e.arn,
                    "executionStatus": e.status,
                    "startDate": hlx_core::time::format(e.start),
                });
                item[kind.id_field()] = json!(e.name);
                if let Some(stop) = e.stop {
                    item["stopDate"] = json!(hlx_core::time::format(stop));
                }
                if let Some(record) = &record {
                    item["record"] = api::api::record_answer(record);
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
                    println!("no {kind} executions");
                } else {
                    let id = render::id_header(kind);
                    let table = Table::new([id, "EXECUTION", "RECORD", "STARTED", "STOPPED"]).rows(rows);
                    print!("{}", table.to_text());
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

    fn options() -> StartOptions {
        StartOptions {
            datastore_id: "0123456789abcdef0123456789abcdef".into(),
            job_name: None,
            idempotency_key: None,
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job".into(),
            kms_key_id: "alias/exports".into(),
            data_access_role_arn: "arn:aws:iam::123456789012:role/HealthLakeExport".into(),
            table: None,
            max_jobs_in_flight: hlx_core::admission::DEFAULT_MAX_JOBS_IN_FLIGHT,
            watch: false,
            interval: std::time::Duration::from_secs(5),
        }
    }

    fn args() -> StartArgs {
        StartArgs {
            options: options(),
            s3_uri: "s3://bucket/exports".into(),
            incremental: false,
            full: false,
            since: None,
            until: None,
            scope: None,
            types: vec![],
        }
    }

    #[test]
    fn selection_flags_become_the_request_and_errors_name_the_flag() {
        let JobRequest::Export(plain) = export_request(&args()).unwrap() else {
            panic!("an export")
        };
        assert!(!plain.selection.uses_rest());
        let scoped = StartArgs {
            since: Some("2026-11-01T00:00:00Z".into()),
            scope: Some("group/cohort-7".into()),
            types: vec!["Patient".into(), "Observation".into()],
            ..args()
        };
        let JobRequest::Export(request) = export_request(&scoped).unwrap() else {
            panic!("an export")
        };
        assert_eq!(request.selection.mode, hlx_core::ExportMode::Incremental);
        assert_eq!(
            request.selection.chain(),
            "group/cohort-7?_type=Observation,Patient"
        );
        let bad = StartArgs {
            types: vec!["observation".into()],
            ..args()
        };
        let err = export_request(&bad).unwrap_err();
        assert!(err.message().contains("--type (types)"), "{}", err.message());
        let bad = StartArgs {
            types: vec!["Patient".into(), "NotAType".into()],
            ..args()
        };
        let err = export_request(&bad).unwrap_err();
        assert_eq!(
            err.exit_code(),
            2,
            "a type FHIR R4 does not have is a usage error"
        );
        assert!(err.message().contains("NotAType"), "{}", err.message());
        let bad = StartArgs {
            scope: Some("cohort".into()),
            ..args()
        };
        assert!(
            export_request(&bad)
                .unwrap_err()
                .message()
                .contains("--scope (scope)")
        );
    }

    fn import_args() -> ImportStartArgs {
        ImportStartArgs {
            options: options(),
            input_s3_uri: "s3://landing/fhir/batch-7/".into(),
            output_s3_uri: "s3://bucket/import-logs".into(),
        }
    }

    #[test]
    fn the_request_is_manual_and_checked_field_by_field() {
        let JobRequest::Export(request) = export_request(&args()).unwrap() else {
            panic!("an export");
        };
        assert_eq!(request.trigger, hlx_core::Trigger::Manual);
        let mut bad = args();
        bad.s3_uri = "https://bucket/x".into();
        let err = export_request(&bad).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message().contains("--s3-uri (s3Uri)"), "{err:?}");
        let mut bad = args();
        bad.options.data_access_role_arn = "role".into();
        assert!(
            export_request(&bad)
                .unwrap_err()
                .message()
                .contains("--data-access-role-arn")
        );
    }

    #[test]
    fn an_import_request_is_checked_by_the_import_rules_naming_the_flag() {
        let request = import_request(&import_args()).unwrap();
        let JobRequest::Import(import) = &request else {
            panic!("an import: {request:?}");
        };
        assert_eq!(import.trigger, hlx_core::Trigger::Manual);
        assert_eq!(import.input_s3_uri, "s3://landing/fhir/batch-7/");
        assert_eq!(import.output_s3_uri, "s3://bucket/import-logs");
        let input: Value = serde_json::from_str(&api::requests::execution_input(&request)).unwrap();
        assert_eq!(input["kind"], "import");

        type Mutation = fn(&mut ImportStartArgs);
        let cases: [(Mutation, &str); 5] = [
            (
                |a| a.input_s3_uri = "landing/fhir".into(),
                "--input-s3-uri (inputS3Uri)",
            ),
            (
                |a| a.output_s3_uri = "s3://B/x".into(),
                "--output-s3-uri (outputS3Uri)",
            ),
            (
                |a| a.output_s3_uri = "s3://landing/fhir/batch-7/logs".into(),
                "--output-s3-uri (outputS3Uri) must not be inside inputS3Uri",
            ),
            (
                |a| a.options.kms_key_id = String::new(),
                "--kms-key-id (kmsKeyId)",
            ),
            (
                |a| a.options.job_name = Some("n".repeat(65)),
                "--job-name (jobName)",
            ),
        ];
        for (mutate, expected) in cases {
            let mut bad = import_args();
            mutate(&mut bad);
            let err = import_request(&bad).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.message().starts_with("invalid import request: "), "{err:?}");
            assert!(err.message().contains(expected), "{expected}: {err:?}");
        }
    }

    #[test]
    fn ids_follow_the_api_naming() {
        let request = export_request(&args()).unwrap();
        let now: jiff::Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let keyed = execution_name(&request, Some("fix-42"), now).unwrap();
        assert_eq!(keyed, api::naming::name_for_key(JobKind::Export, "fix-42"));
        let daily = execution_name(&request, None, now).unwrap();
        assert!(
            daily.starts_with("api-0123456789abcdef0123456789abcdef-20260301-"),
            "{daily}"
        );
        assert_eq!(
            daily,
            execution_name(&request, None, "2026-03-01T23:00:00Z".parse().unwrap()).unwrap()
        );
        let err = execution_name(&request, Some("no spaces"), now).unwrap_err();
        assert!(err.message().starts_with("--idempotency-key"), "{err:?}");

        // Imports are named as POST /imports names them, apart from exports.
        let import = import_request(&import_args()).unwrap();
        let keyed_import = execution_name(&import, Some("fix-42"), now).unwrap();
        assert_eq!(keyed_import, api::naming::name_for_key(JobKind::Import, "fix-42"));
        assert_ne!(keyed_import, keyed);
        let daily_import = execution_name(&import, None, now).unwrap();
        assert!(
            daily_import.starts_with("api-import-0123456789abcdef0123456789abcdef-20260301-"),
            "{daily_import}"
        );
    }
}
