//! Configuration: built-in defaults → `migrator.toml` (or the file given with `--config`) →
//! environment variables `MIGRATOR__SECTION__KEY` (e.g. `MIGRATOR__NODE__CLAIM_BATCH=1000`,
//! `MIGRATOR__ALTINN3__TOKEN=…`), layered with the `config` crate.
//!
//! Everything is checked at start-up; every bad value is reported with its key and why, all at
//! once. The A3 token comes from the environment or `altinn3.token_file`, never from the file
//! itself, and is held as a `Secret` that does not print.

mod raw;

use crate::cron::{Cron, parse_tz};
use crate::phase::{Phase, Window};
use crate::retry::RetryPolicy;
use crate::schedule::{Action, Missed, ScheduleSpec, window_schedule_name};
use crate::store::{ClaimOrder, Selection};
use chrono::TimeZone;
use chrono_tz::Tz;
use raw::Raw;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use workers::StepKind;
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
    /// Timeout per HTTP call.
    pub timeout: Duration,
    /// Calls per second, burst and concurrency per endpoint.
    pub limit: Limit,
    /// Ids per make-available call.
    pub make_available_batch: usize,
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
    /// Backstop timeout per step run.
    pub step_timeout: Duration,
    /// A node without a heartbeat this long is dead.
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
    /// How long finished items keep full history.
    pub history_retention: Duration,
    /// Schedules, including one `window:<phase>` per windowed phase.
    pub schedules: Vec<ScheduleSpec>,
    /// Phases, in name order.
    pub phases: Vec<Phase>,
}

impl Settings {
    /// Loads `file` (if given) over the defaults, then `env` (the process environment if None)
    /// over that.
    pub fn load(file: Option<&Path>, env: Option<HashMap<String, String>>) -> Result<Settings, ConfigError> {
        Self::load_with(file, env, true)
    }

    /// Like [`Settings::load`], but the A3 token is neither read nor checked (`altinn3.token`
    /// and `altinn3.token_file` are ignored; `token` is None): for commands that never call
    /// Altinn 3, so a `token_file` this machine lacks does not stop them.
    pub fn load_without_token(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(file, env, false)
    }

    fn load_with(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
        with_token: bool,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let file_error =
                |problem: String| ConfigError::File { path: path.display().to_string(), problem };
            let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
            // Secrets do not belong in a file that is copied around and checked in.
            let only_file = config::Config::builder()
                .add_source(config::File::from_str(&text, config::FileFormat::Toml))
                .build()
                .map_err(|e| file_error(e.to_string()))?;
            if only_file.get::<config::Value>("altinn3.token").is_ok() {
                return Err(ConfigError::Invalid(vec![ConfigIssue {
                    key: "altinn3.token".into(),
                    problem: "the token may not be written in the config file; set MIGRATOR__ALTINN3__TOKEN or altinn3.token_file".into(),
                }]));
            }
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder =
            builder.add_source(config::Environment::with_prefix("MIGRATOR").separator("__").source(env));
        let merged = builder
            .build()
            .map_err(|e| ConfigError::File { path: "environment".into(), problem: e.to_string() })?;
        let mut raw: Raw = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            let problem = e.inner().to_string();
            // The config crate sometimes names the key itself; keep the message short.
            let problem = problem.split(" for key `").next().unwrap_or(&problem).to_string();
            ConfigError::Invalid(vec![ConfigIssue {
                key: if key == "." { "(top level)".into() } else { key },
                problem,
            }])
        })?;
        if !with_token {
            raw.altinn3.token = None;
            raw.altinn3.token_file = None;
        }
        check(raw)
    }
}

/// Collects issues while converting.
#[derive(Default)]
struct Checker {
    issues: Vec<ConfigIssue>,
}

impl Checker {
    fn issue(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.issues.push(ConfigIssue { key: key.into(), problem: problem.into() });
    }

