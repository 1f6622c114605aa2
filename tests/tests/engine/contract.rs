//! The contract with Altinn 3's migration API, one test per rule of `docs/altinn3-contract.md` §5,
//! over real HTTP against a fresh `altinn3_sim` each. Rules about what our client sends drive the
//! real client (`A3Client`, `MigrateStep`); rules about inputs a correct client never sends post
//! hand-built JSON with `reqwest`, so the check does not share the client's reading of the contract.

use altinn3_sim::SimItem;
use chrono::{DateTime, Utc};
use h::*;
use serde_json::{Value, json};
use uuid::Uuid;
use workers::StepOutcome;
use workers::a2::A2EventBody;
use workers::a3::model::*;

mod live;

/// Starting the simulator, building clients and requests, reading answers.
mod h {
    use altinn3_sim::{Faults, RunningSim, SimConfig, SimItem, Simulator};
    use chrono::{DateTime, Utc};
    use schema::WorkflowState;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;
    use uuid::Uuid;
    use workers::a2::{A2Correspondence, A2EventBody};
    use workers::a3::model::*;
    use workers::a3::{A3Client, ClientConfig, Limit, Secret};
    use workers::migrate::MigrateStep;
    use workers::{PendingEvent, Step, StepOutcome, WorkItem};

    /// The token the simulator accepts.
    pub(crate) const TOKEN: &str = "contract-maskinporten-token";
    /// The migration API's base path.
    pub(crate) const BASE: &str = "correspondence/api/v1/migration";
    /// Resource id of every request.
    pub(crate) const RESOURCE: &str = "skd-migratedcorrespondence-5229-1";
    /// Sender of every request.
    pub(crate) const SENDER: &str = "urn:altinn:organization:identifier-no:991825827";
    /// The sending party's UUID.
    pub(crate) const SENDER_PARTY: &str = "8a1b4f2e-4c3d-4b5a-9e6f-0a1b2c3d4e5f";
    /// The recipient.
    pub(crate) const RECIPIENT: &str = "urn:altinn:person:identifier-no:29909898925";
    /// The party acting in events.
    pub(crate) const PARTY: &str = "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b";
    /// Paths of the six endpoints below [`BASE`].
    pub(crate) const ATTACHMENT: &str = "attachment";
    pub(crate) const CORRESPONDENCE: &str = "correspondence";
    pub(crate) const MAKE_AVAILABLE: &str = "makemigratedcorrespondenceavailable";
    pub(crate) const SYNC_STATUS: &str = "correspondence/syncStatusEvent";
    pub(crate) const SYNC_NOTIFICATION: &str = "correspondence/syncNotificationEvent";
    pub(crate) const SYNC_FORWARDING: &str = "correspondence/syncForwardingEvent";

    /// A fresh simulator on a loopback port, without faults.
    pub(crate) async fn sim() -> RunningSim {
        Simulator::start(
            SimConfig {
                token: TOKEN.into(),
                seed: 7,
                faults: Faults::default(),
                dialog_job: Default::default(),
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap()
    }

    /// The real client for `sim`, sending `token`.
    pub(crate) fn client_with(sim: &RunningSim, token: &str) -> A3Client {
        A3Client::new(ClientConfig {
            base_url: sim.base_url.clone(),
            token: Secret::new(token),
            timeout: Duration::from_secs(10),
            limits: BTreeMap::new(),
            default_limit: Limit::default(),
        })
        .unwrap()
    }

    /// The real client for `sim`.
    pub(crate) fn client(sim: &RunningSim) -> A3Client {
        client_with(sim, TOKEN)
    }

    /// A plain HTTP client for raw requests.
    pub(crate) fn http() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// What came back.
    #[derive(Debug)]
    pub(crate) struct Reply {
        pub status: u16,
        pub www_authenticate: Option<String>,
        pub text: String,
        /// The body as JSON (`Null` when empty or not JSON).
        pub json: Value,
    }

    /// One raw POST to `BASE/path`.
    pub(crate) async fn send(
        sim: &RunningSim,
        path: &str,
        content_type: Option<&str>,
        token: Option<&str>,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let mut rb = http().post(format!("{}/{BASE}/{path}", sim.base_url)).query(query).body(body);
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let www_authenticate =
            resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, www_authenticate, text, json }
    }

    /// A raw JSON POST with the token.
    pub(crate) async fn post(sim: &RunningSim, path: &str, body: &Value) -> Reply {
        send(sim, path, Some("application/json"), Some(TOKEN), &[], body.to_string().into_bytes()).await
    }

    /// A raw attachment upload with the token.
    pub(crate) async fn upload(sim: &RunningSim, query: &[(&str, String)], bytes: &[u8]) -> Reply {
        send(sim, ATTACHMENT, Some("application/octet-stream"), Some(TOKEN), query, bytes.to_vec()).await
    }

    /// A complete attachment query (as A3's C# property names, camelCased).
    pub(crate) fn att_query(a2_attachment_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("resourceId", RESOURCE.into()),
            ("sender", SENDER.into()),
            ("senderPartyUuid", SENDER_PARTY.into()),
            ("sendersReference", "ref-att".into()),
            ("altinn2sendersReference", "ref-att".into()),
            ("fileName", "vedtak.pdf".into()),
            ("displayName", "Vedtak".into()),
            ("isEncrypted", "false".into()),
            ("altinn2AttachmentId", a2_attachment_id.into()),
            ("created", "2024-01-05T09:00:00Z".into()),
        ]
    }

