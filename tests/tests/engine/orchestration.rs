//! Orchestration with the injected clock: schedules across DST changes and missed fires, one run
//! per fire time among racing nodes, phase windows, pauses, claim order on the simulator, `plan`
//! against the database, and the housekeeping actions.

use crate::store::{items, store_at};
use chrono::TimeZone;
use orchestrator::clock::{Clock, ManualClock};
use orchestrator::cron::Cron;
use orchestrator::daemon::actions::{ActionContext, Actions};
use orchestrator::db;
use orchestrator::dispatcher::{Dispatcher, DispatcherConfig, Stats, a3_dispatcher};
use orchestrator::phase::{Phase, Window, plan};
use orchestrator::retry::RetryPolicy;
use orchestrator::schedule::{self, Action, Missed, Outcome, RunRecord, ScheduleSpec, Scheduler};
use orchestrator::state_machine::{Event, Facts, decide};
use orchestrator::store::{Applied, ClaimOrder, Fence, Selection, Store};
use schema::WorkflowState;
use schema::entity::{workflow, workflow_history};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;
use workers::noop::NoopStep;
use workers::{StepKind, StepOutcome};

fn oslo(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    chrono_tz::Europe::Oslo.with_ymd_and_hms(y, mo, d, h, mi, 0).earliest().unwrap().timestamp_millis()
}

fn local(ms: i64) -> String {
    chrono_tz::Europe::Oslo.timestamp_millis_opt(ms).unwrap().format("%F %H:%M %Z").to_string()
}

fn nightly(name: &str, missed: Missed) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap(),
        action: Action::Report,
        missed,
    }
}

async fn scheduler(store: &Store, specs: Vec<ScheduleSpec>) -> Scheduler {
    let dead_after = Duration::from_secs(180);
    let actions = Actions::new(store.clone(), ActionContext { dead_after, ..ActionContext::default() });
    let node = orchestrator::node::register(store).await.unwrap();
    Scheduler::new(store.clone(), node, specs, Arc::new(actions), dead_after)
}

/// Ticks and waits for the runs it started; returns how many it started.
async fn tick(s: &Scheduler) -> usize {
    let started = s.tick(&CancellationToken::new()).await.unwrap();
    let n = started.len();
    for h in started {
        h.await.unwrap();
    }
    n
}

async fn runs_of(store: &Store, name: &str) -> Vec<RunRecord> {
    let mut r = schedule::list_runs(store, Some(name), 1000).await.unwrap();
    r.reverse();
    r
}

async fn nightly_fires_once_a_night_across_dst(db: &TestDb) {
    for (from, to, nights) in [((3, 26), (4, 1), 6), ((10, 22), (10, 28), 6)] {
        let clock = ManualClock::new(oslo(2026, from.0, from.1, 12, 0));
        let store = store_at(db, &clock, RetryPolicy::default());
        let name = format!("nightly-{}", from.0);
        let s = scheduler(&store, vec![nightly(&name, Missed::Skip)]).await;
        let end = oslo(2026, to.0, to.1, 12, 0);
        let mut started = 0;
        // A tick every 10 minutes, as a running node would (it ticks at least that often).
        while clock.now_ms() < end {
            started += tick(&s).await;
            clock.advance(Duration::from_secs(600));
        }
        let all = runs_of(&store, &name).await;
        // The first tick found the night before it already past: recorded as skipped.
        assert!(all[0].outcome.as_deref().unwrap().starts_with("skipped: missed by 14h"), "{all:?}");
        let runs: Vec<RunRecord> = all[1..].to_vec();
        let fires: Vec<String> = runs.iter().map(|r| local(r.fire_time)).collect();
        assert_eq!(started, nights, "{fires:?}");
        assert_eq!(runs.len(), nights, "{fires:?}");
        let mut days: Vec<&str> = fires.iter().map(|f| &f[..10]).collect();
        days.dedup();
        assert_eq!(days.len(), nights, "one fire per night, none doubled: {fires:?}");
        for (r, f) in runs.iter().zip(&fires) {
            assert!(f.contains(" 22:00 "), "{f}");
            assert_eq!(r.outcome.as_deref(), Some("ok"));
            assert!(r.counts.as_ref().is_some_and(|c| c.get("by_state").is_some()), "the report ran");
        }
        // Consecutive nights, the DST night included.
        for w in runs.windows(2) {
            let hours = (w[1].fire_time - w[0].fire_time) / 3_600_000;
            assert!((23..=25).contains(&hours), "{fires:?}");
        }
    }
}
on_both_backends!(nightly_fires_once_a_night_across_dst);

