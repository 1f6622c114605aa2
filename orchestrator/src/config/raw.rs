//! The configuration as written: strings and numbers, with the built-in defaults. `check.rs`
//! checks and converts it, naming the key of every bad value.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

// No `Debug`: `altinn3.token` is plain text here, and must never be printed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct Raw {
    pub time_zone: String,
    pub database: RawDatabase,
    pub altinn3: RawAltinn3,
    pub retry: RawRetry,
    pub node: RawNode,
    pub discover: RawDiscover,
    pub retention: RawRetention,
    pub log: RawLog,
    pub http: RawHttp,
    pub schedules: BTreeMap<String, RawSchedule>,
    pub phases: BTreeMap<String, RawPhase>,
}

impl Default for Raw {
    fn default() -> Self {
        Self {
            time_zone: "Europe/Oslo".into(),
            database: RawDatabase::default(),
            altinn3: RawAltinn3::default(),
            retry: RawRetry::default(),
            node: RawNode::default(),
            discover: RawDiscover::default(),
            retention: RawRetention::default(),
            log: RawLog::default(),
            http: RawHttp::default(),
            schedules: BTreeMap::new(),
            phases: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDatabase {
    pub url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAltinn3 {
    pub base_url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub timeout: String,
    pub per_second: u32,
    pub burst: u32,
    pub concurrency: usize,
    pub make_available_batch: usize,
    pub credentials_pause: String,
}

impl Default for RawAltinn3 {
    fn default() -> Self {
        Self {
            base_url: None,
            token: None,
            token_file: None,
            timeout: "30s".into(),
            per_second: 0,
            burst: 50,
            concurrency: 64,
            make_available_batch: 100,
            credentials_pause: "1m".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRetry {
    pub initial: String,
    pub multiplier: f64,
    pub max_interval: String,
    pub randomization: f64,
    pub max_attempts: i32,
    pub max_identical_server_errors: i32,
}

impl Default for RawRetry {
    fn default() -> Self {
        Self {
            initial: "1s".into(),
            multiplier: 2.0,
            max_interval: "10m".into(),
            randomization: 0.2,
            max_attempts: 10,
            max_identical_server_errors: 3,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawNode {
    pub claim_batch: usize,
    pub lease: String,
    pub write_batch: usize,
    pub idle_poll: String,
    pub shutdown_grace: String,
    pub shutdown_deadline: String,
    pub step_timeout: String,
    pub heartbeat: String,
    pub dead_after: String,
    pub scheduler_poll: String,
}

impl Default for RawNode {
    fn default() -> Self {
        Self {
            claim_batch: 500,
            lease: "60s".into(),
            write_batch: 1000,
            idle_poll: "250ms".into(),
            shutdown_grace: "3s".into(),
            shutdown_deadline: "10s".into(),
            step_timeout: "5m".into(),
            heartbeat: "2s".into(),
            dead_after: "6s".into(),
            scheduler_poll: "30s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDiscover {
    pub inbox: Option<PathBuf>,
    pub watch: bool,
    pub poll: String,
}

impl Default for RawDiscover {
    fn default() -> Self {
        Self { inbox: None, watch: false, poll: "2s".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRetention {
    pub history: String,
}

impl Default for RawRetention {
    fn default() -> Self {
        Self { history: "90d".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self { format: "plain".into() }
    }
}

// No `Debug`: `http.token` is plain text here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    pub listen: String,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub refresh: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9464".into(), token: None, token_file: None, refresh: "30s".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub cron: String,
    pub action: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default = "skip")]
    pub missed: String,
    #[serde(default = "six_hours")]
    pub catch_up: String,
}

fn skip() -> String {
    "skip".into()
}

fn six_hours() -> String {
    "6h".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    #[serde(default)]
    pub created_from: Option<String>,
    #[serde(default)]
    pub created_to: Option<String>,
    #[serde(default)]
    pub service_owners: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default = "all_steps")]
    pub steps: Vec<String>,
    #[serde(default = "due")]
    pub order: String,
    #[serde(default)]
    pub window: Option<RawWindow>,
    #[serde(default)]
    pub rate: Option<f64>,
    /// None: `altinn3.concurrency` (see `phases.rs`).
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default = "batched")]
    pub make_available: String,
}

fn all_steps() -> Vec<String> {
    vec!["all".into()]
}

fn due() -> String {
    "due".into()
}

fn batched() -> String {
    "batched".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub cron: String,
    pub duration: String,
    #[serde(default)]
    pub time_zone: Option<String>,
}
