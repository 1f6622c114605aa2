//! Failed and Rejected items grouped by reason (`migrator failures`, `run --once`'s summary, the
//! daemon's warnings): one `GROUP BY` over the `reason` column the store writes with every error
//! (see `schema::reason`), so the groups and counts are the database's own.

use super::Sql;
use super::Store;
use super::StoreError;
use super::count;
use super::selection::Selection;
use schema::WorkflowState;
use schema::reason::Reason;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use std::collections::BTreeMap;

/// Sample A2 ids per group.
const SAMPLES: i64 = 3;

/// The items that failed one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    /// The reason key (`step | endpoint | status | message`): what `retry --reason` takes.
    pub reason: String,
    /// Failed or Rejected.
    pub state: WorkflowState,
    /// The step that failed.
    pub step: String,
    /// The A3 endpoint, if the error names one.
    pub endpoint: Option<String>,
    /// The HTTP status, if A3 answered.
    pub status: Option<u16>,
    /// The error's first line, ids replaced by placeholders.
    pub message: String,
    /// Items in the group.
    pub count: u64,
    /// Epoch ms when the group's earliest item failed.
    pub first_seen: i64,
    /// Epoch ms when its latest item failed.
    pub last_seen: i64,
    /// A few A2 ids of the group, the latest first.
    pub sample_a2_ids: Vec<i64>,
}

/// Failure groups, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// Failed and Rejected items counted (since the given time, if any).
    pub items: u64,
    /// Groups in all.
    pub total_groups: u64,
    /// The largest groups (all of them unless a limit was given), by count, then reason.
    pub groups: Vec<FailureGroup>,
}

/// What a `--reason` text matched among the current failure groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReasonMatch {
    /// A group's key, exactly.
    Exact(String),
    /// Part of exactly one group's key (case aside).
    Unique(String),
    /// Part of several keys: the operator has to say which.
    Ambiguous(Vec<String>),
    /// No group.
    NoMatch,
}