async fn missed_fires_follow_each_policy(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 1, 22, 0) + 500);
    let store = store_at(db, &clock, RetryPolicy::default());
    let specs = vec![
        nightly("skip", Missed::Skip),
        nightly("late-6h", Missed::RunOnceLate(Duration::from_secs(6 * 3600))),
        nightly("late-1h", Missed::RunOnceLate(Duration::from_secs(3600))),
    ];
    let s = scheduler(&store, specs).await;
    assert_eq!(tick(&s).await, 3, "all three on time at 22:00");
    clock.set(oslo(2026, 11, 2, 21, 0));
    assert_eq!(tick(&s).await, 0, "nothing is due at 21:00");
    // The node was down from 21:00 to 01:30: the 22:00 fire is 3½ hours late.
    clock.set(oslo(2026, 11, 3, 1, 30));
    assert_eq!(tick(&s).await, 1, "only the run-once-late schedule within its limit runs");
    let skip = runs_of(&store, "skip").await;
    assert_eq!(skip.len(), 2);
    assert_eq!(skip[1].outcome.as_deref(), Some("skipped: missed by 3h 30m"));
    assert_eq!(local(skip[1].fire_time), "2026-11-02 22:00 CET");
    let late = runs_of(&store, "late-6h").await;
    assert_eq!((late.len(), late[1].outcome.as_deref()), (2, Some("ok")));
    assert_eq!(
        (local(late[1].fire_time), local(late[1].started_at)),
        ("2026-11-02 22:00 CET".into(), "2026-11-03 01:30 CET".into())
    );
    let too_late = runs_of(&store, "late-1h").await;
    assert!(
        too_late[1]
            .outcome
            .as_deref()
            .unwrap()
            .starts_with("skipped: missed by 3h 30m, beyond the catch-up limit of 1h")
    );
    assert_eq!(tick(&s).await, 0, "a handled fire is not handled again");

    // Down for three days: the fires in between collapse into one decision about the latest.
    clock.set(oslo(2026, 11, 6, 2, 0));
    assert_eq!(tick(&s).await, 1);
    let late = runs_of(&store, "late-6h").await;
    assert_eq!(late.len(), 3, "one late run, not one per missed night");
    assert_eq!(local(late[2].fire_time), "2026-11-05 22:00 CET");
    assert_eq!(runs_of(&store, "skip").await.len(), 3);

    // Back on time: all three fire.
    clock.set(oslo(2026, 11, 6, 22, 0) + 500);
    assert_eq!(tick(&s).await, 3);
}
on_both_backends!(missed_fires_follow_each_policy);

async fn a_running_run_holds_back_the_next_fire(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 2, 22, 0));
    let store = store_at(db, &clock, RetryPolicy::default());
    let node = orchestrator::node::register(&store).await.unwrap();
    // A run of node `node` that has not finished (say a long window).
    let id = schedule::claim_run(&store, "s", clock.now_ms(), node).await.unwrap().unwrap();
    clock.set(oslo(2026, 11, 3, 22, 0));
    store.node_beat(node).await.unwrap();
    let s = scheduler(&store, vec![nightly("s", Missed::RunOnceLate(Duration::from_secs(3600)))]).await;
    assert_eq!(tick(&s).await, 0, "runs of one schedule never overlap");
    assert_eq!(runs_of(&store, "s").await.len(), 1);
    schedule::finish_run(&store, id, "ok", &serde_json::json!({})).await.unwrap();
    clock.advance(Duration::from_secs(600));
    assert_eq!(tick(&s).await, 1, "once it ended, the waiting fire runs (10 minutes late)");
    // A run whose node died is closed by the next tick that needs the schedule.
    let dead = schema::NodeId::new();
    schedule::claim_run(&store, "s", oslo(2026, 11, 4, 22, 0), dead).await.unwrap();
    clock.set(oslo(2026, 11, 5, 22, 0));
    assert_eq!(tick(&s).await, 1);
    let runs = runs_of(&store, "s").await;
    assert!(runs[2].outcome.as_deref().unwrap().starts_with("abandoned"), "{runs:?}");
    assert!(matches!(runs[2].ended(), Some(Outcome::Abandoned(_))), "{runs:?}");
    assert_eq!(runs[3].outcome.as_deref(), Some("ok"));
    assert_eq!(runs[3].ended(), Some(Outcome::Ok));
}
on_both_backends!(a_running_run_holds_back_the_next_fire);

