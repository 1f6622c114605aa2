//! A2 input: bad lines reported by file and line while good ones go through, safe re-import,
//! events for migrated items, gzip, and the live feed resuming after a crash mid-file.

use orchestrator::clock::SystemClock;
use orchestrator::dispatcher::{Dispatcher, DispatcherConfig};
use orchestrator::generator::{GeneratorOptions, write_export};
use orchestrator::import::{FileReport, ImportOptions, import_file};
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use schema::WorkflowState;
use schema::entity::{a2_event, a2_record, workflow, workflow_history};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;
use workers::StepKind;
use workers::noop::NoopStep;

const EXAMPLE: &str = include_str!("../../../docs/examples/correspondences.ndjson");

fn store(db: &TestDb) -> Store {
    Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default())
}

async fn import(store: &Store, path: &Path) -> FileReport {
    let opts = ImportOptions { batch: "t".into(), chunk: 7, ..ImportOptions::default() };
    import_file(store, path, &opts, Default::default(), |_, _| async { Ok(()) }).await.unwrap()
}

async fn counts(conn: &DatabaseConnection) -> [u64; 4] {
    [
        workflow::Entity::find().count(conn).await.unwrap(),
        a2_record::Entity::find().count(conn).await.unwrap(),
        a2_event::Entity::find().count(conn).await.unwrap(),
        workflow_history::Entity::find().count(conn).await.unwrap(),
    ]
}

fn assert_accounted(r: &FileReport) {
    assert_eq!(
        r.lines,
        r.skipped + r.correspondences + r.events + r.blank + r.rejected,
        "every line accounted for: {r:?}"
    );
}

/// A generated export of `n` correspondences in `dir`, every line valid and no later events:
/// the correspondence file's path.
fn clean_export(dir: &Path, n: u64) -> std::path::PathBuf {
    let opts = GeneratorOptions { invalid_rate: 0.0, later_event_rate: 0.0, ..GeneratorOptions::default() };
    write_export(opts, dir, n, 1, 0.0).unwrap();
    dir.join("correspondences-0001.ndjson")
}

