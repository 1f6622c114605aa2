//! Kill loops: a daemon SIGKILLed over and over at varied points and restarted (SQLite), and two
//! daemons on one PostgreSQL database with one of them killed over and over while the other
//! keeps running and takes its items over.

use super::{Rng, Setup, World, pick, stop_all};
use crate::process::transitions;
use std::time::{Duration, Instant};
use tests::TestDb;

/// A daemon on SQLite SIGKILLed K times (CI 5, long 15) at varied points — within its first
/// 1.5 s (start-up, first claims) every third time, else after a random share of the work —
/// and restarted each time; the last one runs to the end. The leases of the killed nodes are
/// freed by the next one's heartbeat; nothing is lost, nothing is done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_loop_loses_nothing() {
    let what = "sqlite kill loop";
    let (items, kills) = pick((3_000, 6), (20_000, 15));
    let node = Setup { lease: "60s", claim_batch: 100, concurrency: 16, latency_ms: (5, 30) };
    let mut w = World::new(TestDb::sqlite().await, items, &node).await;
    let target = w.db.target.clone();
    let mut rng = Rng::new(0x5EED_0001);
    let total = w.items() * 3;
    // The kills are spread over the first 60% of the work.
    let step = total * 6 / 10 / kills;
    let started = Instant::now();
    let mut stranded = Vec::new();
    for k in 0..kills {
        let mut d = w.daemon(&target);
        if k % 3 == 2 {
            tokio::time::sleep(Duration::from_millis(rng.below(1500))).await;
        } else {
            let done = transitions(&w.db.conn).await;
            w.wait_for_transitions(done + step / 2 + rng.below(step), &mut d, what).await;
        }
        d.kill();
        stranded.push(w.leased().await);
    }
    let at_last_kill = transitions(&w.db.conn).await;
    let mut last = w.daemon(&target);
    w.wait_all_synced(&mut [&mut last], pick(Duration::from_secs(240), Duration::from_secs(900)), what).await;
    stop_all(vec![last], what);
    eprintln!(
        "{what}: {kills} kills, {items} items, leases held by the dead at each kill {stranded:?}, \
         {at_last_kill} of {total} transitions done at the last kill, all synced {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );
    assert!(stranded.iter().any(|&n| n > 0), "some kill came while items were leased: {stranded:?}");
    assert!(at_last_kill < total, "the last kill came mid-run");
    w.assert_nothing_lost(what).await;
}

/// Two daemons on one PostgreSQL database (lease 120 s); the second is SIGKILLed K times (CI 4,
/// long 10) while it holds leases, and started again each time. Each time, the survivor's
/// heartbeat sees it dead and frees its leases — asserted well within the lease, so it is the
/// takeover and not the lease running out — and the items end Synced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_daemons_one_killed_repeatedly_loses_nothing() {
    let what = "postgres, two daemons, one killed repeatedly";
    let Some(db) = TestDb::postgres("postgres_two_daemons_one_killed_repeatedly_loses_nothing").await else {
        return;
    };
    let (items, kills) = pick((4_000, 4), (20_000, 10));
    let node = Setup { lease: "120s", claim_batch: 50, concurrency: 8, latency_ms: (20, 60) };
    let mut w = World::new(db, items, &node).await;
    let target = w.db.target.clone();
    let mut rng = Rng::new(0x5EED_0002);
    let started = Instant::now();
    let mut survivor = w.daemon(&target);
    let mut takeovers = Vec::new();
    for _ in 0..kills {
        let mut victim = w.daemon(&target);
        let id = w.node_of(&victim.child).await;
        let start = Instant::now();
        while w.held_by(id).await == 0 {
            victim.assert_running(what);
            survivor.assert_running(what);
            assert!(start.elapsed() < Duration::from_secs(120), "{what}: the restarted daemon never claimed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(700))).await;
        let held = w.held_by(id).await;
        victim.kill();
        let killed = Instant::now();
        while w.held_by(id).await > 0 {
            survivor.assert_running(what);
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "{what}: the killed node's leases were not taken over within half the lease"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        takeovers.push((held, killed.elapsed().as_secs_f64()));
    }
    let mut last = w.daemon(&target);
    w.wait_all_synced(
        &mut [&mut survivor, &mut last],
        pick(Duration::from_secs(240), Duration::from_secs(900)),
        what,
    )
    .await;
    stop_all(vec![survivor, last], what);
    eprintln!(
        "{what}: {kills} kills, {items} items, (leases held at the kill, seconds until freed) \
         {takeovers:.1?}, all synced {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );
    assert!(takeovers.iter().any(|&(held, _)| held > 0), "some kill came while the victim held leases");
    w.assert_nothing_lost(what).await;
}
