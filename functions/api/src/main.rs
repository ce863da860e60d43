//! api: hlx's HTTP API as a Lambda function behind API Gateway (REST, IAM auth).
//! Clients and configuration are built once, at cold start; a bad setting
//! stops the function before it takes a request, with the variable named.

use std::convert::Infallible;
use std::sync::Arc;

use api::{Api, ApiConfig, SdkExecutionStarter};
use hlx_aws::DynamoDbJobStore;
use hlx_clock::SystemClock;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    hlx_handlers::init_logging();
    let config = ApiConfig::from_env()?;
    let table = hlx_aws::config::table_name()?;
    let sdk = hlx_aws::config::sdk_config().await;
    let store = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let executions =
        SdkExecutionStarter::new(aws_sdk_sfn::Client::new(&sdk), config.state_machine_arn.clone());
    let healthlake = hlx_aws::SdkHealthLakeJobs::from_config(&sdk)?;
    let api = Api::new(config, store, executions, Arc::new(SystemClock)).with_healthlake(healthlake);
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(api.handle(request).await)
    }))
    .await
}
