//! hlx's adapters to AWS: the domain's traits (`hlx_core`'s
//! [`HealthLakeJobs`](hlx_core::HealthLakeJobs), [`JobStore`](hlx_core::JobStore),
//! [`WaitStore`](hlx_core::WaitStore), [`ManifestStore`](hlx_core::ManifestStore),
//! [`TaskTokens`](hlx_core::TaskTokens)) over the AWS SDK clients, and the
//! signed FHIR REST client for what the SDK cannot do. Clients come from
//! `aws_config` defaults, built once per process ([`config`]), so the standard
//! `AWS_ENDPOINT_URL_<SERVICE>` variables point them at local stand-ins.

pub mod any_store;
pub mod config;
pub mod dynamodb;
pub mod dynamodb_wait;
pub mod error;
pub mod export_objects;
pub mod healthlake;
pub mod rest;
pub mod s3;
pub mod sfn;

pub use any_store::AnyJobStore;
pub use config::{sdk_config, sdk_config_loader, table_name};
pub use dynamodb::DynamoDbJobStore;
pub use export_objects::S3ExportObjects;
pub use healthlake::SdkHealthLakeJobs;
pub use rest::RestExportClient;
pub use s3::S3ManifestStore;
pub use sfn::SdkTaskTokens;
