//! The dashboard as an operator uses it: `migrator serve` over a demo database, driven in headless
//! Chromium through chromedriver (fantoccini). The overview's numbers must be `status --json`'s;
//! logging in and pressing "Retry this group" must move the group's items, and the overview must
//! follow; the operator token must appear in no page. Screenshots of the main pages are written
//! to `docs/screenshots/` (the README shows them). And over plain HTTP: no mutation without a
//! session (401) or with a wrong CSRF token (403), a wrong token opens no session, and the session
//! cookie is HttpOnly and SameSite=Strict.
//!
//! Chromium and chromedriver come from Debian (`apt-get install chromium chromium-driver`); without
//! them the browser test says so and passes (CI installs them).

use crate::process::{migrator, output};
use fantoccini::{Client, ClientBuilder, Locator};
use orchestrator::clock::ManualClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The operator token of these tests: it must never show up in a page.
const TOKEN: &str = "op-token-7c1e9a42-never-rendered";
/// The states the overview lists, as `status --json` names them.
const STATES: [&str; 8] = [
    "created_in_a2",
    "migrated",
    "dialog_created",
    "synced",
    "sync_pending",
    "failed",
    "rejected",
    "cancelled",
];

/// A child process killed when dropped (a failing assertion must not leave a server behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Polls `url` until it answers 200, at most 30 s.
async fn wait_up(url: &str, what: &str, child: &mut Child) {
    let start = Instant::now();
    let client = http();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited with {status} before answering {url}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{what} did not answer {url} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A config with two phases (so the overview and /phases have something to show).
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("migrator.toml");
    std::fs::write(
        &path,
        "time_zone = \"Europe/Oslo\"\n\n[http]\nrefresh = \"1s\"\n\n\
         [phases.backlog]\nsteps = [\"all\"]\norder = \"oldest-first\"\nrate = 100\n\n\
         [phases.nightly]\ncreated_from = \"2026-01-01\"\nsteps = [\"migrate\"]\norder = \"newest-first\"\nrate = 50\n\
         [phases.nightly.window]\ncron = \"0 0 22 * * *\"\nduration = \"8h\"\n",
    )
    .unwrap();
    path
}

/// `migrator serve` on `db` with `config`, the operator token set; returns it and its base URL.
async fn serve(dir: &Path, db: &str, config: &Path, token: Option<&str>) -> (Killed, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("serve-{port}.log"))).unwrap();
    let mut c = migrator(
        db,
        &["--config", config.to_str().unwrap(), "serve", "--listen", &format!("127.0.0.1:{port}")],
    );
    c.current_dir(dir).stdout(Stdio::null()).stderr(log).env_remove("MIGRATOR__HTTP__TOKEN");
    if let Some(t) = token {
        c.env("MIGRATOR__HTTP__TOKEN", t);
    }
    let mut child = c.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&format!("{base}/healthz"), "migrator serve", &mut child).await;
    (Killed(child), base)
}

/// `migrator status --json` on `db`: (total, count per state, 0 for a state it leaves out).
async fn status(db: &str) -> (u64, Vec<(String, u64)>) {
    let (_, out, err) = output(migrator(db, &["status", "--json"])).await;
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}: {out} {err}"));
    let by_state =
        STATES.iter().map(|s| ((*s).to_string(), v["by_state"][*s].as_u64().unwrap_or(0))).collect();
    (v["total"].as_u64().unwrap(), by_state)
}

