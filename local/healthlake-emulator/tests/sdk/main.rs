//! The emulator through the unmodified `aws-sdk-healthlake` client over HTTP.
//! One test binary (several modules) to keep link time down.

mod binary;
mod common;
mod events;
mod faults;
mod imports;
mod lifecycle;
mod operations;
mod output;
mod validation;