    /// `q` without parameter `key`.
    pub(crate) fn without(q: &[(&'static str, String)], key: &str) -> Vec<(&'static str, String)> {
        q.iter().filter(|(k, _)| *k != key).cloned().collect()
    }

    /// `q` with parameter `key` set to `value`.
    pub(crate) fn with(
        q: &[(&'static str, String)],
        key: &'static str,
        value: &str,
    ) -> Vec<(&'static str, String)> {
        let mut q = without(q, key);
        q.push((key, value.into()));
        q
    }

    /// A status event as JSON.
    pub(crate) fn status_json(status: &str, at: &str) -> Value {
        json!({ "status": status, "statusText": status, "statusChanged": at, "eventUserPartyUuid": PARTY })
    }

    /// A notification as JSON.
    pub(crate) fn notification_json(channel: &str, sent: &str, id: i64, reminder: bool) -> Value {
        json!({
            "notificationChannel": channel,
            "notificationSent": sent,
            "altinn2NotificationId": id,
            "notificationAddress": "ola@example.no",
            "isReminder": reminder,
        })
    }

    /// A forwarding as JSON.
    pub(crate) fn forwarding_json(on: &str, by_party: &str, to_user: &str) -> Value {
        json!({
            "forwardedOnDate": on,
            "forwardedByPartyUuid": by_party,
            "forwardedByUserId": 501,
            "forwardedByUserUuid": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
            "forwardedToUserUuid": to_user,
            "forwardingText": "Til deg",
        })
    }

    /// A minimal valid migrate body for A2 id `a2`, created at `created`.
    pub(crate) fn corr_at(a2: i64, created: &str) -> Value {
        json!({
            "correspondenceData": {
                "correspondence": {
                    "resourceId": RESOURCE,
                    "sendersReference": format!("ref-{a2}"),
                    "sender": SENDER,
                    "messageSender": "Skatteetaten",
                    "content": {
                        "language": "nb",
                        "messageTitle": "Vedtak",
                        "messageSummary": "Oppsummering",
                        "messageBody": "Brødtekst",
                    },
                    "requestedPublishTime": "2024-01-05T10:00:00Z",
                },
                "recipients": [RECIPIENT],
                "existingAttachments": [],
            },
            "altinn2CorrespondenceId": a2,
            "created": created,
            "partyId": 50001,
            "IsMigrating": true,
            "eventHistory": [status_json("Published", "2024-01-05T10:00:00Z")],
        })
    }

    /// A minimal valid migrate body for A2 id `a2`.
    pub(crate) fn corr(a2: i64) -> Value {
        corr_at(a2, "2024-01-05T09:00:00Z")
    }

    /// `corr(a2)` with `f` applied to `correspondenceData.correspondence`.
    pub(crate) fn corr_with(a2: i64, f: impl FnOnce(&mut Value)) -> Value {
        let mut v = corr(a2);
        f(&mut v["correspondenceData"]["correspondence"]);
        v
    }

    /// `corr(a2)` with `f` applied to the content.
    pub(crate) fn content_with(a2: i64, f: impl FnOnce(&mut Value)) -> Value {
        corr_with(a2, |c| f(&mut c["content"]))
    }

    /// Removes member `key` of object `v`.
    pub(crate) fn remove(v: &mut Value, key: &str) {
        v.as_object_mut().unwrap().remove(key);
    }

    /// Migrates `corr(a2)` raw and returns its A3 id.
    pub(crate) async fn migrated(sim: &RunningSim, a2: i64) -> Uuid {
        migrated_body(sim, &corr(a2)).await
    }

    /// Migrates `body` raw, expecting 200, and returns the A3 id.
    pub(crate) async fn migrated_body(sim: &RunningSim, body: &Value) -> Uuid {
        let r = post(sim, CORRESPONDENCE, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["correspondenceId"].as_str().unwrap().parse().unwrap()
    }

    /// The stored item with A2 id `a2`.
    pub(crate) fn item(sim: &RunningSim, a2: i64) -> SimItem {
        sim.sim.item(a2).unwrap_or_else(|| panic!("A2 {a2} is not stored"))
    }

    /// An ASP.NET validation problem: 400, `title` "Bad Request", `errors` naming something.
    pub(crate) fn assert_validation(r: &Reply) {
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json["title"], "Bad Request", "{}", r.text);
        assert_eq!(r.json["status"], 400, "{}", r.text);
        assert_eq!(r.json["type"], "https://tools.ietf.org/html/rfc9110#section-15.5.1", "{}", r.text);
        let errors = r.json["errors"].as_object().unwrap_or_else(|| panic!("no errors: {}", r.text));
        assert!(!errors.is_empty(), "{}", r.text);
    }

    /// A validation problem whose `errors` hold a message containing `msg`.
    pub(crate) fn assert_validation_msg(r: &Reply, msg: &str) {
        assert_validation(r);
        let found = r.json["errors"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|l| l.as_array().cloned().unwrap_or_default())
            .any(|m| m.as_str().is_some_and(|m| m.contains(msg)));
        assert!(found, "no error message containing {msg:?}: {}", r.text);
    }

    /// A validation problem with an `errors` key naming `field` (case-insensitively).
    pub(crate) fn assert_validation_key(r: &Reply, field: &str) {
        assert_validation(r);
        let f = field.to_ascii_lowercase();
        let found = r.json["errors"].as_object().unwrap().keys().any(|k| k.to_ascii_lowercase().contains(&f));
        assert!(found, "no error for {field}: {}", r.text);
    }

    /// A handler `Error` as problem details (`ProblemDetailsHelper.cs:29-52`).
    pub(crate) fn assert_error(r: &Reply, status: u16, code: u32, detail: &str) {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.json["status"], status, "{}", r.text);
        assert_eq!(r.json["errorCode"], code, "{}", r.text);
        assert_eq!(r.json["code"], format!("CORR-{code:05}"), "{}", r.text);
        assert_eq!(r.json["detail"], detail, "{}", r.text);
        assert!(r.json["traceId"].is_string(), "{}", r.text);
    }

    /// An unhandled exception's 500 (`SlackExceptionNotificationHandler.cs:49-65`).
    pub(crate) fn assert_500(r: &Reply) {
        assert_eq!(r.status, 500, "{}", r.text);
        assert_eq!(r.json["title"], "Internal Server Error", "{}", r.text);
        assert_eq!(r.json["status"], 500, "{}", r.text);
        assert_eq!(r.json["type"], "https://tools.ietf.org/html/rfc9110#section-15.6.1", "{}", r.text);
        assert!(r.json["detail"].is_string(), "{}", r.text);
    }

    /// A UTC time.
    pub(crate) fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The party of events, parsed.
    pub(crate) fn party() -> Uuid {
        PARTY.parse().unwrap()
    }

    /// A status event in the client's model.
    pub(crate) fn status_ev(status: CorrespondenceStatus, at: &str) -> StatusEvent {
        StatusEvent {
            status,
            status_text: status.as_str().into(),
            status_changed: ts(at),
            event_user_uuid: None,
            event_user_party_uuid: party(),
        }
    }

    /// A notification in the client's model.
    pub(crate) fn notification_ev(
        channel: NotificationChannel,
        sent: &str,
        reminder: bool,
    ) -> NotificationEvent {
        NotificationEvent {
            notification_channel: channel,
            notification_sent: ts(sent),
            altinn2_notification_id: 9001,
            notification_address: "ola@example.no".into(),
            is_reminder: reminder,
        }
    }

    /// A forwarding in the client's model.
    pub(crate) fn forwarding_ev(on: &str, by_party: Uuid, to_user: Uuid) -> ForwardingEvent {
        ForwardingEvent {
            forwarded_on_date: ts(on),
            forwarded_by_party_uuid: by_party,
            forwarded_by_user_id: 501,
            forwarded_by_user_uuid: "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d".parse().unwrap(),
            forwarded_to_user_id: None,
            forwarded_to_user_uuid: Some(to_user),
            forwarding_text: Some("Til deg".into()),
            forwarded_to_email: None,
            mailbox_supplier: None,
        }
    }

    /// A valid A2 record with A2 id `a2` and `attachments` synthetic attachments of 64 bytes.
    pub(crate) fn record(a2: i64, attachments: usize) -> A2Correspondence {
        let atts: Vec<Value> = (0..attachments)
            .map(|i| {
                json!({
                    "altinn2AttachmentId": format!("a2-att-{a2}-{i}"),
                    "fileName": format!("vedlegg-{i}.pdf"),
                    "displayName": format!("Vedlegg {i}"),
                    "location": "synthetic:64",
                })
            })
            .collect();
        serde_json::from_value(json!({
            "altinn2CorrespondenceId": a2,
            "partyId": 50001,
            "serviceOwner": "991825827",
            "resourceId": RESOURCE,
            "recipient": RECIPIENT,
            "sender": SENDER,
            "senderPartyUuid": SENDER_PARTY,
            "messageSender": "Skatteetaten",
            "sendersReference": format!("ref-{a2}"),
            "created": "2024-01-05T09:00:00Z",
            "requestedPublishTime": "2024-01-05T10:00:00Z",
            "published": "2024-01-05T10:00:00Z",
            "language": "nb",
            "title": "Vedtak",
            "summary": "Oppsummering",
            "body": "Brødtekst",
            "attachments": atts,
        }))
        .unwrap()
    }

    /// A work item for the migrate step: `r` with `events` pending.
    pub(crate) fn work_item(r: &A2Correspondence, events: Vec<A2EventBody>) -> WorkItem {
        let mut w = WorkItem::bare(
            schema::WorkflowId::new(),
            schema::A2Id(r.altinn2_correspondence_id),
            "contract".into(),
            WorkflowState::CreatedInA2,
            0,
        );
        w.events = events.into_iter().zip(1..).map(|(body, id)| PendingEvent { id, body }).collect();
        w.record = Some(Arc::new(r.clone()));
        w
    }

    /// Runs the real migrate step for `r` with `events`.
    pub(crate) async fn migrate_step(
        client: &A3Client,
        r: &A2Correspondence,
        events: Vec<A2EventBody>,
    ) -> StepOutcome {
        MigrateStep::new(client.clone(), PathBuf::from(".")).run(&work_item(r, events)).await
    }

    /// The A3 id of a `Done` outcome.
    pub(crate) fn done_id(o: &StepOutcome) -> Uuid {
        match o {
            StepOutcome::Done { a3_correspondence_id: Some(id), .. } => *id,
            other => panic!("expected Done with an id, got {other:?}"),
        }
    }

    /// The client's upload query for one attachment (its own model).
    pub(crate) fn client_query(a2_attachment_id: &str) -> AttachmentUploadQuery {
        AttachmentUploadQuery {
            resource_id: RESOURCE.into(),
            sender: SENDER.into(),
            sender_party_uuid: Some(SENDER_PARTY.parse().unwrap()),
            senders_reference: "ref-att".into(),
            file_name: "vedtak.pdf".into(),
            display_name: Some("Vedtak".into()),
            is_encrypted: false,
            checksum: None,
            altinn2_attachment_id: a2_attachment_id.into(),
            created: Some(ts("2024-01-05T09:00:00Z")),
            altinn2_senders_reference: Some("ref-att".into()),
        }
    }

    /// The migrate request the client builds for `r` with `events`.
    pub(crate) fn client_request(
        r: &A2Correspondence,
        events: Vec<A2EventBody>,
        attachments: Vec<Uuid>,
    ) -> MigrateCorrespondenceExt {
        workers::migrate::request(r, &work_item(r, events), attachments)
    }

    /// Calls of endpoint `name` the simulator saw.
    pub(crate) fn calls(sim: &RunningSim, name: &str) -> u64 {
        sim.sim.inventory().calls.get(name).copied().unwrap_or(0)
    }

    /// Status rows named `status`.
    pub(crate) fn count_status(i: &SimItem, status: &str) -> usize {
        i.statuses.iter().filter(|s| s.status == status).count()
    }
}

fn st(e: StatusEvent) -> A2EventBody {
    A2EventBody::Status(e)
}

fn one_status(id: Uuid, e: StatusEvent) -> SyncStatusEventRequest {
    SyncStatusEventRequest { correspondence_id: id, synced_status_events: vec![e] }
}

fn one_notification(id: Uuid, e: NotificationEvent) -> SyncNotificationEventRequest {
    SyncNotificationEventRequest { correspondence_id: id, synced_notification_events: vec![e] }
}

fn one_forwarding(id: Uuid, e: ForwardingEvent) -> SyncForwardingEventRequest {
    SyncForwardingEventRequest { correspondence_id: id, synced_forwarding_events: vec![e] }
}

fn dialog_of(i: &SimItem) -> String {
    i.dialog_id.clone().unwrap_or_default()
}

fn sorted_times(i: &SimItem, status: &str) -> Vec<DateTime<Utc>> {
    let mut t: Vec<_> = i.statuses.iter().filter(|s| s.status == status).map(|s| s.status_changed).collect();
    t.sort();
    t
}

// ---------------------------------------------------------------------------------------------
// GEN — transport and binding
// ---------------------------------------------------------------------------------------------

/// GEN-1: "JSON member names are case-insensitive: `{"isMigrating": true, …}` and `replyOptions[].linkUrl` bind like `IsMigrating` / `linkURL` → 200."
#[tokio::test]
async fn gen_1_member_names_are_case_insensitive() {
    let sim = sim().await;
    let mut body = corr(101);
    remove(&mut body, "IsMigrating");
    body["isMigrating"] = json!(true);
    body["correspondenceData"]["correspondence"]["replyOptions"] =
        json!([{ "linkUrl": "https://svar.example.no", "linkText": "Svar" }]);
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let i = item(&sim, 101);
    assert!(i.is_migrating, "isMigrating bound as IsMigrating");
    assert_eq!(i.reply_option_urls, vec!["https://svar.example.no".to_string()]);
    sim.stop().await;
}

/// GEN-2: "Enums accept names case-insensitively and integers: `"status": "read"` and `"status": 4` → 200; `"status": "Bogus"` → 400 validation ProblemDetails."
#[tokio::test]
async fn gen_2_enums_accept_names_and_integers() {
    let sim = sim().await;
    let mut a = corr(201);
    a["eventHistory"] = json!([status_json("read", "2024-01-06T10:00:00Z")]);
    let r = post(&sim, CORRESPONDENCE, &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut b = corr(202);
    b["eventHistory"] = json!([{ "status": 4, "statusText": "x", "statusChanged": "2024-01-06T10:00:00Z", "eventUserPartyUuid": PARTY }]);
    let r = post(&sim, CORRESPONDENCE, &b).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count_status(&item(&sim, 201), "Read"), 1);
    assert_eq!(count_status(&item(&sim, 202), "Read"), 1);
    let mut c = corr(203);
    c["eventHistory"] = json!([status_json("Bogus", "2024-01-06T10:00:00Z")]);
    assert_validation(&post(&sim, CORRESPONDENCE, &c).await);
    assert!(sim.sim.item(203).is_none());
    sim.stop().await;
}

/// GEN-3: "Int32 members reject larger values: `altinn2CorrespondenceId: 2147483648` → 400 validation ProblemDetails."
#[tokio::test]
async fn gen_3_int32_members_reject_larger_values() {
    let sim = sim().await;
    let mut body = corr(1);
    body["altinn2CorrespondenceId"] = json!(2_147_483_648_i64);
    assert_validation(&post(&sim, CORRESPONDENCE, &body).await);
    // Our client refuses such a record before sending it.
    let calls_before = calls(&sim, "correspondence");
    let r = record(2_147_483_648, 0);
    let out = migrate_step(&client(&sim), &r, r.events()).await;
    assert!(matches!(out, StepOutcome::Invalid(_)), "{out:?}");
    assert_eq!(calls(&sim, "correspondence"), calls_before, "nothing sent");
    sim.stop().await;
}

/// GEN-4: "Numbers in strings bind: `"altinn2CorrespondenceId": "123"` → 200."
#[tokio::test]
async fn gen_4_numbers_in_strings_bind() {
    let sim = sim().await;
    let mut body = corr(0);
    body["altinn2CorrespondenceId"] = json!("123");
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["altinn2CorrespondenceId"], 123);
    assert!(sim.sim.item(123).is_some());
    sim.stop().await;
}

/// GEN-5: "JSON endpoint with `Content-Type: text/plain` → 415."
#[tokio::test]
async fn gen_5_json_endpoint_with_text_plain_is_415() {
    let sim = sim().await;
    let body = corr(501).to_string().into_bytes();
    let r = send(&sim, CORRESPONDENCE, Some("text/plain"), Some(TOKEN), &[], body).await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(sim.sim.item(501).is_none());
    sim.stop().await;
}

/// GEN-6: "Handler errors have `title` = HTTP reason, `detail` = message, `code` `"CORR-0nnnn"`, `errorCode` int, `traceId`. Checked through SST-2 (404/1001)."
#[tokio::test]
async fn gen_6_handler_errors_are_altinn_problem_details() {
    let sim = sim().await;
    let body = json!({ "correspondenceId": Uuid::now_v7(), "syncedStatusEvents": [status_json("Read", "2024-01-06T10:00:00Z")] });
    let r = post(&sim, SYNC_STATUS, &body).await;
    assert_error(&r, 404, 1001, "The requested correspondence was not found");
    assert_eq!(r.json["title"], "Not Found");
    assert_eq!(r.json["type"], "https://tools.ietf.org/html/rfc9110#section-15.5.5");
    assert_eq!(r.json["code"], "CORR-01001");
    sim.stop().await;
}

/// GEN-7: "Unhandled exceptions → 500 `{"title":"Internal Server Error","type":"https://tools.ietf.org/html/rfc9110#section-15.6.1","status":500,"detail":"",…}`. Checked through ATT-3."
#[tokio::test]
async fn gen_7_unhandled_exceptions_are_500_problem_details() {
    let sim = sim().await;
    let q = without(&att_query("a2-gen7"), "sender");
    let r = upload(&sim, &q, b"data").await;
    assert_500(&r);
    // Upstream's `detail` is "" outside Development; the simulator fills it with the exception
    // (as Development does) so tests can see the reason. `instance` is the request path.
    assert!(r.json["instance"].as_str().is_some_and(|p| p.ends_with("/attachment")), "{}", r.text);
    assert!(r.json["traceId"].is_string(), "{}", r.text);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// AUTH
// ---------------------------------------------------------------------------------------------

/// AUTH-1: "No `Authorization` header on any of the six endpoints → 401, empty body."
#[tokio::test]
async fn auth_1_no_token_is_401_on_every_endpoint() {
    let sim = sim().await;
    let id = migrated(&sim, 1).await;
    let r =
        send(&sim, ATTACHMENT, Some("application/octet-stream"), None, &att_query("a2-auth1"), b"x".to_vec())
            .await;
    assert_eq!(r.status, 401, "attachment: {}", r.text);
    assert!(r.text.is_empty());
    assert!(r.www_authenticate.as_deref().is_some_and(|w| w.starts_with("Bearer")), "{r:?}");
    let bodies = [
        (CORRESPONDENCE, corr(2)),
        (MAKE_AVAILABLE, json!({ "correspondenceIds": [id] })),
        (
            SYNC_STATUS,
            json!({ "correspondenceId": id, "syncedStatusEvents": [status_json("Read", "2024-01-06T10:00:00Z")] }),
        ),
        (
            SYNC_NOTIFICATION,
            json!({ "correspondenceId": id, "syncedNotificationEvents": [notification_json("Email", "2024-01-06T10:00:00Z", 1, false)] }),
        ),
        (
            SYNC_FORWARDING,
            json!({ "correspondenceId": id, "syncedForwardingEvents": [forwarding_json("2024-01-06T10:00:00Z", PARTY, PARTY)] }),
        ),
    ];
    for (path, body) in bodies {
        let r = send(&sim, path, Some("application/json"), None, &[], body.to_string().into_bytes()).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        assert!(r.text.is_empty(), "{path}: empty body");
        assert!(r.www_authenticate.as_deref().is_some_and(|w| w.starts_with("Bearer")), "{path}: {r:?}");
    }
    let inv = sim.sim.inventory();
    assert_eq!(inv.attachments, 0);
    assert_eq!(inv.correspondences, 1, "nothing stored without a token");
    assert_eq!(inv.dialogs, 0);
    assert_eq!(inv.events.status, 1, "only the Published event of the first migration");
    sim.stop().await;
}

/// AUTH-3: "Token not issued by Maskinporten (wrong issuer/signature/expired) → 401."
#[tokio::test]
async fn auth_3_a_token_the_server_does_not_accept_is_401() {
    let sim = sim().await;
    let r = send(
        &sim,
        CORRESPONDENCE,
        Some("application/json"),
        Some("an-altinn-exchanged-token"),
        &[],
        corr(1).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.is_empty());
    assert!(r.www_authenticate.as_deref().is_some_and(|w| w.starts_with("Bearer")), "{r:?}");
    assert!(sim.sim.item(1).is_none());
    // The real client with such a token gets no answer it could take for success.
    let c = client_with(&sim, "an-altinn-exchanged-token");
    let err = c.upload_attachment(&client_query("a2-auth3"), b"bytes".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(sim.sim.inventory().attachments, 0);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// ATT — attachment upload
// ---------------------------------------------------------------------------------------------

/// ATT-1: "Full query (incl. `sender`, `senderPartyUuid`) + non-empty octet-stream body → 200, body a JSON string GUID."
#[tokio::test]
async fn att_1_full_upload_is_200_with_a_guid_string() {
    let sim = sim().await;
    let r = upload(&sim, &att_query("a2-att1-raw"), b"%PDF-1.4 raw").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let raw_id: Uuid = r.json.as_str().expect("a JSON string").parse().expect("a GUID");
    // The real client's migrate step: uploads the record's attachment, then the correspondence.
    let rec = record(1001, 1);
    let out = migrate_step(&client(&sim), &rec, rec.events()).await;
    let cid = done_id(&out);
    let inv = sim.sim.inventory();
    assert_eq!(inv.stored_attachments.len(), 2);
    assert_eq!(inv.stored_attachments[0].attachment_id, raw_id);
    let a = &inv.stored_attachments[1];
    let ra = &rec.attachments[0];
    assert_eq!(a.altinn2_attachment_id.as_deref(), Some(ra.altinn2_attachment_id.as_str()));
    assert_eq!(a.resource_id, rec.resource_id);
    assert_eq!(a.sender, rec.sender);
    assert_eq!(a.sender_party_uuid, rec.sender_party_uuid);
    assert_eq!(a.senders_reference, rec.senders_reference, "altinn2sendersReference");
    assert_eq!(a.file_name.as_deref(), Some(ra.file_name.as_str()));
    assert_eq!(a.display_name, ra.display_name);
    assert_eq!(a.size, 64);
    assert_eq!(a.created, rec.created);
    let i = item(&sim, 1001);
    assert_eq!(i.correspondence_id, cid);
    assert_eq!(i.attachment_ids, vec![a.attachment_id]);
    sim.stop().await;
}

/// ATT-2: "Same `altinn2AttachmentId` again (different bytes) → 200 with the same GUID as ATT-1."
#[tokio::test]
async fn att_2_same_a2_attachment_id_gives_the_same_guid() {
    let sim = sim().await;
    let c = client(&sim);
    let first = c.upload_attachment(&client_query("a2-att2"), b"first bytes".to_vec()).await.unwrap();
    let again = c.upload_attachment(&client_query("a2-att2"), b"other bytes!".to_vec()).await.unwrap();
    assert_eq!(first, again);
    let inv = sim.sim.inventory();
    assert_eq!(inv.attachments, 1);
    assert_eq!(inv.stored_attachments[0].size, 11, "the first upload is kept");
    sim.stop().await;
}

/// ATT-3: "No `sender` → 500 ProblemDetails (Sender NOT NULL)."
#[tokio::test]
async fn att_3_upload_without_sender_is_500() {
    let sim = sim().await;
    let rec = record(1003, 1);
    let a2_att = rec.attachments[0].altinn2_attachment_id.clone();
    let r = upload(&sim, &without(&att_query(&a2_att), "sender"), b"bytes").await;
    assert_500(&r);
    let detail = r.json["detail"].as_str().unwrap().to_ascii_lowercase();
    assert!(detail.contains("sender") && detail.contains("not-null"), "names the reason: {}", r.text);
    assert_eq!(sim.sim.inventory().attachments, 0);
    // The real client sends `sender`, so the same attachment uploads.
    let out = migrate_step(&client(&sim), &rec, rec.events()).await;
    done_id(&out);
    let inv = sim.sim.inventory();
    assert_eq!(inv.stored_attachments.len(), 1);
    assert_eq!(inv.stored_attachments[0].altinn2_attachment_id.as_deref(), Some(a2_att.as_str()));
    assert_eq!(inv.stored_attachments[0].sender, rec.sender);
    assert_eq!(inv.stored_attachments[0].sender_party_uuid, rec.sender_party_uuid);
    sim.stop().await;
}

/// ATT-4: "No `sender`, duplicate `altinn2AttachmentId` → still 500."
#[tokio::test]
async fn att_4_duplicate_without_sender_is_still_500() {
    let sim = sim().await;
    let q = att_query("a2-att4");
    let r = upload(&sim, &q, b"bytes").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = upload(&sim, &without(&q, "sender"), b"bytes").await;
    assert_500(&r);
    assert_eq!(sim.sim.inventory().attachments, 1);
    sim.stop().await;
}

/// ATT-5: "No `senderPartyUuid` → 200 (party stored as the empty GUID)."
#[tokio::test]
async fn att_5_upload_without_sender_party_uuid_stores_the_empty_guid() {
    let sim = sim().await;
    let r = upload(&sim, &without(&att_query("a2-att5-raw"), "senderPartyUuid"), b"bytes").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let raw_id: Uuid = r.json.as_str().unwrap().parse().unwrap();
    // The real client sends the record's senderPartyUuid when the export has it...
    let rec = record(1005, 1);
    done_id(&migrate_step(&client(&sim), &rec, rec.events()).await);
    // ...and nothing (so A3 stores the empty GUID) when it does not.
    let mut bare = record(1006, 1);
    bare.sender_party_uuid = None;
    done_id(&migrate_step(&client(&sim), &bare, bare.events()).await);
    let inv = sim.sim.inventory();
    let by_a2 = |a2: &str| {
        inv.stored_attachments
            .iter()
            .find(|a| a.altinn2_attachment_id.as_deref() == Some(a2))
            .unwrap_or_else(|| panic!("{a2} not stored"))
    };
    assert_eq!(
        inv.stored_attachments.iter().find(|a| a.attachment_id == raw_id).unwrap().sender_party_uuid,
        Some(Uuid::nil())
    );
    let a = by_a2(&rec.attachments[0].altinn2_attachment_id);
    assert_eq!(a.sender, rec.sender);
    assert_eq!(a.sender_party_uuid, rec.sender_party_uuid);
    assert!(rec.sender_party_uuid.is_some_and(|p| !p.is_nil()));
    assert_eq!(by_a2(&bare.attachments[0].altinn2_attachment_id).sender_party_uuid, Some(Uuid::nil()));
    sim.stop().await;
}

/// ATT-6: "`Content-Length: 0` → 400, `errorCode` 2004, `detail` `"File must have content and has a max file size of 2GB"`."
#[tokio::test]
async fn att_6_empty_body_is_400_2004() {
    let sim = sim().await;
    let r = upload(&sim, &att_query("a2-att6"), b"").await;
    assert_error(&r, 400, 2004, "File must have content and has a max file size of 2GB");
    assert_eq!(r.json["title"], "Bad Request");
    assert_eq!(sim.sim.inventory().attachments, 0);
    sim.stop().await;
}

/// ATT-7: "`Content-Type: application/json` → 415."
#[tokio::test]
async fn att_7_upload_as_json_is_415() {
    let sim = sim().await;
    let r =
        send(&sim, ATTACHMENT, Some("application/json"), Some(TOKEN), &att_query("a2-att7"), b"{}".to_vec())
            .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(sim.sim.inventory().attachments, 0);
    sim.stop().await;
}

/// ATT-8: "Missing `resourceId`, `sendersReference` or `altinn2AttachmentId` (each alone) → 400 validation ProblemDetails."
#[tokio::test]
async fn att_8_missing_required_query_members_are_400() {
    let sim = sim().await;
    for key in ["resourceId", "sendersReference", "altinn2AttachmentId"] {
        let r = upload(&sim, &without(&att_query("a2-att8"), key), b"bytes").await;
        assert_validation_key(&r, key);
    }
    assert_eq!(sim.sim.inventory().attachments, 0);
    sim.stop().await;
}

/// ATT-9: "`checksum` of 31 characters → 400, message `"The checksum, if used, must be a MD5 hash with a length of 32 characters"`; an upper-case 32-char MD5 → 400 `"…must be a MD5 hash in lower case"`."
#[tokio::test]
async fn att_9_malformed_checksum_is_400() {
    let sim = sim().await;
    let q = att_query("a2-att9");
    let r = upload(&sim, &with(&q, "checksum", &"a".repeat(31)), b"bytes").await;
    assert_validation_msg(&r, "The checksum, if used, must be a MD5 hash with a length of 32 characters");
    let r = upload(&sim, &with(&q, "checksum", "8D777F385D3DFEC8815D20F7496026DC"), b"bytes").await;
    assert_validation_msg(&r, "must be a MD5 hash in lower case");
    assert_eq!(sim.sim.inventory().attachments, 0);
    sim.stop().await;
}

/// ATT-10: "Well-formed `checksum` that does not match the bytes → not 200 (code says 400/2008; by reading the failed-status insert hits an FK → 500)."
#[tokio::test]
async fn att_10_checksum_mismatch_is_not_200() {
    let sim = sim().await;
    let r = upload(&sim, &with(&att_query("a2-att10"), "checksum", &"0".repeat(32)), b"bytes").await;
    assert_ne!(r.status, 200, "{}", r.text);
    assert_500(&r);
    assert_eq!(sim.sim.inventory().attachments, 0);
    // Our client refuses a mismatching checksum before uploading.
    let mut rec = record(1010, 1);
    rec.attachments[0].checksum = Some("0".repeat(32));
    let before = calls(&sim, "attachment");
    let out = migrate_step(&client(&sim), &rec, rec.events()).await;
    assert!(matches!(out, StepOutcome::Invalid(_)), "{out:?}");
    assert_eq!(calls(&sim, "attachment"), before);
    sim.stop().await;
}

/// ATT-11: "`fileName` or `displayName` of 256 characters → 400."
#[tokio::test]
async fn att_11_file_or_display_name_of_256_is_400() {
    let sim = sim().await;
    let long = "n".repeat(256);
    for key in ["fileName", "displayName"] {
        let r = upload(&sim, &with(&att_query("a2-att11"), key, &long), b"bytes").await;
        assert_validation_key(&r, key);
    }
    let ok = upload(&sim, &with(&att_query("a2-att11"), "fileName", &"n".repeat(255)), b"bytes").await;
    assert_eq!(ok.status, 200, "255 is allowed: {}", ok.text);
    sim.stop().await;
}

/// ATT-12: "`resourceId=a:b` → 400 `"Invalid Resource identifier format"`."
#[tokio::test]
async fn att_12_bad_resource_id_is_400() {
    let sim = sim().await;
    let r = upload(&sim, &with(&att_query("a2-att12"), "resourceId", "a:b"), b"bytes").await;
    assert_validation_msg(&r, "Invalid Resource identifier format");
    sim.stop().await;
}

/// ATT-13: "`created` omitted → 200."
#[tokio::test]
async fn att_13_created_omitted_is_200() {
    let sim = sim().await;
    let r = upload(&sim, &without(&att_query("a2-att13"), "created"), b"bytes").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let inv = sim.sim.inventory();
    assert_eq!(inv.stored_attachments[0].created, ts("0001-01-01T00:00:00Z"));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// COR — migrate correspondence
// ---------------------------------------------------------------------------------------------

/// COR-1: "First migration, `makeAvailable:false`, two existing attachments → 200 `{…"attachmentStatuses":[{"attachmentId":A1,"status":"Initialized"},{…A2…}],"dialogId":null}`; none → `"attachmentStatuses":[]`."
#[tokio::test]
async fn cor_1_first_migration_answers_attachment_statuses() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(2001, 0);
    let a1 = c.upload_attachment(&client_query("a2-cor1-1"), b"one".to_vec()).await.unwrap();
    let a2 = c.upload_attachment(&client_query("a2-cor1-2"), b"two".to_vec()).await.unwrap();
    let resp = c.migrate(&client_request(&rec, rec.events(), vec![a1, a2])).await.unwrap();
    assert_eq!(resp.altinn2_correspondence_id, 2001);
    let statuses = resp.attachment_statuses.expect("attachmentStatuses on a first migration");
    let got: Vec<_> = statuses.iter().map(|s| (s.attachment_id, s.status.as_str())).collect();
    assert_eq!(got, vec![(a1, "Initialized"), (a2, "Initialized")]);
    assert_eq!(resp.dialog_id, None);
    let i = item(&sim, 2001);
    assert_eq!(i.correspondence_id, resp.correspondence_id);
    assert_eq!(i.attachment_ids, vec![a1, a2]);
    assert!(i.is_migrating);
    // Without attachments: `[]`, not null (checked on the wire).
    let none = record(2002, 0);
    let body = serde_json::to_value(client_request(&none, none.events(), vec![])).unwrap();
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["attachmentStatuses"], json!([]));
    assert_eq!(r.json["dialogId"], Value::Null);
    sim.stop().await;
}

/// COR-2: "Same body again → 200, same `correspondenceId`, `"attachmentStatuses":null`, `"dialogId":null`."
#[tokio::test]
async fn cor_2_remigration_answers_the_same_id() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(2010, 0);
    let a1 = c.upload_attachment(&client_query("a2-cor2"), b"one".to_vec()).await.unwrap();
    let body = client_request(&rec, rec.events(), vec![a1]);
    let first = c.migrate(&body).await.unwrap();
    let again = c.migrate(&body).await.unwrap();
    assert_eq!(again.correspondence_id, first.correspondence_id);
    assert_eq!(again.attachment_statuses, None);
    assert_eq!(again.dialog_id, None);
    let inv = sim.sim.inventory();
    assert_eq!(inv.correspondences, 1);
    assert_eq!(inv.remigrations, 1);
    sim.stop().await;
}

/// COR-3: "Remigration with changed title/recipient → 200, stored content unchanged."
#[tokio::test]
async fn cor_3_remigration_does_not_change_content() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(2020, 0);
    let first = c.migrate(&client_request(&rec, rec.events(), vec![])).await.unwrap();
    let mut changed = rec.clone();
    changed.title = "Ny tittel".into();
    changed.recipient = "urn:altinn:person:identifier-no:01017012345".into();
    let again = c.migrate(&client_request(&changed, changed.events(), vec![])).await.unwrap();
    assert_eq!(again.correspondence_id, first.correspondence_id);
    let i = item(&sim, 2020);
    assert_eq!(i.content.1, rec.title);
    assert_eq!(i.recipient, rec.recipient);
    sim.stop().await;
}

/// COR-4: "Remigration with one new `Read` event and the old ones → 200; exactly one new status row."
#[tokio::test]
async fn cor_4_remigration_adds_only_new_events() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(2030, 0);
    let old = vec![
        st(status_ev(CorrespondenceStatus::Published, "2024-01-05T10:00:00Z")),
        st(status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00Z")),
    ];
    c.migrate(&client_request(&rec, old.clone(), vec![])).await.unwrap();
    let before = item(&sim, 2030).statuses.len();
    let mut all = old;
    all.push(st(status_ev(CorrespondenceStatus::Read, "2024-01-07T10:00:00Z")));
    c.migrate(&client_request(&rec, all, vec![])).await.unwrap();
    let i = item(&sim, 2030);
    assert_eq!(i.statuses.len(), before + 1, "{:#?}", i.statuses);
    assert_eq!(sorted_times(&i, "Read"), vec![ts("2024-01-06T10:00:00Z"), ts("2024-01-07T10:00:00Z")]);
    sim.stop().await;
}

/// COR-5: "`makeAvailable:true` on first migration, non-Development → 200 with `"dialogId":""`; Development → a dialog id. On remigration → `"dialogId":null`."
#[tokio::test]
async fn cor_5_make_available_on_migration_answers_empty_dialog_id() {
    let sim = sim().await;
    let mut body = corr(2040);
    body["makeAvailable"] = json!(true);
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["dialogId"], json!(""));
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["dialogId"], Value::Null);
    // Our client asks for it only for items of a `with-migrate` phase (COR-25..29).
    let rec = record(2041, 0);
    assert!(!client_request(&rec, rec.events(), vec![]).make_available);
    let mut live = work_item(&rec, rec.events());
    live.make_available_on_migrate = true;
    assert!(workers::migrate::request(&rec, &live, vec![]).make_available);
    sim.stop().await;
}

