//! How hlx's CLI (`hlx list`, `hlx local`) and its benchmarks (RESULTS.md)
//! report: one [`Table`] renderer for aligned text and Markdown, and one
//! price table ([`pricing`]) for what a run would cost in AWS.
//!
//! A leaf crate: the `hlx` CLI and `hlx-bench` share nothing else that fits.

pub mod pricing;
mod table;

pub use table::Table;