    fn duration(&mut self, key: &str, value: &str, min: Duration) -> Duration {
        match humantime::parse_duration(value) {
            Ok(d) if d >= min => d,
            Ok(_) => {
                self.issue(
                    key,
                    format!("{value:?} is too short (at least {})", humantime::format_duration(min)),
                );
                min
            }
            Err(e) => {
                self.issue(key, format!("{value:?} is not a duration such as 90s, 10m or 8h: {e}"));
                min
            }
        }
    }

    fn at_least<T: PartialOrd + std::fmt::Display + Copy>(&mut self, key: &str, value: T, min: T) -> T {
        if value < min {
            self.issue(key, format!("{value} is too small (at least {min})"));
            return min;
        }
        value
    }

    fn tz(&mut self, key: &str, value: &str) -> Tz {
        parse_tz(value).unwrap_or_else(|e| {
            self.issue(key, e);
            Tz::UTC
        })
    }

    fn cron(&mut self, key: &str, expr: &str, tz: Tz) -> Option<Cron> {
        Cron::parse(expr, tz.name()).map_err(|e| self.issue(key, e)).ok()
    }

    /// A date (`2025-01-01`, midnight in `tz`) or an RFC 3339 instant, as epoch ms.
    fn instant(&mut self, key: &str, value: &str, tz: Tz) -> Option<i64> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
            return Some(t.timestamp_millis());
        }
        match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            // Midnight may not exist where clocks change at midnight: the first hour that does.
            Ok(d) => {
                let found = (0..3).find_map(|h| tz.from_local_datetime(&d.and_hms_opt(h, 0, 0)?).earliest());
                if found.is_none() {
                    self.issue(key, format!("{value:?} has no midnight in {tz}"));
                }
                found.map(|t| t.timestamp_millis())
            }
            Err(_) => {
                self.issue(key, format!("{value:?} is not a date (2025-01-01) or an RFC 3339 time"));
                None
            }
        }
    }
}

