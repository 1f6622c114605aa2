//! TEMPORARY (dashboard branch): per-minute transition counts read from `workflow_history`, so
//! the dashboard's throughput chart compiles before the item counters land on main. The lead
//! replaces this file with the counter-backed `Store::throughput` at merge.

use super::{Sql, Store, StoreError, count};
use sea_orm::ConnectionTrait;

impl Store {
    /// TEMPORARY, to be replaced by the counter-backed version: transitions (history rows with a
    /// `from_state`) per minute since `since_ms`, as (minute start in epoch ms, count), oldest
    /// first; minutes without any are left out.
    pub async fn throughput(&self, since_ms: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT (at / 60000) * 60000 AS minute, COUNT(*) AS n FROM workflow_history WHERE at >= ")
            .param(since_ms, "int8")
            .push(" AND from_state IS NOT NULL GROUP BY (at / 60000) * 60000 ORDER BY minute");
        let rows = self.db().query_all_raw(q.build()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.try_get::<i64>("", "minute")?, count(r.try_get::<i64>("", "n")?)));
        }
        Ok(out)
    }
}
