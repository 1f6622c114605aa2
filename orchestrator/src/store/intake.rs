//! The import's writes: A2 records, the workflows and creation history of new A2 ids, and events,
//! for many lines in one transaction, through bulk statements of a fixed shape.
//!
//! Rows are buffered and written [`SQLITE_ROWS`] records (and their events) at a time: on
//! PostgreSQL as arrays bound to one `UNNEST` statement per table, whatever the row count; on
//! SQLite as multi-row `VALUES` lists. A SQLite statement's text depends on its row count, so a
//! short tail is written in power-of-two pieces: a handful of shapes per table, whose prepared
//! statements stay in the connection's cache. No row comes back per line on a fresh import: the
//! workflow ids are made here (a statement that inserted all its rows needs no RETURNING), and
//! events of items created in this transaction (never Synced) need not be looked at again.
//! The counters (`item_counts`) are written last, in the same transaction; items made
//! sync-pending by new events are moved after the commit, through the engine's `apply`.
//!
//! The statements run on an [`IntakeTxn`] (sqlx's own transaction, so that their values are
//! moved into the driver, not copied), each built while the one before it runs.
//!
//! Semantics are those of one statement per line, in file order: of the same A2 id twice, the
//! later line's record wins; of two events equal by A3's dedup key, the first is kept; an
//! unchanged record writes nothing, and a migrated (or leased) item's record is never replaced.

use super::counts::Tally;
use super::intake_txn::IntakeTxn;
use super::sql::pieces;
use super::{Store, StoreError};
use schema::packed::pack;
use schema::{WorkflowId, WorkflowState};
use sea_orm::sea_query::ArrayType;
use sea_orm::{DbBackend, Statement, Value};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use uuid::Uuid;
use workers::a2::{A2Correspondence, A2EventBody};

/// Rows per statement on SQLite (a multiple of every piece size; 256 × 5 parameters is far under
/// SQLite's limit of 32,766).
const SQLITE_ROWS: usize = 256;

/// Rows per statement on PostgreSQL (arrays: one round trip, one statement text).
const POSTGRES_ROWS: usize = 2000;

/// A record as stored: its JSON (the record without its histories, which are stored as events),
/// packed, and the columns phases select by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// `Altinn2CorrespondenceId`.
    pub a2_id: i64,
    /// The record's JSON, histories left out, [packed](schema::packed).
    pub packed: Vec<u8>,
    /// Epoch ms of the A2 creation.
    pub created: i64,
    /// Service owner.
    pub service_owner: String,
    /// Resource id.
    pub resource_id: String,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The correspondence it belongs to.
    pub a2_id: i64,
    /// `status`, `notification` or `forwarding`.
    pub kind: &'static str,
    /// A3's dedup key (events equal by it are one event).
    pub dedup_key: String,
    /// The event's JSON, [packed](schema::packed).
    pub packed: Vec<u8>,
    /// Epoch ms it happened.
    pub occurred: i64,
}

impl RecordRow {
    /// The row of `record` and its histories as event rows, in the order
    /// [`A2Correspondence::events`] gives them. Takes the record, so nothing is copied.
    pub fn split(mut record: A2Correspondence) -> Result<(Self, Vec<EventRow>), StoreError> {
        let a2_id = record.altinn2_correspondence_id;
        let status = std::mem::take(&mut record.status_history);
        let notifications = std::mem::take(&mut record.notification_history);
        let forwardings = std::mem::take(&mut record.forwarding_history);
        // The histories live in `a2_events` (one row per event, deduplicated); storing them in
        // the payload too would double the bytes written per record.
        let json = serde_json::to_string(&record).map_err(|e| StoreError::Data(e.to_string()))?;
        let packed = pack(&json).map_err(StoreError::Data)?;
        let mut events = Vec::with_capacity(status.len() + notifications.len() + forwardings.len());
        for body in status
            .into_iter()
            .map(A2EventBody::Status)
            .chain(notifications.into_iter().map(A2EventBody::Notification))
            .chain(forwardings.into_iter().map(A2EventBody::Forwarding))
        {
            events.push(EventRow::new(a2_id, &body)?);
        }
        let row = Self {
            a2_id,
            packed,
            created: record.created.timestamp_millis(),
            service_owner: record.service_owner,
            resource_id: record.resource_id,
        };
        Ok((row, events))
    }
}

