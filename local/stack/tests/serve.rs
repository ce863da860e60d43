//! A served stack: exports started through the Step Functions API (the real
//! `aws-sdk-sfn` client over HTTP) run on the stack's runner in virtual time,
//! driven by the stack, and leave their job records.

use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use hlx_core::{JobStatus, RecordStatus};
use hlx_local_stack::{LocalStack, StackConfig};
use serde_json::json;

fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .behavior_version_latest()
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build(),
    )
}

#[tokio::test]
async fn exports_started_over_the_api_run_on_virtual_time_and_queue_in_healthlake() {
    let dir = std::env::temp_dir().join(format!("hlx-stack-serve-{}", std::process::id()));
    let mut config = StackConfig::new(&dir);
    config.datastores = 2;
    config.profile = config
        .profile
        .with_timing(Duration::from_secs(30), Duration::from_secs(3 * 3600));
    let stack = LocalStack::start(config).await.expect("stack");
    let served = stack.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let sfn = client(&served.sfn_endpoint());

    let machines = sfn.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 1);
    assert_eq!(
        machines.state_machines()[0].state_machine_arn(),
        stack.state_machine_arn
    );
    assert_eq!(
        stack.state_machine_arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job"
    );

    // Two exports at once: HealthLake runs one and queues the other.
    let mut arns = Vec::new();
    for (n, datastore) in stack.datastores.iter().enumerate() {
        let input = json!({
            "datastoreId": datastore,
            "s3Uri": hlx_local_stack::EXPORT_S3_URI,
            "kmsKeyId": hlx_local_stack::EXPORT_KMS_KEY_ID,
            "dataAccessRoleArn": hlx_local_stack::data_access_role_arn(),
            "trigger": "manual",
        });
        let out = sfn
            .start_execution()
            .state_machine_arn(&stack.state_machine_arn)
            .name(format!("manual-{n}"))
            .input(input.to_string())
            .send()
            .await
            .unwrap();
        arns.push(out.execution_arn().to_owned());
    }
    let wall = Instant::now();
    for arn in &arns {
        loop {
            let d = sfn.describe_execution().execution_arn(arn).send().await.unwrap();
            if *d.status() != ExecutionStatus::Running {
                assert_eq!(*d.status(), ExecutionStatus::Succeeded, "{d:?}");
                // Three hours of export in virtual time.
                let took = d.stop_date().unwrap().secs() - d.start_date().secs();
                assert!(took > 3 * 3600, "{arn} took {took} s");
                break;
            }
            assert!(wall.elapsed() < Duration::from_secs(30), "{arn} still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let first = stack.record("manual-0").await.unwrap().expect("a record");
    let second = stack.record("manual-1").await.unwrap().expect("a record");
    assert_eq!(first.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(second.status, RecordStatus::Job(JobStatus::Completed));
    assert!(
        second.queued_seconds.unwrap() > first.queued_seconds.unwrap() + 3600,
        "the second export queued behind the first: {second:?}"
    );

    // Once idle, the driver waits for the next start.
    let again = sfn
        .start_execution()
        .state_machine_arn(&stack.state_machine_arn)
        .name("later")
        .input(json!({"datastoreId": "nope"}).to_string())
        .send()
        .await
        .unwrap();
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(again.execution_arn())
            .send()
            .await
            .unwrap();
        if *d.status() != ExecutionStatus::Running {
            assert_eq!(d.error(), Some("hlx.JobRejected"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rejected = stack.record("later").await.unwrap().expect("a record");
    assert_eq!(rejected.status, RecordStatus::Rejected);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
