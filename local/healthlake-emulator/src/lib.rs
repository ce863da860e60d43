//! A local AWS HealthLake emulator.
//!
//! It speaks HealthLake's wire protocol (Smithy `awsJson1_0`: `POST /` with
//! `X-Amz-Target: HealthLake.<Operation>`), so the unmodified
//! `aws-sdk-healthlake` client, boto3 or the AWS CLI pointed at it with an
//! endpoint override work as against the service. It serves
//! Create/Describe/List FHIR data stores and Start/Describe/List FHIR export
//! and import jobs, with the service's validation (against its Smithy model,
//! [`ServiceModel`]), error shapes and HTTP codes,
//! idempotency tokens, one export and one import running at a time per Region
//! (further jobs wait in a FIFO queue), exports that write real NDJSON
//! files of synthetic FHIR R4 resources to a local directory standing for S3,
//! and imports that read NDJSON from it, check every line, load the good
//! resources into the data store (a later export returns them) and write
//! HealthLake's `SUCCESS`/`FAILURE` logs and manifest.
//!
//! It also serves HealthLake's FHIR REST `$export` on the same port
//! (`POST /datastore/{id}/r4/[Patient/|Group/{gid}/]$export`, `GET` and
//! `DELETE /datastore/{id}/r4/export/{jobId}`), with every request's SigV4
//! signature verified by re-signing ([`EmulatorConfig::credentials`]),
//! `_type`/`_since`/`_until`, Patient and Group scopes, the Bulk Data
//! manifest in the status body, and cancellation. Exports write each
//! resource as it was at their `transactionTime`; a data store's content can
//! change over virtual time ([`Churn`], [`Emulator::changes`]).
//!
//! Every other path is a minimal path-style Amazon S3 over the output root
//! (PutObject with SSE-KMS recorded, GetObject, HeadObject, ListObjectsV2;
//! SigV4 for `s3`), so `aws-sdk-s3` with `force_path_style(true)` can write
//! and list objects next to the exports ([`Emulator::s3_object`]).
//!
//! Time comes from an injected [`hlx_clock::SharedClock`]: with a
//! [`hlx_clock::VirtualClock`] a three-hour export finishes the moment the
//! clock is advanced past its end. [`Emulator::next_change_at`] tells a runner
//! where to advance to; [`Emulator::transitions`] logs every status change at
//! its scheduled time. Fault injection (throttling, internal errors, latency)
//! is driven by the seed, so a run repeats exactly.
//!
//! Every status change also produces the EventBridge event HealthLake would
//! publish ([`HealthLakeEvent`]), delivered on the same clock with seeded
//! drop, delay, duplicate and reorder faults ([`EventFaults`]):
//! [`Emulator::take_due_events`] is what a local event bus polls, and
//! [`pattern_matches`] routes them with an EventBridge event pattern.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use hlx_healthlake_emulator::{Emulator, EmulatorConfig};
//! use hlx_clock::VirtualClock;
//!
//! let clock = VirtualClock::default();
//! let config = EmulatorConfig { output_root: Some("/tmp/s3".into()), ..Default::default() };
//! let emulator = Emulator::new(config, Arc::new(clock.clone()));
//! let datastore_id = emulator.create_datastore("clinic", None).unwrap();
//! let server = emulator.serve("127.0.0.1:0".parse().unwrap()).await?;
//! println!("{} {datastore_id}", server.endpoint_url());
//! # Ok(()) }
//! ```

mod api;
mod config;
mod emulator;
mod error;
mod events;
mod export;
mod fhir;
mod import;
mod model;
mod ops;
mod output;
mod pattern;
mod r4;
mod rest;
mod s3;
mod seed;
mod server;
mod service_model;
mod sigv4;
mod state;
mod timefmt;

pub use config::{EmulatorConfig, FaultSpec, Faults, JobProfile, Outcome, OutputFault};
pub use emulator::Emulator;
pub use error::{ApiError, EmulatorError, ErrorKind};
pub use events::{
    DETAIL_TYPES, DeliveredEvent, EVENT_SOURCE, EventDetail, EventFaults, EventRecord, HealthLakeEvent,
    S3Location, detail_type,
};
pub use fhir::SUPPORTED_RESOURCE_TYPES;
pub use import::{FAILURE_FOLDER, MANIFEST_FILE, SUCCESS_FOLDER, no_input_message};
pub use model::{
    CallRecord, ChangeKind, Churn, DatastoreInfo, ExportScope, ImportReport, JobInfo, JobKind, OutputFile,
    ResourceChange, RestExport, Transition,
};
pub use ops::{Operation, TARGET_PREFIX};
pub use output::{ERROR_FOLDER, export_folder_name, import_folder_name, s3_uri_to_path};
pub use pattern::{check_pattern, pattern_matches};
pub use r4::R4_RESOURCE_TYPES;
pub use s3::{S3_XMLNS, S3Object};
pub use server::{CONTENT_TYPE, ServerHandle};
pub use service_model::{ServiceModel, StringConstraints};
pub use timefmt::{format_healthlake_time, parse_fhir_instant};
