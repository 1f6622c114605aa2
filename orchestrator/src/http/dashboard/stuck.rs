//! `/stuck`: what `migrator stuck` lists, paged: items whose lease expired or that have not moved
//! for `older_than` (default 10 minutes), longest-unmoved first, and the Failed items that wait
//! for an operator.

use super::html::{Viewer, badge, esc, num, page as frame, span, url, when};
use super::{Answer, PAGE, uuid_cursor};
use crate::http::App;
use crate::http::api::duration;
use crate::store::ItemFilter;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use schema::WorkflowState;
use schema::entity::workflow;
use serde::Deserialize;
use std::fmt::Write;

/// The page's query: the threshold and one cursor per list.
#[derive(Deserialize)]
pub(super) struct StuckQuery {
    older_than: Option<String>,
    after: Option<String>,
    failed_after: Option<String>,
}

pub(super) async fn page(State(app): State<App>, headers: HeaderMap, Query(q): Query<StuckQuery>) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let older_text = q.older_than.clone().unwrap_or_else(|| "10m".into());
    let older = crate::clock::millis(duration("older_than", &older_text)?);
    let now = app.store.clock().now_ms();
    let (stalled_n, failed_n) = app.store.count_stuck(older).await?;
    let stalled = app.store.stalled_page(older, q.after.as_deref().filter(|a| !a.is_empty()), PAGE).await?;
    let failed_after = uuid_cursor("failed_after", q.failed_after.as_deref())?;
    let failed = app
        .store
        .items_page(
            &ItemFilter { state: Some(WorkflowState::Failed), ..ItemFilter::default() },
            failed_after,
            PAGE,
        )
        .await?;
    let keep = |name: &str, value: &Option<String>| {
        value.as_ref().map_or(String::new(), |v| format!("&{name}={}", url(v)))
    };
    let base = format!("/stuck?older_than={}", url(&older_text));

    let mut body = format!(
        r#"<section><h2>Not moving for {} or with an expired lease: <span id="stalled-count">{}</span></h2>"#,
        esc(&older_text),
        num(stalled_n)
    );
    table(&mut body, &app, now, &stalled.items, |w| match w.lease_until {
        Some(until) if until < now => "lease expired".into(),
        _ => format!("not moved for {}", span(now - w.updated_at)),
    });
    if let Some(next) = &stalled.next {
        let _ = write!(
            body,
            r#"<p class="pager"><a id="next-stalled" href="{base}&after={}{}">Next page →</a></p>"#,
            url(next),
            keep("failed_after", &q.failed_after)
        );
    }
    let _ = write!(
        body,
        r#"</section><section><h2>Failed: <span id="failed-count">{}</span></h2>"#,
        num(failed_n)
    );
    table(&mut body, &app, now, &failed.items, |w| {
        w.reason
            .as_ref()
            .map_or_else(String::new, |r| format!(r#"<a href="/failures/{}">{}</a>"#, url(r), esc(r)))
    });
    if let Some(next) = &failed.next {
        let _ = write!(
            body,
            r#"<p class="pager"><a id="next-failed" href="{base}&failed_after={}{}">Next page →</a></p>"#,
            url(next),
            keep("after", &q.after)
        );
    }
    body += "</section>";
    Ok(frame(&viewer, "Stuck", "/stuck", None, None, &body).into_response())
}

/// A table of items with a "why" column.
fn table(
    body: &mut String,
    app: &App,
    now: i64,
    items: &[workflow::Model],
    why: impl Fn(&workflow::Model) -> String,
) {
    if items.is_empty() {
        *body += r#"<p class="note">None.</p>"#;
        return;
    }
    *body += r#"<table><tr><th class="num">A2 id</th><th>Workflow id</th><th>State</th><th class="num">Attempt</th><th>Updated</th><th>Why</th></tr>"#;
    for w in items {
        let _ = write!(
            body,
            r#"<tr class="item"><td class="num">{}</td><td class="mono"><a href="/items/{id}">{id}</a></td><td>{}</td><td class="num">{}</td><td>{} ({} ago)</td><td class="err">{}</td></tr>"#,
            w.a2_id,
            badge(w.state),
            w.attempt,
            when(app.tz, w.updated_at),
            span(now - w.updated_at),
            why(w),
            id = w.id,
        );
    }
    *body += "</table>";
}
