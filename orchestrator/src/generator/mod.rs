//! Realistic synthetic A2 data: correspondences with histories, notifications, forwardings and
//! attachments in nb/nn/en, A2's near-duplicate events, a share of deliberately invalid items, and
//! status events that happen later. Seeded: the same seed gives the same data.
//!
//! Split by what it makes: [`Generator::record`] (`record.rs`) assembles a correspondence from its
//! histories (`histories.rs`), attachments (`attachments.rs`) and references (`references.rs`);
//! `later_events.rs` makes what happens after the export; `export.rs` writes export files with
//! broken lines. This file holds the options, the generator's state and the helpers they share.

mod attachments;
mod export;
mod histories;
mod later_events;
mod record;
mod references;
#[cfg(test)]
mod tests;

pub use export::{ExportReport, write_export};

use chrono::{DateTime, Duration as Span, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;
use workers::a3::model::{CorrespondenceStatus, StatusEvent};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorOptions {
    /// Random seed.
    pub seed: u64,
    /// First A2 id.
    pub first_id: i64,
    /// Share of items with invalid content (rejected by validation).
    pub invalid_rate: f64,
    /// Share of items that get a later status event.
    pub later_event_rate: f64,
    /// How many records will be asked for, when that is known. Their creation dates then rise
    /// with the A2 id across the span, as in Altinn 2, which gives out a correspondence's id when
    /// it is created: an export in id order is in creation order too. Unknown (`None`), each date
    /// is drawn from the whole span.
    pub count: Option<u64>,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        Self { seed: 2026, first_id: 1_000_000, invalid_rate: 0.01, later_event_rate: 0.1, count: None }
    }
}

const OWNERS: [(&str, &str, &str); 5] = [
    ("974761076", "Skatteetaten", "skd-skattemelding-varsel"),
    ("889640782", "NAV", "nav-vedtak-brev"),
    ("974760673", "Brønnøysundregistrene", "brg-aarsregnskap-purring"),
    ("991825827", "Digitaliseringsdirektoratet", "digdir-melding"),
    ("974760843", "Statens vegvesen", "svv-kjoretoy-varsel"),
];

/// A seeded source of A2 correspondences and later events.
pub struct Generator {
    rng: StdRng,
    opts: GeneratorOptions,
    next: i64,
    /// The items made invalid on purpose, so that a check of the outcome need not ask the
    /// client's own validation which ones should be rejected.
    invalid: std::collections::BTreeSet<i64>,
}

impl Generator {
    /// A generator starting at `opts.first_id`.
    pub fn new(opts: GeneratorOptions) -> Self {
        Self { rng: StdRng::seed_from_u64(opts.seed), opts, next: opts.first_id, invalid: Default::default() }
    }

    /// The A2 ids of the records made invalid on purpose so far.
    pub fn invalid_ids(&self) -> &std::collections::BTreeSet<i64> {
        &self.invalid
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u128(self.rng.random::<u128>() & !(0xF << 76) | (4 << 76))
    }

    fn time_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_microseconds().unwrap_or(1).max(1);
        from + Span::microseconds(self.rng.random_range(0..span))
    }

    /// A time in the `k`-th of `n` equal slots of `from..to` (the last slot for `k >= n`), at a
    /// random point in it: dates that rise with `k` and fill the span.
    fn time_in_slot(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, k: u64, n: u64) -> DateTime<Utc> {
        let span = (to - from).num_microseconds().unwrap_or(1).max(1);
        let n = i64::try_from(n).unwrap_or(i64::MAX).max(1);
        let k = i64::try_from(k).unwrap_or(i64::MAX).min(n - 1);
        let slot = (span / n).max(1);
        from + Span::microseconds(k * slot + self.rng.random_range(0..slot))
    }
}

/// A status event with the status's name as its text.
fn status(status: CorrespondenceStatus, at: DateTime<Utc>, party: Uuid, user: Option<Uuid>) -> StatusEvent {
    StatusEvent {
        status,
        status_text: status.as_str().into(),
        status_changed: at,
        event_user_uuid: user,
        event_user_party_uuid: party,
    }
}

/// Moves a time within its second (never across it), as A2's second data source does.
trait WithinSecond {
    fn with_nanosecond_offset(self, nanos: u32) -> Self;
}

impl WithinSecond for DateTime<Utc> {
    fn with_nanosecond_offset(self, nanos: u32) -> Self {
        use chrono::Timelike;
        let n = (self.nanosecond() % 1_000_000_000 + nanos) % 1_000_000_000;
        self.with_nanosecond(n).unwrap_or(self)
    }
}