impl EventRow {
    /// The row of event `body` of `a2_id`.
    pub fn new(a2_id: i64, body: &A2EventBody) -> Result<Self, StoreError> {
        Ok(Self {
            a2_id,
            kind: body.kind(),
            dedup_key: body.dedup_key(),
            packed: pack(&serde_json::to_string(body).map_err(|e| StoreError::Data(e.to_string()))?)
                .map_err(StoreError::Data)?,
            occurred: body.occurred().timestamp_millis(),
        })
    }
}

/// What an intake wrote, once committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeReport {
    /// Records written: new, or a changed payload of an item not yet migrated.
    pub records_written: u64,
    /// New workflows.
    pub workflows_created: u64,
    /// New events stored.
    pub events_inserted: u64,
    /// Events equal (to the second) to stored ones, or to an earlier one of this intake: dropped.
    pub events_duplicate: u64,
    /// Synced items made SyncPending by new events.
    pub made_pending: u64,
}

/// Which bulk statement (the key of the SQLite statement texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Records,
    Workflows,
    History,
    Events,
    EventsReturning,
}

/// One open import transaction. Dropped without [`Intake::commit`], it rolls back.
pub struct Intake<'s> {
    store: &'s Store,
    txn: IntakeTxn,
    batch: String,
    now: i64,
    records: Vec<RecordRow>,
    events: Vec<EventRow>,
    tally: Tally,
    /// A2 ids whose workflow this intake created (they are CreatedInA2, never Synced).
    created: HashSet<i64>,
    /// A2 ids that got a new event.
    touched: HashSet<i64>,
    shapes: Shapes,
    report: IntakeReport,
}

/// Builds the bulk statements, and keeps the texts of SQLite's fixed shapes.
struct Shapes {
    backend: DbBackend,
    /// Rows per statement.
    rows: usize,
    texts: HashMap<(Kind, usize), String>,
}

impl std::fmt::Debug for Intake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").field("batch", &self.batch).field("report", &self.report).finish()
    }
}

impl Store {
    /// Opens an import transaction; new workflows are labelled `batch`. On SQLite it holds the
    /// write lock (and the one connection) until committed or dropped: keep it short.
    pub async fn intake(&self, batch: &str) -> Result<Intake<'_>, StoreError> {
        let backend = self.backend();
        let rows = if backend == DbBackend::Postgres { POSTGRES_ROWS } else { SQLITE_ROWS };
        Ok(Intake {
            store: self,
            txn: IntakeTxn::begin(&self.db).await?,
            batch: batch.to_string(),
            now: self.clock().now_ms(),
            records: Vec::with_capacity(rows),
            events: Vec::with_capacity(rows),
            tally: Tally::default(),
            created: HashSet::new(),
            touched: HashSet::new(),
            shapes: Shapes { backend, rows, texts: HashMap::new() },
            report: IntakeReport::default(),
        })
    }
}

