//! A safe first start: processes started together on a fresh database (a systemd unit starting
//! the daemon and the watcher, several nodes at once) all start, and the schema is migrated once.
//! Before the migration lock, one of two processes died on `UNIQUE constraint failed:
//! seaql_migrations.version` in 3 of 3 tries.

use crate::process::BIN;
use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::MigratorTrait;
use std::process::{Command, Stdio};

/// Starts four `migrator migrate` on `target` at once; asserts all succeed and that each
/// migration was applied by exactly one of them.
async fn four_at_once(target: &str) {
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(BIN)
                .args(["--db", target, "migrate"])
                .env("MIGRATOR_LOG", "warn,sea_orm_migration=info")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children.into_iter().map(|c| c.wait_with_output().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut applied = Vec::new();
    for out in &outputs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a process failed to start:\n{err}");
        applied
            .extend(err.lines().filter_map(|l| l.split("Applying migration '").nth(1)).map(str::to_string));
    }
    applied.sort();
    let mut want: Vec<String> =
        schema::Migrator::migrations().iter().map(|m| format!("{}'", m.name())).collect();
    want.sort();
    assert_eq!(applied, want, "every migration applied once, by one of the four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_start_together_on_a_fresh_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("fresh.sqlite").display().to_string();
    four_at_once(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_start_together_on_a_fresh_postgres_database() {
    let Ok(admin_url) = std::env::var(tests::PG_ENV) else {
        eprintln!("SKIPPED (PostgreSQL): set {} to run it", tests::PG_ENV);
        return;
    };
    let name = format!("migrator_fresh_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
    four_at_once(&format!("{base}/{name}")).await;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
    admin.close().await.ok();
}

/// The live phase as deployed, measured by `migrator latency` (the benchmark's own command, here
/// with few items): one daemon owning the inbox on SQLite (items appended to one export file, and
/// items as files of their own), two daemons on PostgreSQL; every item written to the inbox
/// reaches DialogCreated (the figures go to BENCHMARKS.md, not asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_in_the_daemon_takes_items_as_they_land() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |name: &str| dir.path().join(name).display().to_string();
    let mut targets =
        vec![(sqlite("append.sqlite"), "1", None), (sqlite("rename.sqlite"), "1", Some("--per-file"))];
    let pg = tests::TestDb::postgres("the_live_feed_in_the_daemon_takes_items_as_they_land").await;
    if let Some(db) = &pg {
        // The benchmark needs a database without items: the test database is migrated and empty.
        targets.push((db.target.clone(), "2", None));
    }
    for (target, nodes, feed) in targets {
        let out = Command::new(BIN)
            .args(["--db", &target, "--json", "latency", "--items", "15", "--nodes", nodes])
            .args(feed)
            .env("MIGRATOR_LOG", "error")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["items"], 15, "{report}");
        assert_eq!(report["feed"], if feed.is_some() { "rename" } else { "append" }, "{report}");
        assert!(report["p50_ms"].as_f64().unwrap() <= report["max_ms"].as_f64().unwrap(), "{report}");
    }
    if let Some(db) = pg {
        db.finish().await;
    }
}
