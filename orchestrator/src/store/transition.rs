//! Writing transitions: a batch of decisions of the state machine, each written only if its fence
//! still holds, with its history row, the events it delivered marked synced, and the follow-up
//! to SyncPending for items that reach Synced while newer events wait, and the item and
//! throughput counters they change (see `counts`) — all in one transaction.

use super::StoreError;
use super::counts::Tally;
use super::history::{HistoryRow, insert_history};
use super::{CHUNK, Sql, Store};
use crate::clock::millis;
use crate::state_machine::{Due, Event, Facts, Transition, decide};
use schema::WorkflowState;
use schema::{A2Id, ClaimId, NodeId, WorkflowId};
use sea_orm::{ConnectionTrait, DbBackend};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A decided transition for one item, with the ids its step learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Workflow id.
    pub id: WorkflowId,
    /// A2 id.
    pub a2_id: A2Id,
    /// The state machine's decision.
    pub transition: Transition,
    /// A3 id to store (kept if None).
    pub a3_correspondence_id: Option<Uuid>,
    /// Dialog id to store (kept if None).
    pub dialog_id: Option<Uuid>,
    /// `a2_events` rows A3 now holds: marked synced with the transition.
    pub synced_events: Vec<i64>,
    /// The claim the step ran under: with [`Fence::Lease`], written only while the item's lease
    /// is still this claim's (a newer claim of the same item, after this one's lease lapsed,
    /// wins). `None` fences by the node alone.
    pub claim: Option<ClaimId>,
    /// The operator action behind it and where it came from (`retry via http`), written to its
    /// history row; None for the engine's own transitions.
    pub operator: Option<String>,
    /// Chained continuation: the item's next step is due now and this node has room for it, so
    /// the completing UPDATE keeps the item's lease (same node, same claim) until this time
    /// (epoch ms) instead of dropping it, and the item goes straight on to its next step
    /// without a claim of its own. Only with [`Fence::Lease`]; None drops the lease.
    pub chain_until: Option<i64>,
}

impl Applied {
    /// A transition that carries no ids and no events.
    pub fn plain(id: WorkflowId, a2_id: A2Id, transition: Transition) -> Self {
        Self {
            id,
            a2_id,
            transition,
            a3_correspondence_id: None,
            dialog_id: None,
            synced_events: Vec::new(),
            claim: None,
            operator: None,
            chain_until: None,
        }
    }
}

/// The condition that must still hold for a transition to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// The item is still leased by this node, under the claim its step ran with
    /// ([`Applied::claim`]), and in the expected state (worker completions).
    Lease(NodeId),
    /// The item is still in the expected state (operator actions); any lease is dropped.
    State,
}

/// The result of applying a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Items whose transition was written.
    pub committed: Vec<WorkflowId>,
    /// Items whose fence no longer held: their result was dropped.
    pub lost: Vec<WorkflowId>,
}

impl Store {
    /// Writes a batch of decided transitions, each only if its fence still holds, with one history
    /// row per written transition, in one transaction per chunk. Events a step delivered are
    /// marked synced in the same transaction; an item that reaches Synced while newer events wait
    /// goes straight on to SyncPending (decided by the state machine, recorded in history).
    pub async fn apply(
        &self,
        batch: &[Applied],
        fence: Fence,
        node: Option<NodeId>,
    ) -> Result<ApplyReport, StoreError> {
        let mut report = ApplyReport::default();
        let now = self.clock.now_ms();
        for chunk in batch.chunks(CHUNK) {
            let txn = self.begin().await?;
            let mut tally = Tally::default();
            let written = self.apply_chunk(&txn, chunk, fence, node, now, &mut tally).await?;
            let mut synced_events = Vec::new();
            let mut reached_synced = Vec::new();
            let mut lost = 0;
            for a in chunk {
                if written.contains(&a.id) {
                    report.committed.push(a.id);
                    synced_events.extend_from_slice(&a.synced_events);
                    if a.transition.to() == WorkflowState::Synced {
                        reached_synced.push(a);
                    }
                } else {
                    report.lost.push(a.id);
                    lost += 1;
                }
            }
            if matches!(fence, Fence::Lease(_)) {
                tally.lost(lost);
            }
            self.mark_synced(&txn, &synced_events, now).await?;
            if !reached_synced.is_empty() {
                let waiting =
                    self.with_pending_events(&txn, reached_synced.iter().map(|a| a.a2_id.get())).await?;
                let follow: Vec<Applied> = reached_synced
                    .iter()
                    .filter(|a| waiting.contains(&a.a2_id.get()))
                    .filter_map(|a| {
                        let facts = Facts::new(WorkflowState::Synced, 0, None, &self.policy);
                        decide(facts, &Event::NewA2Event).ok().map(|t| Applied::plain(a.id, a.a2_id, t))
                    })
                    .collect();
                if !follow.is_empty() {
                    self.apply_chunk(&txn, &follow, Fence::State, node, now, &mut tally).await?;
                }
            }
            // Last, after every other write of the transaction (see `counts`).
            tally.write(&txn, self.backend(), self.slot, now).await?;
            txn.commit().await?;
            tally.record();
        }
        Ok(report)
    }