async fn racing_nodes_run_each_fire_once(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 2, 22, 0) + 250);
    // Three nodes, each with its own connection (PostgreSQL: its own pool).
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let conn = db::open(&db.target).await.unwrap();
        let store = Store::new(conn, Arc::new(clock.clone()), RetryPolicy::default());
        nodes.push(scheduler(&store, vec![nightly("race", Missed::Skip)]).await);
    }
    let store = store_at(db, &clock, RetryPolicy::default());
    for night in 0..10 {
        let (a, b, c) = tokio::join!(tick(&nodes[0]), tick(&nodes[1]), tick(&nodes[2]));
        assert_eq!(a + b + c, 1, "night {night}: exactly one node runs the fire ({a}, {b}, {c})");
        clock.advance(Duration::from_secs(24 * 3600));
    }
    let runs = runs_of(&store, "race").await;
    assert_eq!(runs.len(), 10, "one row per fire time");
    assert!(runs.iter().all(|r| r.outcome.as_deref() == Some("ok") && r.finished_at.is_some()), "{runs:#?}");
}
on_both_backends!(racing_nodes_run_each_fire_once);

fn noop_dispatcher(store: &Store, phases: Vec<Phase>, delay: Duration, claim_batch: usize) -> Dispatcher {
    let cfg = DispatcherConfig {
        claim_batch,
        idle_poll: Duration::from_millis(5),
        lease: Duration::from_secs(60),
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(store.clone(), cfg).with_phases(phases);
    for kind in StepKind::ALL {
        d = d.with_step(Arc::new(NoopStep::new(kind, delay)), 4);
    }
    d
}

fn phase(name: &str, window: Window, steps: &[StepKind]) -> Phase {
    Phase {
        name: name.into(),
        selection: Selection::all(),
        steps: steps.to_vec(),
        order: ClaimOrder::Due,
        window,
        rate: None,
        concurrency: 2,
        make_available: orchestrator::phase::MakeAvailable::Batched,
    }
}

fn night_window(hours: u64) -> Window {
    Window::Scheduled {
        cron: Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap(),
        duration: Duration::from_secs(hours * 3600),
    }
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done().await {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn count_in(conn: &DatabaseConnection, state: WorkflowState) -> u64 {
    workflow::Entity::find().filter(workflow::Column::State.eq(state)).count(conn).await.unwrap()
}

async fn a_night_window_claims_nothing_at_noon_and_works_at_23(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 27, 12, 0));
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..51, "p")).await.unwrap();
    let d =
        noop_dispatcher(&store, vec![phase("night", night_window(8), &StepKind::ALL)], Duration::ZERO, 20);
    let stats: Arc<Stats> = d.stats();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(d.drive(cancel.clone()));
    wait_until("20 claim cycles passed", async || stats.cycles.load(Ordering::Relaxed) >= 20).await;
    assert_eq!(stats.claimed.load(Ordering::Relaxed), 0, "nothing is claimed at 12:00");
    assert_eq!(count_in(&db.conn, WorkflowState::CreatedInA2).await, 50);

    clock.set(oslo(2026, 11, 27, 23, 0));
    wait_until("all 50 are Synced", async || count_in(&db.conn, WorkflowState::Synced).await == 50).await;
    // 06:00: closed again; new items wait for the next night.
    clock.set(oslo(2026, 11, 28, 6, 0));
    store.insert_items(&items(51..61, "p")).await.unwrap();
    let claimed = stats.claimed.load(Ordering::Relaxed);
    let c0 = stats.cycles.load(Ordering::Relaxed);
    wait_until("20 more cycles", async || stats.cycles.load(Ordering::Relaxed) >= c0 + 20).await;
    assert_eq!(stats.claimed.load(Ordering::Relaxed), claimed, "nothing is claimed at 06:00");
    cancel.cancel();
    run.await.unwrap().unwrap();
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(a_night_window_claims_nothing_at_noon_and_works_at_23);

