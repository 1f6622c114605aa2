//! The chaos suite (issue 11): real `migrator run` daemons against the Altinn 3 simulator over
//! real HTTP, on real SQLite and PostgreSQL, put through SIGKILL loops, a second daemon killed
//! over and over, PostgreSQL refused and black-holed through the proxy, connections dropped
//! under claims, and fuzzed import files. Every run ends with the same checks: every item
//! Synced with one transition into each state, the simulator holding each correspondence once
//! with its events once (the demo's verification, by the simulator's own keys), and no lease
//! left behind.
//!
//! The CI variants are small; `MIGRATOR_CHAOS_LONG=1` runs the same code with bigger figures
//! (more kills, more items, longer outages).

mod fuzz;
mod kills;
mod outages;

use crate::process::{assert_all_synced_once, count_in, migrator};
use altinn3_sim::{Faults, RunningSim, SimConfig, Simulator};
use orchestrator::clock::SystemClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use schema::WorkflowState;
use schema::entity::{node, workflow};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::{BTreeSet, HashMap};
use std::process::Child;
use std::time::{Duration, Instant};
use tests::TestDb;
use workers::a2::A2Correspondence;

/// The bigger figures: `MIGRATOR_CHAOS_LONG=1`.
pub(crate) fn long() -> bool {
    std::env::var("MIGRATOR_CHAOS_LONG").is_ok_and(|v| v == "1")
}

/// `ci` in CI, `long` under `MIGRATOR_CHAOS_LONG=1`.
pub(crate) fn pick<T>(ci: T, long_variant: T) -> T {
    if long() { long_variant } else { ci }
}

/// A seeded random number generator (SplitMix64): a failing run can be replayed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// An index into something of length `n` (`n` > 0).
    pub(crate) fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).expect("fits")
    }
}

const TOKEN: &str = "chaos-token-5e1f";

/// How a chaos run is set up.
pub(crate) struct Setup {
    /// Lease length.
    pub(crate) lease: &'static str,
    /// Items per claim.
    pub(crate) claim_batch: u32,
    /// Calls in flight per A3 endpoint, per node.
    pub(crate) concurrency: u32,
    /// The simulator's added latency per call: uniform in this range of milliseconds.
    pub(crate) latency_ms: (u64, u64),
}

/// A database with items imported, the simulator, and a config for daemons on them.
pub(crate) struct World {
    pub(crate) db: TestDb,
    records: Vec<A2Correspondence>,
    sim: RunningSim,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    spawned: u32,
}

/// A running daemon and where its output goes.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    /// The end of its output.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(4000)..]).into_owned()
    }

    /// Lines of its output containing `what`.
    pub(crate) fn log_count(&self, what: &str) -> usize {
        let log = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&log).lines().filter(|l| l.contains(what)).count()
    }

    /// Panics (with its output) if it has exited.
    pub(crate) fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{what}: a daemon exited ({status}):\n{}", self.log_tail());
        }
    }

    /// SIGKILL, and waits for it to be gone.
    pub(crate) fn kill(mut self) {
        crate::process::signal(&self.child, nix::sys::signal::Signal::SIGKILL);
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "killed, not finished");
    }
}

