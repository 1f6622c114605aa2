//! Failures operators cannot miss: `failures` groups exactly as the database counts them,
//! `retry --reason` / `cancel --reason` act on one group, identical server errors fail an item
//! before its attempts run out, `stuck` lists Failed items, and `run --once` exits 6 when items
//! failed during it.

use crate::retries::run_with_clock;
use crate::store::{items, store_at};
use orchestrator::clock::ManualClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::store::{Selection, Selector, Store};
use schema::WorkflowState;
use schema::entity::{workflow, workflow_history};
use schema::reason::Reason;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use uuid::Uuid;
use workers::{Step, StepKind, StepOutcome, WorkItem};

const T0: i64 = 1_790_000_000_000;

/// The three groups `Failing` makes, ten items each.
const NOT_FOUND: &str = "migrate | correspondence | 404 | no correspondence <uuid>";
const TOO_LONG: &str = "migrate | - | - | messageTitle must be 1-255 characters (is 300)";
const CONFLICT: &str = "migrate | correspondence | 409 | A2 id <a2id> already migrated as <uuid>";

/// Migrate fails by `a2_id % 4`: 0 a 404 naming a fresh UUID (Failed), 1 invalid content
/// (Rejected), 2 a 409 naming the A2 id and a fresh UUID (Failed), 3 succeeds; other steps succeed.
struct Failing(StepKind);

#[async_trait::async_trait]
impl Step for Failing {
    fn kind(&self) -> StepKind {
        self.0
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        if self.0 != StepKind::Migrate {
            return StepOutcome::done();
        }
        match item.a2_id.get() % 4 {
            0 => StepOutcome::Permanent(format!(
                "correspondence: HTTP 404: no correspondence {}",
                Uuid::now_v7()
            )),
            1 => StepOutcome::Invalid("messageTitle must be 1-255 characters (is 300)".into()),
            2 => StepOutcome::Permanent(format!(
                "correspondence: HTTP 409: A2 id {} already migrated as {}\nat line 2",
                item.a2_id,
                Uuid::now_v7()
            )),
            _ => StepOutcome::done(),
        }
    }
}

/// 40 items (A2 ids 1000..1040) run through `Failing`: 20 Failed in two groups, 10 Rejected.
async fn with_failures(db: &TestDb) -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy { randomization: 0.0, ..RetryPolicy::default() });
    store.insert_items(&items(1000..1040, "b1")).await.unwrap();
    let steps: Vec<Arc<dyn Step>> =
        StepKind::ALL.into_iter().map(|k| Arc::new(Failing(k)) as Arc<dyn Step>).collect();
    let report = run_with_clock(&store, &clock, steps).await;
    assert_eq!((report.failed, report.rejected), (20, 10));
    (store, clock)
}

/// The binary against `db`, with the given environment; returns (exit code, stdout, stderr).
async fn migrator(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = crate::process::migrator(&db.target, args);
    c.envs(env.iter().copied());
    crate::process::output(c).await
}

async fn state_of(conn: &DatabaseConnection, a2_id: i64) -> WorkflowState {
    workflow::Entity::find().filter(workflow::Column::A2Id.eq(a2_id)).one(conn).await.unwrap().unwrap().state
}

