//! Helpers for the integration tests: a fresh database per test on SQLite or PostgreSQL, and the
//! history checks every test shares.
//!
//! PostgreSQL tests run when `MIGRATOR_TEST_POSTGRES_URL` is set (CI sets it); without it they say
//! loudly that they were skipped.

use orchestrator::db;
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::{Event, Facts, Transition, decide};
use schema::WorkflowState;
use schema::entity::workflow_history;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;
use workers::StepOutcome;

/// The variable that points the PostgreSQL tests at a server.
pub const PG_ENV: &str = "MIGRATOR_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDb {
    /// What to pass as `--db`.
    pub target: String,
    /// Open, migrated connection.
    pub conn: DatabaseConnection,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("test.sqlite").display().to_string();
        let conn = db::open(&target).await.expect("open sqlite");
        TestDb { target, conn, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A fresh PostgreSQL database, or None (with a loud note) when no server is configured.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            // Written past libtest's output capture, so the skip shows even when the test passes.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED (PostgreSQL): {test}: set {PG_ENV} to run it");
            return None;
        };
        let name = format!("migrator_test_{}", Uuid::now_v7().simple());
        let admin = Database::connect(&admin_url).await.expect("connect to PostgreSQL admin database");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        admin.close().await.ok();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
        let target = format!("{base}/{name}");
        let conn = db::open(&target).await.expect("open postgres");
        Some(TestDb { target, conn, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// Closes the connection and removes the database.
    pub async fn finish(self) {
        self.conn.close().await.ok();
        if let Cleanup::Postgres { admin_url, name } = self.cleanup
            && let Ok(admin) = Database::connect(&admin_url).await
        {
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
            admin.close().await.ok();
        }
    }
}

/// Runs the async fn `name(&TestDb)` on a fresh SQLite database and, if configured, a fresh PostgreSQL one.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = tests::TestDb::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = tests::TestDb::postgres(stringify!($name)).await {
                    super::$name(&db).await;
                    db.finish().await;
                }
            }
        }
    };
}

/// The events a history row can come from, with their kind: `true` for a step's outcome (only a
/// node's dispatcher records those).
fn events() -> Vec<(Event, bool)> {
    vec![
        (Event::Step(StepOutcome::done()), true),
        // A success that brought the dialog id (a migrate call that made the item available).
        (
            Event::Step(StepOutcome::Done {
                a3_correspondence_id: None,
                dialog_id: Some(Uuid::nil()),
                synced_events: Vec::new(),
            }),
            true,
        ),
        (Event::Step(StepOutcome::Retryable("an error".into())), true),
        (Event::Step(StepOutcome::Refused("401".into())), true),
        (
            Event::Step(StepOutcome::RateLimited {
                error: "429".into(),
                retry_after: Duration::from_secs(1),
            }),
            true,
        ),
        (Event::Step(StepOutcome::Permanent("an error".into())), true),
        (Event::Step(StepOutcome::Invalid("a reason".into())), true),
        (Event::NewA2Event, false),
        (Event::OperatorRetry, false),
        (Event::OperatorCancel, false),
    ]
}

/// The transition `decide` makes that `row` records, given the item's state and resume state
/// before it (replayed from the earlier rows), or None if no event makes it.
fn explain(
    row: &workflow_history::Model,
    from: WorkflowState,
    attempt: i32,
    resume: Option<WorkflowState>,
) -> Option<Transition> {
    let policy = RetryPolicy::default();
    // A retry either stays or, at the attempt limit, fails the item: try both limits.
    let limits = [i32::MAX, attempt + 1];
    for (event, is_step) in events() {
        // A node records step outcomes and the sync marking that follows reaching Synced; an
        // operator (no node) never records a step outcome.
        if is_step && row.node.is_none() {
            continue;
        }
        for max_attempts in limits {
            let facts = Facts { max_attempts, ..Facts::new(from, attempt, resume, &policy) };
            let Ok(t) = decide(facts, &event) else { continue };
            let error_ok = if is_step {
                t.error().is_some() == row.error.is_some()
            } else {
                t.error() == row.error.as_deref()
            };
            if t.to() == row.to_state && t.attempt() == row.attempt && error_ok {
                return Some(t);
            }
        }
    }
    None
}

/// Checks every item's history row by row: it starts with creation, each row starts where the
/// previous one ended, and each row is a transition `decide` makes for some event from the item
/// as the earlier rows left it (state, attempt and resume state) — the operator's and the sync
/// marking's rows included. Returns the history per workflow for further checks. Panics with the
/// offending item otherwise.
pub async fn assert_history_consistent(
    conn: &DatabaseConnection,
) -> HashMap<Uuid, Vec<workflow_history::Model>> {
    let rows = workflow_history::Entity::find()
        .order_by_asc(workflow_history::Column::Id)
        .all(conn)
        .await
        .expect("read history");
    let mut by_item: HashMap<Uuid, Vec<workflow_history::Model>> = HashMap::new();
    for r in rows {
        by_item.entry(r.workflow_id).or_default().push(r);
    }
    for (id, rows) in &by_item {
        let first = &rows[0];
        assert_eq!(first.from_state, None, "{id}: history does not start with creation: {rows:?}");
        assert_eq!(
            (first.to_state, first.attempt, first.node, first.error.as_deref()),
            (WorkflowState::CreatedInA2, 0, None, None),
            "{id}: an item is created in CreatedInA2: {rows:?}"
        );
        let (mut attempt, mut resume) = (0, None);
        for pair in rows.windows(2) {
            let (prev, next) = (&pair[0], &pair[1]);
            assert_eq!(next.from_state, Some(prev.to_state), "{id}: transition skipped a state: {rows:?}");
            let Some(t) = explain(next, prev.to_state, attempt, resume) else {
                panic!(
                    "{id}: no event makes {} -> {} (attempt {}, node {:?}, error {:?}) from attempt \
                     {attempt}, resume {resume:?}: {rows:?}",
                    prev.to_state, next.to_state, next.attempt, next.node, next.error
                );
            };
            (attempt, resume) = (t.attempt(), t.resume_state());
        }
    }
    by_item
}

/// Every row of every table that holds text an operator or the engine wrote (items, history,
/// nodes, runs, phase switches, the import ledger), as one string: for "the secret is nowhere"
/// checks.
pub async fn dump_text(conn: &DatabaseConnection) -> String {
    use schema::entity::{import_file, node, phase_control, schedule_run, workflow, workflow_history};
    let mut out = String::new();
    out += &format!("{:?}", workflow::Entity::find().all(conn).await.expect("workflows"));
    out += &format!("{:?}", workflow_history::Entity::find().all(conn).await.expect("history"));
    out += &format!("{:?}", node::Entity::find().all(conn).await.expect("nodes"));
    out += &format!("{:?}", schedule_run::Entity::find().all(conn).await.expect("runs"));
    out += &format!("{:?}", phase_control::Entity::find().all(conn).await.expect("phase controls"));
    out += &format!("{:?}", import_file::Entity::find().all(conn).await.expect("import files"));
    out
}
