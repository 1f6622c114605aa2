//! A token Altinn 3 refuses (401), over real HTTP against the simulator: the items are put back
//! untouched instead of spending their attempts, one error is logged instead of one per item,
//! `run --once` exits 8 saying so, and the daemon pauses, probes with one item and resumes once
//! the token is fixed. Also the JSON log format, which the one-shot run here writes.

use orchestrator::clock::SystemClock;
use orchestrator::dispatcher::{DispatcherConfig, a3_dispatcher};
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use schema::WorkflowState;
use schema::entity::{workflow, workflow_history};
use sea_orm::EntityTrait;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tests::TestDb;
use tokio_util::sync::CancellationToken;
use workers::a3::Secret;

const NOTE: &str = "put back, no attempt counted: ";

/// Calls the simulator answered with 401.
fn refusals(sim: &altinn3_sim::RunningSim) -> u64 {
    sim.sim.inventory().responses.iter().filter(|(k, _)| k.ends_with(" 401")).map(|(_, n)| n).sum()
}

/// History notes of put-back items.
async fn put_back_notes(db: &TestDb) -> usize {
    let history = workflow_history::Entity::find().all(&db.conn).await.unwrap();
    history.iter().filter(|h| h.error.as_deref().is_some_and(|e| e.starts_with(NOTE))).count()
}

/// The daemon's way: a refusal pauses every lane, each pause ends with one probe item, and once
/// the token is right (here set on the third resume, as re-reading a fixed token file does) the
/// work resumes and finishes. No item ever spent an attempt or kept an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_pauses_probes_with_one_item_and_resumes_with_a_fixed_token() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 40).await;
    let sim = crate::fixtures::simulator("right-token-7a1", 3).await;
    let client = crate::fixtures::client(&sim, "wrong-token-9c2");
    let cfg = DispatcherConfig {
        idle_poll: Duration::from_millis(20),
        credentials_pause: Duration::from_millis(50),
        ..DispatcherConfig::default()
    };
    let resumes = Arc::new(AtomicUsize::new(0));
    let (count, fixer) = (resumes.clone(), client.clone());
    let hook = Arc::new(move || {
        if count.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
            fixer.set_token(Secret::new("right-token-7a1"));
        }
    });
    let concurrency = 8;
    let dispatcher = a3_dispatcher(&store, cfg, &client, concurrency, 10, std::env::current_dir().unwrap())
        .on_credentials_resume(hook);
    let cancel = CancellationToken::new();
    let run = tokio::spawn(dispatcher.drive(cancel.clone()));
    // Until every item is Synced; the bound only keeps a broken build from hanging.
    let mut synced = 0;
    for _ in 0..1200 {
        let items = workflow::Entity::find().all(&db.conn).await.unwrap();
        synced = items.iter().filter(|w| w.state == WorkflowState::Synced).count();
        if synced == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(synced, 40, "the work resumed and finished: {report:?}");
    assert_eq!(resumes.load(Ordering::SeqCst), 3);
    assert_eq!(report.credentials_pauses, 3, "the first refusal and two refused probes: {report:?}");
    let refused = refusals(&sim);
    // The first pause stops the items already running (at most the lane's concurrency); after
    // it, each pause costs one probe call, not a lane's worth.
    assert!((3..=concurrency as u64 + 2).contains(&refused), "{refused} calls refused");
    let notes = put_back_notes(&db).await as u64;
    assert!((3..=refused).contains(&notes), "{notes} put-back notes for {refused} refusals");
    assert!(report.put_back >= notes, "{report:?}");
    let items = workflow::Entity::find().all(&db.conn).await.unwrap();
    assert!(items.iter().all(|w| w.attempt == 0 && w.same_error_count == 0), "no attempt was spent");
    assert!(items.iter().all(|w| w.last_error.is_none() && w.reason.is_none()), "no error was kept");
    assert_eq!(sim.sim.inventory().duplicates_stored, 0);
    sim.stop().await;
    tests::assert_history_consistent(&db.conn).await;
    db.finish().await;
}

