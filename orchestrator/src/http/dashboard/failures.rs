//! `/failures`: every failure group (what `migrator failures` prints), and `/failures/{reason}`:
//! one group's items, paged by workflow id, with "Retry this group" and "Cancel this group"
//! (the API's `POST retry|cancel {"reason": …}`, behind the session and its CSRF token).

use super::html::{Viewer, badge, esc, num, page as frame, url, when};
use super::{Answer, Done, PAGE, Posted, back, csrf, uuid_cursor};
use crate::http::App;
use crate::http::api::Selecting;
use crate::state_machine::Event;
use crate::store::{FailureGroup, ItemFilter, Selection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use std::fmt::Write;

/// Groups the list shows at most.
const GROUPS: usize = 500;

pub(super) async fn list(State(app): State<App>, headers: HeaderMap, Query(done): Query<Done>) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let f = app.store.failures(&Selection::all(), None, Some(GROUPS)).await?;
    let mut body = format!(
        r#"<p><span id="failure-items">{}</span> Failed or Rejected items in {} groups.</p>"#,
        num(f.items),
        num(f.total_groups)
    );
    if f.groups.is_empty() {
        body += r#"<p class="note">No Failed or Rejected items.</p>"#;
    } else {
        body += "<section>";
        body += &groups_table(&app, &f.groups);
        body += "</section>";
    }
    Ok(frame(&viewer, "Failures", "/failures", done.done.as_deref(), None, &body).into_response())
}

/// Failure groups as a table, each linking to its items (the list page and the overview).
pub(super) fn groups_table(app: &App, groups: &[FailureGroup]) -> String {
    let mut body = String::from(
        r#"<table id="failures"><tr><th>State</th><th class="num">Items</th><th>Step</th><th>Endpoint</th><th class="num">HTTP</th><th>Message</th><th>First seen</th><th>Last seen</th></tr>"#,
    );
    for g in groups {
        let _ = write!(
            body,
            r#"<tr class="failure-group" data-reason="{}"><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="err"><a href="/failures/{}">{}</a></td><td>{}</td><td>{}</td></tr>"#,
            esc(&g.reason),
            badge(g.state),
            num(g.count),
            esc(&g.step),
            esc(g.endpoint.as_deref().unwrap_or("")),
            g.status.map_or(String::new(), |s| s.to_string()),
            url(&g.reason),
            esc(&g.message),
            when(app.tz, g.first_seen),
            when(app.tz, g.last_seen),
        );
    }
    body + "</table>"
}

/// A group page's query: the page cursor and the flash message.
#[derive(Deserialize)]
pub(super) struct GroupQuery {
    after: Option<String>,
    done: Option<String>,
}

pub(super) async fn group(
    State(app): State<App>,
    headers: HeaderMap,
    Path(reason): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let after = uuid_cursor("after", q.after.as_deref())?;
    let groups = app.store.failure_groups(&Selection::all(), None, None).await?;
    let mine: Vec<_> = groups.groups.iter().filter(|g| g.reason == reason).collect();
    let count: u64 = mine.iter().map(|g| g.count).sum();
    let filter = ItemFilter { reason: Some(reason.clone()), ..ItemFilter::default() };
    let items = app.store.items_page(&filter, after, PAGE).await?;
    let here = format!("/failures/{}", url(&reason));

    let mut body = format!(
        r#"<section><p class="err" id="reason">{}</p><p>Items in this group: <b><span id="group-count" data-value="{count}">{}</span></b>"#,
        esc(&reason),
        num(count)
    );
    for g in &mine {
        let _ = write!(body, " · {} {}", badge(g.state), num(g.count));
    }
    body += "</p>";
    if count > 0 {
        body += &viewer.forms(
            &here,
            &[
                (&format!("{here}/retry"), "Retry this group", "primary"),
                (&format!("{here}/cancel"), "Cancel this group", "danger"),
            ],
        );
    } else {
        body += r#"<p class="note">No Failed or Rejected item has this reason now.</p>"#;
    }
    body += "</section><section><h2>Items with this reason</h2>";
    if items.items.is_empty() {
        body += r#"<p class="note">None.</p>"#;
    } else {
        body += r#"<table id="items"><tr><th class="num">A2 id</th><th>Workflow id</th><th>State</th><th class="num">Attempt</th><th>Batch</th><th>Updated</th><th>Last error</th></tr>"#;
        for w in &items.items {
            let _ = write!(
                body,
                r#"<tr class="item" data-id="{id}" data-state="{}"><td class="num">{}</td><td class="mono"><a href="/items/{id}">{id}</a></td><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="err">{}</td></tr>"#,
                w.state.as_str(),
                w.a2_id,
                badge(w.state),
                w.attempt,
                esc(&w.batch),
                when(app.tz, w.updated_at),
                esc(w.last_error.as_deref().unwrap_or("")),
                id = w.id,
            );
        }
        body += "</table>";
    }
    if let Some(next) = &items.next {
        let _ = write!(
            body,
            r#"<p class="pager"><a id="next-page" href="{here}?after={}">Next page →</a></p>"#,
            url(next)
        );
    }
    body += "</section>";
    Ok(frame(&viewer, "Failure group", "/failures", q.done.as_deref(), None, &body).into_response())
}

/// Retries or cancels every Failed or Rejected item of the group, then goes back to its page.
async fn act(app: &App, headers: &HeaderMap, reason: String, form: Posted, event: Event) -> Answer {
    app.require_session(headers, &csrf(form))?;
    let here = format!("/failures/{}", url(&reason));
    let sel = Selecting { reason: Some(reason), ..Selecting::default() };
    let verb = if event == Event::OperatorRetry { "retried" } else { "cancelled" };
    let r = app.operate(sel, event).await?;
    let skipped = if r.skipped.is_empty() { String::new() } else { format!(", {} skipped", r.skipped.len()) };
    Ok(back(&here, &format!("{verb} {}{skipped}", r.changed)))
}

pub(super) async fn retry(
    State(app): State<App>,
    headers: HeaderMap,
    Path(reason): Path<String>,
    form: Posted,
) -> Answer {
    act(&app, &headers, reason, form, Event::OperatorRetry).await
}

pub(super) async fn cancel(
    State(app): State<App>,
    headers: HeaderMap,
    Path(reason): Path<String>,
    form: Posted,
) -> Answer {
    act(&app, &headers, reason, form, Event::OperatorCancel).await
}
