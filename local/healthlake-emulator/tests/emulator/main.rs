//! The emulator over real HTTP: its HealthLake API through the unmodified
//! `aws-sdk-healthlake` client, its FHIR REST `$export` surface signed with
//! the real SigV4 signer (`rest`), and its S3 through `aws-sdk-s3` (`s3`).
//! One test binary (several modules) to keep link time down.

mod binary;
mod common;
mod core_rules;
mod events;
mod faults;
mod imports;
mod lifecycle;
mod operations;
mod output;
mod rest;
mod rest_client;
mod s3;
mod streaming;
mod validation;
