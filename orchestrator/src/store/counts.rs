//! Counters kept in the transaction of each write, so counting never scans `workflows`: at 10M
//! items `status`, `/metrics` and the dashboard must answer in milliseconds.
//!
//! The two writers of `workflows.state` (enqueue and apply) collect what they did in a [`Tally`]
//! and, as the last statements of their transaction, add it to `item_counts` (items per batch and
//! state) and `transition_minutes` (transitions per minute). Each store writes only its own slot
//! of a counter, so nodes committing at once do not queue on one row lock; readers sum the slots.
//! Rows are touched in one fixed order (batch, then lifecycle order of the state, then the minute
//! row), and only after the transaction's other writes, so two writers cannot deadlock on them.
//!
//! After the commit the same tally feeds the `metrics` facade (no-ops while no recorder is
//! installed): transitions by step, from and to (exactly what `workflow_history` got), leases
//! lost and retries scheduled.

use super::{CHUNK, Sql, Store, StoreError, count};
use crate::state_machine::{Due, Transition};
use schema::{StepKind, WorkflowState};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::BTreeMap;

/// How many slots a counter is spread over (a store picks one at random).
pub const COUNT_SLOTS: i32 = 16;

/// How long `transition_minutes` keeps a minute: a week of throughput chart.
pub const THROUGHPUT_RETENTION_MS: i64 = 7 * 24 * 60 * MINUTE_MS;

const MINUTE_MS: i64 = 60_000;
const STATES: usize = WorkflowState::ALL.len();

/// A state's place in [`WorkflowState::ALL`].
fn index(state: WorkflowState) -> usize {
    WorkflowState::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// What one transaction wrote, for the counters and, after the commit, the metrics.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Per batch, the change of each state's count (indexed like [`WorkflowState::ALL`]).
    items: BTreeMap<String, [i64; STATES]>,
    /// History rows written, per (from, to); `None` is an enqueued item.
    transitions: BTreeMap<(Option<WorkflowState>, WorkflowState), u64>,
    /// Transitions that scheduled a retry at a later time, per step.
    retries: BTreeMap<&'static str, u64>,
    /// Worker results dropped because the lease was lost.
    lost: u64,
    /// Transitions of existing items (what `transition_minutes` counts; enqueues are not).
    moved: i64,
}

impl Tally {
    /// An item enqueued in `batch`.
    pub(super) fn enqueued(&mut self, batch: String) {
        self.items.entry(batch).or_default()[index(WorkflowState::CreatedInA2)] += 1;
        *self.transitions.entry((None, WorkflowState::CreatedInA2)).or_default() += 1;
    }

    /// An item of `batch` written by `t`.
    pub(super) fn moved(&mut self, batch: String, t: &Transition) {
        let (from, to) = (t.from(), t.to());
        if from != to {
            let deltas = self.items.entry(batch).or_default();
            deltas[index(from)] -= 1;
            deltas[index(to)] += 1;
        }
        *self.transitions.entry((Some(from), to)).or_default() += 1;
        if matches!(t.due(), Due::Backoff { .. }) {
            *self.retries.entry(step_of(Some(from))).or_default() += 1;
        }
        self.moved += 1;
    }

    /// Worker results fenced off because their lease was lost.
    pub(super) fn lost(&mut self, n: usize) {
        self.lost += u64::try_from(n).unwrap_or(u64::MAX);
    }

    /// Adds the tally to `slot`'s counters: the last writes of the transaction.
    pub(super) async fn write(
        &self,
        conn: &impl ConnectionTrait,
        backend: DbBackend,
        slot: i32,
        now: i64,
    ) -> Result<(), StoreError> {
        for statement in self.statements(backend, slot, now) {
            conn.execute_raw(statement).await?;
        }
        Ok(())
    }

    /// The statements of [`Tally::write`], for a caller that runs them itself.
    pub(super) fn statements(&self, backend: DbBackend, slot: i32, now: i64) -> Vec<Statement> {
        let mut out = Vec::new();
        let rows: Vec<(&str, WorkflowState, i64)> = self
            .items
            .iter()
            .flat_map(|(batch, deltas)| {
                WorkflowState::ALL
                    .iter()
                    .zip(deltas)
                    .filter(|(_, n)| **n != 0)
                    .map(move |(state, n)| (batch.as_str(), *state, *n))
            })
            .collect();
        for chunk in rows.chunks(CHUNK) {
            let mut q = Sql::new(backend);
            q.push("INSERT INTO item_counts (batch, state, slot, n) VALUES ");
            for (i, (batch, state, n)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row(vec![
                    ((*batch).into(), "text"),
                    (state.as_str().into(), "text"),
                    (slot.into(), "int4"),
                    ((*n).into(), "int8"),
                ]);
            }
            q.push(" ON CONFLICT (batch, state, slot) DO UPDATE SET n = item_counts.n + excluded.n");
            out.push(q.build());
        }
        if self.moved > 0 {
            let mut q = Sql::new(backend);
            q.push("INSERT INTO transition_minutes (minute, slot, n) VALUES ");
            q.row(vec![
                (now.div_euclid(MINUTE_MS).into(), "int8"),
                (slot.into(), "int4"),
                (self.moved.into(), "int8"),
            ]);
            q.push(" ON CONFLICT (minute, slot) DO UPDATE SET n = transition_minutes.n + excluded.n");
            out.push(q.build());
        }
        out
    }

