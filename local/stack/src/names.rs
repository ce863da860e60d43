//! The names local mode stands in for: the account and Region, hlx's
//! functions and their ARNs, the buckets exports and imports use, the role
//! HealthLake assumes, and the credentials everything signs with.

/// The account and Region local mode stands for.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The functions as the definition's substitutions name them: placeholder, function.
pub const FUNCTIONS: [(&str, &str); 5] = [
    ("StartJobFunctionArn", "start-job"),
    ("CheckJobFunctionArn", "check-job"),
    ("RecordResultFunctionArn", "record-result"),
    ("AwaitJobFunctionArn", "await-job"),
    ("VerifyExportFunctionArn", "verify-export"),
];

/// The function the event bus delivers HealthLake's events to.
pub const EVENTS_FUNCTION: &str = "job-events";

/// Where local exports go (the bucket stands for `--output-dir`), the key
/// they are encrypted with and the role HealthLake assumes: the settings a
/// served stack gives `hlx start` (`HLX_EXPORT_*`).
pub const EXPORT_S3_URI: &str = "s3://hlx-local-exports/manual";
pub const EXPORT_KMS_KEY_ID: &str = "alias/hlx-local-exports";

/// The credentials everything in the local stack signs with (and the
/// emulator verifies FHIR REST signatures against).
pub const LOCAL_ACCESS_KEY: &str = "hlx-local";
pub const LOCAL_SECRET_KEY: &str = "hlx-local-secret";

/// The role HealthLake assumes to write local exports.
pub fn data_access_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/hlx-local-healthlake-export")
}

/// The function's ARN in local mode (`hlx-<name>`, as the stacks name them).
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:hlx-{name}")
}

/// Where `hlx local --import` lands the folder it loads.
pub const LANDING_S3_URI: &str = "s3://hlx-local-landing/import/";

/// Where local imports write their logs.
pub const IMPORT_LOGS_S3_URI: &str = "s3://hlx-local-import-logs/imports";