async fn a_pause_stops_claims_within_one_cycle(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 27, 12, 0));
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..301, "p")).await.unwrap();
    let d = noop_dispatcher(
        &store,
        vec![phase("live", Window::Always, &[StepKind::Migrate])],
        Duration::from_millis(5),
        4,
    );
    let stats = d.stats();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(d.drive(cancel.clone()));
    wait_until("some items claimed", async || stats.claimed.load(Ordering::Relaxed) >= 20).await;

    store.set_paused("live", true, orchestrator::store::Origin::Cli).await.unwrap();
    let at_pause = stats.claimed.load(Ordering::Relaxed);
    let c0 = stats.cycles.load(Ordering::Relaxed);
    // Cycle c0 may have read the switch just before it was set; cycle c0 + 1 reads it set.
    wait_until("the next cycle finished", async || stats.cycles.load(Ordering::Relaxed) >= c0 + 2).await;
    let after_one_cycle = stats.claimed.load(Ordering::Relaxed);
    assert!(after_one_cycle - at_pause <= 4, "at most the claim in progress: {at_pause} → {after_one_cycle}");
    wait_until("many more cycles", async || stats.cycles.load(Ordering::Relaxed) >= c0 + 50).await;
    assert_eq!(stats.claimed.load(Ordering::Relaxed), after_one_cycle, "no claims while paused");
    let waiting = count_in(&db.conn, WorkflowState::CreatedInA2).await;
    assert!(waiting > 200, "paused with work left: {waiting}");

    store.set_paused("live", false, orchestrator::store::Origin::Cli).await.unwrap();
    wait_until("all migrated after resume", async || {
        count_in(&db.conn, WorkflowState::Migrated).await == 300
    })
    .await;
    cancel.cancel();
    run.await.unwrap().unwrap();
}
on_both_backends!(a_pause_stops_claims_within_one_cycle);

async fn make_available_runs_newest_first_on_the_simulator(db: &TestDb) {
    let store =
        Store::new(db.conn.clone(), Arc::new(orchestrator::clock::SystemClock), RetryPolicy::default());
    let records = crate::fixtures::import_valid(&store, 60).await;
    let created: HashMap<i64, i64> =
        records.iter().map(|r| (r.altinn2_correspondence_id, r.created.timestamp_millis())).collect();
    let sim = crate::fixtures::simulator("t", 3).await;
    let client = crate::fixtures::client(&sim, "t");
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(5),
        claim_batch: 7,
        ..DispatcherConfig::default()
    };
    // Phase one migrates everything (in due order); phase two makes it available newest-first.
    let migrate = Phase { concurrency: 8, ..phase("migrate", Window::Always, &[StepKind::Migrate]) };
    a3_dispatcher(&store, cfg.clone(), &client, 8, 1, std::env::current_dir().unwrap())
        .with_phases(vec![migrate])
        .drive(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(count_in(&db.conn, WorkflowState::Migrated).await, 60);
    assert!(sim.sim.inventory().made_available_order.is_empty());
    let available = Phase {
        order: ClaimOrder::NewestFirst,
        concurrency: 1,
        ..phase("available", Window::Always, &[StepKind::MakeAvailable])
    };
    a3_dispatcher(&store, cfg, &client, 8, 1, std::env::current_dir().unwrap())
        .with_phases(vec![available])
        .drive(CancellationToken::new())
        .await
        .unwrap();
    let order = sim.sim.inventory().made_available_order.clone();
    sim.stop().await;
    assert_eq!(order.len(), 60, "each item made available once");
    let times: Vec<i64> = order.iter().map(|a2| created[a2]).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "the simulator saw them newest first");
}
on_both_backends!(make_available_runs_newest_first_on_the_simulator);

