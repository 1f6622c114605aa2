//! `/login` and `/logout`: the operator token, asked once per browser session. A right token
//! opens a session (an HttpOnly, SameSite=Strict cookie; its CSRF token goes into every form);
//! a wrong one answers 401 with the empty form again. The token itself is never written into a
//! page, a redirect or a log.

use super::Answer;
use super::html::{Viewer, esc, page as frame};
use crate::http::App;
use crate::http::auth::{expired_cookie, session_cookie};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

/// Where to go after logging in: a path on this server only (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

/// The login page's query.
#[derive(Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

/// The login form's page, with `message` above it.
fn form_page(
    app: &App,
    headers: &HeaderMap,
    next: &str,
    message: Option<&str>,
) -> axum::response::Html<String> {
    let viewer = Viewer::of(app, headers);
    let mut body = String::from("<section>");
    if let Some(m) = message {
        body += &format!(r#"<p class="error" id="error">{}</p>"#, esc(m));
    }
    if app.token.is_none() {
        body += r#"<p class="note">This server is read-only: no operator token is configured, so there is nothing to log in to.</p>"#;
    } else {
        body += &format!(
            r#"<form method="post" action="/login" id="login-form"><p><label for="token">Operator token</label></p><p><input type="password" id="token" name="token" autocomplete="current-password" autofocus required></p><input type="hidden" name="next" value="{}"><p><button type="submit" class="primary" id="login-button">Log in</button></p></form><p class="meta">The token is the one in <code>http.token_file</code> or <code>MIGRATOR__HTTP__TOKEN</code>. A session lasts 12 hours or until the server restarts.</p>"#,
            esc(next)
        );
    }
    body += "</section>";
    frame(&viewer, "Log in", "", None, None, &body)
}

pub(super) async fn form(State(app): State<App>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Answer {
    Ok(form_page(&app, &headers, &safe_next(q.next.as_deref()), None).into_response())
}

/// The login form's fields.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

pub(super) async fn login(State(app): State<App>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Answer {
    let next = safe_next(f.next.as_deref());
    if app.token.is_none() {
        let page = form_page(&app, &headers, &next, Some("This server is read-only."));
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    if !app.token_matches(&f.token) {
        let page = form_page(&app, &headers, &next, Some("That is not the operator token."));
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    let session = app.sessions.open();
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, session_cookie(&session)), (header::LOCATION, next)])
        .into_response())
}

/// Ends the session. No CSRF check: a forged logout harms nobody (and SameSite=Strict keeps the
/// cookie off other sites' requests anyway).
pub(super) async fn logout(State(app): State<App>, headers: HeaderMap) -> Answer {
    app.sessions.close(&headers);
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, expired_cookie()), (header::LOCATION, "/".to_string())])
        .into_response())
}
