//! The operations server as operators and scrapers meet it: `migrator serve` as a real process
//! over a real database, spoken to over HTTP. Mutations need the token (401 without it or with a
//! wrong one, 403 on a read-only server); the token appears in no answer, log line or history
//! row; lists page by keyset; operator actions are recorded with their origin.

use crate::process::{BIN, migrator, output};
use crate::store::{items, store_at};
use orchestrator::clock::ManualClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::Event;
use orchestrator::store::{Origin, Selector};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::TestDb;

const TOKEN: &str = "ops-t0ken-NEVER-shown-7f3a";

/// A `migrator serve` child on a free loopback port, killed when dropped.
pub(crate) struct Served {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
}

impl Served {
    /// Serves `db` with `token` (None: read-only) and waits until `/healthz` answers.
    pub(crate) async fn start(db: &str, token: Option<&str>) -> Served {
        let port = free_port();
        let mut c = Command::new(BIN);
        c.args(["--db", db, "serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("MIGRATOR_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = token {
            c.env("MIGRATOR__HTTP__TOKEN", t);
        }
        let child = c.spawn().expect("start migrator serve");
        let served = Served { child: Some(child), base: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while client().get(format!("{}/healthz", served.base)).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not answer within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    }

    /// Stops the server (SIGTERM) and returns its stderr.
    pub(crate) fn stop(mut self) -> String {
        let child = self.child.take().expect("running");
        crate::process::signal(&child, nix::sys::signal::Signal::SIGTERM);
        let (status, _, stderr) = crate::process::wait_for(child, Duration::from_secs(20));
        assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}\n{stderr}");
        stderr
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// An HTTP client (reqwest is built with rustls and no crypto provider of its own).
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A database of 30 items in batch `b`, 5 of them cancelled (so a retry has work).
async fn thirty_items() -> TestDb {
    let db = TestDb::sqlite().await;
    let clock = ManualClock::new(1_790_000_000_000);
    let store = store_at(&db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..31, "b")).await.unwrap();
    let sel = Selector { keys: (1..6).map(|i| i.to_string()).collect(), ..Selector::default() };
    assert_eq!(store.operate(&sel, Event::OperatorCancel, Origin::Cli).await.unwrap().changed, 5);
    db
}

async fn status_json(db: &str) -> Value {
    let (code, out, err) = output(migrator(db, &["--json", "status"])).await;
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_needs_the_token_and_the_token_shows_nowhere() {
    let db = thirty_items().await;
    let served = Served::start(&db.target, Some(TOKEN)).await;
    let http = client();
    let before = status_json(&db.target).await;
    let mutations = [
        ("/api/v1/retry", json!({"state": "cancelled"})),
        ("/api/v1/cancel", json!({"batch": "b"})),
        ("/api/v1/phases/any/pause", json!({})),
        ("/api/v1/phases/any/resume", json!({})),
    ];
    let mut bodies = String::new();
    for (path, body) in &mutations {
        let url = format!("{}{path}", served.base);
        for auth in [None, Some("Bearer wrong-token"), Some("Bearer "), Some(TOKEN)] {
            let mut req = http.post(&url).json(body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} with {auth:?}");
            assert!(r.headers().contains_key("www-authenticate"));
            bodies += &r.text().await.unwrap();
        }
    }
    assert_eq!(status_json(&db.target).await, before, "no refused mutation changed anything");

    // With the token: the five cancelled items come back, recorded as an HTTP retry.
    let r = http
        .post(format!("{}/api/v1/retry", served.base))
        .bearer_auth(TOKEN)
        .json(&json!({"state": "cancelled"}))
        .send()
        .await
        .unwrap();
    let code = r.status();
    let report: Value = r.json().await.unwrap();
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["changed"], 5, "{report}");
    let shown: Value =
        http.get(format!("{}/api/v1/items/a2:3", served.base)).send().await.unwrap().json().await.unwrap();
    let ops: Vec<&str> =
        shown["history"].as_array().unwrap().iter().filter_map(|h| h["operator"].as_str()).collect();
    assert_eq!(ops, ["cancel via cli", "retry via http"], "{shown}");
    assert_eq!(shown["item"]["state"], "created_in_a2");
    // An unknown phase is a 404 even with the token; a bad body a 400.
    let r = http
        .post(format!("{}/api/v1/phases/nope/pause", served.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r =
        http.post(format!("{}/api/v1/retry", served.base)).bearer_auth(TOKEN).body("{").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Every page and answer, the log and the database: no token.
    for path in [
        "/",
        "/metrics",
        "/api/v1/status",
        "/api/v1/phases",
        "/api/v1/failures",
        "/api/v1/items",
        "/api/v1/items/a2:3",
        "/api/v1/stuck",
        "/api/v1/runs",
        "/api/v1/nodes",
        "/readyz",
    ] {
        let r = http.get(format!("{}{path}", served.base)).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        bodies += &r.text().await.unwrap();
    }
    let stderr = served.stop();
    assert!(!bodies.contains(TOKEN), "an answer holds the token");
    assert!(!stderr.contains(TOKEN), "the log holds the token");
    let history = tests::dump_text(&db.conn).await;
    assert!(!history.contains(TOKEN), "the database holds the token");
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_token_is_read_only() {
    let db = thirty_items().await;
    let served = Served::start(&db.target, None).await;
    let http = client();
    for auth in [None, Some("Bearer anything")] {
        let mut req = http.post(format!("{}/api/v1/retry", served.base)).json(&json!({"state": "cancelled"}));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("read-only"));
    }
    assert_eq!(status_json(&db.target).await["by_state"]["cancelled"], 5);
    served.stop();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_by_keyset_and_the_api_agrees_with_the_cli() {
    let db = thirty_items().await;
    let served = Served::start(&db.target, None).await;
    let http = client();
    let status: Value =
        http.get(format!("{}/api/v1/status", served.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(status, status_json(&db.target).await, "the API's status is the CLI's --json status");

    let mut seen = Vec::new();
    let mut url = format!("{}/api/v1/items?limit=7", served.base);
    loop {
        let page: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        let rows = page["items"].as_array().unwrap();
        assert!(rows.len() <= 7);
        seen.extend(rows.iter().map(|r| r["a2_id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(next) => url = format!("{}/api/v1/items?limit=7&after={next}", served.base),
            None => break,
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..31).collect::<Vec<i64>>(), "every item once across the pages");
    let cancelled: Value = http
        .get(format!("{}/api/v1/items?state=cancelled", served.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 5);
    assert!(cancelled["next"].is_null());

    for (path, code) in [
        ("/api/v1/items/a2:999", 404),
        ("/api/v1/items/a2:x", 400),
        ("/api/v1/items/nonsense", 400),
        ("/api/v1/items?state=nope", 400),
        ("/api/v1/items?after=nope", 400),
        ("/api/v1/stuck?after=nope", 400),
        ("/api/v1/stuck?older_than=soon", 400),
        ("/readyz", 200),
        ("/healthz", 200),
    ] {
        assert_eq!(http.get(format!("{}{path}", served.base)).send().await.unwrap().status(), code, "{path}");
    }
    served.stop();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binds_loopback_by_default_and_needs_an_existing_database() {
    let db = thirty_items().await;
    // No --listen, no config: the default address, on loopback only.
    let mut c = Command::new(BIN);
    c.args(["--db", &db.target, "serve"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while client().get("http://127.0.0.1:9464/healthz").send().await.is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited early: {status:?}");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not answer on 127.0.0.1:9464");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listening: Vec<String> = std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(3) == Some("0A"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .filter(|addr| addr.ends_with(":24F8"))
        .collect();
    assert_eq!(listening, ["0100007F:24F8"], "port 9464 is bound on 127.0.0.1 only");
    crate::process::signal(&child, nix::sys::signal::Signal::SIGTERM);
    let (status, _, _) = crate::process::wait_for(child, Duration::from_secs(20));
    assert!(status.success());

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite").display().to_string();
    let (code, _, err) = output(migrator(&missing, &["serve"])).await;
    assert_eq!(code, Some(7), "{err}");
    assert!(!std::path::Path::new(&missing).exists(), "serve never creates a database");
    db.finish().await;
}
