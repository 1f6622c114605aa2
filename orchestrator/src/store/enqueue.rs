//! Enqueueing: new items in CreatedInA2, each with its first history row, in one transaction per
//! chunk, which also adds them to the item counters. Known A2 ids are left as they are (and not
//! counted), so re-importing a file is harmless.

use super::StoreError;
use super::counts::Tally;
use super::history::{HistoryRow, insert_history};
use super::{CHUNK, Sql, Store};
use schema::WorkflowId;
use schema::WorkflowState;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

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

impl Store {
    /// Enqueues items in CreatedInA2, due now. Known A2 ids are left as they are.
    /// Returns how many were new.
    pub async fn insert_items(&self, items: &[NewItem]) -> Result<usize, StoreError> {
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
                    (WorkflowId::new().into(), "uuid"),
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
            // Only the rows actually inserted come back: those are what the counters get.
            q.push(" ON CONFLICT (a2_id) DO NOTHING RETURNING id, batch");
            let rows = txn.query_all_raw(q.build()).await?;
            let mut tally = Tally::default();
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                ids.push(WorkflowId(r.try_get::<Uuid>("", "id")?));
                tally.enqueued(r.try_get("", "batch")?);
            }
            let history: Vec<HistoryRow> = ids
                .iter()
                .map(|id| HistoryRow {
                    workflow_id: *id,
                    from: None,
                    to: WorkflowState::CreatedInA2,
                    attempt: 0,
                    node: None,
                    error: None,
                    operator: None,
                })
                .collect();
            insert_history(&txn, self.backend(), &history, now).await?;
            tally.write(&txn, self.backend(), self.slot, now).await?;
            txn.commit().await?;
            tally.record();
            inserted += ids.len();
        }
        if inserted > 0 {
            self.announce_work().await;
        }
        Ok(inserted)
    }
}