/// A record line with one field changed.
fn variant(id: i64, f: impl Fn(&mut serde_json::Map<String, serde_json::Value>)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(EXAMPLE.lines().next().unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.insert("altinn2CorrespondenceId".into(), id.into());
    o.insert("sendersReference".into(), format!("ref-{id}").into());
    f(o);
    v.to_string()
}

/// A line over the limit (here 3 MiB against 1 MiB) is rejected with its file and line, and the
/// lines around it go through; the reader never holds more than the limit of it.
async fn an_overlong_line_is_rejected_and_the_rest_goes_through(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let huge = variant(2, |o| {
        o.insert("messageBody".into(), "x".repeat(3 << 20).into());
    });
    let path = dir.path().join("export.ndjson");
    std::fs::write(&path, [variant(1, |_| {}), huge, variant(3, |_| {})].join("\n") + "\n").unwrap();
    let s = store(db);
    let r = import(&s, &path).await;
    assert_accounted(&r);
    assert_eq!((r.lines, r.correspondences, r.rejected), (3, 2, 1));
    let rejects = std::fs::read_to_string(r.reject_file.as_ref().unwrap()).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    assert_eq!(reject["line"], 2);
    assert!(reject["file"].as_str().unwrap().ends_with("export.ndjson"), "{reject}");
    let reason = reject["reason"].as_str().unwrap();
    assert!(reason.contains("longer than the limit of 1048576"), "{reason}");
    assert!(reject["text"].as_str().unwrap().len() < 4096, "the reject file quotes a cut of the line");
}
on_both_backends!(an_overlong_line_is_rejected_and_the_rest_goes_through);

async fn bad_lines_are_reported_and_good_lines_go_through(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        variant(1, |_| {}),
        "{\"altinn2CorrespondenceId\": 2, \"partyId\":".to_string(),
        variant(3, |o| {
            o.remove("resourceId");
        }),
        variant(4, |_| {}),
        variant(5, |o| {
            o.insert("partyId".into(), "fifty".into());
        }),
        String::new(),
        variant(7, |o| {
            o.insert("created".into(), "2024-02-30T08:00:00Z".into());
        }),
        variant(8, |o| {
            o.insert("created".into(), "1970-01-01T00:00:00Z".into());
        }),
        "\u{feff}not json at all".to_string(),
        variant(10, |_| {}),
        "{\"altinn2CorrespondenceId\": 1, \"kind\": \"status\", \"event\": {\"status\": \"Teleported\"}}"
            .to_string(),
    ];
    let path = dir.path().join("export.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let s = store(db);
    let r = import(&s, &path).await;
    assert_accounted(&r);
    assert_eq!((r.lines, r.correspondences, r.blank, r.rejected), (11, 3, 1, 7));
    let want: [(u64, &str); 7] = [
        (2, "not valid JSON"),
        (3, "missing field `resourceId`"),
        (5, "partyId: invalid type"),
        (7, "created: input is out of range"),
        (8, "before 2000"),
        (9, "not valid JSON"),
        (11, "invalid event: invalid CorrespondenceStatus"),
    ];
    let rejects: Vec<serde_json::Value> = std::fs::read_to_string(r.reject_file.as_ref().unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), 7);
    for ((line, reason), got) in want.iter().zip(&rejects) {
        assert_eq!(got["line"], *line, "{got}");
        assert_eq!(got["file"], path.display().to_string());
        assert!(got["reason"].as_str().unwrap().contains(reason), "line {line}: {got}");
        assert!(!got["text"].as_str().unwrap().is_empty() || *line == 6);
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("export.ndjson.import.json")).unwrap())
            .unwrap();
    assert_eq!(summary["rejected"], 7);
    assert_eq!(counts(&db.conn).await[0], 3, "the good lines around the bad ones are imported");
    // Gzip: the same content, compressed, is read the same way.
    let gz = dir.path().join("export2.ndjson.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    enc.finish().unwrap();
    let r2 = import(&s, &gz).await;
    assert_eq!((r2.lines, r2.correspondences, r2.rejected, r2.workflows_created), (11, 3, 7, 0));
}
on_both_backends!(bad_lines_are_reported_and_good_lines_go_through);