/// `run --once` with a wrong token as a process: it stops at the first refusal with exit 8,
/// every item is where it was with attempt 0 and no lease, the report says how many went back,
/// and the refusal is logged once, as one JSON object among JSON lines (`[log] format = "json"`),
/// with no token anywhere. The text report says the same to a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_with_a_refused_token_exits_8_and_touches_no_item() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 30).await;
    let (right, wrong) = ("right-token-3e8", "wrong-token-51d");
    let sim = crate::fixtures::simulator(right, 5).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\n[phases.now]\nsteps = [\"all\"]\nconcurrency = 8\n")
        .unwrap();
    let config = config.to_str().unwrap().to_string();
    let migrator = |args: &[&str], format: &str| {
        let mut c = crate::process::migrator(&db.target, &[&["--config", config.as_str()], args].concat());
        c.env("MIGRATOR__ALTINN3__BASE_URL", &sim.base_url)
            .env("MIGRATOR__ALTINN3__TOKEN", wrong)
            .env("MIGRATOR__LOG__FORMAT", format)
            .env("MIGRATOR__NODE__IDLE_POLL", "20ms")
            .env("MIGRATOR_LOG", "info");
        async move {
            let (code, stdout, stderr) = crate::process::output(c).await;
            for token in [right, wrong] {
                assert!(!stdout.contains(token) && !stderr.contains(token), "a token leaked");
            }
            (code, stdout, stderr)
        }
    };
    let (code, out, err) = migrator(&["--json", "run", "--once", "--phase", "now"], "json").await;
    assert_eq!(code, Some(8), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["end"], "credentials-refused", "{out}");
    let put_back = report["run"]["put_back"].as_u64().unwrap();
    assert!((1..=30).contains(&put_back), "{out}");
    let why = report["run"]["credentials_refused"].as_str().unwrap();
    assert!(why.contains("HTTP 401") && why.contains("check the A3 token and its scope"), "{why}");

    // Every line of stderr is a JSON object with the level, target and message; the refusal is
    // one error, however many items met it.
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 2, "info logging was on: {err}");
    for l in &lines {
        assert!(l["level"].is_string() && l["target"].is_string() && l["message"].is_string(), "{l}");
    }
    let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "one error for the run: {errors:?}");
    assert!(errors[0]["message"].as_str().unwrap().contains("refused our credentials"), "{}", errors[0]);
    let named = errors[0]["error"].as_str().unwrap();
    assert!(named.contains("HTTP 401") && named.contains("check the A3 token and its scope"), "{named}");

    // Nothing was spent: every item is in its state, with attempt 0, no error and no lease.
    let items = workflow::Entity::find().all(&db.conn).await.unwrap();
    assert_eq!(items.len(), 30);
    for w in &items {
        assert_eq!((w.state, w.attempt, w.same_error_count), (WorkflowState::CreatedInA2, 0, 0));
        assert!(w.last_error.is_none() && w.lease_owner.is_none(), "{w:?}");
    }
    let notes = put_back_notes(&db).await as u64;
    assert!((1..=8).contains(&notes), "the items that were running have a note: {notes}");
    let (_, out, _) = migrator(&["--json", "runs", "--schedule", "once:now"], "plain").await;
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        runs[0]["outcome"].as_str().unwrap().starts_with("error: Altinn 3 refused our credentials"),
        "{out}"
    );

    // In text, with plain logs: the same, for a person.
    let (code, out, err) = migrator(&["run", "--once", "--phase", "now"], "plain").await;
    assert_eq!(code, Some(8), "{out}{err}");
    assert!(
        out.contains("Altinn 3 refused our credentials") && out.contains("items were put back untouched"),
        "{out}"
    );
    let error_lines = err.lines().filter(|l| l.contains("ERROR")).count();
    assert_eq!(error_lines, 1, "{err}");
    assert!(!err.contains("\u{1b}["), "no colour codes when stderr is not a terminal");
    sim.stop().await;
    db.finish().await;
}

/// The daemon as a process, its token in `altinn3.token_file`: A3 refuses the token, the daemon
/// pauses and probes; the operator writes the right token into the file and the daemon, reading
/// it again after a pause, finishes the work without a restart. No item spent an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_picks_up_a_fixed_token_file_without_a_restart() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 20).await;
    let (right, wrong) = ("file-right-2b7", "file-wrong-6d0");
    let sim = crate::fixtures::simulator(right, 6).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{wrong}\n")).unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(
        &config,
        format!(
            "[altinn3]\ntoken_file = {:?}\ncredentials_pause = \"100ms\"\n\
             [phases.live]\nsteps = [\"all\"]\nconcurrency = 4\n[node]\nidle_poll = \"20ms\"\n",
            token_file.display().to_string()
        ),
    )
    .unwrap();
    let daemon = crate::process::migrator(&db.target, &["--config", config.to_str().unwrap(), "run"])
        .env("MIGRATOR__ALTINN3__BASE_URL", &sim.base_url)
        .spawn()
        .unwrap();
    // The bounds only keep a broken build from hanging; nothing here is timed.
    let mut waited = 0;
    while refusals(&sim) < 2 {
        assert!(waited < 1200, "A3 never refused the wrong token");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    std::fs::write(&token_file, format!("{right}\n")).unwrap();
    let synced = || async {
        let items = workflow::Entity::find().all(&db.conn).await.unwrap();
        items.iter().filter(|w| w.state == WorkflowState::Synced).count()
    };
    while synced().await < 20 {
        assert!(waited < 2400, "the daemon did not resume with the fixed token");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    crate::process::signal(&daemon, nix::sys::signal::Signal::SIGTERM);
    let (status, out, err) = crate::process::wait_for(daemon, Duration::from_secs(30));
    assert!(status.success(), "{out}\n{err}");
    for token in [right, wrong] {
        assert!(!out.contains(token) && !err.contains(token), "a token leaked");
    }
    let errors = err.lines().filter(|l| l.contains("ERROR") && l.contains("refused our credentials")).count();
    assert!(errors >= 1, "{err}");
    assert!(err.contains("accepts our credentials again"), "{err}");
    let items = workflow::Entity::find().all(&db.conn).await.unwrap();
    assert!(items.iter().all(|w| w.attempt == 0 && w.last_error.is_none()), "no attempt was spent");
    sim.stop().await;
    db.finish().await;
}