fn check(raw: Raw) -> Result<Settings, ConfigError> {
    let mut c = Checker::default();
    let time_zone = c.tz("time_zone", &raw.time_zone);

    if raw.database.url.as_deref().is_some_and(|u| u.trim().is_empty()) {
        c.issue("database.url", "is empty");
    }

    let a = &raw.altinn3;
    if let Some(url) = &a.base_url {
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            c.issue("altinn3.base_url", format!("{url:?} is not an http(s) URL"));
        }
    }
    let token = match (&a.token, &a.token_file) {
        (Some(_), Some(_)) => {
            c.issue("altinn3.token_file", "give the token in the environment or in a file, not both");
            None
        }
        (Some(t), None) if t.trim().is_empty() => {
            c.issue("altinn3.token", "is empty");
            None
        }
        (Some(t), None) => Some(Secret::new(t.trim().to_string())),
        (None, Some(path)) => match Secret::from_file(path) {
            Ok(s) => Some(s),
            Err(e) => {
                c.issue("altinn3.token_file", e.to_string());
                None
            }
        },
        (None, None) => None,
    };
    let altinn3 = Altinn3Settings {
        base_url: a.base_url.clone(),
        token,
        timeout: c.duration("altinn3.timeout", &a.timeout, Duration::from_millis(1)),
        limit: Limit {
            per_second: a.per_second,
            burst: c.at_least("altinn3.burst", a.burst, 1),
            concurrency: c.at_least("altinn3.concurrency", a.concurrency, 1),
        },
        make_available_batch: c.at_least("altinn3.make_available_batch", a.make_available_batch, 1),
    };
    if altinn3.make_available_batch > 1000 {
        c.issue(
            "altinn3.make_available_batch",
            format!("{} is too large (at most 1000)", altinn3.make_available_batch),
        );
    }

    let r = &raw.retry;
    let retry = RetryPolicy {
        initial: c.duration("retry.initial", &r.initial, Duration::from_millis(1)),
        multiplier: r.multiplier,
        max_interval: c.duration("retry.max_interval", &r.max_interval, Duration::from_millis(1)),
        randomization: r.randomization,
        max_attempts: c.at_least("retry.max_attempts", r.max_attempts, 1),
        max_identical_server_errors: c.at_least(
            "retry.max_identical_server_errors",
            r.max_identical_server_errors,
            1,
        ),
    };
    if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
        c.issue("retry.multiplier", format!("{} must be a number of at least 1", r.multiplier));
    }
    if !(0.0..=1.0).contains(&r.randomization) {
        c.issue("retry.randomization", format!("{} must be between 0 and 1", r.randomization));
    }
    if retry.max_interval < retry.initial {
        c.issue("retry.max_interval", "is shorter than retry.initial");
    }

    let n = &raw.node;
    let node = NodeSettings {
        claim_batch: c.at_least("node.claim_batch", n.claim_batch, 1),
        lease: c.duration("node.lease", &n.lease, Duration::from_secs(1)),
        write_batch: c.at_least("node.write_batch", n.write_batch, 1),
        idle_poll: c.duration("node.idle_poll", &n.idle_poll, Duration::from_millis(1)),
        shutdown_grace: c.duration("node.shutdown_grace", &n.shutdown_grace, Duration::ZERO),
        step_timeout: c.duration("node.step_timeout", &n.step_timeout, Duration::from_millis(1)),
        dead_after: c.duration("node.dead_after", &n.dead_after, Duration::from_secs(1)),
        scheduler_poll: c.duration("node.scheduler_poll", &n.scheduler_poll, Duration::from_millis(10)),
    };
    if node.claim_batch > 10_000 {
        c.issue("node.claim_batch", format!("{} is too large (at most 10000)", node.claim_batch));
    }
    if node.dead_after < node.lease {
        c.issue("node.dead_after", "is shorter than node.lease (live nodes would be taken for dead)");
    }
    let history_retention =
        c.duration("retention.history", &raw.retention.history, Duration::from_secs(3600));

    let phases: Vec<Phase> = raw.phases.iter().map(|(name, p)| phase(&mut c, name, p, time_zone)).collect();
    let mut schedules = Vec::new();
    for (name, s) in &raw.schedules {
        let key = |k: &str| format!("schedules.{name}.{k}");
        if name.contains(':') {
            c.issue(
                format!("schedules.{name}"),
                "schedule names may not contain ':' (reserved for window: and once:)",
            );
        }
        let tz = s.time_zone.as_deref().map(|z| c.tz(&key("time_zone"), z)).unwrap_or(time_zone);
        let cron = c.cron(&key("cron"), &s.cron, tz);
        let action = match s.action.as_str() {
            "open-window" => match &s.phase {
                Some(p) if raw.phases.contains_key(p) => Some(Action::OpenWindow(p.clone())),
                Some(p) => {
                    c.issue(key("phase"), format!("no phase named {p:?}"));
                    None
                }
                None => {
                    c.issue(key("phase"), "open-window needs the phase it opens");
                    None
                }
            },
            "discover" => Some(Action::Discover),
            "sync-sweep" => Some(Action::SyncSweep),
            "rescue" => Some(Action::Rescue),
            "prune" => Some(Action::Prune),
            "report" => Some(Action::Report),
            other => {
                c.issue(
                    key("action"),
                    format!(
                        "unknown action {other:?} (open-window, discover, sync-sweep, rescue, prune, report)"
                    ),
                );
                None
            }
        };
        if action == Some(Action::Discover) && raw.discover.inbox.is_none() {
            c.issue(
                "discover.inbox",
                format!("schedule {name:?} discovers files but no inbox directory is set"),
            );
        }
        if s.phase.is_some() && !matches!(action, Some(Action::OpenWindow(_)) | None) {
            c.issue(key("phase"), format!("action {:?} takes no phase", s.action));
        }
        let missed = match s.missed.as_str() {
            "skip" => Some(Missed::Skip),
            "run-once-late" => {
                Some(Missed::RunOnceLate(c.duration(&key("catch_up"), &s.catch_up, Duration::ZERO)))
            }
            other => {
                c.issue(key("missed"), format!("unknown policy {other:?} (skip or run-once-late)"));
                None
            }
        };
        if let (Some(cron), Some(action), Some(missed)) = (cron, action, missed) {
            schedules.push(ScheduleSpec { name: name.clone(), cron, action, missed });
        }
    }
    // Each windowed phase records its windows (what `plan` measures throughput from).
    for p in &phases {
        if let Window::Scheduled { cron, duration } = &p.window {
            schedules.push(ScheduleSpec {
                name: window_schedule_name(&p.name),
                cron: cron.clone(),
                action: Action::OpenWindow(p.name.clone()),
                missed: Missed::RunOnceLate(*duration),
            });
        }
    }

    if !c.issues.is_empty() {
        return Err(ConfigError::Invalid(c.issues));
    }
    Ok(Settings {
        time_zone,
        database: raw.database.url,
        altinn3,
        retry,
        node,
        inbox: raw.discover.inbox,
        history_retention,
        schedules,
        phases,
    })
}

