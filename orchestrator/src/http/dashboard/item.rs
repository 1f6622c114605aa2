//! `/items/{key}`: one item (by workflow id, A2 id or `a2:<A2 id>`), what `migrator show` prints:
//! its fields and its history as a timeline, each step with its error and the operator behind
//! it; a parked item can be retried from here.

use super::html::{Viewer, badge, esc, page as frame, span, url, when};
use super::{Answer, Done, Posted, back, csrf};
use crate::http::App;
use crate::http::api::Selecting;
use crate::http::problem::Problem;
use crate::state_machine::Event;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use schema::WorkflowState;
use std::fmt::Write;

/// The key the store looks up: `a2:N` means the A2 id N.
fn lookup(key: &str) -> &str {
    key.strip_prefix("a2:").unwrap_or(key)
}

pub(super) async fn page(
    State(app): State<App>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(done): Query<Done>,
) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let Some(shown) = app.store.show(lookup(&key)).await? else {
        return Err(Problem::not_found(format!("no item {key}")).into());
    };
    let (w, tz) = (&shown.item, app.tz);
    let opt = |v: Option<String>| v.map_or_else(|| "–".to_string(), |s| esc(&s));
    let fields: [(&str, String); 16] = [
        ("Workflow id", format!(r#"<span class="mono" id="item-id">{}</span>"#, w.id)),
        ("A2 id", format!(r#"<span id="item-a2">{}</span>"#, w.a2_id)),
        (
            "State",
            format!(r#"<span id="item-state" data-state="{}">{}</span>"#, w.state.as_str(), badge(w.state)),
        ),
        ("Resumes at", w.resume_state.map_or_else(|| "–".into(), badge)),
        ("Attempt", w.attempt.to_string()),
        ("Next run", if w.state.is_runnable() { when(tz, w.next_run_at) } else { "–".into() }),
        (
            "Lease",
            w.lease_owner.map_or_else(
                || "–".into(),
                |o| format!("{o} until {}", w.lease_until.map_or_else(String::new, |u| when(tz, u))),
            ),
        ),
        (
            "Reason",
            w.reason.as_ref().map_or_else(
                || "–".into(),
                |r| format!(r#"<a class="err" href="/failures/{}">{}</a>"#, url(r), esc(r)),
            ),
        ),
        ("Last error", opt(w.last_error.clone())),
        ("Same error count", w.same_error_count.to_string()),
        ("A3 correspondence", opt(w.a3_correspondence_id.map(|u| u.to_string()))),
        ("Dialog", opt(w.dialog_id.map(|u| u.to_string()))),
        ("Batch", esc(&w.batch)),
        ("Service owner / resource", format!("{} / {}", esc(&w.service_owner), esc(&w.resource_id))),
        ("A2 created", when(tz, w.a2_created)),
        ("Created / updated", format!("{} / {}", when(tz, w.created_at), when(tz, w.updated_at))),
    ];
    let mut body = String::from(r#"<div class="grid"><section><h2>Fields</h2><table id="fields">"#);
    for (name, value) in fields {
        let _ = write!(body, r#"<tr><th>{name}</th><td>{value}</td></tr>"#);
    }
    body += "</table>";
    if matches!(w.state, WorkflowState::Failed | WorkflowState::Rejected | WorkflowState::Cancelled) {
        let here = format!("/items/{}", w.id);
        body += &viewer.forms(&here, &[(&format!("{here}/retry"), "Retry this item", "primary")]);
    }
    body += r#"</section><section><h2>History</h2><ol class="timeline" id="history">"#;
    let mut previous: Option<i64> = None;
    for h in &shown.history {
        let from = h.from_state.map_or_else(|| "new".into(), badge);
        let after = previous.map_or(String::new(), |p| format!(" (+{})", span(h.at - p)));
        previous = Some(h.at);
        let _ = write!(
            body,
            r#"<li class="transition" data-to="{}">{from} → {}<div class="meta">{}{after} · attempt {}{}{}</div>{}</li>"#,
            h.to_state.as_str(),
            badge(h.to_state),
            when(tz, h.at),
            h.attempt,
            h.node.map_or(String::new(), |n| format!(" · node <span class=\"mono\">{n}</span>")),
            h.operator
                .as_ref()
                .map_or(String::new(), |o| format!(r#" · <b class="operator">{}</b>"#, esc(o))),
            h.error.as_ref().map_or(String::new(), |e| format!(r#"<div class="err">{}</div>"#, esc(e))),
        );
    }
    body += "</ol></section></div>";
    let title = format!("Item a2:{}", w.a2_id);
    Ok(frame(&viewer, &title, "", done.done.as_deref(), None, &body).into_response())
}

pub(super) async fn retry(
    State(app): State<App>,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: Posted,
) -> Answer {
    app.require_session(&headers, &csrf(form))?;
    let sel = Selecting { keys: vec![lookup(&key).to_string()], ..Selecting::default() };
    let r = app.operate(sel, Event::OperatorRetry).await?;
    let what = match r.skipped.first() {
        Some(s) => format!("not retried: {}", s.reason),
        None => format!("retried {}", r.changed),
    };
    Ok(back(&format!("/items/{}", url(&key)), &what))
}
