//! What operators ask of the store: status counts, stuck items, one item with its history, and
//! retry / cancel by ids, by filter or by failure reason. Transitions still go through the state machine.

use super::StoreError;
use super::{Applied, Fence, Store};
use crate::state_machine::{Event, Facts, TransitionError, decide};
use schema::WorkflowState;
use schema::entity::{workflow, workflow_history};
use schema::{A2Id, WorkflowId};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Where an operator action came from: recorded with it (history rows, phase switches), so
/// the audit trail tells the command line from the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `migrator retry|cancel|phase` on a machine with the database.
    Cli,
    /// The HTTP API or the dashboard, with the operator token.
    Http,
}

impl Origin {
    /// `cli` or `http`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Cli => "cli",
            Origin::Http => "http",
        }
    }
}

/// Which items an operator command acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Workflow ids (UUID) or A2 ids (integers), mixed.
    pub keys: Vec<String>,
    /// Only items in this state.
    pub state: Option<WorkflowState>,
    /// Only items of this import batch.
    pub batch: Option<String>,
    /// Only Failed and Rejected items (or those in `state`) with this reason key (exactly; see
    /// [`Store::resolve_reason`]).
    pub reason: Option<String>,
}

impl Selector {
    fn condition(&self) -> Result<Condition, StoreError> {
        let mut cond = Condition::all();
        if !self.keys.is_empty() {
            let mut ids = Vec::new();
            let mut a2 = Vec::new();
            for k in &self.keys {
                if let Ok(id) = Uuid::parse_str(k) {
                    ids.push(id);
                } else if let Ok(n) = k.parse::<i64>() {
                    a2.push(n);
                } else {
                    return Err(StoreError::Invalid(format!(
                        "`{k}` is neither a workflow id (UUID) nor an A2 id (integer)"
                    )));
                }
            }
            cond = cond.add(
                Condition::any().add(workflow::Column::Id.is_in(ids)).add(workflow::Column::A2Id.is_in(a2)),
            );
        }
        if let Some(s) = self.state {
            cond = cond.add(workflow::Column::State.eq(s));
        }
        if let Some(b) = &self.batch {
            cond = cond.add(workflow::Column::Batch.eq(b.clone()));
        }
        if let Some(r) = &self.reason {
            cond = cond.add(workflow::Column::Reason.eq(r.clone()));
            if self.state.is_none() {
                cond = cond.add(workflow::Column::State.is_in(WorkflowState::PARKED_BY_FAILURE));
            }
        }
        Ok(cond)
    }

    /// True when nothing narrows the selection.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.state.is_none() && self.batch.is_none() && self.reason.is_none()
    }
}

/// Counts by state, overall and per import batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// All items.
    pub total: u64,
    /// Items per state.
    pub by_state: BTreeMap<WorkflowState, u64>,
    /// Items per import batch, per state.
    pub by_batch: BTreeMap<String, BTreeMap<WorkflowState, u64>>,
    /// Items leased right now.
    pub leased: u64,
    /// Nodes the database stopped (it failed the same way again and again, or reported itself
    /// damaged) that no healthy node has beaten after, newest first: while there are any, the
    /// database needs fixing, and `status` exits 1.
    pub stopped_by_database: Vec<schema::entity::node::Model>,
}

/// An item that is not moving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StuckItem {
    /// The item.
    #[serde(flatten)]
    pub item: workflow::Model,
    /// Why it is listed: `lease expired`, `not moved` or `failed`.
    pub reason: String,
}

/// One item and its full history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowItem {
    /// The item.
    pub item: workflow::Model,
    /// Every transition, oldest first.
    pub history: Vec<workflow_history::Model>,
}

/// An item an operator action left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Workflow id.
    pub id: Uuid,
    /// A2 id.
    pub a2_id: i64,
    /// Its state.
    pub state: WorkflowState,
    /// Why.
    pub reason: String,
}

/// What an operator action did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperateReport {
    /// Items changed.
    pub changed: u64,
    /// Items not changed, with the reason (not allowed in their state, or moved meanwhile).
    pub skipped: Vec<Skipped>,
    /// Keys that matched no item.
    pub not_found: Vec<String>,
}

impl Store {
    /// Counts by state and import batch, from the counters the writes keep (see `counts`), and
    /// the leased items, counted on the partial lease index (as many rows as are leased).
    pub async fn status(&self) -> Result<StatusReport, StoreError> {
        let mut report = StatusReport::default();
        for (batch, state, n) in self.batch_state_counts().await? {
            report.total += n;
            *report.by_state.entry(state).or_default() += n;
            *report.by_batch.entry(batch).or_default().entry(state).or_default() += n;
        }
        report.leased = self.leased_count().await?;
        report.stopped_by_database = self.unresolved_node_failures().await?;
        Ok(report)
    }

