//! Fault injection: rates within tolerance, exact repeats for a seed, and no
//! side effects from a failed call.

use std::time::{Duration, Instant};

use aws_sdk_healthlake::Client;
use aws_sdk_healthlake::error::ProvideErrorMetadata;
use hlx_healthlake_emulator::{FaultSpec, Faults, JobProfile, Operation};

use crate::common::*;

/// The outcome of `n` DescribeFHIRDatastore calls: the error code or "ok".
async fn describe_outcomes(client: &Client, datastore_id: &str, n: usize) -> Vec<String> {
    let mut outcomes = Vec::with_capacity(n);
    for _ in 0..n {
        let result = client
            .describe_fhir_datastore()
            .datastore_id(datastore_id)
            .send()
            .await;
        outcomes.push(match result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code().unwrap_or("<none>").to_owned(),
        });
    }
    outcomes
}

fn share(outcomes: &[String], code: &str) -> f64 {
    outcomes.iter().filter(|o| *o == code).count() as f64 / outcomes.len() as f64
}

fn faulty(seed: u64, spec: FaultSpec) -> impl FnOnce(&mut hlx_healthlake_emulator::EmulatorConfig) {
    move |config| {
        config.seed = seed;
        config.faults = Faults::uniform(spec);
    }
}

#[tokio::test]
async fn rates_hold_within_tolerance_over_1000_calls() {
    let spec = FaultSpec {
        throttle_rate: 0.3,
        internal_error_rate: 0.1,
        ..FaultSpec::default()
    };
    let h = Harness::with_config(JobProfile::default(), faulty(7, spec)).await;
    let outcomes = describe_outcomes(&h.client, &h.datastore_id, 1000).await;
    let throttled = share(&outcomes, "ThrottlingException");
    let internal = share(&outcomes, "InternalServerException");
    assert!((throttled - 0.3).abs() <= 0.05, "throttled {throttled}");
    assert!((internal - 0.1).abs() <= 0.05, "internal {internal}");
    assert!((share(&outcomes, "ok") - 0.6).abs() <= 0.05);
    // Every call is counted, failed or not.
    assert_eq!(h.emulator.call_counts()["DescribeFHIRDatastore"], 1000);
    let recorded_429 = h.emulator.calls().iter().filter(|c| c.status == 429).count();
    assert_eq!(recorded_429 as f64 / 1000.0, throttled);
}

#[tokio::test]
async fn the_same_seed_repeats_the_same_sequence() {
    let spec = FaultSpec {
        throttle_rate: 0.3,
        internal_error_rate: 0.2,
        ..FaultSpec::default()
    };
    let mut runs = Vec::new();
    for seed in [11, 11, 12] {
        let h = Harness::with_config(JobProfile::default(), faulty(seed, spec)).await;
        runs.push(describe_outcomes(&h.client, &h.datastore_id, 200).await);
    }
    assert_eq!(runs[0], runs[1], "same seed, same calls, same faults");
    assert_ne!(runs[0], runs[2], "another seed, other faults");
}

#[tokio::test]
async fn each_operation_draws_from_its_own_stream() {
    let spec = FaultSpec {
        throttle_rate: 0.5,
        ..FaultSpec::default()
    };
    let a = Harness::with_config(JobProfile::default(), faulty(3, spec)).await;
    let b = Harness::with_config(JobProfile::default(), faulty(3, spec)).await;
    // b also lists data stores in between; its describe faults do not move.
    let mut b_outcomes = Vec::new();
    for _ in 0..50 {
        let _ = b.client.list_fhir_datastores().send().await;
        b_outcomes.extend(describe_outcomes(&b.client, &b.datastore_id, 1).await);
    }
    assert_eq!(
        describe_outcomes(&a.client, &a.datastore_id, 50).await,
        b_outcomes
    );
}

#[tokio::test]
async fn a_throttled_or_failed_start_creates_no_job() {
    let h = Harness::new(JobProfile::default()).await;
    for spec in [
        FaultSpec {
            throttle_rate: 1.0,
            ..FaultSpec::default()
        },
        FaultSpec {
            internal_error_rate: 1.0,
            ..FaultSpec::default()
        },
        FaultSpec {
            access_denied_rate: 1.0,
            ..FaultSpec::default()
        },
    ] {
        h.emulator
            .set_faults(Faults::none().with(Operation::StartFhirExportJob, spec));
        for _ in 0..5 {
            assert!(h.start_export(|a| a).await.is_err());
        }
        // Other operations are untouched by StartFHIRExportJob's faults.
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .send()
            .await
            .expect("list is not faulted");
    }
    assert!(h.emulator.export_jobs().is_empty());
    assert!(h.emulator.transitions().is_empty());
    h.emulator.set_faults(Faults::none());
    h.start_export(|a| a).await.expect("works again");
    assert_eq!(h.emulator.export_jobs().len(), 1);
    let statuses: Vec<u16> = h.emulator.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    assert_eq!(statuses.iter().filter(|s| **s == 500).count(), 5);
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 5);
}

#[tokio::test]
async fn latency_is_added_in_real_time() {
    let h = Harness::new(JobProfile::default()).await;
    let before = h.clock.now();
    h.emulator.set_faults(Faults::none().with(
        Operation::DescribeFhirDatastore,
        FaultSpec {
            latency: Duration::from_millis(120),
            ..FaultSpec::default()
        },
    ));
    let started = Instant::now();
    describe_outcomes(&h.client, &h.datastore_id, 3).await;
    assert!(started.elapsed() >= Duration::from_millis(360));
    assert_eq!(h.clock.now(), before, "real latency does not move virtual time");
    let started = Instant::now();
    h.client.list_fhir_datastores().send().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(120));
}

/// With the SDK's standard retries, a client rides out moderate throttling.
#[tokio::test]
async fn a_retrying_client_rides_out_throttling() {
    let spec = FaultSpec {
        throttle_rate: 0.3,
        ..FaultSpec::default()
    };
    let h = Harness::with_config(JobProfile::default(), faulty(5, spec)).await;
    let config = aws_sdk_healthlake::Config::builder()
        .behavior_version_latest()
        .endpoint_url(h.url())
        .region(aws_sdk_healthlake::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(
            aws_sdk_healthlake::config::retry::RetryConfig::standard()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build();
    let client = Client::from_conf(config);
    for _ in 0..20 {
        client
            .describe_fhir_datastore()
            .datastore_id(&h.datastore_id)
            .send()
            .await
            .expect("retried through throttling");
    }
    assert!(h.emulator.call_counts()["DescribeFHIRDatastore"] > 20);
}