    /// Feeds the metrics: call after the commit, so they count only what was written.
    pub(super) fn record(&self) {
        for ((from, to), n) in &self.transitions {
            metrics::counter!(
                "migrator_transitions_total",
                "step" => step_of(*from),
                "from" => from.map_or("none", WorkflowState::as_str),
                "to" => to.as_str(),
            )
            .increment(*n);
        }
        for (step, n) in &self.retries {
            metrics::counter!("migrator_retries_scheduled_total", "step" => *step).increment(*n);
        }
        if self.lost > 0 {
            metrics::counter!("migrator_leases_lost_total").increment(self.lost);
        }
    }
}

/// The step that works on items in `from` (`none` for enqueues and parked states).
fn step_of(from: Option<WorkflowState>) -> &'static str {
    from.and_then(StepKind::for_state).map_or("none", StepKind::as_str)
}

/// A sum over slots, read back as `i64` on both backends (PostgreSQL's `SUM(bigint)` is numeric).
const SUM_N: &str = "CAST(SUM(n) AS BIGINT) AS n";

impl Store {
    /// Items per (batch, state), from the counters (states with no items left out).
    pub(super) async fn batch_state_counts(&self) -> Result<Vec<(String, WorkflowState, u64)>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT batch, state, ").push(SUM_N).push(" FROM item_counts GROUP BY batch, state");
        let mut out = Vec::new();
        for r in self.db().query_all_raw(q.build()).await? {
            let n = count(r.try_get::<i64>("", "n")?);
            if n > 0 {
                let state: String = r.try_get("", "state")?;
                out.push((r.try_get("", "batch")?, state.parse()?, n));
            }
        }
        Ok(out)
    }

    /// Items leased right now: `COUNT(*)` over the partial index `workflows_lease` (only leased
    /// rows are in it), so its cost is the number of leased rows, not of items.
    pub(super) async fn leased_count(&self) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT COUNT(*) AS n FROM workflows WHERE lease_owner IS NOT NULL");
        let row = self.db().query_one_raw(q.build()).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.map_or(0, count))
    }

    /// Items per state, every state listed (0 when none), from the counters: a read of at most
    /// batches × states × slots small rows, never of `workflows` (for `/metrics`).
    pub async fn state_counts(&self) -> Result<BTreeMap<WorkflowState, u64>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT state, ").push(SUM_N).push(" FROM item_counts GROUP BY state");
        let mut out: BTreeMap<WorkflowState, u64> = WorkflowState::ALL.iter().map(|s| (*s, 0)).collect();
        for r in self.db().query_all_raw(q.build()).await? {
            let state: String = r.try_get("", "state")?;
            out.insert(state.parse()?, count(r.try_get::<i64>("", "n")?));
        }
        Ok(out)
    }

    /// Transitions written per minute since `since_ms` (enqueues not included), oldest first, as
    /// (the minute's start in epoch ms, transitions); minutes with none are left out.
    pub async fn throughput(&self, since_ms: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT minute, ")
            .push(SUM_N)
            .push(" FROM transition_minutes WHERE minute >= ")
            .param(since_ms.div_euclid(MINUTE_MS), "int8")
            .push(" GROUP BY minute ORDER BY minute");
        self.db()
            .query_all_raw(q.build())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64>("", "minute")? * MINUTE_MS, count(r.try_get::<i64>("", "n")?))))
            .collect()
    }

    /// Deletes the throughput minutes older than `before_ms`. Returns how many rows went.
    pub async fn prune_throughput(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("DELETE FROM transition_minutes WHERE minute < ")
            .param(before_ms.div_euclid(MINUTE_MS), "int8");
        Ok(self.db().execute_raw(q.build()).await?.rows_affected())
    }

    /// Forgets the counters of `batch` (its items are being deleted in `conn`'s transaction).
    pub(super) async fn delete_batch_counts(
        &self,
        conn: &impl ConnectionTrait,
        batch: &str,
    ) -> Result<(), StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("DELETE FROM item_counts WHERE batch = ").param(batch, "text");
        conn.execute_raw(q.build()).await?;
        Ok(())
    }
}
