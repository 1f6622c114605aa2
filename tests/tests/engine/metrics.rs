//! `/metrics` after real work: a `migrator run` daemon against the simulator (with 503s and
//! 429s injected) until every item is Synced, then one scrape. Its transition counters must
//! equal the history table's rows per (from, to) — counted here with SQL of its own — and its A3
//! request counters per endpoint the simulator's own count of calls it received.

use crate::http_api::{client, free_port};
use altinn3_sim::{Faults, SimConfig, Simulator};
use orchestrator::clock::SystemClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use sea_orm::{ConnectionTrait, Statement};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tests::TestDb;

const TOKEN: &str = "metrics-token-4d1";

/// Prometheus text: `(name, labels) → value` for every sample.
fn samples(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        out.insert((name.to_string(), labels), value.parse().expect("a number"));
    }
    out
}

/// The sum of `name`'s samples per value of label `by` (only samples that have it).
fn sum_by(
    s: &BTreeMap<(String, BTreeMap<String, String>), f64>,
    name: &str,
    by: &[&str],
) -> BTreeMap<Vec<String>, u64> {
    let mut out = BTreeMap::new();
    for ((n, labels), v) in s {
        if n != name {
            continue;
        }
        let key: Option<Vec<String>> = by.iter().map(|b| labels.get(*b).cloned()).collect();
        if let Some(key) = key {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "counters are whole")]
            let v = *v as u64;
            *out.entry(key).or_default() += v;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_after_a_run_agrees_with_history_and_the_simulator() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 120).await;
    let faults = Faults { error_5xx_rate: 0.08, rate_429: 0.04, ..Faults::default() };
    let sim = Simulator::start(
        SimConfig { token: TOKEN.into(), seed: 7, faults, dialog_job: Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(
        &config,
        "[retry]\ninitial = \"20ms\"\nmax_interval = \"200ms\"\nmax_attempts = 30\n\
         [phases.live]\nsteps = [\"all\"]\nconcurrency = 8\n[node]\nidle_poll = \"20ms\"\n",
    )
    .unwrap();
    let port = free_port();
    let daemon = crate::process::migrator(&db.target, &["--config", config.to_str().unwrap(), "run"])
        .env("MIGRATOR__ALTINN3__BASE_URL", &sim.base_url)
        .env("MIGRATOR__ALTINN3__TOKEN", TOKEN)
        .env("MIGRATOR__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let http = client();
    let base = format!("http://127.0.0.1:{port}");
    // The bound only keeps a broken build from hanging; nothing here is timed.
    let mut waited = 0;
    loop {
        let synced = crate::process::count_in(&db.conn, schema::WorkflowState::Synced).await;
        if synced == 120 {
            break;
        }
        assert!(waited < 3000, "only {synced} of 120 Synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    crate::process::signal(&daemon, nix::sys::signal::Signal::SIGTERM);
    let (status, _, err) = crate::process::wait_for(daemon, Duration::from_secs(30));
    assert!(status.success(), "{err}");
    let s = samples(&text);

    // Transitions: the daemon wrote every history row that has a from-state (the import, in
    // this process, wrote the others).
    let rows = db
        .conn
        .query_all_raw(Statement::from_string(
            db.conn.get_database_backend(),
            "SELECT from_state, to_state, COUNT(*) AS n FROM workflow_history \
             WHERE from_state IS NOT NULL GROUP BY from_state, to_state",
        ))
        .await
        .unwrap();
    let mut history = BTreeMap::new();
    for r in rows {
        let from: String = r.try_get("", "from_state").unwrap();
        let to: String = r.try_get("", "to_state").unwrap();
        let n: i64 = r.try_get("", "n").unwrap();
        history.insert(vec![from, to], u64::try_from(n).unwrap());
    }
    let counted = sum_by(&s, "migrator_transitions_total", &["from", "to"]);
    assert!(history.len() >= 4, "retries and the three steps: {history:?}");
    assert_eq!(counted, history, "transition counters per (from, to) = history rows");

    // A3 requests: per endpoint, what we counted = what the simulator received.
    let inv = sim.sim.inventory();
    let received: BTreeMap<Vec<String>, u64> =
        inv.calls.iter().filter(|(_, n)| **n > 0).map(|(e, n)| (vec![e.clone()], *n)).collect();
    let requested = sum_by(&s, "migrator_a3_requests_total", &["endpoint"]);
    assert!(received.len() >= 3, "{received:?}");
    assert_eq!(requested, received, "A3 request counters per endpoint = the simulator's calls");
    let by_status = sum_by(&s, "migrator_a3_requests_total", &["status"]);
    assert!(
        by_status.get(&vec!["429".to_string()]).copied().unwrap_or(0) > 0,
        "429s were injected: {by_status:?}"
    );
    let limited: u64 = sum_by(&s, "migrator_a3_rate_limited_total", &["endpoint"]).values().sum();
    assert_eq!(limited, by_status[&vec!["429".to_string()]], "every 429 is counted as rate limited");

    // What the database says, as gauges.
    let items = sum_by(&s, "migrator_items", &["state"]);
    assert_eq!(items.get(&vec!["synced".to_string()]), Some(&120), "{items:?}");
    assert!(s.keys().any(|(n, _)| n == "migrator_node_heartbeat_age_seconds"));
    assert!(s.keys().any(|(n, _)| n == "migrator_step_duration_seconds_bucket"));
    assert!(s.keys().any(|(n, _)| n == "migrator_a3_request_duration_seconds_bucket"));
    sim.stop().await;
    db.finish().await;
}
