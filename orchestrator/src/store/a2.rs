//! A2 input in the store: records and events in, the inputs a step needs out, and events marked
//! synced once A3 holds them.

use super::StoreError;
use super::intake::{EventRow, RecordRow};
use super::sql::Sql;
use super::{Applied, CHUNK, Fence, Store};
use crate::state_machine::{Event, Facts, decide};
use schema::WorkflowState;
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use workers::a2::{A2Correspondence, A2EventBody};
use workers::{Inputs, PendingEvent, WorkItem};

/// A record to import, with the import batch its workflow is labelled with.
#[derive(Debug, Clone)]
pub struct RecordInput {
    /// The record.
    pub record: A2Correspondence,
    /// Import batch label for a new workflow.
    pub batch: String,
}

/// What an import of records did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Records written: new, or a changed payload of an item not yet migrated (an unchanged
    /// record is not rewritten).
    pub records_written: u64,
    /// New workflows.
    pub workflows_created: u64,
    /// Events stored (and which were duplicates of stored ones).
    pub events: AddEventsReport,
}

/// What adding events did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AddEventsReport {
    /// New events stored.
    pub inserted: u64,
    /// Events equal (to the second) to stored ones: dropped.
    pub duplicates: u64,
    /// Synced items that became SyncPending.
    pub made_pending: u64,
}

