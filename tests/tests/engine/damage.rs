//! A database that fails in a way waiting does not fix: the daemon stops with a clear error and
//! exit 1 instead of retrying for ever, records why on its node row, and `status` reports it
//! (exit 1) until a healthy node has worked on the database again.

use crate::process::{migrator, output};
use orchestrator::clock::SystemClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use sea_orm::{ConnectionTrait, Statement};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::Duration;
use tests::TestDb;

const TOKEN: &str = "damage-token-5e1f";

/// `run` (the daemon, plus `extra` arguments) on `db` against `base_url` with one always-open
/// phase, `all`; waits for its exit (at most two minutes): (exit code, stderr).
async fn daemon(db: &str, base_url: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(
        &config,
        "[phases.all]\nsteps = [\"all\"]\nconcurrency = 8\n[node]\nidle_poll = \"20ms\"\n",
    )
    .unwrap();
    let mut run = migrator(db, &[&["--config", config.to_str().unwrap(), "run"], extra].concat());
    run.env("MIGRATOR__ALTINN3__BASE_URL", base_url).env("MIGRATOR__ALTINN3__TOKEN", TOKEN);
    let (code, _out, err) = tokio::time::timeout(Duration::from_secs(120), output(run))
        .await
        .expect("the daemon did not stop on a failing database");
    (code, err)
}

/// `status` on `db`: (exit code, stdout).
async fn status(db: &str) -> (Option<i32>, String) {
    let (code, out, _) = output(migrator(db, &["status"])).await;
    (code, out)
}

/// A SQLite file whose A2 records table is damaged (its root page overwritten): the first load of
/// an item's record reports the damage, and the daemon stops at once rather than claiming and
/// releasing the same items for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_sqlite_file_stops_the_daemon_and_status_says_so() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 1500).await;
    let root: i64 = {
        let q = "SELECT rootpage FROM sqlite_master WHERE name = 'a2_records'";
        let row = db.conn.query_one_raw(Statement::from_string(db.conn.get_database_backend(), q));
        row.await.unwrap().unwrap().try_get("", "rootpage").unwrap()
    };
    let page: i64 = {
        let row =
            db.conn.query_one_raw(Statement::from_string(db.conn.get_database_backend(), "PRAGMA page_size"));
        row.await.unwrap().unwrap().try_get_by_index(0).unwrap()
    };
    db.conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
    {
        let (root, page) = (u64::try_from(root - 1).unwrap(), usize::try_from(page).unwrap());
        let mut file = std::fs::OpenOptions::new().write(true).open(&db.target).unwrap();
        file.seek(SeekFrom::Start(root * page as u64)).unwrap();
        file.write_all(&vec![0xA5; page]).unwrap();
    }
    let (before, _) = status(&db.target).await;
    assert_eq!(before, Some(0), "nothing has reported the damage yet");

    let sim = crate::fixtures::simulator(TOKEN, 11).await;
    let (code, err) = daemon(&db.target, &sim.base_url, &[]).await;
    sim.stop().await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: stopped: the database fails in a way waiting does not fix"), "{err}");
    assert!(err.contains("the database is damaged") && err.contains("malformed"), "{err}");
    let (code, out) = status(&db.target).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("! the database stopped node") && out.contains("malformed"), "{out}");
    db.finish().await;
}

/// A table the run writes to disappears mid-run (PostgreSQL): every commit fails the same way.
/// The daemon stops after a streak of them, saying which work failed and why; `status` reports
/// it until a healthy node has worked on the database again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_repeats_stops_the_daemon_until_the_database_works_again() {
    let Some(db) = TestDb::postgres("a_failure_that_repeats_stops_the_daemon").await else { return };
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 300).await;
    db.conn.execute_unprepared("ALTER TABLE workflow_history RENAME TO history_gone").await.unwrap();
    let sim = crate::fixtures::simulator(TOKEN, 12).await;
    let (code, err) = daemon(&db.target, &sim.base_url, &[]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: stopped: the database fails in a way waiting does not fix"), "{err}");
    assert!(
        err.contains("committing failed") && err.contains("in a row") && err.contains("workflow_history"),
        "{err}"
    );
    let (code, out) = status(&db.target).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("committing failed"), "{out}");

    // Fixed: a healthy node works on it, and status is clean again.
    db.conn.execute_unprepared("ALTER TABLE history_gone RENAME TO workflow_history").await.unwrap();
    let (code, err) = daemon(&db.target, &sim.base_url, &["--once", "--phase", "all"]).await;
    sim.stop().await;
    assert_eq!(code, Some(0), "{err}");
    let (code, out) = status(&db.target).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("stopped node"), "{out}");
    db.finish().await;
}
