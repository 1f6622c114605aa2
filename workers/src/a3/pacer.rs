//! The pace of one endpoint: how fast the client starts calls, learnt from A3's 429s.
//!
//! **A rate, not only a concurrency.** A rate limit (a gateway's token bucket of R calls/s) counts
//! calls per second. When A3 answers in 5 ms, even one call in flight is 200 calls/s, so shrinking
//! the concurrency cannot obey a limit of 100/s; spacing the starts 1/rate apart can. The
//! endpoint's concurrency stays what the config says; the pacer only delays starts.
//!
//! **Judged by epoch and by share, not per 429.** A 429 is either noise (one busy instance behind
//! the gateway) or a limit. The previous controller halved the concurrency on every 429 and grew
//! it by one per window of successes: with 5% random 429s it sat near 5 of 64 slots and a run was
//! 10× slower. A limit and noise differ in how the *share* of refused calls behaves: a bucket of R
//! refuses (r − R)/r of calls sent at r, a share that grows with our rate; noise refuses the same
//! share whatever we do. So the pacer counts its calls in **epochs** (TCP's rule of one decrease
//! per round trip): an epoch is judged once [`EPOCH_CALLS`] calls that *started in it* have been
//! answered; calls that started in an earlier epoch, before the last change of pace, say nothing
//! about the current pace and are not counted. An epoch with more than [`TOLERANCE`] of its
//! calls refused (and at least three) lowers the pace, one with fewer raises it:
//!
//! - **decrease** to [`BACKOFF`] × the rate A3 accepted in the epoch (our rate × the share
//!   accepted): against a bucket that lands just under R in one step, however far above it we
//!   were. Once the refusals already exceed the tolerance the epoch is judged at once, so an
//!   overshoot costs a handful of refusals, not an epoch of them. At most ÷8 per epoch, never
//!   below [`MIN_RATE`].
//! - **increase** by [`PROBE`] (5%) per clean epoch, or doubling while below the pace set by the
//!   last decrease that was not wholesale (TCP's slow start up to `ssthresh`); only while the pace
//!   binds (we start at least half of what it allows), so it stays near a limit while the work
//!   is thin and floats up out of the way when the limit is gone. A fault-free client is never
//!   paced at all.
//! - **all refused**: an epoch without a single call taken is either far above a limit (a drained
//!   bucket refuses all but R calls/s) or A3 refusing wholesale (maintenance). The pace drops to
//!   an eighth at once, but the slow-start threshold is kept, so it doubles back as soon as calls
//!   are taken again. **Retry-After**: each refused item waits it (the engine reschedules it);
//!   the endpoint as a whole waits it only when even [`MIN_RATE`] is refused wholesale — waiting
//!   it after every drained bucket would waste R calls/s for as long.
//!
//! Nothing is reserved ahead: a call asks to start and is told when to ask again, so a new pace
//! applies to the very next start (reservations made at an old pace would keep refusals coming
//! after a decrease). Against a bucket the pace cycles between about 0.8·R and 1.2·R (the bucket's
//! burst hides the first overshoot): in the simulations below 2–4% of the calls of a run are
//! refused, the first second's search included, and R is taken. Against 5% random 429s an epoch
//! of 50 calls exceeds the 10% tolerance about one time in 25, each such epoch lowers the pace by
//! about a quarter and each clean one raises it 5%: the pace drifts back up out of the way, and
//! a run keeps about 90% of its fault-free throughput.
//!
//! Everything here takes the time as an argument, so the tests run it on a simulated clock.

use std::time::{Duration, Instant};

