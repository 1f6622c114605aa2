//! The database as the run sees it. A failure that passes (an outage, a deadlock, SQLite busy) is
//! retried for as long as the run lasts. An answer that fails the same way again and again (a
//! corrupt SQLite file, a dropped table, a full disk) does not pass by waiting: once one kind of
//! work (claiming, committing, the heartbeat, …) has failed so [`REPEATS`] times in a row, over at
//! least [`OVER`], with no success in between, the run stops with that error instead of retrying
//! for ever. A database that reports itself damaged stops it at once: some calls may still work,
//! but the damage does not heal, and working on means working on damaged data. Every such call is bounded ([`BOUND`]): a database that does not answer at all (a
//! black-holed network) fails the call instead of stalling the run.

use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Failures in a row of one kind of work that stop the run.
pub(super) const REPEATS: u32 = 10;
/// The shortest time those failures must span (a burst is not "again and again").
pub(super) const OVER: Duration = Duration::from_secs(3);

/// The longest a run waits for one database call. The run's calls are small (a claim or a commit
/// of one batch take milliseconds); one that takes this long is stuck, not slow. It is also how
/// long a run stands still after a black-holed network comes back (30 s measured 26 s of standing
/// still after a 4 s outage).
pub(super) const BOUND: Duration = Duration::from_secs(10);

/// What the run's parts make their database calls through.
#[derive(Debug)]
pub(super) struct Health {
    streaks: Mutex<HashMap<&'static str, Streak>>,
    failed: OnceLock<String>,
    stop: CancellationToken,
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    times: u32,
    since: Instant,
}

impl Health {
    /// Health that cancels `stop` when the database keeps failing.
    pub(super) fn new(stop: CancellationToken) -> Self {
        Self { streaks: Mutex::default(), failed: OnceLock::new(), stop }
    }

    /// Makes the database call `call`, for `work`, bounded by [`BOUND`], and counts its result.
    pub(super) async fn call<T>(
        &self,
        work: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = tokio::time::timeout(BOUND, call).await.unwrap_or(Err(StoreError::NoAnswer(BOUND)));
        match &result {
            Ok(_) => self.ok(work),
            Err(e) => self.failed(work, e),
        }
        result
    }

    /// `work` went through: its streak of failures ends.
    pub(super) fn ok(&self, work: &'static str) {
        self.lock().remove(work);
    }

    /// `work` failed with `e`. A non-transient failure extends its streak; a long enough streak
    /// stops the run with `e` as the reason.
    pub(super) fn failed(&self, work: &'static str, e: &StoreError) {
        if e.is_transient() {
            return;
        }
        if e.is_corruption() {
            self.stop_with(format!("{work} failed: the database is damaged: {e}"));
            return;
        }
        let now = Instant::now();
        let streak = {
            let mut streaks = self.lock();
            let s = streaks.entry(work).or_insert(Streak { times: 0, since: now });
            s.times += 1;
            *s
        };
        if streak.times >= REPEATS && now.duration_since(streak.since) >= OVER {
            self.stop_with(format!("{work} failed {} times in a row: {e}", streak.times));
        }
    }

    fn stop_with(&self, reason: String) {
        if self.failed.set(reason.clone()).is_ok() {
            tracing::error!(%reason, "the database fails and waiting will not help; stopping");
        }
        self.stop.cancel();
    }

    /// The run's stop: cancelled on a signal or a closing window, or by this health.
    pub(super) fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    /// Why the run stopped, if the database made it stop.
    pub(super) fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Streak>> {
        self.streaks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbErr;

    fn corrupt() -> StoreError {
        StoreError::Database(DbErr::Custom("database disk image is malformed".into()))
    }

    #[test]
    fn only_a_long_streak_of_one_kind_of_work_stops_the_run() {
        let stop = CancellationToken::new();
        let health = Health::new(stop.clone());
        // A streak that is long enough but not old enough does not stop it.
        for _ in 0..REPEATS {
            health.failed("claim", &corrupt());
        }
        assert!(!stop.is_cancelled());
        // A success ends the streak; another kind of work has its own.
        health.ok("claim");
        health.lock().insert("commit", Streak { times: REPEATS - 2, since: Instant::now() - OVER });
        health.failed("claim", &corrupt());
        health.failed("commit", &corrupt());
        assert!(!stop.is_cancelled(), "one short of the streak");
        // Transient failures neither stop the run nor count.
        let outage = StoreError::Database(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        for _ in 0..100 {
            health.failed("commit", &outage);
        }
        assert!(!stop.is_cancelled());
        health.failed("commit", &corrupt());
        assert!(stop.is_cancelled());
        let why = health.failure().unwrap();
        assert!(why.contains("commit failed 10 times in a row") && why.contains("malformed"), "{why}");
    }
}