impl Intake<'_> {
    /// Adds a record and its history events.
    pub async fn record(&mut self, row: RecordRow, events: Vec<EventRow>) -> Result<(), StoreError> {
        self.records.push(row);
        self.events.extend(events);
        if self.records.len() >= self.shapes.rows {
            self.flush().await?;
        }
        Ok(())
    }

    /// Adds an event (of a known A2 id or not: events for unknown ids wait for their item).
    pub async fn event(&mut self, row: EventRow) -> Result<(), StoreError> {
        self.events.push(row);
        if self.events.len() >= 4 * self.shapes.rows {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is buffered and the counters, commits, and then makes the Synced items with
    /// new events SyncPending.
    pub async fn commit(mut self) -> Result<IntakeReport, StoreError> {
        self.flush().await?;
        let Self { store, mut txn, shapes, now, tally, created, touched, mut report, .. } = self;
        for statement in tally.statements(shapes.backend, store.slot, now) {
            txn.execute(statement).await?;
        }
        txn.commit().await?;
        tally.record();
        let pending: HashSet<i64> = touched.difference(&created).copied().collect();
        if !pending.is_empty() {
            report.made_pending = store.mark_pending(&pending).await?;
        }
        if report.workflows_created > 0 || report.made_pending > 0 {
            store.announce_work().await;
        }
        Ok(report)
    }

    /// Writes the buffered records, then the buffered events (so that the events' items created
    /// here are known: their events need no RETURNING).
    ///
    /// Each statement is built while the one before it runs: on SQLite the database works on
    /// its own thread, and building on this one meanwhile keeps the two from taking turns.
    async fn flush(&mut self) -> Result<(), StoreError> {
        let mut events = std::mem::replace(&mut self.events, Vec::with_capacity(self.shapes.rows));
        // Near-duplicates inside one statement would conflict with each other: keep the first.
        let before = events.len();
        let keep: Vec<bool> = {
            let mut seen: HashSet<(i64, &str)> = HashSet::with_capacity(events.len());
            events.iter().map(|e| seen.insert((e.a2_id, e.dedup_key.as_str()))).collect()
        };
        let mut keep = keep.into_iter();
        events.retain(|_| keep.next().unwrap_or(true));
        let statements = if self.records.is_empty() {
            self.shapes.events(&mut events, &self.created, self.now)
        } else {
            self.flush_records(&mut events).await?
        };
        let mut inserted = 0;
        for (returning, statement) in statements {
            if returning {
                for a2_id in self.txn.integers(statement).await? {
                    self.touched.insert(a2_id);
                    inserted += 1;
                }
            } else {
                inserted += self.txn.execute(statement).await?;
            }
        }
        self.report.events_duplicate += before as u64 - inserted;
        self.report.events_inserted += inserted;
        Ok(())
    }

    /// Writes the buffered records, their new workflows and those workflows' history; returns
    /// the statements of `events`, built meanwhile.
    async fn flush_records(&mut self, events: &mut [EventRow]) -> Result<Vec<(bool, Statement)>, StoreError> {
        let mut rows = std::mem::replace(&mut self.records, Vec::with_capacity(self.shapes.rows));
        // One statement may not touch a row twice (PostgreSQL refuses): of the same A2 id twice,
        // the later line wins, as it would in two statements.
        if has_duplicates(rows.iter().map(|r| r.a2_id)) {
            let mut last: HashMap<i64, usize> = HashMap::new();
            for (i, r) in rows.iter().enumerate() {
                last.insert(r.a2_id, i);
            }
            let mut i = 0;
            rows.retain(|r| {
                i += 1;
                last[&r.a2_id] == i - 1
            });
        }
        let (shapes, batch, now) = (&mut self.shapes, self.batch.as_str(), self.now);
        let ids: Vec<Uuid> = rows.iter().map(|_| WorkflowId::new().get()).collect();
        let records = shapes.records(&mut rows, now);
        let (written, workflows) =
            self.txn.execute_all_while(records, || shapes.workflows(&mut rows, &ids, batch, now)).await?;
        let written: u64 = written.iter().sum();
        self.report.records_written += written;
        // Built as if every workflow were new, which is so unless a record was imported before.
        let ranges = shapes.ranges(rows.len());
        let (inserted, mut history) =
            self.txn.execute_all_while(workflows, || shapes.history(&mut ids.clone(), now)).await?;
        let mut created = Vec::with_capacity(rows.len());
        for (range, n) in ranges.into_iter().zip(inserted) {
            if n == range.len() as u64 {
                // All new: what a RETURNING would say, without a row sent back per item.
                created.extend(ids[range.clone()].iter().copied().zip(rows[range].iter().map(|r| r.a2_id)));
            } else if n > 0 {
                // Some A2 ids had a workflow: the new ones are those with an id made here.
                let mut q = super::Sql::new(shapes.backend);
                q.push("SELECT id, a2_id FROM workflows WHERE id IN ").list(&ids[range], "uuid");
                created.extend(self.txn.uuid_integer_pairs(q.build()).await?);
            }
        }
        self.report.workflows_created += created.len() as u64;
        if created.len() < ids.len() {
            history = shapes.history(&mut created.iter().map(|(id, _)| *id).collect::<Vec<_>>(), now);
        }
        for (_, a2_id) in &created {
            self.tally.enqueued(self.batch.clone());
            self.created.insert(*a2_id);
        }
        let created_here = &self.created;
        let (_, events) =
            self.txn.execute_all_while(history, || shapes.events(events, created_here, now)).await?;
        // A replaced record may have moved in time, owner or resource: the workflow row's copies
        // of those (what phases select by) follow it. Items created here got them when created;
        // the statement touches only rows that differ, so the others may be given.
        if written > 0 && created.len() < rows.len() {
            let others: Vec<i64> =
                rows.iter().map(|r| r.a2_id).filter(|a2| !self.created.contains(a2)).collect();
            for statement in copy_selection_columns(shapes.backend, &others) {
                self.txn.execute(statement).await?;
            }
        }
        Ok(events)
    }
}

impl Shapes {
    /// Upserts of `rows`; each says how many it wrote (inserted, or replaced because changed).
    fn records(&mut self, rows: &mut [RecordRow], now: i64) -> Vec<Statement> {
        const COLUMNS: &str = "a2_id, packed, created, service_owner, resource_id";
        // A row from before packing (its JSON in `payload`) differs from every packed one: it is
        // replaced, and so packed, while its item is not yet migrated.
        let upsert = "ON CONFLICT (a2_id) DO UPDATE SET packed = excluded.packed, payload = excluded.payload, \
             created = excluded.created, service_owner = excluded.service_owner, resource_id = excluded.resource_id, \
             imported_at = excluded.imported_at \
             WHERE a2_records.packed IS DISTINCT FROM excluded.packed \
             AND NOT EXISTS (SELECT 1 FROM workflows w WHERE w.a2_id = excluded.a2_id \
             AND (w.a3_correspondence_id IS NOT NULL OR w.lease_owner IS NOT NULL))";
        let insert = |source: &str, now: &str| {
            format!(
                "WITH t({COLUMNS}) AS ({source}) INSERT INTO a2_records ({COLUMNS}, payload, imported_at) \
                 SELECT {COLUMNS}, '', {now} FROM t WHERE true {upsert}"
            )
        };
        if self.backend == DbBackend::Postgres {
            let sql = insert(
                "SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::int8[], $4::text[], $5::text[])",
                "$6::int8",
            );
            let values = vec![
                ints(rows.iter().map(|r| r.a2_id)),
                blobs(rows.iter_mut().map(|r| std::mem::take(&mut r.packed))),
                ints(rows.iter().map(|r| r.created)),
                texts(rows.iter().map(|r| r.service_owner.clone())),
                texts(rows.iter().map(|r| r.resource_id.clone())),
                now.into(),
            ];
            vec![Statement::from_sql_and_values(self.backend, sql, values)]
        } else {
            let text = |n| insert(&values_list(n, 5), "?");
            self.sqlite(
                Kind::Records,
                rows,
                5,
                text,
                |r, v| {
                    v.extend([
                        r.a2_id.into(),
                        Value::from(std::mem::take(&mut r.packed)),
                        r.created.into(),
                        text_value(r.service_owner.clone()),
                        text_value(r.resource_id.clone()),
                    ]);
                },
                |v| v.push(now.into()),
            )
        }
    }

    /// Inserts of workflows `ids` for the A2 ids of `rows` that have none (over the rows of
    /// [`Shapes::ranges`]).
    fn workflows(&mut self, rows: &mut [RecordRow], ids: &[Uuid], batch: &str, now: i64) -> Vec<Statement> {
        const COLUMNS: &str = "id, a2_id, a2_created, service_owner, resource_id";
        let verb = insert_into(self.backend);
        let insert = |source: &str, batch: &str, state: &str, now: &str| {
            format!(
                "WITH t({COLUMNS}) AS ({source}) {verb} workflows \
                 (id, a2_id, batch, state, attempt, next_run_at, a2_created, service_owner, resource_id, created_at, updated_at) \
                 SELECT id, a2_id, {batch}, {state}, 0, {now}, a2_created, service_owner, resource_id, {now}, {now} FROM t \
                 WHERE true ON CONFLICT (a2_id) DO NOTHING"
            )
        };
        let state = WorkflowState::CreatedInA2.as_str();
        if self.backend == DbBackend::Postgres {
            let sql = insert(
                "SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::int8[], $4::text[], $5::text[])",
                "$6::text",
                "$7::text",
                "$8::int8",
            );
            let values = vec![
                Value::Array(
                    ArrayType::Uuid,
                    Some(Box::new(ids.iter().map(|id| Value::from(*id)).collect())),
                ),
                ints(rows.iter().map(|r| r.a2_id)),
                ints(rows.iter().map(|r| r.created)),
                texts(rows.iter_mut().map(|r| std::mem::take(&mut r.service_owner))),
                texts(rows.iter_mut().map(|r| std::mem::take(&mut r.resource_id))),
                text_value(batch.to_string()),
                state.into(),
                now.into(),
            ];
            vec![Statement::from_sql_and_values(self.backend, sql, values)]
        } else {
            let mut with_ids: Vec<(Uuid, &mut RecordRow)> =
                ids.iter().copied().zip(rows.iter_mut()).collect();
            // SQLite numbers anonymous parameters in text order: the rows come first.
            let text = |n| insert(&values_list(n, 5), "?", "?", "?");
            self.sqlite(
                Kind::Workflows,
                &mut with_ids,
                5,
                text,
                |(id, r), v| {
                    v.extend([
                        Value::from(*id),
                        r.a2_id.into(),
                        r.created.into(),
                        text_value(std::mem::take(&mut r.service_owner)),
                        text_value(std::mem::take(&mut r.resource_id)),
                    ]);
                },
                |v| {
                    v.extend([
                        text_value(batch.to_string()),
                        state.into(),
                        now.into(),
                        now.into(),
                        now.into(),
                    ])
                },
            )
        }
    }

    /// Inserts of the creation history row of each new workflow.
    fn history(&mut self, ids: &mut [Uuid], now: i64) -> Vec<Statement> {
        if ids.is_empty() {
            return Vec::new();
        }
        let verb = insert_into(self.backend);
        let insert = |source: &str, state: &str, now: &str| {
            format!(
                "WITH t(workflow_id) AS ({source}) {verb} workflow_history (workflow_id, from_state, to_state, attempt, at) \
                 SELECT workflow_id, NULL, {state}, 0, {now} FROM t"
            )
        };
        let state = WorkflowState::CreatedInA2.as_str();
        if self.backend == DbBackend::Postgres {
            let sql = insert("SELECT * FROM UNNEST($1::uuid[])", "$2::text", "$3::int8");
            let values = vec![
                Value::Array(
                    ArrayType::Uuid,
                    Some(Box::new(ids.iter().map(|id| Value::from(*id)).collect())),
                ),
                state.into(),
                now.into(),
            ];
            vec![Statement::from_sql_and_values(self.backend, sql, values)]
        } else {
            let text = |n| insert(&values_list(n, 1), "?", "?");
            self.sqlite(
                Kind::History,
                ids,
                1,
                text,
                |id, v| v.push((*id).into()),
                |v| {
                    v.extend([state.into(), now.into()]);
                },
            )
        }
    }

    /// Inserts of `events` not yet stored (by A2 id and dedup key), [`Shapes::rows`] at a time,
    /// each saying whether it returns the A2 ids that got one: it does unless every event
    /// belongs to an item created by this intake (in `created`; such an item cannot be Synced).
    fn events(
        &mut self,
        events: &mut [EventRow],
        created: &HashSet<i64>,
        now: i64,
    ) -> Vec<(bool, Statement)> {
        let mut out = Vec::new();
        for part in events.chunks_mut(self.rows) {
            let returning = part.iter().any(|r| !created.contains(&r.a2_id));
            out.extend(self.events_part(part, returning, now).into_iter().map(|s| (returning, s)));
        }
        out
    }

    fn events_part(&mut self, rows: &mut [EventRow], returning: bool, now: i64) -> Vec<Statement> {
        const COLUMNS: &str = "a2_id, kind, dedup_key, packed, occurred_at";
        let verb = insert_into(self.backend);
        let insert = |source: &str, now: &str| {
            format!(
                "WITH t({COLUMNS}) AS ({source}) {verb} a2_events ({COLUMNS}, payload, imported_at) \
                 SELECT {COLUMNS}, '', {now} FROM t WHERE true \
                 ON CONFLICT (a2_id, dedup_key) DO NOTHING{}",
                if returning { " RETURNING a2_id" } else { "" }
            )
        };
        if self.backend == DbBackend::Postgres {
            let sql = insert(
                "SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::bytea[], $5::int8[])",
                "$6::int8",
            );
            let values = vec![
                ints(rows.iter().map(|r| r.a2_id)),
                Value::Array(
                    ArrayType::String,
                    Some(Box::new(rows.iter().map(|r| Value::from(r.kind)).collect())),
                ),
                texts(rows.iter_mut().map(|r| std::mem::take(&mut r.dedup_key))),
                blobs(rows.iter_mut().map(|r| std::mem::take(&mut r.packed))),
                ints(rows.iter().map(|r| r.occurred)),
                now.into(),
            ];
            vec![Statement::from_sql_and_values(self.backend, sql, values)]
        } else {
            let kind = if returning { Kind::EventsReturning } else { Kind::Events };
            let text = |n| insert(&values_list(n, 5), "?");
            self.sqlite(
                kind,
                rows,
                5,
                text,
                |r, v| {
                    v.extend([
                        r.a2_id.into(),
                        r.kind.into(),
                        text_value(std::mem::take(&mut r.dedup_key)),
                        Value::from(std::mem::take(&mut r.packed)),
                        r.occurred.into(),
                    ]);
                },
                |v| v.push(now.into()),
            )
        }
    }

    /// The rows each statement over `n` rows covers, in order: one statement on PostgreSQL,
    /// the [`pieces`](super::sql::pieces) of [`Shapes::sqlite`] on SQLite.
    fn ranges(&self, n: usize) -> Vec<Range<usize>> {
        if self.backend == DbBackend::Postgres {
            return std::iter::once(0..n).collect();
        }
        let mut start = 0;
        pieces(n, self.rows)
            .map(|size| {
                start += size;
                start - size..start
            })
            .collect()
    }

    /// SQLite bulk statements over `rows`, in pieces of fixed sizes (see [`pieces`](super::sql::pieces)).
    /// A piece's text is made once by `text(n)` and kept; `cells` gives a row's `width` values
    /// and `constants` the values that follow the rows.
    fn sqlite<T>(
        &mut self,
        kind: Kind,
        rows: &mut [T],
        width: usize,
        text: impl Fn(usize) -> String,
        cells: impl Fn(&mut T, &mut Vec<Value>),
        constants: impl Fn(&mut Vec<Value>),
    ) -> Vec<Statement> {
        let mut out = Vec::new();
        let mut start = 0;
        for n in pieces(rows.len(), self.rows) {
            let sql = self.texts.entry((kind, n)).or_insert_with(|| text(n)).clone();
            let mut values = Vec::with_capacity(n * width + 5);
            for r in &mut rows[start..start + n] {
                cells(r, &mut values);
            }
            constants(&mut values);
            out.push(Statement::from_sql_and_values(self.backend, sql, values));
            start += n;
        }
        out
    }
}

/// How the statements that only insert begin. On SQLite `OR IGNORE`: every column is given a
/// value, so the only constraint a row can break is the one its `ON CONFLICT` names (or none),
/// and a statement that cannot fail halfway needs no statement journal. Without it SQLite
/// copies each page the statement touches to a temporary file first, so the statement alone
/// could be undone: about a tenth of the import's database time (BENCHMARKS.md).
fn insert_into(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres { "INSERT INTO" } else { "INSERT OR IGNORE INTO" }
}

/// `VALUES (?, …), …`: `n` rows of `width` anonymous placeholders.
fn values_list(n: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    let mut s = String::with_capacity(7 + n * (row.len() + 2));
    s.push_str("VALUES ");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&row);
    }
    s
}