async fn plan_counts_match_the_database_and_the_estimate_spans_windows(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 11, 27, 12, 0));
    let store = store_at(db, &clock, RetryPolicy::default());
    let records = crate::fixtures::import_valid(&store, 400).await;
    // Items created in 2023 and 2024 of one owner; some of them already migrated.
    let owner = records[0].service_owner.clone();
    let selection = Selection {
        created_from: Some(oslo(2023, 1, 1, 0, 0)),
        created_to: Some(oslo(2025, 1, 1, 0, 0)),
        service_owners: vec![owner.clone()],
        resources: vec![],
    };
    let run = Dispatcher::new(
        store.clone(),
        DispatcherConfig {
            exit_when_idle: true,
            idle_poll: Duration::from_millis(5),
            ..DispatcherConfig::default()
        },
    )
    .with_step(Arc::new(NoopStep::new(StepKind::Migrate, Duration::ZERO)), 4)
    .with_phases(vec![Phase {
        selection: Selection { created_to: Some(oslo(2024, 1, 1, 0, 0)), ..selection.clone() },
        ..phase("early", Window::Always, &[StepKind::Migrate])
    }]);
    run.drive(CancellationToken::new()).await.unwrap();

    let night = Phase {
        selection: selection.clone(),
        rate: Some(0.01),
        ..phase(
            "night",
            Window::Scheduled {
                cron: Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap(),
                duration: Duration::from_secs(3600),
            },
            &StepKind::ALL,
        )
    };
    let p = plan::plan_phase(&store, &night, false, chrono_tz::Europe::Oslo).await.unwrap();

    // The counts, straight from the rows.
    let rows = workflow::Entity::find().all(&db.conn).await.unwrap();
    let mut expected: BTreeMap<WorkflowState, u64> = BTreeMap::new();
    for w in rows.iter().filter(|w| {
        w.service_owner == owner
            && w.a2_created >= oslo(2023, 1, 1, 0, 0)
            && w.a2_created < oslo(2025, 1, 1, 0, 0)
    }) {
        *expected.entry(w.state).or_default() += 1;
    }
    assert_eq!(p.by_state, expected);
    let migrated = expected.get(&WorkflowState::Migrated).copied().unwrap_or(0);
    let fresh = expected.get(&WorkflowState::CreatedInA2).copied().unwrap_or(0);
    assert!(migrated > 0 && fresh > 0, "both states present: {expected:?}");
    assert_eq!(p.remaining, migrated + fresh);
    assert_eq!(p.total, migrated + fresh);

    // The estimate: remaining / rate seconds of window, one hour a night from 22:00.
    let work = p.remaining as f64 / 0.01;
    assert_eq!(p.work_secs, Some(work));
    // `work` is a modest positive number of seconds (the generated items at 0.01/s), so the
    // float-to-integer conversions below cannot truncate or lose a sign.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let full_nights = ((work / 3600.0).ceil() as u32) - 1;
    #[allow(clippy::cast_possible_truncation)]
    let rest_ms = (work * 1000.0) as i64 - i64::from(full_nights) * 3_600_000;
    let expected_end = oslo(2026, 11, 27, 22, 0) + i64::from(full_nights) * 86_400_000 + rest_ms;
    assert_eq!(p.windows_needed, Some(u64::from(full_nights) + 1));
    assert_eq!(p.finishes_at, Some(expected_end), "{:?}", p.finishes_local);
    let last_night = chrono_tz::Europe::Oslo
        .timestamp_millis_opt(oslo(2026, 11, 27, 22, 0) + i64::from(full_nights) * 86_400_000);
    assert_eq!(p.finishing_window, Some(last_night.unwrap().format("%Y-%m-%d 22:00 %Z").to_string()));
    assert_eq!(p.ready, p.remaining, "an all-steps phase can take every remaining item now");

    // A make-available phase over the same items: all still need it, only the migrated ones are
    // ready for it now.
    let available = Phase {
        selection: selection.clone(),
        rate: Some(1.0),
        ..phase("available", Window::Always, &[StepKind::MakeAvailable])
    };
    let a = plan::plan_phase(&store, &available, false, chrono_tz::Europe::Oslo).await.unwrap();
    assert_eq!((a.remaining, a.ready), (migrated + fresh, migrated));

    // Once the phase has run, its measured throughput drives the estimate.
    let id = schedule::claim_run(
        &store,
        &schedule::window_schedule_name("night"),
        oslo(2026, 11, 26, 22, 0),
        schema::NodeId::new(),
    )
    .await
    .unwrap()
    .unwrap();
    schedule::finish_run(&store, id, "ok", &serde_json::json!({ "done": 30, "open_secs": 600.0 }))
        .await
        .unwrap();
    let p = plan::plan_phase(&store, &night, false, chrono_tz::Europe::Oslo).await.unwrap();
    assert_eq!(p.rate_measured, Some(0.05));
    assert_eq!(p.work_secs, Some(p.remaining as f64 / 0.05));
}
on_both_backends!(plan_counts_match_the_database_and_the_estimate_spans_windows);