/// COR-6: "`content` absent → 400, `errorCode` 1019, `detail` `"The Content field must be provided for the correspondence"`."
#[tokio::test]
async fn cor_6_content_absent_is_400_1019() {
    let sim = sim().await;
    let body = corr_with(2050, |c| remove(c, "content"));
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_error(&r, 400, 1019, "The Content field must be provided for the correspondence");
    assert!(sim.sim.item(2050).is_none());
    sim.stop().await;
}

/// COR-7: "`messageTitle` `""`, `"   "`, absent, or 256 chars → 400 validation ProblemDetails."
#[tokio::test]
async fn cor_7_bad_message_title_is_400() {
    let sim = sim().await;
    for t in [json!(""), json!("   "), Value::Null, json!("t".repeat(256))] {
        let body = content_with(2060, |c| {
            if t.is_null() {
                remove(c, "messageTitle");
            } else {
                c["messageTitle"] = t.clone();
            }
        });
        let r = post(&sim, CORRESPONDENCE, &body).await;
        assert_validation(&r);
    }
    assert!(sim.sim.item(2060).is_none());
    sim.stop().await;
}

/// COR-8: "`language:"de"` → 400, `errorCode` 1023; `"NB"` → 200; `"nob"` → 400 `"The ISO6391 field must be exactly 2 characters long!"`; absent → 500."
#[tokio::test]
async fn cor_8_language_rules() {
    let sim = sim().await;
    let r = post(&sim, CORRESPONDENCE, &content_with(2070, |c| c["language"] = json!("de"))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["errorCode"], 1023, "{}", r.text);
    let r = post(&sim, CORRESPONDENCE, &content_with(2071, |c| c["language"] = json!("NB"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(&sim, CORRESPONDENCE, &content_with(2072, |c| c["language"] = json!("nob"))).await;
    assert_validation_msg(&r, "The ISO6391 field must be exactly 2 characters long!");
    let r = post(&sim, CORRESPONDENCE, &content_with(2073, |c| remove(c, "language"))).await;
    assert_500(&r);
    assert!(sim.sim.item(2070).is_none() && sim.sim.item(2072).is_none() && sim.sim.item(2073).is_none());
    sim.stop().await;
}

/// COR-9: "`messageBody` `""` or 30001 chars → 400 validation ProblemDetails."
#[tokio::test]
async fn cor_9_bad_message_body_is_400() {
    let sim = sim().await;
    for b in [String::new(), "b".repeat(30_001)] {
        let r = post(&sim, CORRESPONDENCE, &content_with(2080, |c| c["messageBody"] = json!(b))).await;
        assert_validation_key(&r, "MessageBody");
    }
    let r = post(&sim, CORRESPONDENCE, &content_with(2081, |c| c["messageBody"] = json!("b".repeat(30_000))))
        .await;
    assert_eq!(r.status, 200, "30000 is allowed: {}", r.text);
    sim.stop().await;
}

/// COR-10: "`messageSummary` 256 chars → 400; `messageSummary` absent → 500."
#[tokio::test]
async fn cor_10_message_summary_rules() {
    let sim = sim().await;
    let r = post(&sim, CORRESPONDENCE, &content_with(2090, |c| c["messageSummary"] = json!("s".repeat(256))))
        .await;
    assert_validation_key(&r, "MessageSummary");
    let r = post(&sim, CORRESPONDENCE, &content_with(2091, |c| remove(c, "messageSummary"))).await;
    assert_500(&r);
    assert!(sim.sim.item(2090).is_none() && sim.sim.item(2091).is_none());
    sim.stop().await;
}

/// COR-11: "`requestedPublishTime` absent → 500."
#[tokio::test]
async fn cor_11_requested_publish_time_absent_is_500() {
    let sim = sim().await;
    let r = post(&sim, CORRESPONDENCE, &corr_with(2100, |c| remove(c, "requestedPublishTime"))).await;
    assert_500(&r);
    assert!(sim.sim.item(2100).is_none());
    sim.stop().await;
}

/// COR-12: "`correspondence.sender` absent → 500."
#[tokio::test]
async fn cor_12_sender_absent_is_500() {
    let sim = sim().await;
    let r = post(&sim, CORRESPONDENCE, &corr_with(2110, |c| remove(c, "sender"))).await;
    assert_500(&r);
    assert!(sim.sim.item(2110).is_none());
    sim.stop().await;
}

/// COR-13: "`recipients` absent → 400; `recipients: []` → 500; two recipients → 200, only the first (lower-cased) stored."
#[tokio::test]
async fn cor_13_recipients_rules() {
    let sim = sim().await;
    let mut body = corr(2120);
    remove(&mut body["correspondenceData"], "recipients");
    assert_validation_msg(&post(&sim, CORRESPONDENCE, &body).await, "'recipients'");
    let mut body = corr(2121);
    body["correspondenceData"]["recipients"] = json!([]);
    assert_500(&post(&sim, CORRESPONDENCE, &body).await);
    let mut body = corr(2122);
    body["correspondenceData"]["recipients"] =
        json!(["URN:ALTINN:PERSON:IDENTIFIER-NO:29909898925", "urn:altinn:person:identifier-no:01017012345"]);
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(item(&sim, 2122).recipient, RECIPIENT);
    assert!(sim.sim.item(2120).is_none() && sim.sim.item(2121).is_none());
    sim.stop().await;
}

/// COR-14: "`existingAttachments` with an unknown GUID → 500."
#[tokio::test]
async fn cor_14_unknown_existing_attachment_is_500() {
    let sim = sim().await;
    let mut body = corr(2130);
    body["correspondenceData"]["existingAttachments"] = json!([Uuid::now_v7()]);
    assert_500(&post(&sim, CORRESPONDENCE, &body).await);
    assert!(sim.sim.item(2130).is_none());
    sim.stop().await;
}

/// COR-15: "`IsMigrating` absent → 200 and the correspondence is readable through the normal API without make-available."
#[tokio::test]
async fn cor_15_is_migrating_absent_publishes_at_once() {
    let sim = sim().await;
    let mut body = corr(2140);
    remove(&mut body, "IsMigrating");
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!item(&sim, 2140).is_migrating, "not migrating: live in the A3 API");
    // Our client always sends it true.
    let rec = record(2141, 0);
    let sent = serde_json::to_value(client_request(&rec, rec.events(), vec![])).unwrap();
    assert_eq!(sent["IsMigrating"], json!(true));
    sim.stop().await;
}

/// COR-16: "`propertyList` with 11 entries → 400 `"propertyList can contain at most 10 properties"`; a 51-char key → 400; a 301-char value → 400."
#[tokio::test]
async fn cor_16_property_list_limits() {
    let sim = sim().await;
    let eleven: serde_json::Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = post(&sim, CORRESPONDENCE, &corr_with(2150, |c| c["propertyList"] = Value::Object(eleven))).await;
    assert_validation_msg(&r, "propertyList can contain at most 10 properties");
    let r =
        post(&sim, CORRESPONDENCE, &corr_with(2151, |c| c["propertyList"] = json!({ "k".repeat(51): "v" })))
            .await;
    assert_validation(&r);
    let r =
        post(&sim, CORRESPONDENCE, &corr_with(2152, |c| c["propertyList"] = json!({ "k": "v".repeat(301) })))
            .await;
    assert_validation(&r);
    let ok = corr_with(2153, |c| c["propertyList"] = json!({ "k".repeat(50): "v".repeat(300) }));
    assert_eq!(post(&sim, CORRESPONDENCE, &ok).await.status, 200, "limits themselves are allowed");
    sim.stop().await;
}

/// COR-17: "11 `externalReferences` → 400 `"externalReferences can contain at most 10 references"`; one `DialogportenTransmissionId` → 400 `"Cannot initialize a correspondence with pre-existing transmission defined"`."
#[tokio::test]
async fn cor_17_external_reference_limits() {
    let sim = sim().await;
    let refs: Vec<Value> =
        (0..11).map(|i| json!({ "referenceType": "Generic", "referenceValue": format!("r{i}") })).collect();
    let r = post(&sim, CORRESPONDENCE, &corr_with(2160, |c| c["externalReferences"] = json!(refs))).await;
    assert_validation_msg(&r, "externalReferences can contain at most 10 references");
    let one = json!([{ "referenceType": "DialogportenTransmissionId", "referenceValue": Uuid::now_v7() }]);
    let r = post(&sim, CORRESPONDENCE, &corr_with(2161, |c| c["externalReferences"] = one)).await;
    assert_validation_msg(&r, "Cannot initialize a correspondence with pre-existing transmission defined");
    let bad_type = json!([{ "referenceType": "DialogportenTransmissionType", "referenceValue": "Telegram" }]);
    let r = post(&sim, CORRESPONDENCE, &corr_with(2162, |c| c["externalReferences"] = bad_type)).await;
    assert_validation_msg(
        &r,
        "DialogportenTransmissionType referenceValue must be a valid transmission type",
    );
    let good_type =
        json!([{ "referenceType": "DialogportenTransmissionType", "referenceValue": "decision" }]);
    let r = post(&sim, CORRESPONDENCE, &corr_with(2163, |c| c["externalReferences"] = good_type)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(sim.sim.item(2160).is_none() && sim.sim.item(2161).is_none() && sim.sim.item(2162).is_none());
    // Our client refuses the bad value before sending.
    let mut rec = record(2164, 0);
    rec.external_references = vec![ExternalReference {
        reference_value: "Telegram".into(),
        reference_type: ReferenceType::DialogportenTransmissionType,
    }];
    let before = calls(&sim, "correspondence");
    let out = migrate_step(&client(&sim), &rec, rec.events()).await;
    assert!(matches!(out, StepOutcome::Invalid(_)), "{out:?}");
    assert_eq!(calls(&sim, "correspondence"), before);
    sim.stop().await;
}

/// COR-18: "`externalReferences:[{"referenceType":"DialogportenDialogId","referenceValue":"X"}]` → 200; then make-available of it → `ok:true`, `dialogId:"X"`."
#[tokio::test]
async fn cor_18_dialog_id_reference_stands_in_for_the_dialog() {
    let sim = sim().await;
    let refs = json!([{ "referenceType": "DialogportenDialogId", "referenceValue": "X" }]);
    let id = migrated_body(&sim, &corr_with(2170, |c| c["externalReferences"] = refs)).await;
    let r = post(&sim, MAKE_AVAILABLE, &json!({ "correspondenceIds": [id] })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["statuses"],
        json!([{ "correspondenceId": id, "dialogId": "X", "error": null, "ok": true }])
    );
    // Our client refuses to send such a reference.
    let mut rec = record(2171, 0);
    rec.external_references = vec![ExternalReference {
        reference_value: "X".into(),
        reference_type: ReferenceType::DialogportenDialogId,
    }];
    let before = calls(&sim, "correspondence");
    let out = migrate_step(&client(&sim), &rec, rec.events()).await;
    assert!(matches!(out, StepOutcome::Invalid(_)), "{out:?}");
    assert_eq!(calls(&sim, "correspondence"), before);
    sim.stop().await;
}

/// COR-19: "`messageSender` 256 chars → 400; `sendersReference` `""` → 400."
#[tokio::test]
async fn cor_19_message_sender_and_senders_reference_limits() {
    let sim = sim().await;
    let r =
        post(&sim, CORRESPONDENCE, &corr_with(2180, |c| c["messageSender"] = json!("m".repeat(256)))).await;
    assert_validation_key(&r, "MessageSender");
    let r = post(&sim, CORRESPONDENCE, &corr_with(2181, |c| c["sendersReference"] = json!(""))).await;
    assert_validation_key(&r, "SendersReference");
    assert!(sim.sim.item(2180).is_none() && sim.sim.item(2181).is_none());
    sim.stop().await;
}

/// COR-20: "Missing `altinn2CorrespondenceId`, `correspondenceData`, an event's `eventUserPartyUuid`, or a notification's `isReminder` → 400 validation ProblemDetails."
#[tokio::test]
async fn cor_20_missing_required_members_are_400() {
    let sim = sim().await;
    let mut a = corr(2190);
    remove(&mut a, "altinn2CorrespondenceId");
    assert_validation(&post(&sim, CORRESPONDENCE, &a).await);
    let mut b = corr(2191);
    remove(&mut b, "correspondenceData");
    assert_validation(&post(&sim, CORRESPONDENCE, &b).await);
    let mut c = corr(2192);
    remove(&mut c["eventHistory"][0], "eventUserPartyUuid");
    assert_validation(&post(&sim, CORRESPONDENCE, &c).await);
    let mut d = corr(2193);
    let mut n = notification_json("Email", "2024-01-06T10:00:00Z", 1, false);
    remove(&mut n, "isReminder");
    d["notificationHistory"] = json!([n]);
    assert_validation(&post(&sim, CORRESPONDENCE, &d).await);
    assert_eq!(sim.sim.inventory().correspondences, 0);
    sim.stop().await;
}

/// COR-21: "`correspondenceData.published` differing from the first `Published` event → stored `Published` equals the event's `statusChanged`."
#[tokio::test]
async fn cor_21_published_comes_from_the_first_published_event() {
    let sim = sim().await;
    let mut rec = record(2200, 0);
    rec.published = Some(ts("2024-01-05T08:00:00Z"));
    let events = vec![
        st(status_ev(CorrespondenceStatus::Published, "2024-01-05T10:30:00.250Z")),
        st(status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00Z")),
    ];
    done_id(&migrate_step(&client(&sim), &rec, events).await);
    assert_eq!(item(&sim, 2200).published, Some(ts("2024-01-05T10:30:00.250Z")));
    sim.stop().await;
}

/// COR-22: "Status events without `statusText` → 200."
#[tokio::test]
async fn cor_22_status_events_without_text_are_200() {
    let sim = sim().await;
    let mut body = corr(2210);
    let mut e = status_json("Read", "2024-01-06T10:00:00Z");
    remove(&mut e, "statusText");
    body["eventHistory"] = json!([e]);
    let r = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let i = item(&sim, 2210);
    let read: Vec<_> = i.statuses.iter().filter(|s| s.status == "Read").collect();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].status_text, "", "the default \"\" is stored");
    sim.stop().await;
}

/// COR-23: "`mailboxSupplier:"910753614"` (no prefix) → 400; `forwardingText` 4001 chars → 400; `forwardedToEmail` 1001 chars → 400."
#[tokio::test]
async fn cor_23_forwarding_member_limits() {
    let sim = sim().await;
    let cases: [(&str, Value); 3] = [
        ("mailboxSupplier", json!("910753614")),
        ("forwardingText", json!("t".repeat(4001))),
        ("forwardedToEmail", json!("e".repeat(1001))),
    ];
    for (key, value) in cases {
        let mut f = forwarding_json("2024-01-06T10:00:00Z", PARTY, PARTY);
        f[key] = value;
        let mut body = corr(2220);
        body["forwardingHistory"] = json!([f]);
        assert_validation_key(&post(&sim, CORRESPONDENCE, &body).await, key);
    }
    let mut f = forwarding_json("2024-01-06T10:00:00Z", PARTY, PARTY);
    f["mailboxSupplier"] = json!("0192:910753614");
    let mut body = corr(2221);
    body["forwardingHistory"] = json!([f]);
    assert_eq!(post(&sim, CORRESPONDENCE, &body).await.status, 200);
    assert!(sim.sim.item(2220).is_none());
    sim.stop().await;
}

/// COR-24: "`eventHistory` with `PurgedByRecipient` on first migration → 200; make-available of it afterwards → `ok:true` (not refused as purged)."
#[tokio::test]
async fn cor_24_purge_in_event_history_does_not_purge() {
    let sim = sim().await;
    let mut body = corr(2230);
    body["eventHistory"] = json!([
        status_json("Published", "2024-01-05T10:00:00Z"),
        status_json("PurgedByRecipient", "2024-01-07T10:00:00Z"),
    ]);
    let id = migrated_body(&sim, &body).await;
    let i = item(&sim, 2230);
    assert_eq!(count_status(&i, "PurgedByRecipient"), 0, "stored as a delete event only");
    assert_eq!(i.delete_events.len(), 1);
    let r = post(&sim, MAKE_AVAILABLE, &json!({ "correspondenceIds": [id] })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["statuses"][0]["ok"], true, "{}", r.text);
    assert!(r.json["statuses"][0]["dialogId"].as_str().is_some_and(|d| !d.is_empty()), "{}", r.text);

    // Our client keeps a purge out of the first migration and leaves it pending for the status
    // sync, where A3 purges the item.
    let c = client(&sim);
    let rec = record(2231, 0);
    let mut events = rec.events();
    events.push(A2EventBody::Status(status_ev(
        CorrespondenceStatus::PurgedByRecipient,
        "2024-01-08T10:00:00Z",
    )));
    let purge_id = i64::try_from(events.len()).unwrap();
    let out = migrate_step(&c, &rec, events).await;
    let StepOutcome::Done { a3_correspondence_id: Some(g), synced_events, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(!synced_events.contains(&purge_id), "the purge stays pending: {synced_events:?}");
    let held = item(&sim, 2231);
    assert!(held.delete_events.is_empty() && count_status(&held, "PurgedByRecipient") == 0);
    c.sync_status(&one_status(
        *g,
        status_ev(CorrespondenceStatus::PurgedByRecipient, "2024-01-08T10:00:00Z"),
    ))
    .await
    .unwrap();
    assert_eq!(count_status(&item(&sim, 2231), "PurgedByRecipient"), 1, "purged through the sync");
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// MA — make available
// ---------------------------------------------------------------------------------------------

/// MA-1: "`{"correspondenceIds":[G]}` for a migrated item → 200 `{"statuses":[{"correspondenceId":G,"dialogId":"<id>","error":null,"ok":true}]}`."
#[tokio::test]
async fn ma_1_make_available_creates_a_dialog() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(3001, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let resp = c.make_available(&[g]).await.unwrap();
    assert_eq!(resp.statuses.len(), 1);
    let s = &resp.statuses[0];
    assert_eq!(s.correspondence_id, g);
    assert!(s.ok);
    assert_eq!(s.error, None);
    let d = s.dialog_id.clone().filter(|d| !d.is_empty()).expect("a dialog id");
    assert!(dialog_uuid(Some(&d)).is_some(), "the client reads it as a dialog: {d}");
    let i = item(&sim, 3001);
    assert_eq!(dialog_of(&i), d);
    assert!(!i.is_migrating);
    sim.stop().await;
}

/// MA-2: "Same call again → 200, `ok:true`, same `dialogId`, no second dialog."
#[tokio::test]
async fn ma_2_make_available_again_answers_the_same_dialog() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(3002, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let first = c.make_available(&[g]).await.unwrap();
    let again = c.make_available(&[g]).await.unwrap();
    assert!(again.statuses[0].ok);
    assert_eq!(again.statuses[0].dialog_id, first.statuses[0].dialog_id);
    assert_eq!(sim.sim.inventory().dialogs, 1);
    sim.stop().await;
}

/// MA-3: "Unknown GUID → 200, `ok:false`, `error` starts with `System.ArgumentException: Correspondence with id`."
#[tokio::test]
async fn ma_3_unknown_id_is_not_ok() {
    let sim = sim().await;
    let unknown = Uuid::now_v7();
    let resp = client(&sim).make_available(&[unknown]).await.unwrap();
    assert_eq!(resp.statuses.len(), 1);
    let s = &resp.statuses[0];
    assert_eq!(s.correspondence_id, unknown);
    assert!(!s.ok);
    let e = s.error.as_deref().unwrap_or_default();
    assert!(e.starts_with("System.ArgumentException: Correspondence with id"), "{e}");
    sim.stop().await;
}

/// MA-4: "Purged item (synced `PurgedByRecipient`) → 200, `ok:false`, `error` contains `is purged and cannot be made available`."
#[tokio::test]
async fn ma_4_purged_item_is_not_ok() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(3004, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    c.sync_status(&one_status(g, status_ev(CorrespondenceStatus::PurgedByRecipient, "2024-01-08T10:00:00Z")))
        .await
        .unwrap();
    let resp = c.make_available(&[g]).await.unwrap();
    let s = &resp.statuses[0];
    assert!(!s.ok);
    assert!(
        s.error.as_deref().unwrap_or_default().contains("is purged and cannot be made available"),
        "{s:?}"
    );
    assert_eq!(item(&sim, 3004).dialog_id, None);
    sim.stop().await;
}

/// MA-5: "Mixed list [known, unknown] → 200 with two statuses in request order, `ok` true/false."
#[tokio::test]
async fn ma_5_mixed_list_answers_in_request_order() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(3005, 0);
    let known = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let unknown = Uuid::now_v7();
    let resp = c.make_available(&[known, unknown]).await.unwrap();
    let got: Vec<_> = resp.statuses.iter().map(|s| (s.correspondence_id, s.ok)).collect();
    assert_eq!(got, vec![(known, true), (unknown, false)]);
    sim.stop().await;
}

/// MA-6: "Both `correspondenceId` and `correspondenceIds` → exactly one status, for `correspondenceId`."
#[tokio::test]
async fn ma_6_correspondence_id_wins_over_the_list() {
    let sim = sim().await;
    let a = migrated(&sim, 3061).await;
    let b = migrated(&sim, 3062).await;
    let r = post(&sim, MAKE_AVAILABLE, &json!({ "correspondenceId": a, "correspondenceIds": [b] })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let statuses = r.json["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 1, "{}", r.text);
    assert_eq!(statuses[0]["correspondenceId"], json!(a));
    assert!(item(&sim, 3062).is_migrating, "the list was not processed");
    sim.stop().await;
}

/// MA-7: "`{}` or `{"correspondenceIds":[]}` → 200 `{"statuses":[]}`."
#[tokio::test]
async fn ma_7_nothing_to_do_answers_no_statuses() {
    let sim = sim().await;
    migrated(&sim, 3070).await;
    for body in [json!({}), json!({ "correspondenceIds": [] })] {
        let r = post(&sim, MAKE_AVAILABLE, &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json, json!({ "statuses": [] }));
    }
    assert!(item(&sim, 3070).is_migrating);
    sim.stop().await;
}

/// MA-8: "`{"batchSize":10}` without `createdTo` → 500."
#[tokio::test]
async fn ma_8_batch_without_created_to_is_500() {
    let sim = sim().await;
    migrated(&sim, 3080).await;
    assert_500(&post(&sim, MAKE_AVAILABLE, &json!({ "batchSize": 10 })).await);
    assert!(item(&sim, 3080).is_migrating);
    sim.stop().await;
}

/// MA-9: "`{"batchSize":2,"createdTo":T}` with three eligible items → 2 statuses, the two newest by `created`; items with `IsMigrating=false`, without `altinn2CorrespondenceId` or purged are never candidates."
#[tokio::test]
async fn ma_9_batch_takes_the_newest_eligible() {
    let sim = sim().await;
    let _oldest = migrated_body(&sim, &corr_at(3091, "2024-01-01T00:00:00Z")).await;
    let middle = migrated_body(&sim, &corr_at(3092, "2024-01-02T00:00:00Z")).await;
    let newest = migrated_body(&sim, &corr_at(3093, "2024-01-03T00:00:00Z")).await;
    let mut live = corr_at(3094, "2024-01-04T00:00:00Z");
    remove(&mut live, "IsMigrating");
    migrated_body(&sim, &live).await;
    let purged = migrated_body(&sim, &corr_at(3095, "2024-01-05T00:00:00Z")).await;
    let sync = json!({ "correspondenceId": purged, "syncedStatusEvents": [status_json("PurgedByRecipient", "2024-01-08T10:00:00Z")] });
    assert_eq!(post(&sim, SYNC_STATUS, &sync).await.status, 200);
    migrated_body(&sim, &corr_at(3096, "2024-03-01T00:00:00Z")).await; // after createdTo
    let r = post(&sim, MAKE_AVAILABLE, &json!({ "batchSize": 2, "createdTo": "2024-02-01T00:00:00Z" })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<Value> =
        r.json["statuses"].as_array().unwrap().iter().map(|s| s["correspondenceId"].clone()).collect();
    assert_eq!(ids, vec![json!(newest), json!(middle)], "{}", r.text);
    assert!(r.json["statuses"].as_array().unwrap().iter().all(|s| s["ok"] == true));
    assert!(item(&sim, 3091).is_migrating);
    assert!(item(&sim, 3095).dialog_id.is_none() && item(&sim, 3096).dialog_id.is_none());
    sim.stop().await;
}

/// MA-10: "`{"batchSize":5,"createdTo":T,"asyncProcessing":true}` → 200 `{"statuses":[]}`."
#[tokio::test]
async fn ma_10_async_batch_answers_no_statuses() {
    let sim = sim().await;
    migrated(&sim, 3100).await;
    let body = json!({ "batchSize": 5, "createdTo": "2025-01-01T00:00:00Z", "asyncProcessing": true });
    let r = post(&sim, MAKE_AVAILABLE, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({ "statuses": [] }));
    sim.stop().await;
}

/// MA-11: "`createEvents:true` with `correspondenceIds` → dialog still created silently (flag ignored outside batch mode)."
#[tokio::test]
async fn ma_11_create_events_is_ignored_for_a_list() {
    let sim = sim().await;
    let id = migrated(&sim, 3110).await;
    let r = post(&sim, MAKE_AVAILABLE, &json!({ "correspondenceIds": [id], "createEvents": true })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.json["statuses"][0];
    assert_eq!(s["ok"], true, "{}", r.text);
    assert_eq!(s["dialogId"].as_str().unwrap(), dialog_of(&item(&sim, 3110)));
    assert!(!item(&sim, 3110).is_migrating);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// SST — status sync
// ---------------------------------------------------------------------------------------------

/// SST-1: "`Read` for a migrated item → 200, body `"<correspondenceId>"`."
#[tokio::test]
async fn sst_1_read_is_200_with_the_id() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(4001, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let answered = c
        .sync_status(&one_status(g, status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00Z")))
        .await
        .unwrap();
    assert_eq!(answered, g);
    let i = item(&sim, 4001);
    assert_eq!(sorted_times(&i, "Read"), vec![ts("2024-01-06T10:00:00Z")]);
    sim.stop().await;
}

/// SST-2: "Unknown `correspondenceId` with one `Read` → 404, `errorCode` 1001, `detail` `"The requested correspondence was not found"`, `title` `"Not Found"`."
#[tokio::test]
async fn sst_2_unknown_id_is_404_1001() {
    let sim = sim().await;
    let body = json!({ "correspondenceId": Uuid::now_v7(), "syncedStatusEvents": [status_json("Read", "2024-01-06T10:00:00Z")] });
    let r = post(&sim, SYNC_STATUS, &body).await;
    assert_error(&r, 404, 1001, "The requested correspondence was not found");
    assert_eq!(r.json["title"], "Not Found");
    sim.stop().await;
}

/// SST-3: "`syncedStatusEvents: []` → 400 with message `"At least one status event is required."`."
#[tokio::test]
async fn sst_3_empty_status_list_is_400() {
    let sim = sim().await;
    let id = migrated(&sim, 4003).await;
    let r = post(&sim, SYNC_STATUS, &json!({ "correspondenceId": id, "syncedStatusEvents": [] })).await;
    assert_validation_msg(&r, "At least one status event is required.");
    sim.stop().await;
}

/// SST-4: "Only `Published`/`Fetched`/`Initialized` etc. → 200, nothing stored."
#[tokio::test]
async fn sst_4_unsyncable_statuses_are_ignored() {
    let sim = sim().await;
    let id = migrated(&sim, 4004).await;
    let before = item(&sim, 4004);
    let body = json!({ "correspondenceId": id, "syncedStatusEvents": [
        status_json("Published", "2024-01-06T10:00:00Z"),
        status_json("Fetched", "2024-01-06T11:00:00Z"),
        status_json("Initialized", "2024-01-06T12:00:00Z"),
    ] });
    let r = post(&sim, SYNC_STATUS, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = item(&sim, 4004);
    assert_eq!(after.statuses, before.statuses);
    assert_eq!(after.delete_events, before.delete_events);
    // Our client does not send them at all.
    let c = client(&sim);
    let before_calls = calls(&sim, "sync_status");
    let mut w = work_item(
        &record(4004, 0),
        vec![st(status_ev(CorrespondenceStatus::Fetched, "2024-01-06T11:00:00Z"))],
    );
    w.a3_correspondence_id = Some(id);
    let out = workers::Step::run(&workers::sync::SyncStep::new(c), &w).await;
    assert!(matches!(out, StepOutcome::Done { .. }), "{out:?}");
    assert_eq!(calls(&sim, "sync_status"), before_calls);
    sim.stop().await;
}

/// SST-5: "Same `Read` again with `statusChanged` +0.4 s (same second) → 200, no new row; +1 s → new row."
#[tokio::test]
async fn sst_5_status_sync_dedups_to_the_second() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(4005, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let read = |at: &str| one_status(g, status_ev(CorrespondenceStatus::Read, at));
    c.sync_status(&read("2024-01-06T10:00:00.100Z")).await.unwrap();
    c.sync_status(&read("2024-01-06T10:00:00.500Z")).await.unwrap();
    assert_eq!(count_status(&item(&sim, 4005), "Read"), 1);
    c.sync_status(&read("2024-01-06T10:00:01.100Z")).await.unwrap();
    assert_eq!(count_status(&item(&sim, 4005), "Read"), 2);
    sim.stop().await;
}

/// SST-6: "`PurgedByRecipient` → 200, item purged (make-available then MA-4); repeated → 200, no second purge."
#[tokio::test]
async fn sst_6_purge_is_applied_once() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(4006, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let purge = |at: &str| one_status(g, status_ev(CorrespondenceStatus::PurgedByRecipient, at));
    assert_eq!(c.sync_status(&purge("2024-01-08T10:00:00Z")).await.unwrap(), g);
    assert_eq!(count_status(&item(&sim, 4006), "PurgedByRecipient"), 1);
    let resp = c.make_available(&[g]).await.unwrap();
    assert!(!resp.statuses[0].ok, "{resp:?}");
    assert_eq!(c.sync_status(&purge("2024-01-08T10:00:00Z")).await.unwrap(), g);
    assert_eq!(c.sync_status(&purge("2024-01-09T10:00:00Z")).await.unwrap(), g);
    assert_eq!(count_status(&item(&sim, 4006), "PurgedByRecipient"), 1, "{:#?}", item(&sim, 4006).statuses);
    sim.stop().await;
}

/// SST-7: "`SoftDeletedByRecipient` → 200, stored as delete event; a duplicate within the second → 200, not stored again."
#[tokio::test]
async fn sst_7_soft_delete_is_a_delete_event_once() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(4007, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let del = |at: &str| one_status(g, status_ev(CorrespondenceStatus::SoftDeletedByRecipient, at));
    c.sync_status(&del("2024-01-08T10:00:00.100Z")).await.unwrap();
    let i = item(&sim, 4007);
    assert_eq!(i.delete_events.len(), 1);
    assert_eq!(i.delete_events[0].status, "SoftDeletedByRecipient");
    assert_eq!(count_status(&i, "SoftDeletedByRecipient"), 0, "not a status row");
    c.sync_status(&del("2024-01-08T10:00:00.900Z")).await.unwrap();
    assert_eq!(item(&sim, 4007).delete_events.len(), 1);
    sim.stop().await;
}

/// SST-8: "Sync before make-available (item still `IsMigrating`) → 200 and rows are stored."
#[tokio::test]
async fn sst_8_sync_before_make_available_stores_rows() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(4008, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    assert!(item(&sim, 4008).is_migrating);
    c.sync_status(&one_status(g, status_ev(CorrespondenceStatus::Confirmed, "2024-01-06T10:00:00Z")))
        .await
        .unwrap();
    c.sync_notification(&one_notification(
        g,
        notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00Z", false),
    ))
    .await
    .unwrap();
    c.sync_forwarding(&one_forwarding(g, forwarding_ev("2024-01-06T10:00:00Z", party(), Uuid::now_v7())))
        .await
        .unwrap();
    let i = item(&sim, 4008);
    assert!(i.is_migrating);
    assert_eq!(count_status(&i, "Confirmed"), 1);
    assert_eq!(i.notifications.len(), 1);
    assert_eq!(i.forwardings.len(), 1);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// SNO — notification sync
// ---------------------------------------------------------------------------------------------

/// SNO-1: "New notification → 200 `"<id>"`."
#[tokio::test]
async fn sno_1_new_notification_is_200_with_the_id() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(5001, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let n = notification_ev(NotificationChannel::Sms, "2024-01-06T10:00:00Z", false);
    assert_eq!(c.sync_notification(&one_notification(g, n)).await.unwrap(), g);
    let i = item(&sim, 5001);
    assert_eq!(i.notifications.len(), 1);
    assert_eq!(i.notifications[0].channel, "Sms");
    assert_eq!(i.notifications[0].altinn2_notification_id, Some(9001));
    assert_eq!(i.notifications[0].address.as_deref(), Some("ola@example.no"));
    sim.stop().await;
}

/// SNO-2: "Unknown id → 404 / 1001."
#[tokio::test]
async fn sno_2_unknown_id_is_404_1001() {
    let sim = sim().await;
    let body = json!({ "correspondenceId": Uuid::now_v7(), "syncedNotificationEvents": [notification_json("Email", "2024-01-06T10:00:00Z", 1, false)] });
    let r = post(&sim, SYNC_NOTIFICATION, &body).await;
    assert_error(&r, 404, 1001, "The requested correspondence was not found");
    sim.stop().await;
}

/// SNO-3: "`[]` → 400 `"At least one notification event is required."`."
#[tokio::test]
async fn sno_3_empty_notification_list_is_400() {
    let sim = sim().await;
    let id = migrated(&sim, 5003).await;
    let r = post(&sim, SYNC_NOTIFICATION, &json!({ "correspondenceId": id, "syncedNotificationEvents": [] }))
        .await;
    assert_validation_msg(&r, "At least one notification event is required.");
    sim.stop().await;
}

/// SNO-4: "Stored notification resent with `notificationSent` +0.5 s → 200, not stored again."
#[tokio::test]
async fn sno_4_resent_within_the_second_is_not_stored() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(5004, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let n = |at: &str| one_notification(g, notification_ev(NotificationChannel::Email, at, false));
    c.sync_notification(&n("2024-01-06T10:00:00.200Z")).await.unwrap();
    assert_eq!(c.sync_notification(&n("2024-01-06T10:00:00.700Z")).await.unwrap(), g);
    assert_eq!(item(&sim, 5004).notifications.len(), 1);
    sim.stop().await;
}

/// SNO-5: "Stored notification resent with only `isReminder` flipped → 200, not stored (isReminder is not in the stored-row key)."
#[tokio::test]
async fn sno_5_is_reminder_is_not_in_the_stored_key() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(5005, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let n = |reminder| {
        one_notification(g, notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00Z", reminder))
    };
    c.sync_notification(&n(false)).await.unwrap();
    assert_eq!(c.sync_notification(&n(true)).await.unwrap(), g);
    let i = item(&sim, 5005);
    assert_eq!(i.notifications.len(), 1);
    assert!(!i.notifications[0].is_reminder);
    sim.stop().await;
}

/// SNO-6: "Same notification, other channel → stored."
#[tokio::test]
async fn sno_6_other_channel_is_stored() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(5006, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let n = |ch| one_notification(g, notification_ev(ch, "2024-01-06T10:00:00Z", false));
    c.sync_notification(&n(NotificationChannel::Email)).await.unwrap();
    c.sync_notification(&n(NotificationChannel::Sms)).await.unwrap();
    let mut channels: Vec<_> = item(&sim, 5006).notifications.iter().map(|n| n.channel.clone()).collect();
    channels.sort();
    assert_eq!(channels, vec!["Email".to_string(), "Sms".to_string()]);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// SFW — forwarding sync
// ---------------------------------------------------------------------------------------------

/// SFW-1: "New forwarding → 200 `"<id>"`."
#[tokio::test]
async fn sfw_1_new_forwarding_is_200_with_the_id() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(6001, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let to = Uuid::now_v7();
    assert_eq!(
        c.sync_forwarding(&one_forwarding(g, forwarding_ev("2024-01-06T10:00:00Z", party(), to)))
            .await
            .unwrap(),
        g
    );
    let i = item(&sim, 6001);
    assert_eq!(i.forwardings.len(), 1);
    assert_eq!(i.forwardings[0].forwarded_by_party_uuid, party());
    assert_eq!(i.forwardings[0].forwarded_to_user_uuid, Some(to));
    assert_eq!(i.forwardings[0].forwarding_text.as_deref(), Some("Til deg"));
    sim.stop().await;
}

/// SFW-2: "Unknown id → 404 / 1001."
#[tokio::test]
async fn sfw_2_unknown_id_is_404_1001() {
    let sim = sim().await;
    let body = json!({ "correspondenceId": Uuid::now_v7(), "syncedForwardingEvents": [forwarding_json("2024-01-06T10:00:00Z", PARTY, PARTY)] });
    let r = post(&sim, SYNC_FORWARDING, &body).await;
    assert_error(&r, 404, 1001, "The requested correspondence was not found");
    sim.stop().await;
}

/// SFW-3: "`[]` → 400 `"At least one forwarding event is required."`."
#[tokio::test]
async fn sfw_3_empty_forwarding_list_is_400() {
    let sim = sim().await;
    let id = migrated(&sim, 6003).await;
    let r =
        post(&sim, SYNC_FORWARDING, &json!({ "correspondenceId": id, "syncedForwardingEvents": [] })).await;
    assert_validation_msg(&r, "At least one forwarding event is required.");
    sim.stop().await;
}

/// SFW-4: "Stored forwarding resent (same second, same `forwardedByPartyUuid`, other recipient) → 200, not stored."
#[tokio::test]
async fn sfw_4_resent_forwarding_is_not_stored() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(6004, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    c.sync_forwarding(&one_forwarding(g, forwarding_ev("2024-01-06T10:00:00.100Z", party(), Uuid::now_v7())))
        .await
        .unwrap();
    let again = one_forwarding(g, forwarding_ev("2024-01-06T10:00:00.800Z", party(), Uuid::now_v7()));
    assert_eq!(c.sync_forwarding(&again).await.unwrap(), g);
    assert_eq!(item(&sim, 6004).forwardings.len(), 1);
    sim.stop().await;
}

/// SFW-5: "Other `forwardedByPartyUuid`, same time → stored."
#[tokio::test]
async fn sfw_5_other_forwarding_party_is_stored() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(6005, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let to = Uuid::now_v7();
    c.sync_forwarding(&one_forwarding(g, forwarding_ev("2024-01-06T10:00:00Z", party(), to))).await.unwrap();
    c.sync_forwarding(&one_forwarding(g, forwarding_ev("2024-01-06T10:00:00Z", Uuid::now_v7(), to)))
        .await
        .unwrap();
    assert_eq!(item(&sim, 6005).forwardings.len(), 2);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// DEDUP — in-request rules on migrate
// ---------------------------------------------------------------------------------------------

/// The client's migrate request for `a2` with its histories replaced (bypassing the client's own
/// dedup, to see A3's).
fn with_histories(
    a2: i64,
    status: Vec<StatusEvent>,
    notification: Vec<NotificationEvent>,
    forwarding: Vec<ForwardingEvent>,
) -> MigrateCorrespondenceExt {
    let rec = record(a2, 0);
    let mut body = client_request(&rec, vec![], vec![]);
    body.event_history = status;
    body.notification_history = notification;
    body.forwarding_history = forwarding;
    body
}

/// DEDUP-1: "Two `Read` events 500 ms apart (same second, same party) in `eventHistory` → one status row."
#[tokio::test]
async fn dedup_1_reads_in_the_same_second_are_one_row() {
    let sim = sim().await;
    let c = client(&sim);
    let body = with_histories(
        7001,
        vec![
            status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00.100Z"),
            status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00.600Z"),
        ],
        vec![],
        vec![],
    );
    c.migrate(&body).await.unwrap();
    assert_eq!(
        sorted_times(&item(&sim, 7001), "Read"),
        vec![ts("2024-01-06T10:00:00.100Z")],
        "the first wins"
    );
    sim.stop().await;
}

/// DEDUP-2: "`10:00:00.999` and `10:00:01.001` → two rows (truncation, not rounding)."
#[tokio::test]
async fn dedup_2_truncation_not_rounding() {
    let sim = sim().await;
    let c = client(&sim);
    let events = vec![
        status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00.999Z"),
        status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:01.001Z"),
    ];
    c.migrate(&with_histories(7002, events.clone(), vec![], vec![])).await.unwrap();
    assert_eq!(count_status(&item(&sim, 7002), "Read"), 2);
    // The client's own dedup keeps both as well.
    let rec = record(7003, 0);
    done_id(&migrate_step(&c, &rec, events.into_iter().map(st).collect()).await);
    assert_eq!(count_status(&item(&sim, 7003), "Read"), 2);
    sim.stop().await;
}

/// DEDUP-3: "Two notifications equal to the second, different `isReminder`, *different* sub-seconds → 200, two rows."
#[tokio::test]
async fn dedup_3_is_reminder_splits_notifications_in_a_request() {
    let sim = sim().await;
    let c = client(&sim);
    let body = with_histories(
        7004,
        vec![],
        vec![
            notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00.100Z", false),
            notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00.600Z", true),
        ],
        vec![],
    );
    c.migrate(&body).await.unwrap();
    assert_eq!(item(&sim, 7004).notifications.len(), 2);
    sim.stop().await;
}

/// DEDUP-4: "Two notifications identical except `isReminder` (identical timestamps) on first migration → 500."
#[tokio::test]
async fn dedup_4_notifications_differing_only_in_is_reminder_are_500() {
    let sim = sim().await;
    let c = client(&sim);
    let pair = vec![
        notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00.250Z", false),
        notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00.250Z", true),
    ];
    let body = serde_json::to_value(with_histories(7005, vec![], pair.clone(), vec![])).unwrap();
    assert_500(&post(&sim, CORRESPONDENCE, &body).await);
    assert!(sim.sim.item(7005).is_none());
    // The real client collapses the pair before sending, so the item migrates.
    let rec = record(7006, 0);
    let events = pair.into_iter().map(A2EventBody::Notification).collect();
    done_id(&migrate_step(&c, &rec, events).await);
    assert_eq!(item(&sim, 7006).notifications.len(), 1);
    sim.stop().await;
}

/// DEDUP-5: "Two forwardings identical in time and `forwardedByPartyUuid`, different `forwardedToUserUuid`, on first migration → 500."
#[tokio::test]
async fn dedup_5_forwardings_colliding_on_the_index_are_500() {
    let sim = sim().await;
    let c = client(&sim);
    let pair = vec![
        forwarding_ev("2024-01-06T10:00:00.250Z", party(), Uuid::now_v7()),
        forwarding_ev("2024-01-06T10:00:00.250Z", party(), Uuid::now_v7()),
    ];
    let body = serde_json::to_value(with_histories(7007, vec![], vec![], pair.clone())).unwrap();
    assert_500(&post(&sim, CORRESPONDENCE, &body).await);
    assert!(sim.sim.item(7007).is_none());
    // The real client collapses the pair before sending, so the item migrates.
    let rec = record(7008, 0);
    let events = pair.into_iter().map(A2EventBody::Forwarding).collect();
    done_id(&migrate_step(&c, &rec, events).await);
    assert_eq!(item(&sim, 7008).forwardings.len(), 1);
    sim.stop().await;
}

/// DEDUP-6: "Duplicates in a sync request's list (same key) → one row."
#[tokio::test]
async fn dedup_6_duplicates_in_a_sync_request_are_one_row() {
    let sim = sim().await;
    let c = client(&sim);
    let rec = record(7009, 0);
    let g = done_id(&migrate_step(&c, &rec, rec.events()).await);
    let req = SyncStatusEventRequest {
        correspondence_id: g,
        synced_status_events: vec![
            status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00.100Z"),
            status_ev(CorrespondenceStatus::Read, "2024-01-06T10:00:00.700Z"),
        ],
    };
    assert_eq!(c.sync_status(&req).await.unwrap(), g);
    let n = notification_ev(NotificationChannel::Email, "2024-01-06T10:00:00Z", false);
    let req =
        SyncNotificationEventRequest { correspondence_id: g, synced_notification_events: vec![n.clone(), n] };
    c.sync_notification(&req).await.unwrap();
    let f = forwarding_ev("2024-01-06T10:00:00Z", party(), Uuid::now_v7());
    let req =
        SyncForwardingEventRequest { correspondence_id: g, synced_forwarding_events: vec![f.clone(), f] };
    c.sync_forwarding(&req).await.unwrap();
    let i = item(&sim, 7009);
    assert_eq!(count_status(&i, "Read"), 1);
    assert_eq!(i.notifications.len(), 1);
    assert_eq!(i.forwardings.len(), 1);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Every rule has a test
// ---------------------------------------------------------------------------------------------

/// Rules the simulator cannot express, with the reason (reported; no test can fail on them here).
const NOT_TESTABLE: &[(&str, &str)] = &[
    (
        "AUTH-2",
        "the simulator has one shared token and no scopes: a token without the migrate scope cannot be made",
    ),
    ("MA-12", "the simulator does not model Dialogporten, so Dialogporten cannot refuse a dialog"),
];

/// Every rule id in §5 of the contract doc has a test named after it here (or a reason above).
#[test]
fn every_rule_has_a_test() {
    let doc = include_str!("../../../docs/altinn3-contract.md");
    let src = format!("{}{}", include_str!("contract.rs"), include_str!("contract/live.rs"));
    let section = doc.split("## 5.").nth(1).expect("section 5").split("\n## 6.").next().unwrap();
    let ids: Vec<&str> =
        section.lines().filter_map(|l| l.strip_prefix("* **")).filter_map(|l| l.split("**").next()).collect();
    assert!(ids.len() >= 80, "parsed only {} rule ids", ids.len());
    let mut missing = Vec::new();
    for id in &ids {
        let needle = format!("fn {}_", id.to_ascii_lowercase().replace('-', "_"));
        let exempt = NOT_TESTABLE.iter().any(|(x, _)| x == id);
        if !src.contains(&needle) && !exempt {
            missing.push(*id);
        }
    }
    assert!(missing.is_empty(), "rules without a test: {missing:?}");
    for (id, _) in NOT_TESTABLE {
        assert!(ids.contains(id), "{id} is exempt but not a rule");
    }
}
