//! `/`: the overview an operator keeps open (it reloads itself every 15 s): items by state (the
//! numbers of `migrator status` and `GET /api/v1/status`), each phase's progress and ETA from the
//! background snapshot, transitions per minute over 6 hours, the largest failure groups, what
//! is stuck, the last day's schedule runs and the nodes' heartbeats.

use super::html::{Viewer, badge, esc, num, page as frame, span, when};
use super::{Answer, Done, chart};
use crate::http::App;
use crate::phase::WindowState;
use crate::phase::plan::PhasePlan;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use schema::WorkflowState;
use std::fmt::Write;

pub(super) async fn page(State(app): State<App>, headers: HeaderMap, Query(done): Query<Done>) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let now = app.store.clock().now_ms();
    let status = app.store.status().await?;
    // Everything that would look at rows (stuck, failure groups) comes from the background
    // snapshot; the rest reads counters and small tables.
    let view = app.snapshot.phases();
    let failures = view.as_ref().map(|v| v.failures.clone()).unwrap_or_default();
    let stalled = view.as_ref().map_or(0, |v| v.stalled);
    let failed = status.by_state.get(&WorkflowState::Failed).copied().unwrap_or(0);
    let since_6h = now - 6 * 3_600_000;
    let throughput = app.store.throughput(since_6h).await?;
    let since_24h = now - 24 * 3_600_000;
    let runs = app.store.runs_since(since_24h, 5000).await?;
    let nodes = app.store.nodes(24 * 3_600_000, 50).await?;

    let mut body = format!(
        r#"<div class="cards"><div class="card"><div class="label">Items</div><div class="big"><span id="total" data-value="{}">{}</span></div></div><div class="card"><div class="label">Leased now</div><div class="big" id="leased">{}</div></div><div class="card"><div class="label">Stuck</div><div class="big"><a id="stuck-count" data-stalled="{stalled}" data-failed="{failed}" href="/stuck">{}</a></div><div class="meta">{} not moving, {} failed</div></div><div class="card"><div class="label">Failure groups</div><div class="big"><a id="failure-groups" href="/failures">{}</a></div><div class="meta">{} items</div></div></div>"#,
        status.total,
        num(status.total),
        num(status.leased),
        num(stalled + failed),
        num(stalled),
        num(failed),
        num(failures.total_groups),
        num(failures.items),
    );
    for n in &status.stopped_by_database {
        let _ = write!(
            body,
            r#"<p class="error">Node {} ({}) was stopped by the database: {}</p>"#,
            n.id,
            esc(&n.hostname),
            esc(n.failure.as_deref().unwrap_or(""))
        );
    }

    body += r#"<div class="grid"><section><h2>Items by state</h2><table id="by-state"><tr><th>State</th><th class="num">Items</th><th class="num">Share</th></tr>"#;
    for state in WorkflowState::ALL {
        let n = status.by_state.get(&state).copied().unwrap_or(0);
        let _ = write!(
            body,
            r#"<tr data-state="{s}"><td>{}</td><td class="num" id="count-{s}" data-value="{n}">{}</td><td class="num">{}</td></tr>"#,
            badge(state),
            num(n),
            percent(n, status.total),
            s = state.as_str(),
        );
    }
    body += "</table></section>";
    body += &phases(&app, now);
    body += "</div>";

    let _ = write!(
        body,
        r#"<section><h2>Throughput: transitions per minute, last 6 hours</h2>{}</section>"#,
        chart::throughput(&throughput, since_6h, now, app.tz)
    );

    body += r#"<section><h2>Failures by reason</h2>"#;
    if failures.groups.is_empty() {
        body += r#"<p class="note">No Failed or Rejected items.</p>"#;
    } else {
        body += &super::failures::groups_table(&app, &failures.groups);
        if failures.total_groups > 20 {
            let _ =
                write!(body, r#"<p><a href="/failures">All {} groups</a></p>"#, num(failures.total_groups));
        }
    }
    body += "</section>";

    let _ = write!(
        body,
        r#"<section><h2>Schedule runs, last 24 hours</h2>{}<p><a href="/runs">All runs</a></p></section>"#,
        chart::timeline(&runs, since_24h, now, app.tz)
    );

    body += r#"<section><h2>Nodes</h2>"#;
    if app.standalone {
        body += r#"<p class="meta">This server (<code>migrator serve</code>) runs no engine; the nodes below are the daemons on this database.</p>"#;
    }
    if nodes.is_empty() {
        body += r#"<p class="note">No node ran in the last 24 hours.</p>"#;
    } else {
        body += r#"<table id="nodes"><tr><th>Node</th><th>Host</th><th class="num">PID</th><th>Started</th><th class="num">Last heartbeat</th><th>Status</th></tr>"#;
        for n in &nodes {
            let state = match (&n.failure, n.stopped_at) {
                (Some(f), _) => format!(r#"<span class="badge st-failed">failed</span> {}"#, esc(f)),
                (None, Some(at)) => format!("stopped {}", when(app.tz, at)),
                (None, None) => "running".into(),
            };
            let _ = write!(
                body,
                r#"<tr><td class="mono">{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{} ago</td><td>{state}</td></tr>"#,
                n.id,
                esc(&n.hostname),
                n.pid,
                when(app.tz, n.started_at),
                span(now - n.last_heartbeat),
            );
        }
        body += "</table>";
    }
    body += "</section>";
    Ok(frame(&viewer, "Overview", "/", done.done.as_deref(), Some(15), &body).into_response())
}

/// `n` of `of` as a percentage with one decimal.
fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        return "–".into();
    }
    let tenths = n.saturating_mul(1000) / of;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The phases section: progress bars and ETAs from the snapshot, with its age.