/// A demo database of 300 items (about 1% invalid, so Rejected in failure groups) plus a day of
/// schedule runs of every outcome for the timeline.
async fn demo_db(dir: &Path) -> String {
    let db = dir.join("dash.sqlite").to_str().unwrap().to_string();
    let (code, out, err) = output(migrator(&db, &["demo", "--items", "300", "--fail-5xx", "0.05"])).await;
    assert_eq!(code, Some(0), "demo failed:\n{out}\n{err}");
    let conn = orchestrator::db::open(&db).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let clock = Arc::new(ManualClock::new(now - 23 * 3_600_000));
    let store = Store::new(conn, clock.clone(), RetryPolicy::default());
    let node = store.register_node("dashboard-test", 4242).await.unwrap();
    for hour in 0..23_i64 {
        for (schedule, every, took_s, outcome) in [
            ("rescue", 1, 2, "ok"),
            ("discover", 2, 40, if hour == 9 { "error: the inbox is not readable" } else { "ok" }),
            ("window:nightly", 24, 0, "ok"),
            ("sync-sweep", 3, 90, if hour == 12 { "skipped: another run is in progress" } else { "ok" }),
        ] {
            if hour % every != 0 || (schedule == "window:nightly" && hour != 0) {
                continue;
            }
            let start = now - (23 - hour) * 3_600_000;
            clock.set(start);
            let id = store.claim_firing(schedule, start, node, None).await.unwrap().unwrap();
            let took = if schedule == "window:nightly" { 8 * 3600 } else { took_s };
            clock.set(start + took * 1000);
            store.finish_firing(id, outcome, &json!({ "items": hour * 7 })).await.unwrap();
        }
    }
    db
}

/// Chromedriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Killed, Client) {
    let port = free_port();
    let mut child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&format!("{url}/status"), "chromedriver", &mut child).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"] }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a chromium session");
    (Killed(child), client)
}

/// The page's source, checked to hold no operator token.
async fn source(c: &Client, page: &str) -> String {
    let s = c.source().await.unwrap();
    assert!(!s.contains(TOKEN), "the operator token is in the source of {page}");
    s
}

