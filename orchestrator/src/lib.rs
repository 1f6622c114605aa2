//! The orchestrator: the state machine, the durable store, the dispatcher, and the `migrator` CLI.
//!
//! Dependencies point one way: orchestrator → workers → schema. Inside this crate, modules are
//! layered as the README's module picture draws them (the `layering` test holds the code to it).

pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cron;
pub mod daemon;
pub mod db;
pub mod demo;
pub mod dispatcher;
pub mod failure_watch;
pub mod generator;
pub mod import;
#[cfg(test)]
mod layering;
pub mod node;
pub mod phase;
pub mod retry;
pub mod schedule;
pub mod state_machine;
pub mod store;