impl Store {
    /// Failed and Rejected items of `within` grouped by (reason, state), largest group first; only
    /// items that failed at or after `since` (epoch ms) if given. Sample A2 ids are looked up for
    /// the first `limit` groups, which are the ones returned (all when None).
    pub async fn failures(
        &self,
        within: &Selection,
        since: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Failures, StoreError> {
        let mut out = self.failure_groups(within, since, limit).await?;
        for g in &mut out.groups {
            g.sample_a2_ids = self.samples(within, g, since).await?;
        }
        Ok(out)
    }

    /// [`Store::failures`] without the sample A2 ids: one grouping query (what a watcher that
    /// polls needs; it asks [`Store::failure_samples`] only for the groups it reports).
    pub async fn failure_groups(
        &self,
        within: &Selection,
        since: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Failures, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push(
            "SELECT reason, state, COUNT(*) AS n, MIN(updated_at) AS first_seen, MAX(updated_at) AS last_seen \
             FROM workflows WHERE state IN ",
        )
        .push(&parked_list());
        if let Some(since) = since {
            q.push(" AND updated_at >= ").param(since, "int8");
        }
        within.push_predicate(&mut q);
        q.push(" GROUP BY reason, state ORDER BY n DESC, reason, state");
        let rows = self.db().query_all_raw(q.build()).await?;
        let mut out = Failures { total_groups: rows.len() as u64, ..Failures::default() };
        for (i, r) in rows.iter().enumerate() {
            let n = count(r.try_get::<i64>("", "n")?);
            out.items += n;
            if limit.is_some_and(|l| i >= l) {
                continue;
            }
            let key: Option<String> = r.try_get("", "reason")?;
            let state: String = r.try_get("", "state")?;
            let state: WorkflowState = state.parse()?;
            let parts = key.as_deref().and_then(Reason::parse_key).unwrap_or_else(|| Reason {
                step: "-".into(),
                endpoint: None,
                status: None,
                message: key.clone().unwrap_or_else(|| "(no reason recorded)".into()),
            });
            out.groups.push(FailureGroup {
                reason: key.unwrap_or_default(),
                state,
                step: parts.step,
                endpoint: parts.endpoint,
                status: parts.status,
                message: parts.message,
                count: n,
                first_seen: r.try_get("", "first_seen")?,
                last_seen: r.try_get("", "last_seen")?,
                sample_a2_ids: Vec::new(),
            });
        }
        Ok(out)
    }

    /// A few A2 ids of `group` (from [`Store::failure_groups`]), the latest first.
    pub async fn failure_samples(&self, group: &FailureGroup) -> Result<Vec<i64>, StoreError> {
        self.samples(&Selection::all(), group, None).await
    }

    /// A few A2 ids of `group` within `within`, failed since `since`, the latest first.
    async fn samples(
        &self,
        within: &Selection,
        group: &FailureGroup,
        since: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        // Items without a recorded reason form the group whose key is "".
        let reason = Some(group.reason.as_str()).filter(|r| !r.is_empty());
        let state = group.state;
        let mut q = Sql::new(self.backend());
        // The state as a literal, so the planner can use the partial index on failed items.
        q.push("SELECT a2_id FROM workflows WHERE state IN ")
            .push(&parked_list())
            .push(&format!(" AND state = '{}'", state.as_str()));
        match reason {
            Some(r) => q.push(" AND reason = ").param(r, "text"),
            None => q.push(" AND reason IS NULL"),
        };
        if let Some(since) = since {
            q.push(" AND updated_at >= ").param(since, "int8");
        }
        within.push_predicate(&mut q);
        q.push(" ORDER BY updated_at DESC LIMIT ").param(SAMPLES, "int8");
        Ok(self
            .db()
            .query_all_raw(q.build())
            .await?
            .iter()
            .map(|r| r.try_get::<i64>("", "a2_id"))
            .collect::<Result<_, _>>()?)
    }

    /// Failed and Rejected items of `within`, by state; only those that failed at or after `since`
    /// if given.
    pub async fn failure_counts(
        &self,
        within: &Selection,
        since: Option<i64>,
    ) -> Result<BTreeMap<WorkflowState, u64>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT state, COUNT(*) AS n FROM workflows WHERE state IN ").push(&parked_list());
        if let Some(since) = since {
            q.push(" AND updated_at >= ").param(since, "int8");
        }
        within.push_predicate(&mut q);
        q.push(" GROUP BY state");
        let mut out: BTreeMap<WorkflowState, u64> =
            WorkflowState::PARKED_BY_FAILURE.iter().map(|s| (*s, 0)).collect();
        for r in self.db().query_all_raw(q.build()).await? {
            let state: String = r.try_get("", "state")?;
            if let Ok(s) = state.parse() {
                out.insert(s, count(r.try_get::<i64>("", "n")?));
            }
        }
        Ok(out)
    }

    /// The failure group a `--reason` text means: a key exactly, else the one key that contains
    /// it (case aside).
    pub async fn resolve_reason(&self, text: &str) -> Result<ReasonMatch, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT DISTINCT reason FROM workflows WHERE state IN ")
            .push(&parked_list())
            .push(" AND reason IS NOT NULL");
        let keys: Vec<String> = self
            .db()
            .query_all_raw(q.build())
            .await?
            .iter()
            .map(|r| r.try_get::<String>("", "reason"))
            .collect::<Result<_, _>>()?;
        if keys.iter().any(|k| k == text) {
            return Ok(ReasonMatch::Exact(text.to_string()));
        }
        let wanted = text.trim().to_lowercase();
        let mut hits: Vec<String> =
            keys.into_iter().filter(|k| !wanted.is_empty() && k.to_lowercase().contains(&wanted)).collect();
        hits.sort();
        Ok(match hits.len() {
            0 => ReasonMatch::NoMatch,
            1 => ReasonMatch::Unique(hits.remove(0)),
            _ => ReasonMatch::Ambiguous(hits),
        })
    }
}

fn parked_list() -> String {
    WorkflowState::sql_list(&WorkflowState::PARKED_BY_FAILURE)
}
