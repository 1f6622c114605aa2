//! `/runs`: schedule runs, newest first (what `migrator runs` prints), paged by run id, optionally
//! of one schedule.

use super::Answer;
use super::html::{Viewer, esc, page as frame, span, url, when};
use crate::http::App;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use std::fmt::Write;

/// The page's query.
#[derive(Deserialize)]
pub(super) struct RunsQuery {
    schedule: Option<String>,
    before: Option<i64>,
}

pub(super) async fn page(State(app): State<App>, headers: HeaderMap, Query(q): Query<RunsQuery>) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let schedule = q.schedule.as_deref().filter(|s| !s.is_empty());
    let runs = app.store.runs_page(schedule, q.before, super::PAGE).await?;
    let mut body = String::from("<section>");
    if let Some(s) = schedule {
        let _ = write!(body, r#"<p>Schedule <b>{}</b> · <a href="/runs">all schedules</a></p>"#, esc(s));
    }
    if runs.items.is_empty() {
        body += r#"<p class="note">No runs.</p>"#;
    } else {
        body += r#"<table id="runs"><tr><th class="num">Run</th><th>Schedule</th><th>Fire time</th><th>Started</th><th class="num">Took</th><th>Outcome</th><th>Counts</th><th>Node</th></tr>"#;
        for r in &runs.items {
            let outcome = r.outcome.as_deref().unwrap_or("running");
            let class = match outcome {
                "ok" => "st-synced",
                "running" => "st-migrated",
                o if o.starts_with("skipped") => "st-created_in_a2",
                o if o.starts_with("abandoned") => "st-rejected",
                _ => "st-failed",
            };
            let _ = write!(
                body,
                r#"<tr class="run"><td class="num">{}</td><td><a href="/runs?schedule={}">{}</a></td><td>{}</td><td>{}</td><td class="num">{}</td><td><span class="badge {class}">{}</span></td><td class="mono">{}</td><td class="mono">{}</td></tr>"#,
                r.id,
                url(&r.schedule),
                esc(&r.schedule),
                when(app.tz, r.fire_time),
                when(app.tz, r.started_at),
                r.finished_at.map_or_else(|| "–".into(), |f| span(f - r.started_at)),
                esc(outcome),
                esc(&r.counts.as_ref().map_or_else(String::new, ToString::to_string)),
                r.node,
            );
        }
        body += "</table>";
    }
    if let Some(next) = &runs.next {
        let filter = schedule.map_or(String::new(), |s| format!("&schedule={}", url(s)));
        let _ = write!(
            body,
            r#"<p class="pager"><a id="next-page" href="/runs?before={}{filter}">Older runs →</a></p>"#,
            url(next)
        );
    }
    body += "</section>";
    Ok(frame(&viewer, "Schedule runs", "/runs", None, None, &body).into_response())
}
