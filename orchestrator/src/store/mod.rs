//! The durable store: claim under a lease, complete with fencing, retries, history — on SeaORM,
//! for SQLite and PostgreSQL.
//!
//! The hot path (claim, apply, insert) is hand-written bulk SQL: one statement claims a batch, one
//! statement applies a batch of transitions and one inserts their history rows. Everything else
//! uses SeaORM's query builder.

mod a2;
mod failures;
mod ops;
mod retention;
mod selection;
mod sql;

pub use a2::{AddEventsReport, ImportReport, RecordInput};
pub use failures::{FailureGroup, Failures, ReasonMatch};
pub use ops::{OperateReport, Selector, ShowItem, Skipped, StatusReport, StuckItem};
pub use retention::FINISHED;
pub use selection::{ClaimOrder, Selection};
pub(crate) use sql::Sql;

use crate::clock::Clock;
use crate::retry::RetryPolicy;
use crate::state_machine::{Due, Event, Facts, Transition, decide};
use schema::WorkflowState;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sql::literal_list;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use workers::WorkItem;

/// Rows per bulk statement: well under SQLite's and PostgreSQL's parameter limits.
pub(crate) const CHUNK: usize = 1000;

/// A store error: always a database error underneath.
pub type StoreError = DbErr;

/// A new item to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// `Altinn2CorrespondenceId`.
    pub a2_id: i64,
    /// Import batch label.
    pub batch: String,
    /// Epoch ms of the A2 creation (what phases select and order by).
    pub created: i64,
    /// A2 service owner.
    pub service_owner: String,
    /// A2 resource id.
    pub resource_id: String,
}

impl NewItem {
    /// An item with no A2 record details (bench and engine tests).
    pub fn new(a2_id: i64, batch: &str) -> Self {
        Self {
            a2_id,
            batch: batch.into(),
            created: 0,
            service_owner: String::new(),
            resource_id: String::new(),
        }
    }
}

/// A decided transition for one item, with the ids its step learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Workflow id.
    pub id: Uuid,
    /// A2 id.
    pub a2_id: i64,
    /// The state machine's decision.
    pub transition: Transition,
    /// A3 id to store (kept if None).
    pub a3_correspondence_id: Option<Uuid>,
    /// Dialog id to store (kept if None).
    pub dialog_id: Option<Uuid>,
    /// `a2_events` rows A3 now holds: marked synced with the transition.
    pub synced_events: Vec<i64>,
}

impl Applied {
    /// A transition that carries no ids and no events.
    pub fn plain(id: Uuid, a2_id: i64, transition: Transition) -> Self {
        Self { id, a2_id, transition, a3_correspondence_id: None, dialog_id: None, synced_events: Vec::new() }
    }
}

/// The condition that must still hold for a transition to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// The item is still leased by this node and in the expected state (worker completions).
    Lease(Uuid),
    /// The item is still in the expected state (operator actions); any lease is dropped.
    State,
}

/// The result of applying a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Items whose transition was written.
    pub committed: Vec<Uuid>,
    /// Items whose fence no longer held: their result was dropped.
    pub lost: Vec<Uuid>,
}

/// The engine's handle on the database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
}

impl Store {
    /// A store over an open, migrated connection.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Self {
        Self { db, clock, policy }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn begin(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        // SQLite: take the write lock up front so the transaction never has to upgrade.
        let opts = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        if self.backend() == DbBackend::Sqlite {
            self.db.begin_with_options(opts).await
        } else {
            self.db.begin().await
        }
    }

