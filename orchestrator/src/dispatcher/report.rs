//! What a run counted: the counters the writer and the claim loop bump as they go, and the
//! report a run ends with (what `bench`, `run` and the demo print).

use crate::clock::millis_u64;
use crate::state_machine::Transition;
use schema::{NodeId, WorkflowState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters, shared with the writer.
#[derive(Debug, Default)]
pub struct Stats {
    /// Items claimed.
    pub claimed: AtomicU64,
    /// Transitions committed.
    pub transitions: AtomicU64,
    /// Of those, retries scheduled.
    pub retries: AtomicU64,
    /// Of those, items failed.
    pub failed: AtomicU64,
    /// Of those, items rejected.
    pub rejected: AtomicU64,
    /// Of those, items put back untouched because A3 refused our credentials.
    pub put_back: AtomicU64,
    /// Results dropped because the lease was lost (fencing).
    pub lease_lost: AtomicU64,
    /// Commit attempts that failed.
    pub commit_errors: AtomicU64,
    /// Claim cycles begun (one pass over every lane).
    pub cycles: AtomicU64,
}

impl Stats {
    pub(super) fn count(&self, t: &Transition) {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let counter = match t.to() {
            _ if t.puts_back() => &self.put_back,
            WorkflowState::Failed => &self.failed,
            WorkflowState::Rejected => &self.rejected,
            s if s == t.from() => &self.retries,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The report of a run that ended with these counts.
    pub(super) fn report(
        &self,
        node: NodeId,
        released: u64,
        elapsed: Duration,
        interrupted: bool,
    ) -> RunReport {
        RunReport {
            node,
            claimed: self.claimed.load(Ordering::Relaxed),
            transitions: self.transitions.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            put_back: self.put_back.load(Ordering::Relaxed),
            lease_lost: self.lease_lost.load(Ordering::Relaxed),
            released,
            elapsed_ms: millis_u64(elapsed),
            interrupted,
            cut_short: false,
            db_failure: None,
            credentials_refused: None,
            credentials_pauses: 0,
            chained: 0,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// This node's id.
    pub node: NodeId,
    /// Items claimed.
    pub claimed: u64,
    /// Transitions committed.
    pub transitions: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Items failed.
    pub failed: u64,
    /// Items rejected.
    pub rejected: u64,
    /// Items put back untouched (no attempt counted) because Altinn 3 refused our credentials:
    /// those refused while running (a note in their history) and those handed back unstarted.
    pub put_back: u64,
    /// Results dropped on a lost lease.
    pub lease_lost: u64,
    /// Leases released at shutdown (items that did not finish in the grace period).
    pub released: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// True if the run ended on a signal rather than running out of work.
    pub interrupted: bool,
    /// True if, after a signal, the shutdown deadline passed before this node's outcomes were
    /// flushed and its leases released (the database did not answer): its items run again once
    /// their leases lapse.
    pub cut_short: bool,
    /// Set when the run stopped because the database failed the same way again and again (a
    /// corrupt file, a missing table, a full disk): the error, which only someone fixing the
    /// database can end.
    pub db_failure: Option<String>,
    /// The first refusal of our credentials by Altinn 3 (endpoint, status, what to do), if
    /// any: a one-shot run stops at it, the daemon pauses.
    pub credentials_refused: Option<String>,
    /// Pauses for refused credentials (the daemon probes after each).
    pub credentials_pauses: u64,
    /// Items that went straight on to their next step under the lease they held, without a
    /// claim (chained continuation).
    pub chained: u64,
}