async fn reimport_changes_nothing_and_new_events_make_items_pending(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = clean_export(dir.path(), 300);
    let s = store(db);
    let first = import(&s, &file).await;
    assert_accounted(&first);
    assert_eq!(first.workflows_created, 300);
    let before = counts(&db.conn).await;
    let again = import(&s, &file).await;
    assert_eq!((again.records_written, again.workflows_created, again.events_stored), (0, 0, 0));
    assert_eq!(counts(&db.conn).await, before, "the same file twice changes nothing");

    // Move the first 200 items to Synced (by no-op steps); the rest stay CreatedInA2.
    let ids: Vec<i64> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["altinn2CorrespondenceId"].as_i64().unwrap()
        })
        .collect();
    let cancel_ids: Vec<String> = ids[200..].iter().map(|i| i.to_string()).collect();
    let sel = orchestrator::store::Selector { keys: cancel_ids.clone(), ..Default::default() };
    s.operate(&sel, orchestrator::state_machine::Event::OperatorCancel, orchestrator::store::Origin::Cli)
        .await
        .unwrap();
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(10),
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(s.clone(), cfg);
    for k in StepKind::ALL {
        d = d.with_step(Arc::new(NoopStep::new(k, Duration::ZERO)), 8);
    }
    d.drive(CancellationToken::new()).await.unwrap();
    s.operate(&sel, orchestrator::state_machine::Event::OperatorRetry, orchestrator::store::Origin::Cli)
        .await
        .unwrap();

    // An updated record: replaces the payload of an unmigrated item, not of a migrated one.
    let original: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(String::from).collect();
    let retitle = |line: &str| line.replacen("\"title\":\"", "\"title\":\"Oppdatert: ", 1);
    let updates = dir.path().join("updates.ndjson");
    std::fs::write(&updates, format!("{}\n{}\n", retitle(&original[250]), retitle(&original[5]))).unwrap();
    let u = import(&s, &updates).await;
    assert_eq!(u.records_written, 1, "only the unmigrated item's payload is replaced");
    let payload = |id: i64| {
        let conn = db.conn.clone();
        async move { a2_record::Entity::find_by_id(id).one(&conn).await.unwrap().unwrap().json().unwrap() }
    };
    assert!(payload(ids[250]).await.contains("Oppdatert"));
    assert!(!payload(ids[5]).await.contains("Oppdatert"));

    // New events for two migrated items, a near-duplicate of a known event for a third.
    let known = serde_json::from_str::<serde_json::Value>(&original[7]).unwrap()["statusHistory"][0].clone();
    let mut dup = known.clone();
    let t = dup["statusChanged"].as_str().unwrap().to_string();
    dup["statusChanged"] = t.replace('Z', "").split('.').next().map(|s| format!("{s}.999Z")).unwrap().into();
    let ev = |id: i64, body: serde_json::Value| {
        serde_json::json!({"altinn2CorrespondenceId": id, "kind": "status", "event": body}).to_string()
    };
    let archived = |at: &str| serde_json::json!({"status": "Archived", "statusText": "", "statusChanged": at, "eventUserPartyUuid": known["eventUserPartyUuid"]});
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        [
            ev(ids[1], archived("2026-01-01T10:00:00Z")),
            ev(ids[2], archived("2026-01-02T10:00:00Z")),
            ev(ids[7], dup),
            ev(424_242, archived("2026-01-03T10:00:00Z")),
        ]
        .join("\n"),
    )
    .unwrap();
    let e = import(&s, &events).await;
    assert_eq!((e.events, e.events_stored, e.events_duplicate, e.made_pending), (4, 3, 1, 2), "{e:?}");
    for (id, want) in [
        (ids[1], WorkflowState::SyncPending),
        (ids[2], WorkflowState::SyncPending),
        (ids[7], WorkflowState::Synced),
    ] {
        assert_eq!(s.show(&id.to_string()).await.unwrap().unwrap().item.state, want, "item {id}");
    }
    let status = s.status().await.unwrap();
    assert_eq!(status.by_state.get(&WorkflowState::SyncPending), Some(&2), "exactly those items");
    // The same events file again: nothing new.
    let e2 = import(&s, &events).await;
    assert_eq!((e2.events_stored, e2.made_pending), (0, 0));
    // The event for an unknown item is held, and belongs to it when it arrives.
    let held = a2_event::Entity::find()
        .all(&db.conn)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.a2_id == 424_242)
        .count();
    assert_eq!(held, 1);
}
on_both_backends!(reimport_changes_nothing_and_new_events_make_items_pending);