async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"));
    std::fs::create_dir_all(dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// An element's `data-value` as a number.
async fn value(c: &Client, id: &str) -> u64 {
    let e = c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"));
    e.attr("data-value").await.unwrap().unwrap().parse().unwrap()
}

/// The overview's total and counts by state, asserted equal to `status --json`'s.
async fn overview_matches_status(c: &Client, base: &str, db: &str) -> Vec<(String, u64)> {
    c.goto(&format!("{base}/")).await.unwrap();
    source(c, "/").await;
    let (total, by_state) = status(db).await;
    assert_eq!(value(c, "total").await, total, "the overview's total is not status --json's");
    for (state, n) in &by_state {
        assert_eq!(
            value(c, &format!("count-{state}")).await,
            *n,
            "the overview's {state} is not status --json's"
        );
    }
    by_state
}

#[tokio::test]
async fn the_dashboard_in_a_browser() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "SKIPPED the_dashboard_in_a_browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path()).await;
    let config = write_config(dir.path());
    let (_server, base) = serve(dir.path(), &db, &config, Some(TOKEN)).await;
    let (_driver, c) = browser().await;

    // The overview shows status --json's numbers.
    let before = overview_matches_status(&c, &base, &db).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // the phase snapshot (refresh = 1s)
    c.goto(&format!("{base}/")).await.unwrap();
    screenshot(&c, "overview").await;

    // The largest failure group, then the login it asks for.
    let group = c.find(Locator::Css("tr.failure-group a")).await.expect("a failure group on the overview");
    group.click().await.unwrap();
    let count = value(&c, "group-count").await;
    assert!(count > 0);
    let state = c.find(Locator::Css("tr.item")).await.unwrap().attr("data-state").await.unwrap().unwrap();
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for row in c.find_all(Locator::Css("tr.item")).await.unwrap() {
            ids.push(row.attr("data-id").await.unwrap().unwrap());
        }
        ids
    };
    let page = source(&c, "a failure group").await;
    assert!(!page.contains("Retry this group"), "no forms before logging in");
    c.find(Locator::Id("login-link")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("token")).await.unwrap().send_keys(TOKEN).await.unwrap();
    screenshot(&c, "login").await;
    source(&c, "/login").await;
    c.find(Locator::Id("login-button")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("group-count")).await.unwrap();
    source(&c, "a failure group, logged in").await;
    screenshot(&c, "failure-group").await;

    // Retry this group: its items leave it and become runnable.
    let retry = c.find(Locator::Css(r#"form[action$="/retry"] button"#)).await.expect("the retry form");
    retry.click().await.unwrap();
    let flash = c.wait().for_element(Locator::Id("flash")).await.unwrap().text().await.unwrap();
    assert_eq!(flash, format!("retried {count}"));
    assert_eq!(value(&c, "group-count").await, 0, "the group is empty after the retry");
    let after = overview_matches_status(&c, &base, &db).await;
    let n = |v: &[(String, u64)], s: &str| v.iter().find(|(x, _)| x == s).unwrap().1;
    assert_eq!(n(&after, &state), n(&before, &state) - count, "{state} dropped by the group's size");
    assert_eq!(
        n(&after, "created_in_a2") + n(&after, "migrated") + n(&after, "dialog_created"),
        n(&before, "created_in_a2") + n(&before, "migrated") + n(&before, "dialog_created") + count,
        "the group's items are runnable again"
    );

    // An item of the group: runnable, its history ending in the operator's retry.
    c.goto(&format!("{base}/items/{}", ids[0])).await.unwrap();
    let item_state =
        c.find(Locator::Id("item-state")).await.unwrap().attr("data-state").await.unwrap().unwrap();
    assert!(["created_in_a2", "migrated", "dialog_created"].contains(&item_state.as_str()), "{item_state}");
    assert!(source(&c, "an item").await.contains("retry via http"), "the history names the operator");
    screenshot(&c, "item").await;

    for (path, name) in
        [("/phases", "phases"), ("/failures", "failures"), ("/stuck", "stuck"), ("/runs", "runs")]
    {
        c.goto(&format!("{base}{path}")).await.unwrap();
        source(&c, path).await;
        screenshot(&c, name).await;
    }
    c.close().await.unwrap();
}

/// A POST of a form body to `path`, with `cookie` if given.
async fn post(base: &str, path: &str, body: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut r = http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn dashboard_mutations_need_a_session_and_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.sqlite").to_str().unwrap().to_string();
    let (code, _, err) = output(migrator(&db, &["migrate"])).await;
    assert_eq!(code, Some(0), "{err}");
    let config = write_config(dir.path());
    let (_server, base) = serve(dir.path(), &db, &config, Some(TOKEN)).await;
    let forms = [
        "/failures/migrate%20%7C%20correspondence%20%7C%20400%20%7C%20x/retry",
        "/failures/anything/cancel",
        "/items/0190f1c2-0000-7000-8000-000000000001/retry",
        "/phases/backlog/pause",
        "/phases/backlog/resume",
    ];

    for path in forms {
        assert_eq!(post(&base, path, "csrf=abc", None).await.status(), 401, "{path} without a session");
        assert_eq!(post(&base, path, "", None).await.status(), 401, "{path} without a session or body");
    }

    let wrong = post(&base, "/login", "token=not-the-token&next=%2F", None).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none(), "a wrong token opens no session");
    assert!(!wrong.text().await.unwrap().contains("not-the-token"), "the offered token is not echoed");

    let right = post(&base, "/login", &format!("token={TOKEN}&next=%2Fphases"), None).await;
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/phases");
    let set = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();

    for path in forms {
        assert_eq!(
            post(&base, path, "csrf=abc", Some(&cookie)).await.status(),
            403,
            "{path} with a wrong CSRF token"
        );
    }
    // Nothing was paused by any of it.
    let store = Store::new(
        orchestrator::db::open(&db).await.unwrap(),
        Arc::new(orchestrator::clock::SystemClock),
        RetryPolicy::default(),
    );
    assert!(store.paused_phases().await.unwrap().is_empty());

    // With the session's CSRF token (read from a page) the form works, and no page holds the token.
    let page = http().get(format!("{base}/phases")).header("cookie", &cookie).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(!page.contains(TOKEN));
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let ok = post(&base, "/phases/backlog/pause", &format!("csrf={csrf}"), Some(&cookie)).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/phases?done=paused%20backlog");
    assert!(store.paused_phases().await.unwrap().contains("backlog"));
}