/// Calls judged per epoch at full speed (fewer at low rates: half a second of calls, at least 10).
pub const EPOCH_CALLS: u32 = 50;
/// Share of refused calls in an epoch that is taken as noise, not as a limit.
pub const TOLERANCE: f64 = 0.10;
/// A decrease goes to this share of the rate A3 accepted.
pub const BACKOFF: f64 = 0.8;
/// A clean epoch raises the pace by this factor (above the slow-start threshold).
pub const PROBE: f64 = 1.05;
/// The slowest pace, in calls per second.
pub const MIN_RATE: f64 = 5.0;
/// The most one epoch lowers the pace by (a divisor): the share of a few answers is a rough
/// measure, and an epoch in which every call was refused says only that we are far too fast.
const MAX_CUT: f64 = 8.0;
/// Epochs are at least this long in calls, even at the slowest pace.
const MIN_EPOCH_CALLS: u32 = 10;
/// An epoch lowers the pace only with at least this many refusals: in a short epoch (few calls,
/// low demand) two random 429s would otherwise exceed the tolerance one time in twelve.
const MIN_REFUSALS: u32 = 3;
/// How far behind the schedule a pace may start calls to catch up (timer lateness).
const SLACK: Duration = Duration::from_millis(10);

/// How a call ended, as far as the pace is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A3 took the call (any answer but 429 and transport failures: a 400 is still an answer).
    Accepted,
    /// 429, with the Retry-After A3 gave.
    Refused(Duration),
    /// No answer or a server error: says nothing about the rate.
    Neutral,
}

/// The epoch a call started in, handed back with its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket {
    epoch: u64,
}

/// What the pacer is doing, for logs, reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PaceStats {
    /// Calls per second allowed now; `None` while unpaced.
    pub rate: Option<f64>,
    /// The lowest pace set so far; `None` if never paced.
    pub lowest: Option<f64>,
    /// Epochs judged.
    pub epochs: u64,
    /// Epochs that lowered the pace.
    pub decreases: u64,
    /// Epochs in which every call was refused.
    pub wholesale: u64,
}

/// The pace of one endpoint (see the module docs).
#[derive(Debug, Clone)]
pub struct Pacer {
    stats: PaceStats,
    /// Doubling below this, [`PROBE`] above it (the rate set by the last moderate decrease).
    threshold: f64,
    /// The earliest start of the next call.
    next: Instant,
    epoch: u64,
    epoch_start: Instant,
    /// Calls the epoch needs before it is judged.
    quota: u32,
    started: u32,
    /// The first start in the epoch.
    first_start: Option<Instant>,
    accepted: u32,
    refused: u32,
    retry_after: Duration,
}

