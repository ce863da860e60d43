//! hlx's end-to-end tests, one test binary: each module is a group of
//! scenarios on the real binaries, the real state-machine definition
//! and a real DynamoDB-compatible server. One binary links the whole stack
//! once instead of once per file (the links dominate the debug build's time
//! and disk). `cargo test -p hlx-e2e --test e2e <module>::` runs one group.

mod api_on_runner;
mod cli_ops;
mod dynamodb_store;
mod event_scenarios;
mod export_scenarios;
mod hlx_local;
mod import_scenarios;
mod incremental_scenarios;
mod second_engine;
mod verify_scenarios;
