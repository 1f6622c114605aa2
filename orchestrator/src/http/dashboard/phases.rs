//! `/phases`: each configured phase's plan from the background snapshot (what `migrator plan`
//! prints: steps, order, window, items by state, rates, the estimate) with a pause or resume
//! form (the API's `POST phases/{name}/pause|resume`, behind the session and its CSRF token).

use super::html::{Viewer, badge, esc, num, page as frame, span, url};
use super::{Answer, Done, Posted, back, csrf};
use crate::http::App;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use std::fmt::Write;

/// A rate in items per second, or a dash.
fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |r| format!("{r:.1}/s"))
}

pub(super) async fn page(State(app): State<App>, headers: HeaderMap, Query(done): Query<Done>) -> Answer {
    let viewer = Viewer::of(&app, &headers);
    let now = app.store.clock().now_ms();
    let mut body = String::new();
    let Some(view) = app.snapshot.phases() else {
        body += r#"<p class="note">The first phase snapshot is being computed; this page reloads.</p>"#;
        return Ok(frame(&viewer, "Phases", "/phases", done.done.as_deref(), Some(3), &body).into_response());
    };
    let _ = write!(
        body,
        r#"<p class="meta" id="snapshot-age">Computed {} ago.</p>"#,
        span(now - view.computed_at)
    );
    if let Some(e) = &view.error {
        let _ = write!(body, r#"<p class="error">The last refresh failed: {}</p>"#, esc(e));
    }
    if view.phases.is_empty() {
        body += r#"<p class="note">No phase is configured.</p>"#;
    }
    for p in &view.phases {
        let here = "/phases";
        let base = format!("/phases/{}", url(&p.phase));
        let _ = write!(
            body,
            r#"<section class="phase" data-phase="{name}" data-paused="{}"><h2>{name} {}</h2><table><tr><th>Steps</th><td>{}</td></tr><tr><th>Order</th><td>{}</td></tr><tr><th>Window</th><td>{}</td></tr><tr><th>Items</th><td>"#,
            p.paused,
            if p.paused { r#"<span class="badge st-cancelled">paused</span>"# } else { "" },
            esc(&p.steps.join(", ")),
            esc(&format!("{:?}", p.order)),
            esc(&p.window),
            name = esc(&p.phase),
        );
        for (state, n) in &p.by_state {
            let _ = write!(body, "{} {} ", badge(*state), num(*n));
        }
        let _ = write!(
            body,
            r#"</td></tr><tr><th>Total / remaining / ready</th><td>{} / {} / {}</td></tr><tr><th>Rate configured / measured / used</th><td>{} / {} / {}</td></tr><tr><th>Estimate</th><td>{}</td></tr></table>"#,
            num(p.total),
            num(p.remaining),
            num(p.ready),
            rate(p.rate_configured),
            rate(p.rate_measured),
            rate(p.rate_used),
            match (&p.finishes_local, &p.no_estimate) {
                (Some(at), _) => format!(
                    "finishes {}{}",
                    esc(at),
                    p.windows_needed.map_or(String::new(), |w| format!(" ({} windows)", num(w)))
                ),
                (None, Some(why)) => esc(why),
                (None, None) => "–".into(),
            }
        );
        body += &if p.paused {
            viewer.forms(here, &[(&format!("{base}/resume"), "Resume", "primary")])
        } else {
            viewer.forms(here, &[(&format!("{base}/pause"), "Pause", "danger")])
        };
        body += "</section>";
    }
    Ok(frame(&viewer, "Phases", "/phases", done.done.as_deref(), None, &body).into_response())
}

async fn switch(app: &App, headers: &HeaderMap, name: &str, form: Posted, paused: bool) -> Answer {
    app.require_session(headers, &csrf(form))?;
    app.switch_phase(name, paused).await?;
    Ok(back("/phases", &format!("{} {name}", if paused { "paused" } else { "resumed" })))
}

pub(super) async fn pause(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Posted,
) -> Answer {
    switch(&app, &headers, &name, form, true).await
}

pub(super) async fn resume(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Posted,
) -> Answer {
    switch(&app, &headers, &name, form, false).await
}
