//! The table of bad configurations: each must fail with an error that names its key, and none
//! may panic. Plus the layering (file over defaults, environment over file).

use super::*;
use chrono::TimeZone;
use std::collections::HashMap;
use std::io::Write;
use workers::StepKind;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::load(Some(file.path()), Some(env))
}

/// (what, file, environment, the key the error must name)
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

const PHASE: &str = "[phases.p]\nsteps = [\"migrate\"]\n";

/// Values of the wrong type are errors, not coerced, and every one is reported in one go, with
/// the unknown keys among them.
#[test]
fn wrong_types_and_unknown_keys_are_all_reported_at_once() {
    let toml = "[node]\nclaim_batch = true\nwrite_batch = 2.9\nclaim_bacth = 5\n[altinn3]\nconcurrency = 0.5\n\
                [database]\nurl = 5\n[phases.p]\nsteps = [\"migrate\"]\nconcurrency = \"many\"\n";
    let err = load(toml, &[]).map(|_| ()).unwrap_err();
    let mut keys = err.keys();
    keys.sort();
    assert_eq!(
        keys,
        [
            "altinn3.concurrency",
            "database.url",
            "node.claim_bacth",
            "node.claim_batch",
            "node.write_batch",
            "phases.p.concurrency"
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("invalid type: boolean `true`") && text.contains("floating point `2.9`"), "{text}");
}

#[test]
fn every_bad_value_is_reported_with_its_key() {
    let cases: Vec<Case> = vec![
        ("unknown time zone", "time_zone = \"Europe/Olso\"".into(), vec![], "time_zone"),
        ("empty database url", "[database]\nurl = \"\"".into(), vec![], "database.url"),
        ("bad base url", "[altinn3]\nbase_url = \"platform.altinn.no\"".into(), vec![], "altinn3.base_url"),
        ("token in the file", "[altinn3]\ntoken = \"abc\"".into(), vec![], "altinn3.token"),
        ("missing token file", "[altinn3]\ntoken_file = \"/nonexistent/token\"".into(), vec![], "altinn3.token_file"),
        ("bad timeout", "[altinn3]\ntimeout = \"soon\"".into(), vec![], "altinn3.timeout"),
        ("negative rate", "[altinn3]\nper_second = -5".into(), vec![], "altinn3.per_second"),
        ("zero concurrency", "[altinn3]\nconcurrency = 0".into(), vec![], "altinn3.concurrency"),
        ("huge batch", "[altinn3]\nmake_available_batch = 5000".into(), vec![], "altinn3.make_available_batch"),
        ("multiplier below 1", "[retry]\nmultiplier = 0.5".into(), vec![], "retry.multiplier"),
        ("randomization above 1", "[retry]\nrandomization = 3.0".into(), vec![], "retry.randomization"),
        ("zero attempts", "[retry]\nmax_attempts = 0".into(), vec![], "retry.max_attempts"),
        (
            "zero identical server errors",
            "[retry]\nmax_identical_server_errors = 0".into(),
            vec![],
            "retry.max_identical_server_errors",
        ),
        ("max below initial", "[retry]\ninitial = \"1h\"\nmax_interval = \"1s\"".into(), vec![], "retry.max_interval"),
        ("lease too short", "[node]\nlease = \"10ms\"".into(), vec![], "node.lease"),
        ("claim batch of text", "[node]\nclaim_batch = \"many\"".into(), vec![], "node.claim_batch"),
        ("claim batch from env", String::new(), vec![("MIGRATOR__NODE__CLAIM_BATCH", "abc")], "node.claim_batch"),
        ("dead within three beats", "[node]\nheartbeat = \"5s\"\ndead_after = \"10s\"".into(), vec![], "node.dead_after"),
        ("unknown key", "[node]\nclaim_bacth = 5".into(), vec![], "node.claim_bacth"),
        ("unknown section", "[nodes]\nclaim_batch = 5".into(), vec![], "nodes"),
        ("short retention", "[retention]\nhistory = \"5m\"".into(), vec![], "retention.history"),
        ("invalid cron", "[schedules.s]\ncron = \"0 0 25 * * *\"\naction = \"report\"".into(), vec![], "schedules.s.cron"),
        ("cron of words", "[schedules.s]\ncron = \"every night\"\naction = \"report\"".into(), vec![], "schedules.s.cron"),
        (
            "schedule zone",
            "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"report\"\ntime_zone = \"Mars/Olympus\"".into(),
            vec![],
            "schedules.s.time_zone",
        ),
        ("unknown action", "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"explode\"".into(), vec![], "schedules.s.action"),
        ("missing cron", "[schedules.s]\naction = \"report\"".into(), vec![], "schedules.s"),
        ("window without phase", "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"open-window\"".into(), vec![], "schedules.s.phase"),
        (
            "window of unknown phase",
            "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"open-window\"\nphase = \"nope\"".into(),
            vec![],
            "schedules.s.phase",
        ),
        (
            "unknown missed policy",
            "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"report\"\nmissed = \"later\"".into(),
            vec![],
            "schedules.s.missed",
        ),
        (
            "bad catch-up",
            "[schedules.s]\ncron = \"0 0 22 * * *\"\naction = \"report\"\nmissed = \"run-once-late\"\ncatch_up = \"a while\"".into(),
            vec![],
            "schedules.s.catch_up",
        ),
        ("discover without inbox", "[schedules.s]\ncron = \"0 * * * * *\"\naction = \"discover\"".into(), vec![], "discover.inbox"),
        ("watch without inbox", "[discover]\nwatch = true".into(), vec![], "discover.inbox"),
        ("bad discover poll", "[discover]\ninbox = \"in\"\nwatch = true\npoll = \"soon\"".into(), vec![], "discover.poll"),
        ("watch not a bool", "[discover]\ninbox = \"in\"\nwatch = \"yes\"".into(), vec![], "discover.watch"),
        ("bad date", format!("{PHASE}created_from = \"2025-13-01\""), vec![], "phases.p.created_from"),
        ("dates reversed", format!("{PHASE}created_from = \"2025-01-01\"\ncreated_to = \"2024-01-01\""), vec![], "phases.p.created_to"),
        ("unknown step", "[phases.p]\nsteps = [\"teleport\"]".into(), vec![], "phases.p.steps"),
        ("no steps", "[phases.p]\nsteps = []".into(), vec![], "phases.p.steps"),
        ("unknown order", format!("{PHASE}order = \"random\""), vec![], "phases.p.order"),
        ("zero rate", format!("{PHASE}rate = 0"), vec![], "phases.p.rate"),
        ("zero concurrency", format!("{PHASE}concurrency = 0"), vec![], "phases.p.concurrency"),
        ("unknown make_available", format!("{PHASE}make_available = \"at-once\""), vec![], "phases.p.make_available"),
        ("make_available of a bool", format!("{PHASE}make_available = true"), vec![], "phases.p.make_available"),
        ("window cron", format!("{PHASE}[phases.p.window]\ncron = \"0 61 * * * *\"\nduration = \"1h\""), vec![], "phases.p.window.cron"),
        ("window duration", format!("{PHASE}[phases.p.window]\ncron = \"0 0 22 * * *\"\nduration = \"long\""), vec![], "phases.p.window.duration"),
        (
            "window zone",
            format!("{PHASE}[phases.p.window]\ncron = \"0 0 22 * * *\"\nduration = \"8h\"\ntime_zone = \"Oslo\""),
            vec![],
            "phases.p.window.time_zone",
        ),
        (
            "window cron from env",
            format!("{PHASE}[phases.p.window]\ncron = \"0 0 22 * * *\"\nduration = \"8h\""),
            vec![("MIGRATOR__PHASES__P__WINDOW__CRON", "0 0 22 * *  * * *")],
            "phases.p.window.cron",
        ),
        ("bad phase name", "[phases.\"a b\"]\nsteps = [\"migrate\"]".into(), vec![], "phases.a b"),
        ("unknown log format", "[log]\nformat = \"xml\"".into(), vec![], "log.format"),
        ("log format of a number", "[log]\nformat = 1".into(), vec![], "log.format"),
        ("log format from env", String::new(), vec![("MIGRATOR__LOG__FORMAT", "yaml")], "log.format"),
        ("unknown log key", "[log]\nlevel = \"debug\"".into(), vec![], "log.level"),
        ("bad credentials pause", "[altinn3]\ncredentials_pause = \"a bit\"".into(), vec![], "altinn3.credentials_pause"),
    ];
    let mut failures = Vec::new();
    for (what, toml, env, key) in &cases {
        let result = std::panic::catch_unwind(|| load(toml, env));
        match result {
            Err(_) => failures.push(format!("{what}: panicked")),
            Ok(Ok(_)) => failures.push(format!("{what}: accepted")),
            Ok(Err(e)) => {
                let text = e.to_string();
                if !e.keys().iter().any(|k| k == key) || !text.contains(key) {
                    failures.push(format!("{what}: expected key {key}, got {text}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_syntax_error_names_the_file() {
    let e = load("[node\nlease = 1", &[]).unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }), "{e}");
}

#[test]
fn several_problems_are_reported_together() {
    let e = load("[retry]\nmax_attempts = 0\n[node]\nlease = \"x\"", &[]).unwrap_err();
    assert_eq!(e.keys(), vec!["retry.max_attempts", "node.lease"]);
}

#[test]
fn defaults_then_file_then_environment() {
    let s = load("", &[]).unwrap();
    assert_eq!(s.time_zone, chrono_tz::Europe::Oslo);
    assert_eq!(s.node.claim_batch, 500);
    assert!(s.phases.is_empty() && s.schedules.is_empty());

    let toml = "[node]\nclaim_batch = 200\n[altinn3]\nbase_url = \"http://127.0.0.1:1\"\n\
                [phases.night]\ncreated_from = \"2025-01-01\"\nsteps = [\"make-available\"]\norder = \"newest-first\"\nrate = 2.5\n\
                [phases.night.window]\ncron = \"0 0 22 * * *\"\nduration = \"8h\"\n";
    let s = load(toml, &[("MIGRATOR__NODE__LEASE", "2m"), ("MIGRATOR__ALTINN3__TOKEN", "t0ken")]).unwrap();
    assert_eq!(s.node.claim_batch, 200, "file over default");
    assert_eq!(s.node.lease, Duration::from_secs(120), "environment over default");
    assert_eq!(s.altinn3.token.as_ref().map(|t| t.expose()), Some("t0ken"));
    assert!(!format!("{s:?}").contains("t0ken"), "the token never prints");
    let p = &s.phases[0];
    assert_eq!((p.name.as_str(), p.order, p.rate), ("night", ClaimOrder::NewestFirst, Some(2.5)));
    assert_eq!(p.steps, vec![StepKind::MakeAvailable]);
    assert_eq!(p.concurrency, 64, "a phase's concurrency defaults to altinn3.concurrency");
    let oslo_2025 = chrono_tz::Europe::Oslo.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap().timestamp_millis();
    assert_eq!(p.selection.created_from, Some(oslo_2025));
    // The windowed phase records its windows as a schedule of its own.
    assert_eq!(s.schedules.len(), 1);
    assert_eq!(s.schedules[0].name, "window:night");
    let env = load(toml, &[("MIGRATOR__NODE__CLAIM_BATCH", "50")]).unwrap();
    assert_eq!(env.node.claim_batch, 50, "environment over file");
    let wider =
        load(&format!("[altinn3]\nconcurrency = 200\n{}", &toml[toml.find("[phases").unwrap()..]), &[]);
    assert_eq!(wider.unwrap().phases[0].concurrency, 200, "and follows it");
}

#[test]
fn the_log_format_is_plain_unless_json_is_asked_for() {
    assert_eq!(load("", &[]).unwrap().log, LogFormat::Plain);
    assert_eq!(load("[log]\nformat = \"json\"", &[]).unwrap().log, LogFormat::Json);
    assert_eq!(load("", &[("MIGRATOR__LOG__FORMAT", "json")]).unwrap().log, LogFormat::Json);
    assert_eq!(
        load("[log]\nformat = \"json\"", &[("MIGRATOR__LOG__FORMAT", "plain")]).unwrap().log,
        LogFormat::Plain
    );
}

#[test]
fn the_example_file_is_valid() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrator.example.toml")).unwrap();
    let text = text.replace("/run/secrets/altinn3-token", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    let s = load(&text, &[]).unwrap();
    assert_eq!(s.phases.len(), 3);
    assert_eq!(s.schedules.len(), 5 + 2, "five schedules and two phase windows");
    let modes: Vec<_> = s.phases.iter().map(|p| (p.name.as_str(), p.make_available)).collect();
    use crate::phase::MakeAvailable::{Batched, WithMigrate};
    assert_eq!(modes, [("available-2025", Batched), ("live", WithMigrate), ("migrate-2025", Batched)]);
}

#[test]
fn without_the_token_a_missing_token_file_is_not_read() {
    let toml = "[altinn3]\ntoken_file = \"/nonexistent/token\"\n";
    assert_eq!(load(toml, &[]).unwrap_err().keys(), vec!["altinn3.token_file"]);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    let s = Settings::load_without_token(Some(file.path()), Some(HashMap::new())).unwrap();
    assert!(s.altinn3.token.is_none());
    // A token written into the file is still refused: that is about the file, not this command.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"[altinn3]\ntoken = \"x\"\n").unwrap();
    let e = Settings::load_without_token(Some(file.path()), Some(HashMap::new())).unwrap_err();
    assert_eq!(e.keys(), vec!["altinn3.token"]);
}
