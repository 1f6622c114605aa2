//! `schedule_runs`: claiming a firing (the unique `(schedule, fire_time)` insert), finishing it,
//! and reading runs back for `migrator runs` and for `plan`'s measured throughput.

use super::StoreError;
use super::{Sql, Store};
use schema::NodeId;
use schema::entity::{node, schedule_run};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

/// A run as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Row id.
    pub id: i64,
    /// Schedule name.
    pub schedule: String,
    /// Planned fire time (epoch ms).
    pub fire_time: i64,
    /// Node that ran it.
    pub node: Uuid,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms; None while running.
    pub finished_at: Option<i64>,
    /// `ok`, `error: …`, `skipped: …`, `abandoned: …`.
    pub outcome: Option<String>,
    /// What the action counted.
    pub counts: Option<serde_json::Value>,
}

impl From<schedule_run::Model> for RunRecord {
    fn from(m: schedule_run::Model) -> Self {
        RunRecord {
            id: m.id,
            schedule: m.schedule,
            fire_time: m.fire_time,
            node: m.node,
            started_at: m.started_at,
            finished_at: m.finished_at,
            outcome: m.outcome,
            counts: m.counts.and_then(|c| serde_json::from_str(&c).ok()),
        }
    }
}

impl Store {
    /// Inserts the run row for `(schedule, fire_time)` unless it exists. Returns its id when this
    /// call inserted it (this node owns the firing). `finished` closes it at once (a skip).
    pub async fn claim_firing(
        &self,
        schedule: &str,
        fire_time: i64,
        node: NodeId,
        finished: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.clock().now_ms();
        let mut q = Sql::new(self.backend());
        q.push(
            "INSERT INTO schedule_runs (schedule, fire_time, node, started_at, finished_at, outcome) VALUES ",
        );
        q.row(vec![
            (schedule.into(), "text"),
            (fire_time.into(), "int8"),
            (node.into(), "uuid"),
            (now.into(), "int8"),
            (finished.map(|_| now).into(), "int8"),
            (finished.map(str::to_string).into(), "text"),
        ]);
        q.push(" ON CONFLICT (schedule, fire_time) DO NOTHING RETURNING id");
        let row = self.db().query_one_raw(q.build()).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "id")).transpose()?)
    }

    /// Closes a run with its outcome and counts.
    pub async fn finish_firing(
        &self,
        id: i64,
        outcome: &str,
        counts: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE schedule_runs SET finished_at = ")
            .param(self.clock().now_ms(), "int8")
            .push(", outcome = ")
            .param(outcome, "text")
            .push(", counts = ")
            .param(counts.to_string(), "text")
            .push(" WHERE id = ")
            .param(id, "int8");
        self.db().execute_raw(q.build()).await?;
        Ok(())
    }

    /// The latest fire time recorded for `schedule`.
    pub async fn last_fire(&self, schedule: &str) -> Result<Option<i64>, StoreError> {
        let last = schedule_run::Entity::find()
            .filter(schedule_run::Column::Schedule.eq(schedule))
            .order_by_desc(schedule_run::Column::FireTime)
            .limit(1)
            .one(self.db())
            .await?;
        Ok(last.map(|r| r.fire_time))
    }

    /// Unfinished runs of `schedule`.
    pub async fn running_firings(&self, schedule: &str) -> Result<Vec<schedule_run::Model>, StoreError> {
        Ok(schedule_run::Entity::find()
            .filter(schedule_run::Column::Schedule.eq(schedule))
            .filter(schedule_run::Column::FinishedAt.is_null())
            .all(self.db())
            .await?)
    }

    /// Closes unfinished runs whose node stopped or has not beaten its heartbeat since
    /// `alive_since` (epoch ms): their work died with the node. Returns how many.
    pub async fn abandon_dead_firings(&self, alive_since: i64, outcome: &str) -> Result<u64, StoreError> {
        let open = schedule_run::Entity::find()
            .filter(schedule_run::Column::FinishedAt.is_null())
            .all(self.db())
            .await?;
        let mut closed = 0;
        for run in open {
            let node = node::Entity::find_by_id(run.node).one(self.db()).await?;
            let dead = match &node {
                None => true,
                Some(n) => n.stopped_at.is_some() || n.last_heartbeat < alive_since,
            };
            if dead {
                self.finish_firing(run.id, outcome, &serde_json::json!({})).await?;
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// The latest runs, newest first, optionally of one schedule.
    pub async fn list_runs(&self, schedule: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        let mut q = schedule_run::Entity::find();
        if let Some(s) = schedule {
            q = q.filter(schedule_run::Column::Schedule.eq(s));
        }
        let rows = q
            .order_by_desc(schedule_run::Column::StartedAt)
            .order_by_desc(schedule_run::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(RunRecord::from).collect())
    }
}