async fn rescue_sweep_and_prune(db: &TestDb) {
    let clock = ManualClock::new(oslo(2026, 1, 5, 12, 0));
    let policy =
        RetryPolicy { initial: Duration::from_secs(1), randomization: 0.0, ..RetryPolicy::default() };
    let store = store_at(db, &clock, policy);
    store.insert_items(&items(1..11, "p")).await.unwrap();

    // Rescue: a dead node's expired leases go back to the queue.
    let dead = schema::NodeId::new();
    let claimed = store.claim_any(dead, Duration::from_secs(30), 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(store.release_expired().await.unwrap(), 0, "live leases stay");
    clock.advance(Duration::from_secs(31));
    assert_eq!(store.release_expired().await.unwrap(), 10);

    // Item 1 fails once (a history row with an error), then everything runs to Synced.
    let first = claimed.iter().find(|i| i.a2_id.get() == 1).unwrap();
    let me = schema::NodeId::new();
    let again =
        store.claim_any(me, Duration::from_secs(30), 10, &[WorkflowState::CreatedInA2]).await.unwrap();
    assert_eq!(again.len(), 10);
    let facts = Facts::new(
        WorkflowState::CreatedInA2,
        0,
        None,
        &RetryPolicy { max_attempts: 5, ..RetryPolicy::default() },
    );
    let t = decide(facts, &Event::Step(StepOutcome::Retryable("503 from A3".into()))).unwrap();
    store.apply(&[Applied::plain(first.id, schema::A2Id(1), t)], Fence::Lease(me), Some(me)).await.unwrap();
    store.release(me).await.unwrap();
    clock.advance(Duration::from_secs(5));
    let d = Dispatcher::new(
        store.clone(),
        DispatcherConfig {
            exit_when_idle: true,
            idle_poll: Duration::from_millis(5),
            ..DispatcherConfig::default()
        },
    );
    let d = StepKind::ALL.iter().fold(d, |d, k| d.with_step(Arc::new(NoopStep::new(*k, Duration::ZERO)), 4));
    d.drive(CancellationToken::new()).await.unwrap();
    assert_eq!(count_in(&db.conn, WorkflowState::Synced).await, 10);

    // Sync sweep: an unsynced event of a Synced item (stored in the moment the item reached
    // Synced on another node) is found and the item made SyncPending.
    assert_eq!(store.sync_sweep().await.unwrap(), 0, "nothing waits");
    schema::entity::a2_event::ActiveModel {
        a2_id: sea_orm::ActiveValue::Set(7),
        kind: sea_orm::ActiveValue::Set("status".into()),
        dedup_key: sea_orm::ActiveValue::Set("status:read:1".into()),
        payload: sea_orm::ActiveValue::Set("{}".into()),
        occurred_at: sea_orm::ActiveValue::Set(clock.now_ms()),
        synced_at: sea_orm::ActiveValue::Set(None),
        imported_at: sea_orm::ActiveValue::Set(clock.now_ms()),
        ..Default::default()
    }
    .insert(&db.conn)
    .await
    .unwrap();
    assert_eq!(store.sync_sweep().await.unwrap(), 1);
    assert_eq!(count_in(&db.conn, WorkflowState::SyncPending).await, 1);
    // (Its history row is not pruned below: the item is not finished.)

    // Prune: 100 days later, finished items keep only their final state and last error.
    clock.advance(Duration::from_secs(100 * 86_400));
    let before: u64 = workflow_history::Entity::find().count(&db.conn).await.unwrap();
    assert_eq!(before, 10 * 4 + 1 + 1, "four transitions each, one retry, one sweep");
    let pruned = store.prune_history(clock.now_ms() - 90 * 86_400_000).await.unwrap();
    // Item 7 is SyncPending (not finished): its five rows stay. The other nine keep one row each,
    // item 1 also its error row.
    assert_eq!(pruned, 9 * 4 + 1 - 9 - 1);
    let kept = workflow_history::Entity::find()
        .order_by_asc(workflow_history::Column::Id)
        .all(&db.conn)
        .await
        .unwrap();
    assert_eq!(kept.len() as u64, before - pruned);
    assert_eq!(kept.iter().filter(|h| h.to_state == WorkflowState::Synced).count(), 10, "final states kept");
    let errors: Vec<_> = kept.iter().filter(|h| h.error.is_some()).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].workflow_id, errors[0].error.as_deref()), (first.id.get(), Some("503 from A3")));
    assert_eq!(store.prune_history(clock.now_ms()).await.unwrap(), 0, "nothing more to prune");
}
on_both_backends!(rescue_sweep_and_prune);