impl World {
    /// `items` valid records imported into `db`, a simulator, and a config file: heartbeat
    /// every 500 ms, a node silent for 2 s dead, short idle polls.
    pub(crate) async fn new(db: TestDb, items: usize, setup: &Setup) -> World {
        let store = Store::new(db.conn.clone(), std::sync::Arc::new(SystemClock), RetryPolicy::default());
        let records = crate::fixtures::import_valid(&store, items).await;
        let faults = Faults {
            latency_min: Duration::from_millis(setup.latency_ms.0),
            latency_max: Duration::from_millis(setup.latency_ms.1),
            ..Faults::default()
        };
        let sim = Simulator::start(
            SimConfig { token: TOKEN.into(), seed: 11, faults, dialog_job: Default::default() },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("migrator.toml");
        std::fs::write(
            &config,
            format!(
                "[altinn3]\nper_second = 0\nconcurrency = {}\n\
                 [node]\nclaim_batch = {}\nlease = \"{}\"\nidle_poll = \"20ms\"\n\
                 heartbeat = \"500ms\"\ndead_after = \"2s\"\nshutdown_grace = \"1s\"\n",
                setup.concurrency, setup.claim_batch, setup.lease
            ),
        )
        .unwrap();
        World { db, records, sim, _dir: dir, config, spawned: 0 }
    }

    /// Items in the run.
    pub(crate) fn items(&self) -> u64 {
        self.records.len() as u64
    }

    /// A `migrator run` daemon on `target` (the database, or a proxy in front of it), its output
    /// going to a file (a pipe nobody reads would block it once full).
    pub(crate) fn daemon(&mut self, target: &str) -> Daemon {
        self.spawned += 1;
        let log = self._dir.path().join(format!("daemon-{}.log", self.spawned));
        let file = std::fs::File::create(&log).unwrap();
        let child = migrator(target, &["--config", self.config.to_str().unwrap(), "run"])
            .env("MIGRATOR__ALTINN3__BASE_URL", &self.sim.base_url)
            .env("MIGRATOR__ALTINN3__TOKEN", TOKEN)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    /// Items leased by anyone.
    pub(crate) async fn leased(&self) -> u64 {
        workflow::Entity::find()
            .filter(workflow::Column::LeaseOwner.is_not_null())
            .count(&self.db.conn)
            .await
            .unwrap()
    }

    /// The node id of the process `child`, once it has registered.
    pub(crate) async fn node_of(&self, child: &Child) -> uuid::Uuid {
        let pid = i32::try_from(child.id()).unwrap();
        let start = Instant::now();
        loop {
            let rows =
                node::Entity::find().filter(node::Column::Pid.eq(pid)).all(&self.db.conn).await.unwrap();
            if let Some(n) = rows.iter().find(|n| n.stopped_at.is_none()) {
                return n.id;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "process {pid} never registered as a node");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Items leased by `node`.
    pub(crate) async fn held_by(&self, node: uuid::Uuid) -> u64 {
        workflow::Entity::find()
            .filter(workflow::Column::LeaseOwner.eq(node))
            .count(&self.db.conn)
            .await
            .unwrap()
    }

    /// Waits until every item is Synced while `daemons` keep running (none may exit), at most
    /// `limit` (a hang guard, not a speed check).
    pub(crate) async fn wait_all_synced(&self, daemons: &mut [&mut Daemon], limit: Duration, what: &str) {
        let start = Instant::now();
        loop {
            let synced = count_in(&self.db.conn, WorkflowState::Synced).await;
            if synced == self.items() {
                return;
            }
            for d in daemons.iter_mut() {
                d.assert_running(what);
            }
            if start.elapsed() > limit {
                let logs: Vec<String> = daemons.iter().map(|d| d.log_tail()).collect();
                panic!(
                    "{what}: {synced} of {} items synced after {limit:?}; {} leased; daemons' logs:\n{}",
                    self.items(),
                    self.leased().await,
                    logs.join("\n----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until at least `n` transitions are committed, `daemon` running.
    pub(crate) async fn wait_for_transitions(&self, n: u64, daemon: &mut Daemon, what: &str) {
        let start = Instant::now();
        while crate::process::transitions(&self.db.conn).await < n {
            daemon.assert_running(what);
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "{what}: no progress to {n} transitions:\n{}",
                daemon.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The checks every chaos run ends with (its daemons stopped): no lease left behind, every
    /// item Synced with one transition into each state, and the simulator holding every
    /// correspondence and dialog once, with every event once (nothing missing, nothing
    /// duplicated, no contract violation). Prints the figures and returns the remigrations (a
    /// migrate call repeated after a kill or a lost reply, answered by A3's idempotency).
    pub(crate) async fn assert_nothing_lost(self, what: &str) -> u64 {
        let leased = self.leased().await;
        assert_eq!(leased, 0, "{what}: no lease is left behind");
        assert_all_synced_once(&self.db.conn, self.items()).await;
        let states: HashMap<i64, WorkflowState> = workflow::Entity::find()
            .all(&self.db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|w| (w.a2_id, w.state))
            .collect();
        let inv = self.sim.sim.inventory();
        let v = orchestrator::demo::verify(&self.records, &[], &BTreeSet::new(), &inv, &states);
        let n = self.items();
        eprintln!(
            "{what}: {n} items; simulator: {} correspondences, {} dialogs, {} missing, {} duplicates \
             stored, {} remigrations; {leased} leases left",
            inv.correspondences,
            inv.dialogs,
            v.missing.len(),
            v.duplicates_stored,
            inv.remigrations
        );
        assert!(v.ok(), "{what}: the simulator's inventory does not match the source: {v:?}");
        assert_eq!((inv.correspondences, inv.dialogs, inv.duplicates_stored), (n, n, 0), "{what}");
        self.sim.stop().await;
        self.db.finish().await;
        inv.remigrations
    }
}

/// Stops `daemons` with SIGTERM; each must exit 0.
pub(crate) fn stop_all(daemons: Vec<Daemon>, what: &str) {
    for d in &daemons {
        crate::process::signal(&d.child, nix::sys::signal::Signal::SIGTERM);
    }
    for mut d in daemons {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = d.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                d.child.kill().ok();
                panic!("{what}: a daemon did not stop within a minute of SIGTERM:\n{}", d.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{what}: a daemon did not stop cleanly ({status}):\n{}", d.log_tail());
    }
}
