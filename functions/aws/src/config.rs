//! AWS clients as every hlx binary builds them: once per process, from
//! `aws_config` defaults, so the standard `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` variables point them at local stand-ins.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Attempts the SDK makes on a retryable error before the state machine's
/// `Retry`, with its longer backoff and jitter, takes over.
pub const SDK_MAX_ATTEMPTS: u32 = 2;

/// The shared SDK configuration: bounded retries and timeouts that fit well
/// inside a Lambda's run.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The same settings as [`sdk_config`], for a caller (local mode) that adds
/// its own endpoint or credentials before loading.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
}

/// The DynamoDB table's name, from `HLX_TABLE_NAME`.
pub fn table_name() -> Result<String, hlx_core::HlxError> {
    std::env::var("HLX_TABLE_NAME").map_err(|_| {
        hlx_core::HlxError::InvalidInput(
            "HLX_TABLE_NAME is not set: the function needs the job table's name".into(),
        )
    })
}
