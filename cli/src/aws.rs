//! The AWS side of the operator commands: the SDK configuration from the
//! global flags, the clients, and AWS errors as messages.

use std::error::Error;
use std::fmt::Debug;

use aws_config::{Region, SdkConfig};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use clap::Args;
use jiff::Timestamp;

use crate::CliError;

/// Flags every operator command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The AWS profile (default: AWS_PROFILE, else `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS Region (default: AWS_REGION, else the profile's).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (a local stand-in). Without it the
    /// SDK's own AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SFN and
    /// AWS_ENDPOINT_URL_DYNAMODB apply.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The SDK configuration as every hlx binary builds it (bounded retries and
/// timeouts), with the profile, Region and endpoint the flags give.
pub async fn sdk_config(global: &GlobalArgs) -> Result<SdkConfig, CliError> {
    let mut loader = hlx_aws::config::sdk_config_loader();
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &global.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &global.endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "--endpoint-url {url:?} must be an http:// or https:// URL"
            )));
        }
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(CliError::Usage(
            "no AWS Region: give --region, set AWS_REGION, or use a profile that has one".into(),
        ));
    }
    Ok(config)
}

pub fn sfn(config: &SdkConfig) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(config)
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// An AWS call's failure as a message: the service's error code and message,
/// or why the call could not be made.
pub fn error<E, R>(call: &str, err: SdkError<E, R>) -> CliError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: Debug,
{
    let message = match &err {
        SdkError::ServiceError(context) => {
            let e = context.err();
            format!(
                "{call} failed: {}: {}",
                e.code().unwrap_or("error"),
                e.message().unwrap_or("(no message)")
            )
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{call} failed: the endpoint could not be reached ({}); check the Region, \
             --endpoint-url or AWS_ENDPOINT_URL_*",
            DisplayErrorContext(&err)
        ),
        _ => format!("{call} failed: {}", DisplayErrorContext(&err)),
    };
    CliError::Aws(message)
}

/// The service's error code, when the call got an answer.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}

pub fn timestamp(date: &aws_sdk_sfn::primitives::DateTime) -> Timestamp {
    Timestamp::new(date.secs(), i32::try_from(date.subsec_nanos()).unwrap_or(0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A job store error: a bad page token is the caller's; anything else is AWS's.
pub fn store_error(err: hlx_core::HlxError) -> CliError {
    match err {
        hlx_core::HlxError::InvalidRequest(field) => {
            CliError::Usage(format!("--{} {}", kebab(&field.field), field.rule))
        }
        hlx_core::HlxError::InvalidNextToken(message) => CliError::Usage(format!(
            "--next-token: {}",
            message.trim_start_matches("nextToken: ")
        )),
        other => CliError::Aws(format!("the job table could not be read: {other}")),
    }
}

/// `nextToken` → `next-token`.
pub fn kebab(member: &str) -> String {
    let mut out = String::new();
    for c in member.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_become_flags() {
        assert_eq!(kebab("nextToken"), "next-token");
        assert_eq!(kebab("dataAccessRoleArn"), "data-access-role-arn");
        assert_eq!(kebab("s3Uri"), "s3-uri");
    }
}
