//! Verified exports: every completed export read back, counted and judged.
//!
//! An export's files are streamed from S3 ([`storage::ExportObjects`]) one
//! chunk at a time ([`file::FileVerifier`]); each line is judged on its own
//! ([`line`]); the files' reports fold into a [`verdict::Verification`]
//! (`VERIFIED`, `SUSPECT` with its [`reason::Reason`]s, or `UNVERIFIABLE`)
//! against HealthLake's manifest and the previous export of the same scope.
//! Small exports are read by one invocation; large ones by a Distributed Map
//! whose children each read a batch of files ([`run`]). The function's steps,
//! which also read the job history, are in the `verify_export` module.

pub mod file;
pub mod ids;
pub mod line;
pub mod reason;
pub mod run;
pub mod shards;
pub mod storage;
pub mod verdict;

pub use file::{FileKind, FileReport, FileVerifier};
pub use reason::Reason;
pub use verdict::{
    Baseline, Expectations, UnreadFile, Verdict, Verification, VerificationPath, VerifyPolicy, fold,
};