fn has_duplicates(mut ids: impl Iterator<Item = i64>) -> bool {
    let mut seen = HashSet::new();
    ids.any(|id| !seen.insert(id))
}

/// A text parameter. PostgreSQL text cannot hold NUL (import rejects such lines before they get
/// here; other callers' text gets the replacement character, as in [`super::Sql`]).
fn text_value(s: String) -> Value {
    if s.contains('\0') { Value::from(s.replace('\0', "\u{fffd}")) } else { Value::from(s) }
}

fn texts(items: impl Iterator<Item = String>) -> Value {
    Value::Array(ArrayType::String, Some(Box::new(items.map(text_value).collect())))
}

fn blobs(items: impl Iterator<Item = Vec<u8>>) -> Value {
    Value::Array(ArrayType::Bytes, Some(Box::new(items.map(Value::from).collect())))
}

fn ints(items: impl Iterator<Item = i64>) -> Value {
    Value::Array(ArrayType::BigInt, Some(Box::new(items.map(Value::from).collect())))
}

/// Statements that copy a replaced record's created, owner and resource to its workflow row
/// (rows that differ).
fn copy_selection_columns(backend: DbBackend, ids: &[i64]) -> Vec<Statement> {
    let mut out = Vec::new();
    for chunk in ids.chunks(super::CHUNK) {
        let mut q = super::Sql::new(backend);
        q.push(
            "UPDATE workflows SET a2_created = r.created, service_owner = r.service_owner, resource_id = r.resource_id \
             FROM a2_records r WHERE r.a2_id = workflows.a2_id AND workflows.a2_id IN ",
        );
        q.list(chunk, "int8");
        q.push(
            " AND (workflows.a2_created <> r.created OR workflows.service_owner <> r.service_owner \
             OR workflows.resource_id <> r.resource_id)",
        );
        out.push(q.build());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{pieces, values_list};

    #[test]
    fn a_tail_is_written_in_power_of_two_pieces() {
        assert_eq!(pieces(600, 256).collect::<Vec<_>>(), vec![256, 256, 64, 16, 8]);
        assert_eq!(pieces(256, 256).collect::<Vec<_>>(), vec![256]);
        assert_eq!(pieces(0, 256).count(), 0);
        for n in 0..1000 {
            let p: Vec<usize> = pieces(n, 256).collect();
            assert_eq!(p.iter().sum::<usize>(), n);
            assert!(p.iter().all(|s| s.is_power_of_two() && *s <= 256));
        }
        assert_eq!(values_list(2, 3), "VALUES (?, ?, ?), (?, ?, ?)");
    }
}