/// `migrator run --once --phase NAME` as a process against the simulator: its exit code says
/// whether the work is done (0), the window is closed (4) or the phase is paused (5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_exits_with_what_happened() {
    let db = TestDb::sqlite().await;
    let store =
        Store::new(db.conn.clone(), Arc::new(orchestrator::clock::SystemClock), RetryPolicy::default());
    crate::fixtures::import_valid(&store, 30).await;
    let token = "once-token-5f2a9c";
    let sim = crate::fixtures::simulator(token, 9).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("migrator.toml");
    std::fs::write(
        &config,
        "[phases.now]\nsteps = [\"all\"]\nconcurrency = 8\n\
         [phases.never]\nsteps = [\"all\"]\n[phases.never.window]\ncron = \"0 0 0 1 1 *\"\nduration = \"1s\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let migrator = |args: &[&str]| {
        let mut c = crate::process::migrator(&db.target, &[&["--config", config.as_str()], args].concat());
        c.env("MIGRATOR__ALTINN3__BASE_URL", &sim.base_url)
            .env("MIGRATOR__ALTINN3__TOKEN", token)
            .env("MIGRATOR__NODE__IDLE_POLL", "20ms")
            .env("MIGRATOR_LOG", "info");
        async move {
            let (code, stdout, stderr) = crate::process::output(c).await;
            assert!(!stdout.contains(token) && !stderr.contains(token), "the token leaked");
            (code, stdout, stderr)
        }
    };
    let (code, out, err) = migrator(&["--json", "run", "--once", "--phase", "never"]).await;
    assert_eq!(code, Some(4), "{out}{err}");
    assert!(out.contains("\"end\": \"window-closed\""), "{out}");

    assert_eq!(migrator(&["phase", "pause", "now"]).await.0, Some(0));
    let (code, out, err) = migrator(&["run", "--once", "--phase", "now"]).await;
    assert_eq!(code, Some(5), "{out}{err}");
    assert_eq!(count_in(&db.conn, WorkflowState::CreatedInA2).await, 30, "nothing ran while paused");
    assert_eq!(migrator(&["phase", "resume", "now"]).await.0, Some(0));

    let (code, out, err) = migrator(&["--json", "run", "--once", "--phase", "now"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("\"end\": \"done\""), "{out}");
    assert_eq!(count_in(&db.conn, WorkflowState::Synced).await, 30);
    assert_eq!(sim.sim.inventory().dialogs, 30);

    let (code, out, _) = migrator(&["--json", "runs", "--schedule", "once:now"]).await;
    assert_eq!(code, Some(0));
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["outcome"], "ok");
    assert_eq!(runs[0]["counts"]["done"], 30);
    let (_, out, _) = migrator(&["--json", "plan", "--phase", "now"]).await;
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan[0]["remaining"], 0);
    assert_eq!(plan[0]["by_state"]["synced"], 30);
    let (code, _, err) = migrator(&["run", "--once", "--phase", "nope"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("no phase named \"nope\""), "{err}");
    sim.stop().await;
    db.finish().await;
}
