//! The api function's Step Functions adapter (`SdkExecutionStarter`, the real
//! `aws-sdk-sfn` client) against a real Step Functions wire: the local
//! runner's API serving the deployed export definition. Its unit tests mock
//! the client; this is the same code over HTTP.

use std::time::{Duration, Instant};

use api::{ExecutionStarter, SdkExecutionStarter, SfnError};
use hlx_local_stack::{LocalStack, REGION, StackConfig};

async fn served_starter() -> (
    LocalStack,
    hlx_local_stack::ServedStack,
    SdkExecutionStarter,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("hlx-e2e-api-{}", std::process::id()));
    let stack = LocalStack::start(StackConfig::new(dir.join("s3")))
        .await
        .expect("a local stack");
    let served = stack
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the SFN API serves");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .endpoint_url(served.sfn_endpoint())
        .load()
        .await;
    let starter =
        SdkExecutionStarter::new(aws_sdk_sfn::Client::new(&config), stack.state_machine_arn.clone());
    (stack, served, starter, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_adapter_starts_describes_and_refuses_a_reused_name() {
    let (stack, _served, starter, dir) = served_starter().await;
    let input = stack.export_request(&stack.datastores[0]).to_string();

    let started = starter
        .start("api-k-adapter", &input)
        .await
        .expect("StartExecution");
    assert!(
        started
            .execution_arn
            .ends_with(":execution:hlx-job:api-k-adapter"),
        "{started:?}"
    );

    // The export runs on virtual time; wait for its end over the API.
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        let info = starter
            .describe("api-k-adapter")
            .await
            .expect("DescribeExecution")
            .expect("it exists");
        if !info.is_running() {
            break info;
        }
        assert!(Instant::now() < deadline, "the execution did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(info.status, "SUCCEEDED");
    assert_eq!(info.execution_arn, started.execution_arn);
    assert_eq!(
        info.input.as_deref(),
        Some(input.as_str()),
        "the input comes back exactly"
    );
    assert!(info.stop_date.is_some());

    // A closed name cannot be reused, with any input: the adapter names it.
    let again = starter.start("api-k-adapter", &input).await.unwrap_err();
    assert!(matches!(again, SfnError::AlreadyExists(_)), "{again:?}");
    assert!(starter.describe("api-k-missing").await.unwrap().is_none());

    let record = stack
        .record("api-k-adapter")
        .await
        .unwrap()
        .expect("the export was recorded");
    assert_eq!(record.status.as_str(), "COMPLETED");
    let _ = std::fs::remove_dir_all(dir);
}
