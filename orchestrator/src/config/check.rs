//! Turning the raw configuration into [`Settings`]: the database, Altinn 3, retry, node and
//! retention values and the schedules (plus one `window:<phase>` per windowed phase), each bad
//! value named by its key.

use super::checker::Checker;
use super::phases::phase;
use super::raw::{Raw, RawHttp};
use super::{
    Action, Altinn3Settings, ConfigError, HttpSettings, LogFormat, Missed, NodeSettings, Phase, RetryPolicy,
    ScheduleSpec, Settings, Window, window_schedule_name,
};
use std::time::Duration;
use workers::a3::{Limit, Secret};

pub(super) fn check(raw: Raw) -> Result<Settings, ConfigError> {
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
    let token = match (env_token(&mut c, "altinn3", &a.token, &a.token_file), &a.token_file) {
        (Some(t), _) => Some(t),
        (None, Some(path)) if a.token.is_none() => match Secret::from_file(path) {
            Ok(s) => Some(s),
            Err(e) => {
                c.issue("altinn3.token_file", e.to_string());
                None
            }
        },
        _ => None,
    };
    let altinn3 = Altinn3Settings {
        base_url: a.base_url.clone(),
        token,
        token_file: a.token_file.clone(),
        timeout: c.duration("altinn3.timeout", &a.timeout, Duration::from_millis(1)),
        limit: Limit {
            per_second: a.per_second,
            burst: c.at_least("altinn3.burst", a.burst, 1),
            concurrency: c.at_least("altinn3.concurrency", a.concurrency, 1),
        },
        make_available_batch: c.at_least("altinn3.make_available_batch", a.make_available_batch, 1),
        credentials_pause: c.duration(
            "altinn3.credentials_pause",
            &a.credentials_pause,
            Duration::from_millis(10),
        ),
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
        shutdown_deadline: c.duration("node.shutdown_deadline", &n.shutdown_deadline, Duration::from_secs(1)),
        step_timeout: c.duration("node.step_timeout", &n.step_timeout, Duration::from_millis(1)),
        heartbeat: c.duration("node.heartbeat", &n.heartbeat, Duration::from_millis(100)),
        dead_after: c.duration("node.dead_after", &n.dead_after, Duration::from_secs(1)),
        scheduler_poll: c.duration("node.scheduler_poll", &n.scheduler_poll, Duration::from_millis(10)),
    };
    if node.claim_batch > 10_000 {
        c.issue("node.claim_batch", format!("{} is too large (at most 10000)", node.claim_batch));
    }
    if node.dead_after < node.heartbeat * 3 {
        c.issue(
            "node.dead_after",
            "is shorter than three node.heartbeat periods (live nodes would be taken for dead)",
        );
    }
    let log = match raw.log.format.as_str() {
        "plain" => LogFormat::Plain,
        "json" => LogFormat::Json,
        other => {
            c.issue("log.format", format!("unknown format {other:?} (plain or json)"));
            LogFormat::Plain
        }
    };
    let http = http(&mut c, &raw.http);
    let history_retention =
        c.duration("retention.history", &raw.retention.history, Duration::from_secs(3600));

    let phases: Vec<Phase> = raw
        .phases
        .iter()
        .map(|(name, p)| phase(&mut c, name, p, time_zone, altinn3.limit.concurrency))
        .collect();
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

    let poll = c.duration("discover.poll", &raw.discover.poll, Duration::from_millis(1));
    if raw.discover.watch && raw.discover.inbox.is_none() {
        c.issue("discover.inbox", "discover.watch is on but no inbox directory is set".to_string());
    }
    let inbox_watch = raw.discover.watch.then_some(poll);

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
        inbox_watch,
        history_retention,
        log,
        http,
        schedules,
        phases,
    })
}

/// `[http]`: where the operations server listens (`""` turns it off) and its token. The token
/// file is only named here; `migrator run` and `migrator serve` read it (see
/// [`HttpSettings::token`]), so a reading command on a machine without it is not stopped.
fn http(c: &mut Checker, h: &RawHttp) -> HttpSettings {
    let listen = match h.listen.trim() {
        "" => None,
        addr => match addr.parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                c.issue(
                    "http.listen",
                    format!("{addr:?} is not an address and port like 127.0.0.1:9464 ({e})"),
                );
                None
            }
        },
    };
    HttpSettings {
        listen,
        token: env_token(c, "http", &h.token, &h.token_file),
        token_file: h.token_file.clone(),
        refresh: c.duration("http.refresh", &h.refresh, Duration::from_millis(100)),
    }
}

/// `SECTION.token` from the environment, checked: not empty, and not given beside
/// `SECTION.token_file` (each such issue named by its key). None when it is not set or wrong.
fn env_token(
    c: &mut Checker,
    section: &str,
    token: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> Option<Secret> {
    let t = token.as_deref()?;
    if file.is_some() {
        c.issue(format!("{section}.token_file"), "give the token in the environment or in a file, not both");
        None
    } else if t.trim().is_empty() {
        c.issue(format!("{section}.token"), "is empty");
        None
    } else {
        Some(Secret::new(t.trim().to_string()))
    }
}