fn phases(app: &App, now: i64) -> String {
    let mut out = String::from(r#"<section><h2>Phases</h2>"#);
    let Some(view) = app.snapshot.phases() else {
        return out + r#"<p class="note">The first phase snapshot is being computed.</p></section>"#;
    };
    if let Some(e) = &view.error {
        let _ = write!(out, r#"<p class="error">The last refresh failed: {}</p>"#, esc(e));
    }
    if view.phases.is_empty() {
        out += r#"<p class="note">No phase is configured.</p>"#;
    } else {
        out += r#"<table id="phases"><tr><th>Phase</th><th>Progress</th><th class="num">Remaining</th><th>Window</th><th>ETA</th></tr>"#;
        for p in &view.phases {
            out += &phase_row(app, p);
        }
        out += "</table>";
    }
    let _ = write!(
        out,
        r#"<p class="meta" id="snapshot-age">Computed {} ago ({} ms).</p></section>"#,
        span(now - view.computed_at),
        view.took_ms
    );
    out
}

/// One phase's row.
fn phase_row(app: &App, p: &PhasePlan) -> String {
    let done = p.total.saturating_sub(p.remaining);
    let width = done.saturating_mul(100).checked_div(p.total).unwrap_or(100);
    let window = match (p.paused, &p.window_now) {
        (true, _) => r#"<span class="badge st-cancelled">paused</span>"#.to_string(),
        (false, WindowState::Open(None)) => "open".into(),
        (false, WindowState::Open(Some(until))) => format!("open until {}", when(app.tz, *until)),
        (false, WindowState::Closed(Some(at))) => format!("closed until {}", when(app.tz, *at)),
        (false, WindowState::Closed(None)) => "closed".into(),
    };
    let eta = match (&p.finishes_local, &p.no_estimate) {
        _ if p.remaining == 0 => "done".into(),
        (Some(at), _) => esc(at),
        (None, Some(why)) => format!(r#"<span class="note">{}</span>"#, esc(why)),
        (None, None) => "–".into(),
    };
    format!(
        r#"<tr data-phase="{name}"><td>{name}</td><td><div class="bar" title="{} of {}"><span style="width:{width}%"></span></div><span class="meta">{} of {} ({})</span></td><td class="num">{}</td><td>{window}</td><td>{eta}</td></tr>"#,
        num(done),
        num(p.total),
        num(done),
        num(p.total),
        percent(done, p.total),
        num(p.remaining),
        name = esc(&p.phase),
    )
}