/// Rows stored before the JSON was packed (its text in `payload`, no `packed`) read as they
/// did: each item's record and pending events load the same from either form, and re-importing
/// the file packs the records of items not yet migrated.
async fn rows_from_before_packing_read_as_before(db: &TestDb) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let dir = tempfile::tempdir().unwrap();
    let file = clean_export(dir.path(), 40);
    let s = store(db);
    import(&s, &file).await;
    let loaded = || async {
        let mut items: Vec<workers::WorkItem> = workflow::Entity::find()
            .all(&db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|w| {
                workers::WorkItem::bare(w.id.into(), schema::A2Id::from(w.a2_id), w.batch, w.state, w.attempt)
            })
            .collect();
        items.sort_by_key(|i| i.a2_id.get());
        s.load_inputs(&mut items, workers::Inputs { record: true, events: true }).await.unwrap();
        items.into_iter().map(|i| (i.record, i.events, i.input_errors)).collect::<Vec<_>>()
    };
    let packed = loaded().await;
    assert_eq!(packed.len(), 40);
    assert!(packed.iter().all(|(r, _, errors)| r.is_some() && errors.is_empty()));
    assert!(packed.iter().map(|(_, events, _)| events.len()).sum::<usize>() > 40, "events were loaded");

    for r in a2_record::Entity::find().all(&db.conn).await.unwrap() {
        assert!(r.payload.is_empty() && r.packed.is_some(), "an import stores records packed");
        let json = r.json().unwrap();
        let mut old = r.into_active_model();
        (old.payload, old.packed) = (Set(json), Set(None));
        old.update(&db.conn).await.unwrap();
    }
    for e in a2_event::Entity::find().all(&db.conn).await.unwrap() {
        assert!(e.payload.is_empty() && e.packed.is_some(), "an import stores events packed");
        let json = e.json().unwrap();
        let mut old = e.into_active_model();
        (old.payload, old.packed) = (Set(json), Set(None));
        old.update(&db.conn).await.unwrap();
    }
    assert_eq!(loaded().await, packed, "the same inputs from rows in the old form");

    let again = import(&s, &file).await;
    assert_eq!((again.records_written, again.workflows_created, again.events_stored), (40, 0, 0));
    let records = a2_record::Entity::find().all(&db.conn).await.unwrap();
    assert!(
        records.iter().all(|r| r.payload.is_empty() && r.packed.is_some()),
        "re-imported records are packed"
    );
    assert_eq!(loaded().await, packed);
}
on_both_backends!(rows_from_before_packing_read_as_before);

/// What the database holds of an import, in a comparable form: records, events, workflows (with
/// their creation history) and the counters.
async fn stored(conn: &DatabaseConnection) -> String {
    use sea_orm::QueryOrder;
    let mut out = String::new();
    for r in a2_record::Entity::find().order_by_asc(a2_record::Column::A2Id).all(conn).await.unwrap() {
        out += &format!(
            "record {} {} {} {} {}\n",
            r.a2_id,
            r.created,
            r.service_owner,
            r.resource_id,
            r.json().unwrap()
        );
    }
    let mut events: Vec<String> = a2_event::Entity::find()
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            format!("event {} {} {} {} {}\n", e.a2_id, e.kind, e.dedup_key, e.occurred_at, e.json().unwrap())
        })
        .collect();
    events.sort();
    out += &events.concat();
    let history = tests::assert_history_consistent(conn).await;
    for w in workflow::Entity::find().order_by_asc(workflow::Column::A2Id).all(conn).await.unwrap() {
        let h: Vec<_> = history[&w.id].iter().map(|h| h.to_state).collect();
        out += &format!(
            "item {} {} {} {} {} {} {:?}\n",
            w.a2_id, w.batch, w.state, w.a2_created, w.service_owner, w.resource_id, h
        );
    }
    let status =
        Store::new(conn.clone(), Arc::new(SystemClock), RetryPolicy::default()).status().await.unwrap();
    out += &format!("counts {:?} {:?}\n", status.total, status.by_batch);
    out
}

