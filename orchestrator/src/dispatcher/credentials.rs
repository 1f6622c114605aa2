//! Whether Altinn 3 accepts our credentials. A 401/403 is about the token, not the item: every
//! item would get the same answer, so spending each one's attempts (and logging each) only hides
//! the one thing an operator must fix. The first refusal pauses the run's Altinn 3 work (every
//! lane of this dispatcher calls A3) and logs one error; items put back meanwhile cost nothing.
//!
//! A one-shot run stops at the first refusal. The daemon waits out a pause, asks its `resume`
//! hook to pick up a new token (re-reading `altinn3.token_file`), then lets a single item through
//! as a probe: if A3 takes it, work resumes; if A3 refuses it again, another pause begins (one log
//! line per pause, not per item).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::time::Instant;

/// Called when a pause ends, before the probe: e.g. re-reads the token file.
pub type OnResume = std::sync::Arc<dyn Fn() + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Work as usual.
    Accepted,
    /// Refused: start nothing until `until` (the one-shot run stops instead).
    Refused { until: Instant },
    /// The pause is over: one item may start and tell whether A3 takes us again.
    Probing { started: bool },
}

/// The credentials gate shared by the claim loop, the feeders and the item tasks of one run.
pub(super) struct Credentials {
    gate: Mutex<Gate>,
    pause: Duration,
    resume: Option<OnResume>,
    /// The first refusal's message (endpoint, status, what to do; never the token).
    first: Mutex<Option<String>>,
    /// Pauses begun.
    pub(super) pauses: AtomicU64,
    /// Claimed items handed back unstarted while paused.
    pub(super) handed_back: AtomicU64,
}

impl Credentials {
    /// A gate whose pauses last `pause`, calling `resume` as each ends.
    pub(super) fn new(pause: Duration, resume: Option<OnResume>) -> Self {
        Self {
            gate: Mutex::new(Gate::Accepted),
            pause,
            resume,
            first: Mutex::new(None),
            pauses: AtomicU64::new(0),
            handed_back: AtomicU64::new(0),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        // Every change is one assignment: a panic cannot leave it half-changed.
        self.gate.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A3 refused us (`error` names the endpoint and status). Begins a pause unless one is on,
    /// and logs it once: items still running when it began are refused too, silently.
    pub(super) fn refused(&self, error: &str) {
        let mut gate = self.gate();
        if matches!(*gate, Gate::Refused { .. }) {
            return;
        }
        *gate = Gate::Refused { until: Instant::now() + self.pause };
        drop(gate);
        let n = self.pauses.fetch_add(1, Ordering::Relaxed) + 1;
        self.first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(|| error.into());
        tracing::error!(
            error,
            pause = %humantime::format_duration(self.pause),
            pauses = n,
            "Altinn 3 refused our credentials: Altinn 3 work is paused and items go back with no \
             attempt counted; check the A3 token and its scope"
        );
    }

    /// A step got an answer other than a refusal: a probe that did reopens the gate.
    pub(super) fn answered(&self) {
        let mut gate = self.gate();
        if matches!(*gate, Gate::Probing { started: true }) {
            *gate = Gate::Accepted;
            drop(gate);
            tracing::warn!("Altinn 3 accepts our credentials again: work resumes");
        }
    }

    /// Whether a feeder may start an item now (while probing, only the first).
    pub(super) fn may_start(&self) -> bool {
        let mut gate = self.gate();
        match *gate {
            Gate::Accepted => true,
            Gate::Probing { started: false } => {
                *gate = Gate::Probing { started: true };
                true
            }
            Gate::Probing { started: true } | Gate::Refused { .. } => false,
        }
    }

    /// How many items a lane may claim now: all it wants, one while probing, none while paused.
    /// A pause that is over turns into a probe here (after the resume hook ran).
    pub(super) fn claim_cap(&self) -> usize {
        let mut gate = self.gate();
        match *gate {
            Gate::Accepted => usize::MAX,
            Gate::Probing { started: false } => 1,
            Gate::Probing { started: true } => 0,
            Gate::Refused { until } if Instant::now() < until => 0,
            Gate::Refused { .. } => {
                *gate = Gate::Probing { started: false };
                drop(gate);
                if let Some(resume) = &self.resume {
                    resume();
                }
                tracing::info!("credentials pause over: trying one item");
                1
            }
        }
    }

    /// True from the first refusal until a probe gets through.
    pub(super) fn is_refused(&self) -> bool {
        !matches!(*self.gate(), Gate::Accepted)
    }

    /// The first refusal of the run, if any.
    pub(super) fn first_refusal(&self) -> Option<String> {
        self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_refusal_pauses_the_work_once() {
        let c = Credentials::new(Duration::from_secs(3600), None);
        assert!(c.may_start() && c.claim_cap() == usize::MAX && !c.is_refused());
        c.refused("correspondence: HTTP 401");
        c.refused("attachment: HTTP 401");
        assert_eq!(c.pauses.load(Ordering::Relaxed), 1, "one pause for refusals that come together");
        assert_eq!(c.first_refusal().as_deref(), Some("correspondence: HTTP 401"));
        assert!(c.is_refused() && !c.may_start() && c.claim_cap() == 0, "nothing starts, nothing is claimed");
        // An answer while paused (an item that was already running) does not end the pause.
        c.answered();
        assert!(c.is_refused() && c.claim_cap() == 0);
    }

    #[test]
    fn after_a_pause_one_probe_decides() {
        let resumed = Arc::new(AtomicUsize::new(0));
        let hook = resumed.clone();
        // A pause of zero is over at once: what follows it is what matters here.
        let c = Credentials::new(
            Duration::ZERO,
            Some(Arc::new(move || {
                hook.fetch_add(1, Ordering::SeqCst);
            })),
        );
        c.refused("correspondence: HTTP 401");
        assert!(!c.may_start(), "a pause that is over still starts nothing before its probe is claimed");
        assert_eq!(c.claim_cap(), 1, "the pause is over: one item");
        assert_eq!(resumed.load(Ordering::SeqCst), 1, "the token was looked at again");
        assert!(c.may_start(), "the probe starts");
        assert!(!c.may_start() && c.claim_cap() == 0, "nothing else while it runs");
        c.refused("correspondence: HTTP 401");
        assert_eq!(c.pauses.load(Ordering::Relaxed), 2, "refused again: a second pause");

        assert_eq!(c.claim_cap(), 1);
        assert!(c.may_start());
        c.answered();
        assert!(!c.is_refused() && c.may_start() && c.claim_cap() == usize::MAX, "accepted: work resumes");
        assert_eq!((c.pauses.load(Ordering::Relaxed), resumed.load(Ordering::SeqCst)), (2, 2));
    }
}
