//! Which items a phase covers (A2 creation range, service owners, resources) and in which order
//! its claims take them, as SQL over the `workflows` row's copies of those record fields.

use super::Sql;
use super::Store;
use super::StoreError;
use super::count;
use schema::WorkflowState;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A phase's items. Empty lists and open ends mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// A2 created at or after this (epoch ms).
    pub created_from: Option<i64>,
    /// A2 created before this (epoch ms).
    pub created_to: Option<i64>,
    /// Only these service owners.
    pub service_owners: Vec<String>,
    /// Only these resource ids.
    pub resources: Vec<String>,
}

/// The order a claim takes due items in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimOrder {
    /// By due time (retries and new items interleave fairly).
    #[default]
    Due,
    /// Newest A2 creation first (how "make available" ran: recent mail reaches inboxes first).
    NewestFirst,
    /// Oldest A2 creation first.
    OldestFirst,
}

impl std::fmt::Display for ClaimOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClaimOrder::Due => "due",
            ClaimOrder::NewestFirst => "newest-first",
            ClaimOrder::OldestFirst => "oldest-first",
        })
    }
}

impl ClaimOrder {
    /// The SQL sort and the index that serves it (SQLite is told which, with `INDEXED BY`).
    pub(crate) fn sql(self) -> (&'static str, &'static str) {
        match self {
            ClaimOrder::Due => ("next_run_at", "workflows_claim"),
            ClaimOrder::NewestFirst => ("a2_created DESC", "workflows_created_claim"),
            ClaimOrder::OldestFirst => ("a2_created", "workflows_created_claim"),
        }
    }
}

impl Selection {
    /// Every item.
    pub fn all() -> Self {
        Self::default()
    }

    /// Appends ` AND …` conditions for this selection (nothing for "all").
    pub(crate) fn push_predicate(&self, q: &mut Sql) {
        if let Some(from) = self.created_from {
            q.push(" AND a2_created >= ").param(from, "int8");
        }
        if let Some(to) = self.created_to {
            q.push(" AND a2_created < ").param(to, "int8");
        }
        for (column, values) in [("service_owner", &self.service_owners), ("resource_id", &self.resources)] {
            if values.is_empty() {
                continue;
            }
            q.push(" AND ").push(column).push(" IN (");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.param(v.as_str(), "text");
            }
            q.push(")");
        }
    }
}

impl Store {
    /// Items of `selection` per state (what `plan` shows).
    pub async fn count_selected(
        &self,
        selection: &Selection,
    ) -> Result<BTreeMap<WorkflowState, u64>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT state, COUNT(*) AS n FROM workflows WHERE 1 = 1");
        selection.push_predicate(&mut q);
        q.push(" GROUP BY state");
        let mut out = BTreeMap::new();
        for row in self.db().query_all_raw(q.build()).await? {
            let state: String = row.try_get("", "state")?;
            let n: i64 = row.try_get("", "n")?;
            let state = state.parse()?;
            out.insert(state, count(n));
        }
        Ok(out)
    }

    /// Items of `selection` in any of `states`, whenever due (a phase is done when this is zero).
    pub async fn count_waiting(
        &self,
        selection: &Selection,
        states: &[WorkflowState],
    ) -> Result<u64, StoreError> {
        if states.is_empty() {
            return Ok(0);
        }
        let mut q = Sql::new(self.backend());
        q.push("SELECT COUNT(*) AS n FROM workflows WHERE state IN ").push(&WorkflowState::sql_list(states));
        selection.push_predicate(&mut q);
        let row = self.db().query_one_raw(q.build()).await?;
        Ok(count(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0)))
    }
}