fn phase(c: &mut Checker, name: &str, p: &raw::RawPhase, tz: Tz) -> Phase {
    let key = |k: &str| format!("phases.{name}.{k}");
    if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        c.issue(format!("phases.{name}"), "phase names use letters, digits, '-' and '_'");
    }
    let created_from = p.created_from.as_deref().and_then(|v| c.instant(&key("created_from"), v, tz));
    let created_to = p.created_to.as_deref().and_then(|v| c.instant(&key("created_to"), v, tz));
    if let (Some(f), Some(t)) = (created_from, created_to)
        && f >= t
    {
        c.issue(key("created_to"), "is not after created_from");
    }
    let mut steps = Vec::new();
    for s in &p.steps {
        match s.replace('-', "_").as_str() {
            "all" => steps.extend(StepKind::ALL),
            "migrate" => steps.push(StepKind::Migrate),
            "make_available" => steps.push(StepKind::MakeAvailable),
            "sync" => steps.push(StepKind::Sync),
            other => {
                c.issue(key("steps"), format!("unknown step {other:?} (migrate, make-available, sync, all)"))
            }
        }
    }
    steps.sort_by_key(|s| StepKind::ALL.iter().position(|k| k == s));
    steps.dedup();
    if p.steps.is_empty() {
        c.issue(key("steps"), "is empty: a phase must advance at least one step");
    }
    let order = match p.order.as_str() {
        "due" => ClaimOrder::Due,
        "newest-first" => ClaimOrder::NewestFirst,
        "oldest-first" => ClaimOrder::OldestFirst,
        other => {
            c.issue(key("order"), format!("unknown order {other:?} (due, newest-first, oldest-first)"));
            ClaimOrder::Due
        }
    };
    let window = match &p.window {
        None => Window::Always,
        Some(w) => {
            let wtz = w.time_zone.as_deref().map(|z| c.tz(&key("window.time_zone"), z)).unwrap_or(tz);
            let cron = c.cron(&key("window.cron"), &w.cron, wtz);
            let duration = c.duration(&key("window.duration"), &w.duration, Duration::from_secs(1));
            match cron {
                Some(cron) => Window::Scheduled { cron, duration },
                None => Window::Always,
            }
        }
    };
    if let Some(rate) = p.rate
        && !(rate.is_finite() && (0.001..=1_000_000.0).contains(&rate))
    {
        c.issue(key("rate"), format!("{rate} must be between 0.001 and 1000000 items per second"));
    }
    Phase {
        name: name.to_string(),
        selection: Selection {
            created_from,
            created_to,
            service_owners: p.service_owners.clone(),
            resources: p.resources.clone(),
        },
        steps,
        order,
        window,
        rate: p.rate,
        concurrency: c.at_least(&key("concurrency"), p.concurrency, 1),
    }
}

#[cfg(test)]
mod tests;