    /// One fenced bulk UPDATE plus the history rows of what it wrote, added to `tally`; returns
    /// the written ids. SQLite stages the rows first (see `staged`); PostgreSQL joins them as a
    /// `VALUES` list.
    async fn apply_chunk(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        chunk: &[Applied],
        fence: Fence,
        node: Option<NodeId>,
        now: i64,
        tally: &mut Tally,
    ) -> Result<HashSet<WorkflowId>, StoreError> {
        let mut batches = if self.backend() == DbBackend::Sqlite {
            self.write_staged(txn, chunk, fence, node, now).await?
        } else {
            self.write_joined(txn, chunk, fence, node, now).await?
        };
        let mut written = HashSet::with_capacity(batches.len());
        for a in chunk {
            let Some(batch) = batches.remove(&a.id) else { continue };
            tally.moved(batch, &a.transition);
            written.insert(a.id);
        }
        Ok(written)
    }

    /// PostgreSQL's write of `rows` (each only if its fence holds) and of the history rows of
    /// those written, in `txn`; returns the written items with their import batches. Of an item
    /// that occurs twice, the first occurrence gets the history row (and the counters).
    async fn write_joined(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        rows: &[Applied],
        fence: Fence,
        node: Option<NodeId>,
        now: i64,
    ) -> Result<HashMap<WorkflowId, String>, StoreError> {
        let mut batches = HashMap::with_capacity(rows.len());
        for r in txn.query_all_raw(self.apply_statement(rows, fence, now)).await? {
            batches.insert(WorkflowId(r.try_get::<Uuid>("", "id")?), r.try_get::<String>("", "batch")?);
        }
        let mut recorded = HashSet::with_capacity(batches.len());
        let history: Vec<HistoryRow> = rows
            .iter()
            .filter(|a| batches.contains_key(&a.id) && recorded.insert(a.id))
            .map(|a| HistoryRow {
                workflow_id: a.id,
                from: Some(a.transition.from()),
                to: a.transition.to(),
                attempt: a.transition.attempt(),
                node,
                error: a.transition.error().map(str::to_string),
                operator: a.operator.clone(),
            })
            .collect();
        insert_history(txn, self.backend(), &history, now).await?;
        Ok(batches)
    }

    /// PostgreSQL's fenced bulk UPDATE of `rows`, returning the written ids with their batches.
    fn apply_statement(&self, rows: &[Applied], fence: Fence, now: i64) -> sea_orm::Statement {
        let mut q = Sql::new(self.backend());
        q.push(
            "WITH v (id, from_state, to_state, resume_state, attempt, next_run_at, last_error, reason, \
             same_error_count, keep_error, a3_id, dialog_id, claim, lease_until) AS (VALUES ",
        );
        for (i, a) in rows.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row(values_of(self, a, fence, now));
        }
        q.push(
            ") UPDATE workflows SET state = v.to_state, resume_state = v.resume_state, attempt = v.attempt, \
             next_run_at = v.next_run_at, \
             last_error = CASE WHEN v.keep_error = 1 THEN workflows.last_error ELSE v.last_error END, \
             reason = CASE WHEN v.keep_error = 1 THEN workflows.reason ELSE v.reason END, \
             same_error_count = v.same_error_count, \
             a3_correspondence_id = COALESCE(v.a3_id, workflows.a3_correspondence_id), \
             dialog_id = COALESCE(v.dialog_id, workflows.dialog_id), \
             lease_owner = CASE WHEN v.lease_until IS NULL THEN NULL ELSE workflows.lease_owner END, \
             lease_until = v.lease_until, updated_at = ",
        )
        .param(now, "int8")
        .push(" FROM v WHERE workflows.id = v.id AND workflows.state = v.from_state");
        if let Fence::Lease(owner) = fence {
            q.push(" AND workflows.lease_owner = ")
                .param(owner, "uuid")
                .push(" AND (v.claim IS NULL OR workflows.lease_claim = v.claim)");
        }
        q.push(" RETURNING workflows.id, workflows.batch");
        q.build()
    }

    /// When a transition's item is next due, in epoch ms.
    pub fn due_at(&self, now: i64, due: Due) -> i64 {
        match due {
            Due::Now | Due::Never => now,
            Due::Backoff { attempt, at_least } => now + millis(self.policy.delay(attempt).max(at_least)),
        }
    }
}

/// The values of one decided transition, in the order of the columns of `apply_statement`'s
/// `v` (and of the staging table, see `staged`).
pub(super) fn values_of(
    store: &Store,
    a: &Applied,
    fence: Fence,
    now: i64,
) -> [(sea_orm::Value, &'static str); 14] {
    let t = &a.transition;
    [
        (a.id.into(), "uuid"),
        (t.from().as_str().into(), "text"),
        (t.to().as_str().into(), "text"),
        (t.resume_state().map(|s| s.as_str().to_string()).into(), "text"),
        (t.attempt().into(), "int4"),
        (store.due_at(now, t.due()).into(), "int8"),
        (t.error().map(str::to_string).into(), "text"),
        (reason_of(a, t).into(), "text"),
        (t.same_error_count().into(), "int4"),
        (i32::from(t.keeps_last_error()).into(), "int4"),
        (a.a3_correspondence_id.into(), "uuid"),
        (a.dialog_id.into(), "uuid"),
        (a.claim.map(ClaimId::get).into(), "uuid"),
        (a.chain_until.filter(|_| matches!(fence, Fence::Lease(_))).into(), "int8"),
    ]
}

/// The reason stored with a transition's error: the error reduced to its group, by the step of
/// the state it happened in (operator notes keep the item's reason; see `apply_chunk`).
fn reason_of(a: &Applied, t: &Transition) -> Option<String> {
    let error = t.error().filter(|_| !t.keeps_last_error())?;
    Some(schema::reason::Reason::of(t.from(), a.a2_id.get(), error).key())
}