/// Bulk statements and big transactions store exactly what one line per transaction does: across
/// statements of full size that span bad and blank lines, a transaction boundary in the middle of
/// a statement's rows, the same A2 id twice (the later line wins), near-duplicate and new events,
/// and an event for an item not yet known. Importing the file again changes nothing.
async fn bulk_import_stores_what_one_line_at_a_time_stores(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GeneratorOptions { invalid_rate: 0.0, later_event_rate: 0.0, ..GeneratorOptions::default() };
    write_export(opts, dir.path(), 700, 1, 0.0).unwrap();
    let mut lines: Vec<String> = std::fs::read_to_string(dir.path().join("correspondences-0001.ndjson"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let record = |i: usize| serde_json::from_str::<serde_json::Value>(&lines[i]).unwrap();
    let ids: Vec<i64> =
        (0..lines.len()).map(|i| record(i)["altinn2CorrespondenceId"].as_i64().unwrap()).collect();
    let ev = |id: i64, body: serde_json::Value| {
        serde_json::json!({"altinn2CorrespondenceId": id, "kind": "status", "event": body}).to_string()
    };
    // A history event of item 30 again, 0.9 s later (the same to the second), and a new one.
    let mut near = record(30)["statusHistory"][0].clone();
    let t = near["statusChanged"].as_str().unwrap().to_string();
    near["statusChanged"] = t.replace('Z', "").split('.').next().map(|s| format!("{s}.900Z")).unwrap().into();
    let mut archived = record(20)["statusHistory"][0].clone();
    archived["status"] = "Archived".into();
    archived["statusChanged"] = "2026-01-01T10:00:00Z".into();
    let retitle = |line: &str| line.replacen("\"title\":\"", "\"title\":\"Oppdatert: ", 1);
    // Inserted from the end, so each position is the one in the file as generated.
    let extra = [
        (662, ev(99_999_999, archived.clone())),
        (661, ev(ids[30], near)),
        (660, ev(ids[20], archived)),
        (650, retitle(&lines[10])),
        (400, "{\"altinn2CorrespondenceId\": 7,".to_string()),
        // The same A2 id twice within one statement's rows.
        (200, retitle(&lines[5])),
        (100, "not json".to_string()),
        (50, String::new()),
    ];
    for (at, line) in extra {
        lines.insert(at, line);
    }
    let path = dir.path().join("mixed.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let other = if db.target.starts_with("postgres") {
        TestDb::postgres("bulk_import_one_line_at_a_time").await.unwrap()
    } else {
        TestDb::sqlite().await
    };
    let import_with = |store: Store, chunk: usize| {
        let path = path.clone();
        async move {
            let opts = ImportOptions { batch: "t".into(), chunk, ..ImportOptions::default() };
            import_file(&store, &path, &opts, Default::default(), |_, _| async { Ok(()) }).await.unwrap()
        }
    };
    let bulk = import_with(store(db), 600).await;
    let single = import_with(store(&other), 1).await;
    assert_accounted(&bulk);
    let key = |r: &FileReport| {
        (
            r.lines,
            r.correspondences,
            r.events,
            r.blank,
            r.rejected,
            r.workflows_created,
            r.events_stored,
            r.events_duplicate,
        )
    };
    assert_eq!(key(&bulk), key(&single), "{bulk:?}\n{single:?}");
    assert_eq!(
        (bulk.lines, bulk.correspondences, bulk.events, bulk.blank, bulk.rejected),
        (708, 702, 3, 1, 2)
    );
    assert_eq!(bulk.workflows_created, 700);
    let rejected: Vec<u64> = bulk.first_rejects.iter().map(|r| r.line).collect();
    let line_of = |text: &str| lines.iter().position(|l| l.starts_with(text)).unwrap() as u64 + 1;
    assert_eq!(rejected, vec![line_of("not json"), line_of("{\"altinn2CorrespondenceId\": 7,")]);
    let held = stored(&db.conn).await;
    assert_eq!(held, stored(&other.conn).await, "bulk and one line at a time store the same");
    for i in [5, 10] {
        let payload =
            a2_record::Entity::find_by_id(ids[i]).one(&db.conn).await.unwrap().unwrap().json().unwrap();
        assert!(payload.contains("Oppdatert"), "the later line of an A2 id wins");
    }
    assert!(
        !held.contains("record 99999999") && held.contains("event 99999999"),
        "an event waits for its item"
    );

    let again = import_with(store(db), 600).await;
    // The A2 id on lines 11 and 651 (two transactions) is written back and forth once more, as
    // two lines would be; the one twice within a statement's rows is written only as its later
    // line, which is unchanged.
    assert_eq!((again.records_written, again.workflows_created, again.events_stored), (2, 0, 0), "{again:?}");
    assert_eq!(stored(&db.conn).await, held, "the same file twice changes nothing");
    other.finish().await;
}
on_both_backends!(bulk_import_stores_what_one_line_at_a_time_stores);