impl Store {
    /// Imports records: stores each (a known one's payload is replaced only while it has not been
    /// migrated), stores its histories as events, and creates workflows for new A2 ids. One
    /// transaction per run of inputs with the same batch label (see [`Store::intake`]).
    pub async fn import_records(&self, inputs: &[RecordInput]) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        for group in inputs.chunk_by(|a, b| a.batch == b.batch) {
            let mut intake = self.intake(&group[0].batch).await?;
            for inp in group {
                let (row, events) = RecordRow::split(inp.record.clone())?;
                intake.record(row, events).await?;
            }
            let r = intake.commit().await?;
            report.records_written += r.records_written;
            report.workflows_created += r.workflows_created;
            report.events.inserted += r.events_inserted;
            report.events.duplicates += r.events_duplicate;
            report.events.made_pending += r.made_pending;
        }
        Ok(report)
    }

    /// Stores events (an event equal to a stored one, to the second, is dropped), and makes
    /// Synced items with new events SyncPending. Events for unknown A2 ids are kept until the
    /// item arrives.
    pub async fn add_events(&self, events: &[(i64, A2EventBody)]) -> Result<AddEventsReport, StoreError> {
        let mut intake = self.intake("").await?;
        for (a2_id, body) in events {
            intake.event(EventRow::new(*a2_id, body)?).await?;
        }
        let r = intake.commit().await?;
        Ok(AddEventsReport {
            inserted: r.events_inserted,
            duplicates: r.events_duplicate,
            made_pending: r.made_pending,
        })
    }

    /// Applies "a new A2 event arrived" to the Synced items among `a2_ids`.
    pub(super) async fn mark_pending(&self, a2_ids: &HashSet<i64>) -> Result<u64, StoreError> {
        let mut made = 0;
        let ids: Vec<i64> = a2_ids.iter().copied().collect();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("SELECT id, a2_id FROM workflows WHERE state = ")
                .param(WorkflowState::Synced.as_str(), "text")
                .push(" AND a2_id IN ");
            q.list(chunk, "int8");
            // PostgreSQL: wait for a writer that is moving one of these items to Synced right now
            // and see its result, so an event arriving in that moment is not left behind.
            if self.backend() == sea_orm::DbBackend::Postgres {
                q.push(" FOR UPDATE");
            }
            let rows = self.db().query_all_raw(q.build()).await?;
            let mut batch = Vec::new();
            for r in rows {
                let facts = Facts::new(WorkflowState::Synced, 0, None, self.policy());
                if let Ok(t) = decide(facts, &Event::NewA2Event) {
                    batch.push(Applied::plain(r.try_get("", "id")?, r.try_get("", "a2_id")?, t));
                }
            }
            made += self.apply(&batch, Fence::State, None).await?.committed.len() as u64;
        }
        Ok(made)
    }

    /// Marks events as accepted by A3.
    pub(super) async fn mark_synced(
        &self,
        conn: &impl ConnectionTrait,
        ids: &[i64],
        now: i64,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE a2_events SET synced_at = ").param(now, "int8").push(" WHERE id IN ");
            q.list(chunk, "int8").push(" AND synced_at IS NULL");
            conn.execute_raw(q.build()).await?;
        }
        Ok(())
    }

    /// The A2 ids among `a2_ids` that have events not yet synced.
    pub(super) async fn with_pending_events(
        &self,
        conn: &impl ConnectionTrait,
        a2_ids: impl Iterator<Item = i64>,
    ) -> Result<HashSet<i64>, StoreError> {
        let ids: Vec<i64> = a2_ids.collect();
        let mut out = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("SELECT DISTINCT a2_id FROM a2_events WHERE synced_at IS NULL AND a2_id IN ");
            q.list(chunk, "int8");
            for r in conn.query_all_raw(q.build()).await? {
                out.insert(r.try_get::<i64>("", "a2_id")?);
            }
        }
        Ok(out)
    }

    /// Loads what the step needs into claimed items: their A2 records and pending events.
    pub async fn load_inputs(&self, items: &mut [WorkItem], inputs: Inputs) -> Result<(), StoreError> {
        if items.is_empty() || inputs == Inputs::default() {
            return Ok(());
        }
        let ids: Vec<i64> = items.iter().map(|i| i.a2_id.get()).collect();
        if inputs.record {
            let mut rows = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(CHUNK) {
                let mut q = Sql::new(self.backend());
                q.push("SELECT a2_id, payload, packed FROM a2_records WHERE a2_id IN ").list(chunk, "int8");
                rows.extend(self.db().query_all_raw(q.build()).await?);
            }
            let mut records: HashMap<i64, Arc<A2Correspondence>> = HashMap::new();
            let mut broken_records: HashMap<i64, String> = HashMap::new();
            for r in rows {
                let a2_id: i64 = r.try_get("", "a2_id")?;
                match stored_json(&r)?.and_then(|json| {
                    serde_json::from_str::<A2Correspondence>(&json).map_err(|e| e.to_string())
                }) {
                    Ok(rec) => {
                        records.insert(a2_id, Arc::new(rec));
                    }
                    Err(e) => {
                        broken_records.insert(a2_id, format!("stored A2 record is unreadable: {e}"));
                    }
                }
            }
            for item in items.iter_mut() {
                item.record = records.get(&item.a2_id.get()).cloned();
                item.input_errors.extend(broken_records.remove(&item.a2_id.get()));
            }
        }
        if inputs.events {
            let mut rows = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let mut q = Sql::new(self.backend());
                q.push(
                    "SELECT id, a2_id, payload, packed FROM a2_events WHERE synced_at IS NULL AND a2_id IN ",
                )
                .list(chunk, "int8")
                .push(" ORDER BY occurred_at, id");
                rows.extend(self.db().query_all_raw(q.build()).await?);
            }
            let mut events: HashMap<i64, Vec<PendingEvent>> = HashMap::new();
            let mut broken: HashMap<i64, Vec<String>> = HashMap::new();
            for r in rows {
                let a2_id: i64 = r.try_get("", "a2_id")?;
                match stored_json(&r)?
                    .and_then(|json| serde_json::from_str::<A2EventBody>(&json).map_err(|e| e.to_string()))
                {
                    Ok(body) => {
                        events.entry(a2_id).or_default().push(PendingEvent { id: r.try_get("", "id")?, body })
                    }
                    Err(e) => {
                        broken.entry(a2_id).or_default().push(format!("a stored A2 event is unreadable: {e}"))
                    }
                }
            }
            for item in items.iter_mut() {
                item.events = events.remove(&item.a2_id.get()).unwrap_or_default();
                item.input_errors.extend(broken.remove(&item.a2_id.get()).unwrap_or_default());
            }
        }
        Ok(())
    }
}

/// The JSON of a row of `a2_records` or `a2_events` (its `payload` and `packed` columns); the
/// inner `Err` says why a damaged value cannot be read.
fn stored_json(row: &QueryResult) -> Result<Result<String, String>, sea_orm::DbErr> {
    let payload: String = row.try_get("", "payload")?;
    let packed: Option<Vec<u8>> = row.try_get("", "packed")?;
    Ok(schema::packed::json_of(payload, packed.as_deref()))
}
