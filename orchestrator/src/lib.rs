//! The orchestrator: the state machine, the durable store, the dispatcher, and the `migrator` CLI.
//!
//! Dependencies point one way: orchestrator → workers → schema. Inside this crate, modules are
//! layered as the README's module picture draws them (the `layering` test holds the code to it).
//!
//! Public modules are the ones the `migrator` binary and the integration tests reach; `config`
//! and `failure_watch` are internal. `unreachable_pub` (workspace lint table) keeps items of
//! internal modules `pub(crate)`, so the compiler reports the ones nothing uses.

pub mod bench;
pub mod cli;
pub mod clock;
mod config;
pub mod cron;
pub mod daemon;
pub mod db;
pub mod demo;
pub mod dispatcher;
mod failure_watch;
pub mod generator;
pub mod http;
pub mod import;
pub mod latency;
#[cfg(test)]
mod layering;
pub mod node;
pub mod phase;
pub mod retry;
pub mod schedule;
pub mod state_machine;
pub mod store;
pub mod telemetry;