    /// Enqueues items in CreatedInA2, due now. Known A2 ids are left as they are.
    /// Returns how many were new.
    pub async fn insert_items(&self, items: &[NewItem]) -> Result<usize, DbErr> {
        let now = self.clock.now_ms();
        let mut inserted = 0;
        for chunk in items.chunks(CHUNK) {
            let txn = self.begin().await?;
            let mut q = Sql::new(self.backend());
            q.push(
                "INSERT INTO workflows (id, a2_id, batch, state, attempt, next_run_at, a2_created, service_owner, resource_id, created_at, updated_at) VALUES ",
            );
            for (i, item) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row(vec![
                    (Uuid::now_v7().into(), "uuid"),
                    (item.a2_id.into(), "int8"),
                    (item.batch.clone().into(), "text"),
                    (WorkflowState::CreatedInA2.as_str().into(), "text"),
                    (0i32.into(), "int4"),
                    (now.into(), "int8"),
                    (item.created.into(), "int8"),
                    (item.service_owner.clone().into(), "text"),
                    (item.resource_id.clone().into(), "text"),
                    (now.into(), "int8"),
                    (now.into(), "int8"),
                ]);
            }
            q.push(" ON CONFLICT (a2_id) DO NOTHING RETURNING id");
            let rows = txn.query_all_raw(q.build()).await?;
            let ids: Vec<Uuid> =
                rows.iter().map(|r| r.try_get::<Uuid>("", "id")).collect::<Result<_, _>>()?;
            let history: Vec<HistoryRow> = ids
                .iter()
                .map(|id| HistoryRow {
                    workflow_id: *id,
                    from: None,
                    to: WorkflowState::CreatedInA2,
                    attempt: 0,
                    node: None,
                    error: None,
                })
                .collect();
            insert_history(&txn, self.backend(), &history, now).await?;
            txn.commit().await?;
            inserted += ids.len();
        }
        Ok(inserted)
    }

    /// Claims up to `limit` due items in `state` for `owner`, leased for `lease`, in due order.
    pub async fn claim(
        &self,
        owner: Uuid,
        lease: Duration,
        limit: usize,
        state: WorkflowState,
    ) -> Result<Vec<WorkItem>, DbErr> {
        self.claim_in(owner, lease, limit, state, &Selection::all(), ClaimOrder::Due).await
    }

    /// Claims up to `limit` due items of `selection` in `state` for `owner`, leased for `lease`,
    /// taken in `order`.
    ///
    /// One statement: the state's due rows in order, not leased or with an expired lease, get
    /// this node's lease. It walks a partial index on the runnable states (SQLite is told which,
    /// with `INDEXED BY`, so a bad plan fails loudly instead of sorting the table); PostgreSQL
    /// skips rows another node is claiming (`FOR UPDATE SKIP LOCKED`). The items come back in
    /// `order`, so they start in it.
    pub async fn claim_in(
        &self,
        owner: Uuid,
        lease: Duration,
        limit: usize,
        state: WorkflowState,
        selection: &Selection,
        order: ClaimOrder,
    ) -> Result<Vec<WorkItem>, DbErr> {
        if !state.is_runnable() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now_ms();
        let sqlite = self.backend() == DbBackend::Sqlite;
        let (sort, index) = order.sql();
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = ")
            .param(owner, "uuid")
            .push(", lease_until = ")
            .param(now + lease.as_millis() as i64, "int8")
            .push(" WHERE id IN (SELECT id FROM workflows");
        if sqlite {
            q.push(" INDEXED BY ").push(index);
        }
        q.push(" WHERE state IN ")
            .push(&literal_list(WorkflowState::RUNNABLE.iter().map(|s| s.as_str())))
            .push(" AND state = ")
            .param(state.as_str(), "text")
            .push(" AND next_run_at <= ")
            .param(now, "int8")
            .push(" AND (lease_owner IS NULL OR lease_until < ")
            .param(now, "int8")
            .push(")");
        selection.push_predicate(&mut q);
        q.push(" ORDER BY ").push(sort).push(" LIMIT ").param(limit as i64, "int8");
        if !sqlite {
            q.push(" FOR UPDATE SKIP LOCKED");
        }
        q.push(
            ") RETURNING id, a2_id, batch, state, attempt, last_error, same_error_count, \
             a3_correspondence_id, dialog_id, a2_created",
        );
        let mut rows = self.db.query_all_raw(q.build()).await?;
        if order != ClaimOrder::Due {
            let created = |r: &QueryResult| r.try_get::<i64>("", "a2_created").unwrap_or(0);
            rows.sort_by_key(|r| created(r));
            if order == ClaimOrder::NewestFirst {
                rows.reverse();
            }
        }
        rows.iter().map(work_item).collect()
    }

    /// Claims up to `limit` due items across `states`, each state in turn.
    pub async fn claim_any(
        &self,
        owner: Uuid,
        lease: Duration,
        limit: usize,
        states: &[WorkflowState],
    ) -> Result<Vec<WorkItem>, DbErr> {
        self.claim_any_in(owner, lease, limit, states, &Selection::all(), ClaimOrder::Due).await
    }

    /// Claims up to `limit` due items of `selection` across `states`, each state in turn.
    pub async fn claim_any_in(
        &self,
        owner: Uuid,
        lease: Duration,
        limit: usize,
        states: &[WorkflowState],
        selection: &Selection,
        order: ClaimOrder,
    ) -> Result<Vec<WorkItem>, DbErr> {
        let mut out = Vec::new();
        for state in states {
            if out.len() >= limit {
                break;
            }
            out.extend(self.claim_in(owner, lease, limit - out.len(), *state, selection, order).await?);
        }
        Ok(out)
    }

    /// Writes a batch of decided transitions, each only if its fence still holds, with one history
    /// row per written transition, in one transaction per chunk. Events a step delivered are
    /// marked synced in the same transaction; an item that reaches Synced while newer events wait
    /// goes straight on to SyncPending (decided by the state machine, recorded in history).
    pub async fn apply(
        &self,
        batch: &[Applied],
        fence: Fence,
        node: Option<Uuid>,
    ) -> Result<ApplyReport, DbErr> {
        let mut report = ApplyReport::default();
        let now = self.clock.now_ms();
        for chunk in batch.chunks(CHUNK) {
            let txn = self.begin().await?;
            let written = self.apply_chunk(&txn, chunk, fence, node, now).await?;
            let mut synced_events = Vec::new();
            let mut reached_synced = Vec::new();
            for a in chunk {
                if written.contains(&a.id) {
                    report.committed.push(a.id);
                    synced_events.extend_from_slice(&a.synced_events);
                    if a.transition.to == WorkflowState::Synced {
                        reached_synced.push(a);
                    }
                } else {
                    report.lost.push(a.id);
                }
            }
            self.mark_synced(&txn, &synced_events, now).await?;
            if !reached_synced.is_empty() {
                let waiting = self.with_pending_events(&txn, reached_synced.iter().map(|a| a.a2_id)).await?;
                let follow: Vec<Applied> = reached_synced
                    .iter()
                    .filter(|a| waiting.contains(&a.a2_id))
                    .filter_map(|a| {
                        let facts = Facts::new(WorkflowState::Synced, 0, None, &self.policy);
                        decide(facts, &Event::NewA2Event).ok().map(|t| Applied::plain(a.id, a.a2_id, t))
                    })
                    .collect();
                if !follow.is_empty() {
                    self.apply_chunk(&txn, &follow, Fence::State, node, now).await?;
                }
            }
            txn.commit().await?;
        }
        Ok(report)
    }

    /// One fenced bulk UPDATE plus the history rows of what it wrote; returns the written ids.
    async fn apply_chunk(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        chunk: &[Applied],
        fence: Fence,
        node: Option<Uuid>,
        now: i64,
    ) -> Result<HashSet<Uuid>, DbErr> {
        let mut q = Sql::new(self.backend());
        q.push(
            "WITH v (id, from_state, to_state, resume_state, attempt, next_run_at, last_error, reason, \
             same_error_count, keep_error, a3_id, dialog_id) AS (VALUES ",
        );
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let t = &a.transition;
            q.row(vec![
                (a.id.into(), "uuid"),
                (t.from.as_str().into(), "text"),
                (t.to.as_str().into(), "text"),
                (t.resume_state.map(|s| s.as_str().to_string()).into(), "text"),
                (t.attempt.into(), "int4"),
                (self.due_at(now, t.due).into(), "int8"),
                (t.error.clone().into(), "text"),
                (reason_of(a, t).into(), "text"),
                (t.same_error_count.into(), "int4"),
                (i32::from(t.by_operator).into(), "int4"),
                (a.a3_correspondence_id.into(), "uuid"),
                (a.dialog_id.into(), "uuid"),
            ]);
        }
        q.push(") UPDATE workflows");
        // SQLite: look rows up by id, whatever the statistics say. Taken while nothing was leased
        // (after an import), they make the lease index look free to scan, and the planner then
        // scans every row this node holds for each row of the batch: 4k instead of 67k
        // transitions/s. `sqlite_autoindex_workflows_1` is the primary key's index (`id` is the
        // table's first constraint).
        if self.backend() == DbBackend::Sqlite {
            q.push(" INDEXED BY sqlite_autoindex_workflows_1");
        }
        q.push(
            " SET state = v.to_state, resume_state = v.resume_state, attempt = v.attempt, \
             next_run_at = v.next_run_at, \
             last_error = CASE WHEN v.keep_error = 1 THEN workflows.last_error ELSE v.last_error END, \
             reason = CASE WHEN v.keep_error = 1 THEN workflows.reason ELSE v.reason END, \
             same_error_count = v.same_error_count, \
             a3_correspondence_id = COALESCE(v.a3_id, workflows.a3_correspondence_id), \
             dialog_id = COALESCE(v.dialog_id, workflows.dialog_id), \
             lease_owner = NULL, lease_until = NULL, updated_at = ",
        )
        .param(now, "int8")
        .push(" FROM v WHERE workflows.id = v.id AND workflows.state = v.from_state");
        if let Fence::Lease(owner) = fence {
            q.push(" AND workflows.lease_owner = ").param(owner, "uuid");
        }
        q.push(" RETURNING workflows.id");
        let rows = txn.query_all_raw(q.build()).await?;
        let written: HashSet<Uuid> =
            rows.iter().map(|r| r.try_get::<Uuid>("", "id")).collect::<Result<_, _>>()?;
        let history: Vec<HistoryRow> = chunk
            .iter()
            .filter(|a| written.contains(&a.id))
            .map(|a| HistoryRow {
                workflow_id: a.id,
                from: Some(a.transition.from),
                to: a.transition.to,
                attempt: a.transition.attempt,
                node,
                error: a.transition.error.clone(),
            })
            .collect();
        insert_history(txn, self.backend(), &history, now).await?;
        Ok(written)
    }

    /// When a transition's item is next due, in epoch ms.
    pub fn due_at(&self, now: i64, due: Due) -> i64 {
        match due {
            Due::Now | Due::Never => now,
            Due::Backoff { attempt, at_least } => {
                now + self.policy.delay(attempt).max(at_least).as_millis() as i64
            }
        }
    }

    /// Extends every lease `owner` holds (the node heartbeat), so slow steps keep their items.
    pub async fn renew(&self, owner: Uuid, lease: Duration) -> Result<u64, DbErr> {
        let until = self.clock.now_ms() + lease.as_millis() as i64;
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_until = ")
            .param(until, "int8")
            .push(" WHERE lease_owner = ")
            .param(owner, "uuid");
        Ok(self.db.execute_raw(q.build()).await?.rows_affected())
    }

    /// Drops `owner`'s leases on `ids` (items it claimed but will not run).
    pub async fn release_items(&self, owner: Uuid, ids: &[Uuid]) -> Result<u64, DbErr> {
        let mut released = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
                .param(owner, "uuid")
                .push(" AND id IN ");
            q.list(chunk, "uuid");
            released += self.db.execute_raw(q.build()).await?.rows_affected();
        }
        Ok(released)
    }

    /// Drops every lease `owner` holds: its items are claimable again at once.
    pub async fn release(&self, owner: Uuid) -> Result<u64, DbErr> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
            .param(owner, "uuid");
        Ok(self.db.execute_raw(q.build()).await?.rows_affected())
    }

    /// Refreshes the planner's statistics after a bulk load, so the claim keeps walking its index
    /// instead of sorting a bitmap scan (PostgreSQL's autoanalyze may be off or not yet run).
    pub async fn analyze(&self) -> Result<(), DbErr> {
        let sql = match self.backend() {
            DbBackend::Postgres => "ANALYZE workflows",
            _ => "PRAGMA optimize",
        };
        self.db.execute_unprepared(sql).await.map(|_| ())
    }

    /// Items in a runnable state, whenever due (a run is finished when this is zero).
    pub async fn count_runnable(&self) -> Result<u64, DbErr> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM workflows WHERE state IN {}",
            literal_list(WorkflowState::RUNNABLE.iter().map(|s| s.as_str()))
        );
        let row = self.db.query_one_raw(sea_orm::Statement::from_string(self.backend(), sql)).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0) as u64)
    }
}

