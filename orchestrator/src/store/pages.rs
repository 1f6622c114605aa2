//! Lists an operator pages through (the HTTP API and the dashboard): items by filter, stalled
//! items, schedule runs and nodes. Every list is paged by keyset (the last row's sort key comes
//! back as the cursor for the next page), never by OFFSET: page 1,000 of 10M items costs what
//! page 1 costs.

use super::ops::stalled;
use super::schedule_runs::RunRecord;
use super::{Store, StoreError};
use schema::WorkflowState;
use schema::entity::{node, schedule_run, workflow};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

/// Most rows one page may hold.
pub const MAX_PAGE: u64 = 500;

/// Which items a list shows; empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only this state.
    pub state: Option<WorkflowState>,
    /// Only this failure reason key (exactly).
    pub reason: Option<String>,
    /// Only this import batch.
    pub batch: Option<String>,
}

/// One page of a list and the cursor of the next (None on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass back as `after` for the next page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page of up to `limit` rows from `rows` (fetched with one extra to tell whether more
    /// follow), its cursor made from the last row kept.
    fn of(mut rows: Vec<T>, limit: u64, cursor: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more { rows.last().map(cursor) } else { None };
        Page { items: rows, next }
    }
}

/// A page size within 1..=[`MAX_PAGE`].
fn clamp(limit: u64) -> u64 {
    limit.clamp(1, MAX_PAGE)
}

impl Store {
    /// Items matching `filter`, in workflow id order (UUID v7: creation order), after the cursor
    /// `after` (a workflow id).
    pub async fn items_page(
        &self,
        filter: &ItemFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Page<workflow::Model>, StoreError> {
        let limit = clamp(limit);
        let mut q = workflow::Entity::find();
        if let Some(s) = filter.state {
            q = q.filter(workflow::Column::State.eq(s));
        }
        if let Some(r) = &filter.reason {
            q = q.filter(workflow::Column::Reason.eq(r.clone()));
        }
        if let Some(b) = &filter.batch {
            q = q.filter(workflow::Column::Batch.eq(b.clone()));
        }
        if let Some(a) = after {
            q = q.filter(workflow::Column::Id.gt(a));
        }
        let rows = q.order_by_asc(workflow::Column::Id).limit(limit + 1).all(self.db()).await?;
        Ok(Page::of(rows, limit, |w| w.id.to_string()))
    }

    /// Items whose lease expired, or that sat in a runnable state without moving for
    /// `older_than_ms`, longest-unmoved first; the cursor is `<updated_at>:<id>`.
    pub async fn stalled_page(
        &self,
        older_than_ms: i64,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page<workflow::Model>, StoreError> {
        let limit = clamp(limit);
        let now = self.clock().now_ms();
        let mut q = workflow::Entity::find().filter(stalled(now, older_than_ms));
        if let Some(cursor) = after {
            let (at, id) = cursor
                .split_once(':')
                .and_then(|(a, i)| Some((a.parse::<i64>().ok()?, Uuid::parse_str(i).ok()?)))
                .ok_or_else(|| StoreError::Invalid(format!("`{cursor}` is not a cursor of this list")))?;
            q = q.filter(Condition::any().add(workflow::Column::UpdatedAt.gt(at)).add(
                Condition::all().add(workflow::Column::UpdatedAt.eq(at)).add(workflow::Column::Id.gt(id)),
            ));
        }
        let rows = q
            .order_by_asc(workflow::Column::UpdatedAt)
            .order_by_asc(workflow::Column::Id)
            .limit(limit + 1)
            .all(self.db())
            .await?;
        Ok(Page::of(rows, limit, |w| format!("{}:{}", w.updated_at, w.id)))
    }

    /// Schedule runs, newest first, optionally of one schedule, before the cursor `before` (a
    /// run id).
    pub async fn runs_page(
        &self,
        schedule: Option<&str>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Page<RunRecord>, StoreError> {
        let limit = clamp(limit);
        let mut q = schedule_run::Entity::find();
        if let Some(s) = schedule {
            q = q.filter(schedule_run::Column::Schedule.eq(s));
        }
        if let Some(b) = before {
            q = q.filter(schedule_run::Column::Id.lt(b));
        }
        let rows = q.order_by_desc(schedule_run::Column::Id).limit(limit + 1).all(self.db()).await?;
        let rows = rows.into_iter().map(RunRecord::from).collect();
        Ok(Page::of(rows, limit, |r: &RunRecord| r.id.to_string()))
    }

    /// Schedule runs that started at or after `since` (epoch ms), oldest first, at most `limit`:
    /// the dashboard's timeline.
    pub async fn runs_since(&self, since: i64, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        let rows = schedule_run::Entity::find()
            .filter(schedule_run::Column::StartedAt.gte(since))
            .order_by_asc(schedule_run::Column::StartedAt)
            .limit(limit)
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(RunRecord::from).collect())
    }

    /// Nodes that beat within `within_ms`, or are still running by their own word, newest heartbeat
    /// first, at most `limit` (a node row is kept for every process that ever ran).
    pub async fn nodes(&self, within_ms: i64, limit: u64) -> Result<Vec<node::Model>, StoreError> {
        let since = self.clock().now_ms() - within_ms;
        Ok(node::Entity::find()
            .filter(
                Condition::any()
                    .add(node::Column::LastHeartbeat.gte(since))
                    .add(node::Column::StoppedAt.is_null()),
            )
            .order_by_desc(node::Column::LastHeartbeat)
            .limit(limit)
            .all(self.db())
            .await?)
    }
}