    /// Items whose lease expired, or that sat in a non-final state without moving for
    /// `older_than_ms`, and then Failed items (they wait for an operator), up to `limit` in all.
    pub async fn stuck(&self, older_than_ms: i64, limit: u64) -> Result<Vec<StuckItem>, StoreError> {
        let now = self.clock().now_ms();
        let rows = workflow::Entity::find()
            .filter(stalled(now, older_than_ms))
            .order_by_asc(workflow::Column::UpdatedAt)
            .limit(limit)
            .all(self.db())
            .await?;
        let mut out: Vec<StuckItem> = rows
            .into_iter()
            .map(|item| {
                let reason = match item.lease_until {
                    Some(until) if until < now => "lease expired".to_string(),
                    _ => "not moved".to_string(),
                };
                StuckItem { item, reason }
            })
            .collect();
        let room = limit.saturating_sub(out.len() as u64);
        if room > 0 {
            // Parked items hold no lease, so none of them is in the list already.
            let failed = workflow::Entity::find()
                .filter(workflow::Column::State.eq(WorkflowState::Failed))
                .order_by_asc(workflow::Column::UpdatedAt)
                .limit(room)
                .all(self.db())
                .await?;
            out.extend(failed.into_iter().map(|item| StuckItem { item, reason: "failed".into() }));
        }
        Ok(out)
    }

    /// How many items `stuck` would list without a limit: (stalled or with an expired lease,
    /// Failed).
    pub async fn count_stuck(&self, older_than_ms: i64) -> Result<(u64, u64), StoreError> {
        let now = self.clock().now_ms();
        let stalled = workflow::Entity::find().filter(stalled(now, older_than_ms)).count(self.db()).await?;
        let failed = workflow::Entity::find()
            .filter(workflow::Column::State.eq(WorkflowState::Failed))
            .count(self.db())
            .await?;
        Ok((stalled, failed))
    }

    /// One item by workflow id or A2 id, with its history.
    pub async fn show(&self, key: &str) -> Result<Option<ShowItem>, StoreError> {
        let sel = Selector { keys: vec![key.to_string()], ..Selector::default() };
        let Some(item) = workflow::Entity::find().filter(sel.condition()?).one(self.db()).await? else {
            return Ok(None);
        };
        let history = workflow_history::Entity::find()
            .filter(workflow_history::Column::WorkflowId.eq(item.id))
            .order_by_asc(workflow_history::Column::Id)
            .all(self.db())
            .await?;
        Ok(Some(ShowItem { item, history }))
    }

    /// Applies an operator event (`OperatorRetry` or `OperatorCancel`) to every selected item,
    /// through the state machine, in pages; each history row says the action and its origin.
    pub async fn operate(
        &self,
        selector: &Selector,
        event: Event,
        origin: Origin,
    ) -> Result<OperateReport, StoreError> {
        let operator = format!("{} via {}", event.name().trim_start_matches("operator_"), origin.as_str());
        if selector.is_empty() {
            return Err(StoreError::Invalid("refusing to act on every item: give ids or a filter".into()));
        }
        let cond = selector.condition()?;
        let mut report = OperateReport::default();
        let mut seen_a2 = Vec::new();
        let mut seen_ids = Vec::new();
        let mut after: Option<Uuid> = None;
        loop {
            let mut q =
                workflow::Entity::find().filter(cond.clone()).order_by_asc(workflow::Column::Id).limit(1000);
            if let Some(last) = after {
                q = q.filter(workflow::Column::Id.gt(last));
            }
            let page = q.all(self.db()).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut batch = Vec::new();
            for item in &page {
                seen_a2.push(item.a2_id.to_string());
                seen_ids.push(item.id.to_string());
                let facts = Facts::new(item.state, item.attempt, item.resume_state, self.policy());
                match decide(facts, &event) {
                    Ok(transition) => batch.push(Applied {
                        operator: Some(operator.clone()),
                        ..Applied::plain(WorkflowId(item.id), A2Id(item.a2_id), transition)
                    }),
                    Err(e @ (TransitionError::NotAllowed { .. } | TransitionError::Unchanged { .. })) => {
                        report.skipped.push(Skipped {
                            id: item.id,
                            a2_id: item.a2_id,
                            state: item.state,
                            reason: e.to_string(),
                        })
                    }
                }
            }
            let applied = self.apply(&batch, Fence::State, None).await?;
            report.changed += applied.committed.len() as u64;
            for id in applied.lost {
                if let Some(item) = page.iter().find(|i| i.id == id.get()) {
                    report.skipped.push(Skipped {
                        id: id.get(),
                        a2_id: item.a2_id,
                        state: item.state,
                        reason: "changed state while the command ran; run it again".into(),
                    });
                }
            }
        }
        report.not_found = selector
            .keys
            .iter()
            .filter(|k| {
                let by_id = Uuid::parse_str(k).is_ok_and(|u| seen_ids.contains(&u.to_string()));
                let by_a2 = k.trim().parse::<i64>().is_ok_and(|n| seen_a2.contains(&n.to_string()));
                !by_id && !by_a2
            })
            .cloned()
            .collect();
        Ok(report)
    }
}

/// Items whose lease expired, or that sat in a runnable state without moving for
/// `older_than_ms` (what `stuck` lists before the Failed ones).
pub(super) fn stalled(now: i64, older_than_ms: i64) -> Condition {
    Condition::any().add(workflow::Column::LeaseUntil.lt(now)).add(
        Condition::all()
            .add(workflow::Column::State.is_in(WorkflowState::RUNNABLE))
            .add(workflow::Column::UpdatedAt.lt(now - older_than_ms)),
    )
}
