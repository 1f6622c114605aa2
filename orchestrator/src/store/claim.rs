//! Claiming: one statement leases a batch of one state's due items to this node under a claim
//! id, walking the runnable-state index in the order the phase asks for.

use super::StoreError;
use super::{ClaimOrder, Selection, Sql, Store, count};
use crate::clock::millis;
use schema::WorkflowState;
use schema::{ClaimId, NodeId};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};
use std::time::Duration;
use workers::WorkItem;

/// One claim: the node that takes the leases, the claim's own id (which the leases carry, so the
/// claim can be released as a whole when its outcome is unknown, and a commit is fenced by it),
/// and how long the leases last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The node taking the leases.
    pub node: NodeId,
    /// This claim's id.
    pub id: ClaimId,
    /// How long the leases last unless renewed.
    pub lease: Duration,
}

impl Claim {
    /// A new claim of `node`, its leases lasting `lease`.
    pub fn new(node: NodeId, lease: Duration) -> Self {
        Self { node, id: ClaimId::new(), lease }
    }
}

impl Store {
    /// Claims up to `limit` due items in `state` for `owner`, leased for `lease`, in due order.
    pub async fn claim(
        &self,
        owner: NodeId,
        lease: Duration,
        limit: usize,
        state: WorkflowState,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.claim_in(&Claim::new(owner, lease), limit, state, &Selection::all(), ClaimOrder::Due).await
    }

    /// Claims up to `limit` due items of `selection` in `state` under `claim`, taken in `order`.
    ///
    /// One statement: the state's due rows in order, not leased or with an expired lease, get
    /// this node's lease, marked with the claim's id. It walks a partial index on the runnable states (SQLite is told which,
    /// with `INDEXED BY`, so a bad plan fails loudly instead of sorting the table); PostgreSQL
    /// skips rows another node is claiming (`FOR UPDATE SKIP LOCKED`). The items come back in
    /// `order`, so they start in it.
    pub async fn claim_in(
        &self,
        claim: &Claim,
        limit: usize,
        state: WorkflowState,
        selection: &Selection,
        order: ClaimOrder,
    ) -> Result<Vec<WorkItem>, StoreError> {
        if !state.is_runnable() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now_ms();
        let sqlite = self.backend() == DbBackend::Sqlite;
        let (sort, index) = order.sql();
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = ")
            .param(claim.node, "uuid")
            .push(", lease_claim = ")
            .param(claim.id, "uuid")
            .push(", lease_until = ")
            .param(now + millis(claim.lease), "int8")
            .push(" WHERE id IN (SELECT id FROM workflows");
        if sqlite {
            q.push(" INDEXED BY ").push(index);
        }
        q.push(" WHERE state IN ")
            .push(&WorkflowState::sql_list(&WorkflowState::RUNNABLE))
            .push(" AND state = ")
            .param(state.as_str(), "text")
            .push(" AND next_run_at <= ")
            .param(now, "int8")
            .push(" AND (lease_owner IS NULL OR lease_until < ")
            .param(now, "int8")
            .push(")");
        selection.push_predicate(&mut q);
        q.push(" ORDER BY ")
            .push(sort)
            .push(" LIMIT ")
            .param(i64::try_from(limit).unwrap_or(i64::MAX), "int8");
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
        owner: NodeId,
        lease: Duration,
        limit: usize,
        states: &[WorkflowState],
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.claim_any_in(&Claim::new(owner, lease), limit, states, &Selection::all(), ClaimOrder::Due).await
    }

    /// Claims up to `limit` due items of `selection` across `states`, each state in turn, all
    /// under `claim`.
    pub async fn claim_any_in(
        &self,
        claim: &Claim,
        limit: usize,
        states: &[WorkflowState],
        selection: &Selection,
        order: ClaimOrder,
    ) -> Result<Vec<WorkItem>, StoreError> {
        let mut out = Vec::new();
        for state in states {
            if out.len() >= limit {
                break;
            }
            out.extend(self.claim_in(claim, limit - out.len(), *state, selection, order).await?);
        }
        Ok(out)
    }

    /// Items in a runnable state, whenever due (a run is finished when this is zero).
    pub async fn count_runnable(&self) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT COUNT(*) AS n FROM workflows WHERE state IN ")
            .push(&WorkflowState::sql_list(&WorkflowState::RUNNABLE));
        let row = self.db.query_one_raw(q.build()).await?;
        Ok(count(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0)))
    }
}

fn work_item(r: &QueryResult) -> Result<WorkItem, StoreError> {
    let state: String = r.try_get("", "state")?;
    Ok(WorkItem {
        id: r.try_get("", "id")?,
        a2_id: r.try_get("", "a2_id")?,
        batch: r.try_get("", "batch")?,
        state: state.parse()?,
        attempt: r.try_get("", "attempt")?,
        last_error: r.try_get("", "last_error")?,
        same_error_count: r.try_get("", "same_error_count")?,
        a3_correspondence_id: r.try_get("", "a3_correspondence_id")?,
        dialog_id: r.try_get("", "dialog_id")?,
        record: None,
        events: Vec::new(),
        input_errors: Vec::new(),
        make_available_on_migrate: false,
    })
}
