//! The pacer on a simulated clock: a client of `concurrency` slots whose calls take `latency`,
//! against a token bucket, random 429s or an outage. Deterministic: virtual time, seeded RNG.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What answers the calls.
#[allow(clippy::large_enum_variant, reason = "one value per simulated run")]
enum Server {
    /// A token bucket: `rate` tokens a second, at most `burst` stored; empty → 429.
    Bucket { rate: f64, burst: f64, tokens: f64, at: f64 },
    /// Each call refused with probability `p`.
    Random { p: f64, rng: StdRng },
    /// Everything refused (Retry-After 1 s) before `until` seconds, everything taken after.
    Outage { until: f64 },
}

impl Server {
    fn bucket(rate: f64, burst: f64) -> Self {
        Self::Bucket { rate, burst, tokens: burst, at: 0.0 }
    }

    fn answer(&mut self, t: f64) -> Verdict {
        let refused = Verdict::Refused(Duration::from_secs(1));
        match self {
            Self::Bucket { rate, burst, tokens, at } => {
                *tokens = (*tokens + (t - *at) * *rate).min(*burst);
                *at = t;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    Verdict::Accepted
                } else {
                    refused
                }
            }
            Self::Random { p, rng } => {
                if rng.random::<f64>() < *p {
                    refused
                } else {
                    Verdict::Accepted
                }
            }
            Self::Outage { until } => {
                if t < *until {
                    refused
                } else {
                    Verdict::Accepted
                }
            }
        }
    }
}

/// One simulated call: when it started (virtual seconds) and how it ended.
struct Call {
    start: f64,
    refused: bool,
}

struct Run {
    calls: Vec<Call>,
    stats: PaceStats,
}

impl Run {
    fn refused_share(&self) -> f64 {
        self.calls.iter().filter(|c| c.refused).count() as f64 / self.calls.len() as f64
    }

    /// Calls started per second in the second half of the run, and the share of them refused.
    fn second_half(&self) -> (f64, f64) {
        let end = self.calls.iter().map(|c| c.start).fold(0.0, f64::max);
        let late: Vec<_> = self.calls.iter().filter(|c| c.start >= end / 2.0).collect();
        let refused = late.iter().filter(|c| c.refused).count() as f64;
        (late.len() as f64 / (end / 2.0), refused / late.len() as f64)
    }