/// One history row to write.
struct HistoryRow {
    workflow_id: Uuid,
    from: Option<WorkflowState>,
    to: WorkflowState,
    attempt: i32,
    node: Option<Uuid>,
    error: Option<String>,
}

async fn insert_history(
    conn: &impl ConnectionTrait,
    backend: DbBackend,
    rows: &[HistoryRow],
    at: i64,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::new(backend);
        q.push("INSERT INTO workflow_history (workflow_id, from_state, to_state, attempt, at, node, error) VALUES ");
        for (i, h) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row(vec![
                (h.workflow_id.into(), "uuid"),
                (h.from.map(|s| s.as_str().to_string()).into(), "text"),
                (h.to.as_str().into(), "text"),
                (h.attempt.into(), "int4"),
                (at.into(), "int8"),
                (h.node.into(), "uuid"),
                (h.error.clone().into(), "text"),
            ]);
        }
        conn.execute_raw(q.build()).await?;
    }
    Ok(())
}

/// The reason stored with a transition's error: the error reduced to its group, by the step of
/// the state it happened in (operator notes keep the item's reason; see `apply_chunk`).
fn reason_of(a: &Applied, t: &Transition) -> Option<String> {
    let error = t.error.as_deref().filter(|_| !t.by_operator)?;
    Some(schema::reason::Reason::of(t.from, a.a2_id, error).key())
}

fn work_item(r: &QueryResult) -> Result<WorkItem, DbErr> {
    let state: String = r.try_get("", "state")?;
    Ok(WorkItem {
        id: r.try_get("", "id")?,
        a2_id: r.try_get("", "a2_id")?,
        batch: r.try_get("", "batch")?,
        state: state.parse().map_err(|e: schema::ParseStateError| DbErr::Custom(e.to_string()))?,
        attempt: r.try_get("", "attempt")?,
        last_error: r.try_get("", "last_error")?,
        same_error_count: r.try_get("", "same_error_count")?,
        a3_correspondence_id: r.try_get("", "a3_correspondence_id")?,
        dialog_id: r.try_get("", "dialog_id")?,
        record: None,
        events: Vec::new(),
        input_errors: Vec::new(),
    })
}