impl Pacer {
    /// An unpaced pacer whose first epoch starts at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            stats: PaceStats::default(),
            threshold: f64::INFINITY,
            next: now,
            epoch: 0,
            epoch_start: now,
            quota: EPOCH_CALLS,
            started: 0,
            first_start: None,
            accepted: 0,
            refused: 0,
            retry_after: Duration::ZERO,
        }
    }

    /// What it is doing.
    pub fn stats(&self) -> PaceStats {
        self.stats
    }

    /// A call asks to start at `now`: a ticket (to hand back to [`Pacer::end`]) if the pace allows
    /// it now, or else when to ask again. Nothing is reserved ahead, so a change of pace applies to
    /// the very next start, and every ticket is of the epoch whose pace spaced it.
    pub fn start(&mut self, now: Instant) -> Result<Ticket, Instant> {
        if now < self.next {
            return Err(self.next);
        }
        if let Some(rate) = self.stats.rate {
            // From the previous slot rather than from now, so that a timer firing late does not
            // lower the pace; but at most SLACK behind, so an idle spell does not become a burst.
            let floor = now.checked_sub(SLACK).unwrap_or(now);
            self.next = self.next.max(floor) + Duration::from_secs_f64(1.0 / rate);
        }
        self.started += 1;
        self.first_start.get_or_insert(now);
        Ok(Ticket { epoch: self.epoch })
    }

    /// The call started with `ticket` ended with `verdict` at `now`.
    pub fn end(&mut self, ticket: Ticket, verdict: Verdict, now: Instant) {
        if ticket.epoch != self.epoch {
            return; // started before the last change of pace: says nothing about this one
        }
        match verdict {
            Verdict::Accepted => self.accepted += 1,
            Verdict::Refused(after) => {
                self.refused += 1;
                self.retry_after = self.retry_after.max(after);
            }
            Verdict::Neutral => return,
        }
        let tolerated = f64::from(self.quota) * TOLERANCE;
        let too_many = self.refused >= MIN_REFUSALS && f64::from(self.refused) > tolerated;
        if too_many || self.accepted + self.refused >= self.quota {
            self.judge(now);
        }
    }

    /// Ends the epoch: lowers or raises the pace (see the module docs) and starts the next one.
    fn judge(&mut self, now: Instant) {
        let answered = f64::from(self.accepted + self.refused);
        let refused_share = f64::from(self.refused) / answered;
        // Starts per second in the epoch: the pace actually sent at.
        let first = self.first_start.unwrap_or(self.epoch_start);
        let spread = now.saturating_duration_since(first).max(Duration::from_millis(1));
        let sent = f64::from(self.started.max(1)) / spread.as_secs_f64();
        // A decrease starts from what was sent, but from no less than half the pace: when the
        // work is thin (items waiting out their Retry-After), what was sent says how much work
        // there was, not how fast A3 takes calls, and one noisy epoch would cut the pace far
        // below what A3 took a moment ago.
        let base = self.stats.rate.map_or(sent, |r| r.min(sent).max(r / 2.0));
        self.stats.epochs += 1;
        let mut resume = now;
        if refused_share > TOLERANCE && self.refused >= MIN_REFUSALS {
            self.stats.decreases += 1;
            if self.accepted == 0 {
                // Everything refused: far above a limit (a drained bucket refuses all but R/s), or
                // A3 refuses wholesale. Fall fast; the slow-start threshold stays, so the pace
                // doubles back once calls are taken again. Already at the slowest: wait the
                // Retry-After A3 asked for.
                self.stats.wholesale += 1;
                if self.stats.rate.is_some_and(|r| r <= MIN_RATE) {
                    resume = now + self.retry_after;
                    self.next = self.next.max(resume);
                }
                self.set_rate(Some((base / MAX_CUT).max(MIN_RATE)));
            } else {
                // A little under the rate A3 accepted (our rate × the share taken).
                let cut = ((1.0 - refused_share) * BACKOFF).max(1.0 / MAX_CUT);
                let rate = (base * cut).max(MIN_RATE);
                self.set_rate(Some(rate));
                self.threshold = rate;
            }
        } else if let Some(rate) = self.stats.rate
            && sent >= rate / 2.0
        {
            // Raised only while it binds: fewer starts than half of it (items waiting out their
            // Retry-After, little work) say nothing about a faster pace, and a pace grown far
            // past the limit meanwhile would let the next rush of calls hit it unpaced.
            self.set_rate(Some(if rate < self.threshold {
                (rate * 2.0).min(self.threshold)
            } else {
                rate * PROBE
            }));
        }
        self.epoch += 1;
        // After a pause the epoch starts when calls may start again, so that its rate is measured
        // over the time it could send.
        self.epoch_start = resume;
        let per_half_second = self.stats.rate.map_or(f64::INFINITY, |r| (r / 2.0).ceil());
        // At most EPOCH_CALLS: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let quota = per_half_second.min(f64::from(EPOCH_CALLS)) as u32;
        self.quota = quota.max(MIN_EPOCH_CALLS);
        self.started = 0;
        self.first_start = None;
        self.accepted = 0;
        self.refused = 0;
        self.retry_after = Duration::ZERO;
    }

    fn set_rate(&mut self, rate: Option<f64>) {
        self.stats.rate = rate;
        if let Some(r) = rate {
            self.stats.lowest = Some(self.stats.lowest.map_or(r, |l| l.min(r)));
        }
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