    /// Calls taken (not refused) per second over the whole run.
    fn accepted_per_second(&self) -> f64 {
        let end = self.calls.iter().map(|c| c.start).fold(0.0, f64::max);
        self.calls.iter().filter(|c| !c.refused).count() as f64 / end
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A slot is free: the client asks the pacer to start its next call.
    Free,
    /// A call ends.
    End(Ticket, u64),
}

/// Runs `calls` calls through a pacer, `concurrency` at a time, each answered after `latency`.
fn simulate(mut server: Server, concurrency: usize, latency: Duration, calls: usize) -> Run {
    let zero = Instant::now();
    let secs = |t: Instant| t.duration_since(zero).as_secs_f64();
    let mut pacer = Pacer::new(zero);
    let mut events = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |events: &mut BinaryHeap<_>, at: Instant, e: Event| {
        seq += 1;
        events.push(Reverse((at, seq, e)));
    };
    for _ in 0..concurrency {
        push(&mut events, zero, Event::Free);
    }
    let (mut started, mut out) = (0, Vec::new());
    // Verdicts of calls in flight, by their index in `out`.
    let mut verdicts = std::collections::HashMap::new();
    while let Some(Reverse((now, _, event))) = events.pop() {
        match event {
            Event::Free if started < calls => match pacer.start(now) {
                Err(later) => push(&mut events, later, Event::Free),
                Ok(ticket) => {
                    started += 1;
                    let verdict = server.answer(secs(now));
                    let id = out.len() as u64;
                    out.push(Call { start: secs(now), refused: matches!(verdict, Verdict::Refused(_)) });
                    verdicts.insert(id, verdict);
                    push(&mut events, now + latency, Event::End(ticket, id));
                }
            },
            Event::Free => {}
            Event::End(ticket, id) => {
                pacer.end(ticket, verdicts.remove(&id).unwrap(), now);
                push(&mut events, now, Event::Free);
            }
        }
    }
    Run { calls: out, stats: pacer.stats() }
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_fault_free_client_is_never_paced() {
    let run = simulate(Server::Random { p: 0.0, rng: StdRng::seed_from_u64(1) }, 32, 5 * MS, 5000);
    assert_eq!(run.stats.rate, None);
    assert_eq!(run.stats.decreases, 0);
    assert!(run.stats.epochs >= 60, "{:?}", run.stats);
}

#[test]
fn a_token_bucket_is_found_and_kept_to() {
    // 64 slots answered in 5 ms would send 12,800 calls/s; the bucket takes 200/s.
    // Each run is about 30 s of calls at the limit.
    for (rate, burst, concurrency, latency, calls) in
        [(200.0, 50.0, 64, 5 * MS, 6_000), (50.0, 10.0, 8, MS, 1_500), (1000.0, 100.0, 64, 20 * MS, 30_000)]
    {
        let run = simulate(Server::bucket(rate, burst), concurrency, latency, calls);
        let (sent, refused_late) = run.second_half();
        let what = format!(
            "R={rate}: {:.1}% refused ({:.1}% late), sent {sent:.0}/s late, {:.0}/s accepted, {:?}",
            run.refused_share() * 100.0,
            refused_late * 100.0,
            run.accepted_per_second(),
            run.stats
        );
        eprintln!("{what}");
        assert!(run.refused_share() < 0.05, "{what}");
        assert!(sent <= rate * 1.05, "settles at the limit: {what}");
        assert!(run.accepted_per_second() >= rate * 0.8, "uses most of it: {what}");
    }
}

#[test]
fn random_refusals_do_not_collapse_the_pace() {
    let (concurrency, latency, calls) = (64, 10 * MS, 40_000);
    let clean =
        simulate(Server::Random { p: 0.0, rng: StdRng::seed_from_u64(1) }, concurrency, latency, calls);
    for seed in 1..=3 {
        let noisy = simulate(
            Server::Random { p: 0.05, rng: StdRng::seed_from_u64(seed) },
            concurrency,
            latency,
            calls,
        );
        let (clean_rate, _) = clean.second_half();
        let (noisy_rate, _) = noisy.second_half();
        let what = format!("{noisy_rate:.0}/s vs {clean_rate:.0}/s fault-free, {:?}", noisy.stats);
        eprintln!("seed {seed}: {what}");
        assert!(noisy_rate >= clean_rate * 0.8, "{what}");
        assert!(noisy.stats.decreases * 10 < noisy.stats.epochs, "few epochs lowered the pace: {what}");
        // The old controller sat at about 5 of the 64 slots; this one's slowest pace is still a
        // good part of the fault-free rate.
        let lowest = noisy.stats.lowest.unwrap_or(f64::INFINITY);
        assert!(lowest >= clean_rate * 0.25, "{what}");
    }
}

#[test]
fn after_an_outage_the_pace_recovers() {
    let run = simulate(Server::Outage { until: 5.0 }, 16, 10 * MS, 20_000);
    let (late_rate, late_refused) = run.second_half();
    let what = format!("{late_rate:.0}/s late, {:?}", run.stats);
    assert!(run.stats.wholesale > 0, "{what}");
    assert_eq!(late_refused, 0.0);
    assert!(run.stats.rate.unwrap_or(f64::INFINITY) >= 3_200.0, "out of the way again: {what}");
    // 16 slots of 10 ms: 1,600 calls/s without faults.
    assert!(late_rate >= 1_400.0, "{what}");
    // During the outage it did not hammer: a few epochs of refusals, then the slowest pace and
    // waits of a Retry-After.
    let during = run.calls.iter().filter(|c| c.start < 5.0).count();
    assert!(during < 300, "{during} calls during the outage: {what}");
}

#[test]
fn an_answer_from_before_the_last_change_is_not_counted() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    let old = p.start(t0).unwrap();
    let refused = Verdict::Refused(Duration::from_secs(1));
    let early: Vec<_> = (0..EPOCH_CALLS).map(|_| p.start(t0).unwrap()).collect();
    for t in early {
        p.end(t, refused, t0 + 10 * MS);
        if p.stats().epochs > 0 {
            break;
        }
    }
    let after = p.stats();
    assert_eq!((after.epochs, after.decreases), (1, 1), "{after:?}");
    // A refusal of a call that started before the decrease does not decrease again.
    for _ in 0..EPOCH_CALLS {
        p.end(old, refused, t0 + 20 * MS);
    }
    assert_eq!(p.stats(), after);
}

#[test]
fn a_wholesale_refusal_falls_fast_and_waits_for_retry_after_only_at_the_slowest() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    // Ten calls started from `from` as fast as the pace allows, all refused 100 ms after the last.
    let epoch = |p: &mut Pacer, from: Instant| {
        let mut t = from;
        let tickets: Vec<_> = (0..10)
            .map(|_| {
                loop {
                    match p.start(t) {
                        Ok(ticket) => break ticket,
                        Err(later) => t = later,
                    }
                }
            })
            .collect();
        let end = t + 100 * MS;
        for ticket in tickets {
            p.end(ticket, Verdict::Refused(Duration::from_secs(3)), end);
        }
        end
    };
    // Unpaced, ten calls at once, all refused 100 ms later: an eighth of 10 in 100 ms, no wait.
    let mut now = epoch(&mut p, t0);
    assert_eq!((p.stats().wholesale, p.stats().rate), (1, Some(100.0 / 8.0)));
    assert!(p.start(now).is_ok());
    // Down to the slowest pace; refused there too, the endpoint waits the Retry-After.
    while p.stats().rate != Some(MIN_RATE) {
        now = epoch(&mut p, now + Duration::from_secs(10));
    }
    now = epoch(&mut p, now + Duration::from_secs(10));
    assert_eq!(p.start(now), Err(now + Duration::from_secs(3)));
}

#[test]
fn neutral_answers_are_not_counted() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    for _ in 0..EPOCH_CALLS * 2 {
        let t = p.start(t0).unwrap();
        p.end(t, Verdict::Neutral, t0 + MS);
    }
    assert_eq!(p.stats().epochs, 0);
}