async fn failures_are_grouped_as_the_database_counts_them(db: &TestDb) {
    let (store, _clock) = with_failures(db).await;
    let f = store.failures(&Selection::all(), None, None).await.unwrap();
    let got: BTreeMap<(String, WorkflowState), u64> =
        f.groups.iter().map(|g| ((g.reason.clone(), g.state), g.count)).collect();
    let want: BTreeMap<(String, WorkflowState), u64> = [
        ((NOT_FOUND.to_string(), WorkflowState::Failed), 10),
        ((CONFLICT.to_string(), WorkflowState::Failed), 10),
        ((TOO_LONG.to_string(), WorkflowState::Rejected), 10),
    ]
    .into();
    assert_eq!(got, want);
    assert_eq!((f.items, f.total_groups), (30, 3));

    // The database's own count of each group, and of all Failed and Rejected items.
    for g in &f.groups {
        let n = workflow::Entity::find()
            .filter(workflow::Column::State.eq(g.state))
            .filter(workflow::Column::Reason.eq(g.reason.clone()))
            .count(&db.conn)
            .await
            .unwrap();
        assert_eq!(n, g.count, "{}", g.reason);
        assert_eq!(g.sample_a2_ids.len(), 3);
        for a2 in &g.sample_a2_ids {
            assert_eq!(state_of(&db.conn, *a2).await, g.state);
        }
        assert!(g.first_seen <= g.last_seen);
        assert_eq!(Reason::parse_key(&g.reason).unwrap().step, g.step);
    }
    let parked = workflow::Entity::find()
        .filter(workflow::Column::State.is_in([WorkflowState::Failed, WorkflowState::Rejected]))
        .all(&db.conn)
        .await
        .unwrap();
    assert_eq!(parked.len() as u64, f.items);
    // Each stored reason is its last error reduced, as the reason module does it.
    let mut recomputed: BTreeMap<(String, WorkflowState), u64> = BTreeMap::new();
    for row in &parked {
        let key = Reason::of(row.resume_state.unwrap(), row.a2_id, row.last_error.as_deref().unwrap()).key();
        assert_eq!(row.reason.as_deref(), Some(key.as_str()));
        *recomputed.entry((key, row.state)).or_default() += 1;
    }
    assert_eq!(recomputed, got);
    let structured = &f.groups.iter().find(|g| g.reason == CONFLICT).unwrap();
    assert_eq!(
        (structured.endpoint.as_deref(), structured.status, structured.message.as_str()),
        (Some("correspondence"), Some(409), "A2 id <a2id> already migrated as <uuid>")
    );

    // `failures --json` prints the same groups and counts.
    let (code, out, err) = migrator(db, &["--json", "failures"], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["items"], 30);
    let printed: BTreeMap<(String, WorkflowState), u64> = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let state: WorkflowState = g["state"].as_str().unwrap().parse().unwrap();
            ((g["reason"].as_str().unwrap().to_string(), state), g["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(printed, got);
    assert_eq!(json["groups"][0]["sample_a2_ids"].as_array().unwrap().len(), 3);
    let (code, out, _) = migrator(db, &["failures", "--limit", "1"], &[]).await;
    assert_eq!(code, Some(0));
    assert!(out.starts_with("30 failed or rejected items in 3 groups\n"), "{out}");
    assert!(out.contains("… and 2 smaller groups"), "{out}");
}
on_both_backends!(failures_are_grouped_as_the_database_counts_them);

async fn retry_and_cancel_by_reason_act_on_one_group(db: &TestDb) {
    let (store, _clock) = with_failures(db).await;
    // A text in two groups' keys is refused; one in none too.
    let (code, _, err) = migrator(db, &["retry", "--reason", "correspondence"], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("matches 2 failure groups") && err.contains(NOT_FOUND), "{err}");
    let (code, _, err) = migrator(db, &["retry", "--reason", "no such thing"], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no failure group matches"), "{err}");
    // A key that is neither kind of id is the caller's mistake (exit 2), not a database error.
    let (code, _, err) = migrator(db, &["cancel", "not-an-id"], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`not-an-id` is neither a workflow id (UUID) nor an A2 id"), "{err}");

    // A part of one key: exactly that group goes back to its step.
    let (code, out, err) = migrator(db, &["retry", "--reason", "already MIGRATED"], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("retry: 10 changed, 0 skipped\n"), "{out}");
    assert!(out.contains(CONFLICT), "{out}");
    for a2 in 1000..1040 {
        let want = match a2 % 4 {
            0 => WorkflowState::Failed,
            1 => WorkflowState::Rejected,
            2 => WorkflowState::CreatedInA2,
            _ => WorkflowState::Synced,
        };
        assert_eq!(state_of(&db.conn, a2).await, want, "a2={a2}");
    }
    let retried = store.show("1002").await.unwrap().unwrap();
    let last = retried.history.last().unwrap();
    assert_eq!(
        (last.to_state, last.error.as_deref()),
        (WorkflowState::CreatedInA2, Some("operator retry from failed"))
    );
    assert!(last.node.is_none(), "an operator action");
    assert_eq!(retried.item.reason.as_deref(), Some(CONFLICT), "the reason it stopped stays visible");
    let (_, shown, _) = migrator(db, &["show", "1002"], &[]).await;
    assert!(shown.contains(&format!("\n  reason     {CONFLICT}\n")), "{shown}");
    let groups = store.failures(&Selection::all(), None, None).await.unwrap();
    assert_eq!(groups.total_groups, 2, "the group is gone from `failures`");

    // The whole key: cancel the Rejected group, through the store's selector too.
    let (code, out, _) = migrator(db, &["cancel", "--reason", TOO_LONG], &[]).await;
    assert_eq!(code, Some(0));
    assert!(out.starts_with("cancel: 10 changed"), "{out}");
    let cancelled = workflow::Entity::find()
        .filter(workflow::Column::State.eq(WorkflowState::Cancelled))
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(cancelled, 10);
    let r = store
        .operate(
            &Selector { reason: Some(NOT_FOUND.into()), ..Selector::default() },
            orchestrator::state_machine::Event::OperatorRetry,
            orchestrator::store::Origin::Cli,
        )
        .await
        .unwrap();
    assert_eq!((r.changed, r.skipped.len()), (10, 0));
    assert_eq!(store.failures(&Selection::all(), None, None).await.unwrap().items, 0);
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(retry_and_cancel_by_reason_act_on_one_group);

/// Migrate answers a 500 on every call: even A2 ids the same body each time (but for a trace
/// id), odd ones two bodies in turn. Counts calls per item.
struct ServerErrors(Arc<Mutex<HashMap<i64, u32>>>);

#[async_trait::async_trait]
impl Step for ServerErrors {
    fn kind(&self) -> StepKind {
        StepKind::Migrate
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        let n = {
            let mut calls = self.0.lock().unwrap();
            let n = calls.entry(item.a2_id.get()).or_default();
            *n += 1;
            *n
        };
        StepOutcome::Retryable(if item.a2_id.get() % 2 == 0 {
            format!("attachment: HTTP 500: Internal Server Error (trace {})", Uuid::now_v7())
        } else if n % 2 == 1 {
            "attachment: HTTP 500: boom".into()
        } else {
            "attachment: HTTP 500: bang".into()
        })
    }
}

async fn identical_server_errors_fail_an_item_early(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let policy = RetryPolicy {
        initial: Duration::from_secs(1),
        max_interval: Duration::from_secs(10),
        randomization: 0.0,
        max_attempts: 6,
        max_identical_server_errors: 3,
        ..RetryPolicy::default()
    };
    let store = store_at(db, &clock, policy);
    store.insert_items(&items(1000..1010, "b")).await.unwrap();
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let report = run_with_clock(&store, &clock, vec![Arc::new(ServerErrors(calls.clone()))]).await;
    assert_eq!(report.failed, 10);
    let calls = calls.lock().unwrap().clone();
    let rows = workflow::Entity::find().order_by_asc(workflow::Column::A2Id).all(&db.conn).await.unwrap();
    for row in &rows {
        let error = row.last_error.as_deref().unwrap();
        assert_eq!(row.state, WorkflowState::Failed);
        if row.a2_id % 2 == 0 {
            assert_eq!(calls[&row.a2_id], 3, "a2={}: failed at the third identical 500", row.a2_id);
            assert_eq!(row.attempt, 3);
            assert!(
                error.starts_with(
                    "the same server error 3 times: attachment: HTTP 500: Internal Server Error (trace "
                ),
                "{error}"
            );
        } else {
            assert_eq!(calls[&row.a2_id], 6, "a2={}: different bodies use every attempt", row.a2_id);
            assert_eq!(error, "gave up after 6 attempts: attachment: HTTP 500: bang");
        }
        // History shows the streak: 1, 2 identical errors, then the failure.
        let history = workflow_history::Entity::find()
            .filter(workflow_history::Column::WorkflowId.eq(row.id))
            .count(&db.conn)
            .await
            .unwrap();
        assert_eq!(history, 1 + u64::from(calls[&row.a2_id]));
    }
    let f = store.failures(&Selection::all(), None, None).await.unwrap();
    let got: BTreeMap<String, u64> = f.groups.iter().map(|g| (g.reason.clone(), g.count)).collect();
    assert_eq!(
        got,
        [
            (
                "migrate | attachment | 500 | the same server error 3 times: Internal Server Error (trace <uuid>)"
                    .to_string(),
                5
            ),
            ("migrate | attachment | 500 | gave up after 6 attempts: bang".to_string(), 5),
        ]
        .into()
    );
    // An operator retry starts the count again: three more identical 500s.
    let r = store
        .operate(
            &Selector { keys: vec!["1000".into()], ..Selector::default() },
            orchestrator::state_machine::Event::OperatorRetry,
            orchestrator::store::Origin::Cli,
        )
        .await
        .unwrap();
    assert_eq!(r.changed, 1);
    let row = workflow::Entity::find()
        .filter(workflow::Column::A2Id.eq(1000))
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.state, row.same_error_count), (WorkflowState::CreatedInA2, 0));
}
on_both_backends!(identical_server_errors_fail_an_item_early);

async fn stuck_shows_failed_items(db: &TestDb) {
    let (store, _clock) = with_failures(db).await;
    let stuck = store.stuck(30 * 60_000, 100).await.unwrap();
    assert_eq!(stuck.len(), 20, "the Failed items (nothing else is stuck)");
    assert!(stuck.iter().all(|s| s.reason == "failed" && s.item.state == WorkflowState::Failed));
    assert_eq!(store.stuck(30 * 60_000, 5).await.unwrap().len(), 5, "the limit holds");

    let (code, out, err) = migrator(db, &["stuck"], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("20 stuck items (20 of them failed)\n"), "{out}");
    assert!(
        out.contains("a2=1002 failed batch=b1")
            && out.contains("(failed) last error: correspondence: HTTP 409"),
        "{out}"
    );
    assert!(
        out.ends_with("20 failed and 10 rejected items in all: `migrator failures` groups them by reason\n"),
        "{out}"
    );
    // Past --limit, the count still says how many there are.
    let (code, out, err) = migrator(db, &["stuck", "--limit", "5"], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("20 stuck items; the first 5 (5 of them failed), --limit shows more\n"), "{out}");
    assert_eq!(store.count_stuck(30 * 60_000).await.unwrap(), (0, 20));
    let (_, out, _) = migrator(db, &["--json", "stuck"], &[]).await;
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 20);
    assert_eq!(json[0]["reason"], "failed");
    assert_eq!(json[0]["batch"], "b1");
}
on_both_backends!(stuck_shows_failed_items);

/// `run --once` as a process: items without an A2 record fail in migrate (no A3 call is made),
/// so the run exits 6 and prints the group; a run in which nothing failed exits 0.
async fn run_once_exits_6_when_items_failed(db: &TestDb) {
    let store =
        Store::new(db.conn.clone(), Arc::new(orchestrator::clock::SystemClock), RetryPolicy::default());
    store.insert_items(&items(1000..1012, "b")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(&config, "[phases.now]\nsteps = [\"all\"]\nconcurrency = 4\n").unwrap();
    let config = config.display().to_string();
    let env = [
        ("MIGRATOR__ALTINN3__BASE_URL", "http://127.0.0.1:9"),
        ("MIGRATOR__ALTINN3__TOKEN", "once-failures-token"),
        ("MIGRATOR__NODE__IDLE_POLL", "20ms"),
    ];
    let (code, out, err) =
        migrator(db, &["--config", &config, "--json", "run", "--once", "--phase", "now"], &env).await;
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(!out.contains("once-failures-token") && !err.contains("once-failures-token"), "the token leaked");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((json["end"].as_str(), json["newly_failed"].as_u64()), (Some("done"), Some(12)));
    let key = json["top_reasons"][0]["reason"].as_str().unwrap().to_string();
    assert_eq!(json["top_reasons"][0]["count"], 12);
    assert!(key.starts_with("migrate | - | - | "), "{key}");
    let stored = workflow::Entity::find().one(&db.conn).await.unwrap().unwrap().reason;
    assert_eq!(stored.as_deref(), Some(key.as_str()));

    // Half of them again: the text report names the group and the count.
    let keys: Vec<String> = (1000..1006).map(|a2| a2.to_string()).collect();
    let args: Vec<&str> = ["retry"].into_iter().chain(keys.iter().map(String::as_str)).collect();
    assert_eq!(migrator(db, &args, &[]).await.0, Some(0));
    let (code, out, err) =
        migrator(db, &["--config", &config, "run", "--once", "--phase", "now"], &env).await;
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(out.contains("6 items became Failed and 0 Rejected during the run"), "{out}");
    assert!(out.contains("       6 failed ") && out.contains(&key), "{out}");

    // Nothing left to do and nothing newly failed: 0, although 12 items are Failed.
    let (code, out, err) =
        migrator(db, &["--config", &config, "--json", "run", "--once", "--phase", "now"], &env).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["newly_failed"], 0);
}
on_both_backends!(run_once_exits_6_when_items_failed);

/// The two migrations of this change, down and up again on a database with failed items: the
/// reason is backfilled from the last error, and the import label survives the rename.
async fn migrations_backfill_reasons_and_rename_the_batch(db: &TestDb) {
    use orchestrator::state_machine::{Event, Facts, decide};
    use orchestrator::store::{Applied, Fence};
    use sea_orm_migration::MigratorTrait;
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1000..1004, "old-label")).await.unwrap();
    let owner = schema::NodeId::new();
    let claimed =
        store.claim_any(owner, Duration::from_secs(60), 10, &WorkflowState::RUNNABLE).await.unwrap();
    let failed: Vec<Applied> = claimed
        .iter()
        .filter(|i| i.a2_id.get() % 2 == 0)
        .map(|i| {
            let error =
                format!("correspondence: HTTP 404: no correspondence for {} ({})", i.a2_id, Uuid::now_v7());
            let facts = Facts::new(i.state, 0, None, store.policy());
            Applied::plain(i.id, i.a2_id, decide(facts, &Event::Step(StepOutcome::Permanent(error))).unwrap())
        })
        .collect();
    assert_eq!(store.apply(&failed, Fence::Lease(owner), Some(owner)).await.unwrap().committed.len(), 2);

    // Down past them: the newer ones on top of them (liveness columns, item counters, operator
    // columns, the dropped record indexes) first.
    crate::fixtures::migrate_down_through(&db.conn, "m20261201_000004_failure_reasons").await;
    let manager = sea_orm_migration::SchemaManager::new(&db.conn);
    assert!(manager.has_column("workflows", "phase").await.unwrap());
    assert!(!manager.has_column("workflows", "reason").await.unwrap());
    schema::Migrator::up(&db.conn, None).await.unwrap();
    schema::Migrator::up(&db.conn, None).await.unwrap();

    let rows = workflow::Entity::find().order_by_asc(workflow::Column::A2Id).all(&db.conn).await.unwrap();
    assert!(rows.iter().all(|r| r.batch == "old-label"));
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.reason.as_deref()).collect();
    let key = "migrate | correspondence | 404 | no correspondence for <a2id> (<uuid>)";
    assert_eq!(reasons, vec![Some(key), None, Some(key), None]);
    let f = store.failures(&Selection::all(), None, None).await.unwrap();
    assert_eq!((f.groups.len(), f.groups[0].count), (1, 2));
}
on_both_backends!(migrations_backfill_reasons_and_rename_the_batch);
