//! Configuration: built-in defaults → `migrator.toml` (or the file given with `--config`) →
//! environment variables `MIGRATOR__SECTION__KEY` (e.g. `MIGRATOR__NODE__CLAIM_BATCH=1000`,
//! `MIGRATOR__ALTINN3__TOKEN=…`), layered with the `config` crate.
//!
//! Everything is checked at start-up; every bad value is reported with its key and why, all at
//! once. The A3 token comes from the environment or `altinn3.token_file`, never from the file
//! itself, and is held as a `Secret` that does not print.
//!
//! This file holds the checked settings and the errors; `load.rs` layers the sources into the raw
//! form (`raw.rs`), `check.rs` turns that into settings (phases in `phases.rs`), with `checker.rs`
//! collecting every issue under its key.

mod check;
mod checker;
mod load;
mod phases;
mod raw;

use crate::cron::{Cron, parse_tz};
use crate::phase::{Phase, Window};
use crate::retry::RetryPolicy;
use crate::schedule::{Action, Missed, ScheduleSpec, window_schedule_name};
use crate::store::{ClaimOrder, Selection};
use chrono_tz::Tz;
use std::path::PathBuf;
use std::time::Duration;
use workers::a3::{Limit, Secret};

/// One bad value: its key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key, e.g. `phases.nightly.window.cron`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// The configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or is not valid TOML.
    #[error("config file {path}: {problem}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Values are invalid.
    #[error("invalid configuration:{}", .0.iter().map(|i| format!("\n  {}: {}", i.key, i.problem)).collect::<String>())]
    Invalid(Vec<ConfigIssue>),
}

impl ConfigError {
    /// The keys named, for tests and tools.
    pub fn keys(&self) -> Vec<String> {
        match self {
            ConfigError::File { .. } => Vec::new(),
            ConfigError::Invalid(v) => v.iter().map(|i| i.key.clone()).collect(),
        }
    }
}

/// The Altinn 3 connection.
#[derive(Debug, Clone)]
pub struct Altinn3Settings {
    /// Base URL of the A3 platform (required by `run`).
    pub base_url: Option<String>,
    /// The bearer token (from the environment or `token_file`).
    pub token: Option<Secret>,
    /// Where the token was read from, if from a file: the daemon reads it again after Altinn 3
    /// refused the token, so a fixed token is picked up without a restart.
    pub token_file: Option<PathBuf>,
    /// Timeout per HTTP call.
    pub timeout: Duration,
    /// Calls per second, burst and concurrency per endpoint.
    pub limit: Limit,
    /// Ids per make-available call.
    pub make_available_batch: usize,
    /// How long the daemon holds off Altinn 3 work after A3 refused our credentials (401/403)
    /// before it tries one item again.
    pub credentials_pause: Duration,
}

/// The operations server (`[http]`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Where it listens; None when `http.listen = ""` (off). The default binds 127.0.0.1 only.
    pub listen: Option<std::net::SocketAddr>,
    /// The operator token from the environment (`MIGRATOR__HTTP__TOKEN`).
    pub token: Option<Secret>,
    /// `http.token_file`, read by the commands that serve (see [`HttpSettings::token`]).
    pub token_file: Option<PathBuf>,
    /// How often the server recomputes what is too costly to count per request (per-phase
    /// counts and estimates).
    pub refresh: Duration,
}

impl HttpSettings {
    /// The operator token, from the environment or `http.token_file`; None leaves the server
    /// read-only. The error names the key and the file, never the content.
    pub fn token(&self) -> Result<Option<Secret>, ConfigError> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(path)) => Secret::from_file(path).map(Some).map_err(|e| {
                ConfigError::Invalid(vec![ConfigIssue {
                    key: "http.token_file".into(),
                    problem: e.to_string(),
                }])
            }),
            (None, None) => Ok(None),
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text (coloured only on a terminal).
    #[default]
    Plain,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message` and the event's
    /// fields), for log shippers.
    Json,
}

/// The node's engine settings.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Items per claim.
    pub claim_batch: usize,
    /// Lease length.
    pub lease: Duration,
    /// Outcomes per commit.
    pub write_batch: usize,
    /// Sleep between claims when idle.
    pub idle_poll: Duration,
    /// Grace for in-flight items at shutdown.
    pub shutdown_grace: Duration,
    /// After the grace, how long flushing and releasing may take before the node exits anyway.
    pub shutdown_deadline: Duration,
    /// Backstop timeout per step run.
    pub step_timeout: Duration,
    /// How often a node says it is alive (and looks for dead nodes whose leases to free).
    pub heartbeat: Duration,
    /// A node without a heartbeat this long is dead: its leases are freed at once and its
    /// firings closed. At least three heartbeats.
    pub dead_after: Duration,
    /// Longest sleep of the scheduler loop.
    pub scheduler_poll: Duration,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The default time zone of schedules and windows, and of phase dates.
    pub time_zone: Tz,
    /// `database.url` (the `--db` flag wins over it).
    pub database: Option<String>,
    /// Altinn 3.
    pub altinn3: Altinn3Settings,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Node settings.
    pub node: NodeSettings,
    /// Where `discover` finds export files.
    pub inbox: Option<PathBuf>,
    /// `discover.watch`: the daemon watches the inbox itself (the live feed in the daemon), with
    /// this poll (`discover.poll`) beside filesystem notifications; None when it does not.
    pub inbox_watch: Option<Duration>,
    /// How long finished items keep full history.
    pub history_retention: Duration,
    /// `log.format`.
    pub log: LogFormat,
    /// `[http]`: the operations server.
    pub http: HttpSettings,
    /// Schedules, including one `window:<phase>` per windowed phase.
    pub schedules: Vec<ScheduleSpec>,
    /// Phases, in name order.
    pub phases: Vec<Phase>,
}

#[cfg(test)]
mod tests;
