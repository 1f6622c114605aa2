//! The dashboard: server-rendered HTML pages over the same store calls as the JSON API (so both
//! show the same numbers), with no JavaScript and no external asset (inline CSS, SVG charts drawn
//! here). One file per page; `html` holds escaping and the page frame, `chart` the SVG.
//!
//! Reading needs nothing. Changing something (retry or cancel a failure group or an item, pause
//! or resume a phase) needs a session opened with the operator token at `/login`: every form
//! carries the session's CSRF token, and its handler checks session and token before acting
//! (401 without a session, 403 with a wrong CSRF token or on a read-only server), then answers
//! 303 back to the page with what it did as a flash message.

mod chart;
mod failures;
mod html;
mod item;
mod login;
mod overview;
mod phases;
mod runs;
mod stuck;

use super::App;
use super::problem::Problem;
use crate::store::StoreError;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/", get(overview::page))
        .route("/failures", get(failures::list))
        .route("/failures/{reason}", get(failures::group))
        .route("/failures/{reason}/retry", post(failures::retry))
        .route("/failures/{reason}/cancel", post(failures::cancel))
        .route("/items/{key}", get(item::page))
        .route("/items/{key}/retry", post(item::retry))
        .route("/stuck", get(stuck::page))
        .route("/runs", get(runs::page))
        .route("/phases", get(phases::page))
        .route("/phases/{name}/pause", post(phases::pause))
        .route("/phases/{name}/resume", post(phases::resume))
        .route("/login", get(login::form).post(login::login))
        .route("/logout", post(login::logout))
}

/// A page's answer.
type Answer = Result<Response, Failure>;

/// An error shown as a small HTML page with the problem's status.
pub(super) struct Failure(Problem);

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Self(p)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let Problem { status, message } = self.0;
        let body = format!(
            r#"<p class="error" id="error">{}</p><p><a href="/">Back to the overview</a></p>"#,
            html::esc(&message)
        );
        let title = status.canonical_reason().unwrap_or("Error");
        (status, html::page(&html::Viewer::ReadOnly, title, "", None, None, &body)).into_response()
    }
}

/// A mutating form's fields: only the CSRF token (what to act on is in the path).
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A mutating form as its handler takes it: a missing or unreadable body reads as no CSRF token,
/// so the session check answers (401 or 403) rather than the body parser.
type Posted = Result<axum::Form<CsrfForm>, axum::extract::rejection::FormRejection>;

/// The CSRF token a form carried ("" when none).
fn csrf(form: Posted) -> String {
    form.map(|f| f.0.csrf).unwrap_or_default()
}

/// The flash message a redirect carries (`?done=`).
#[derive(Deserialize, Default)]
pub(super) struct Done {
    done: Option<String>,
}

/// 303 to `to` with `done` as the flash message.
fn back(to: &str, done: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let location = format!("{to}{sep}done={}", html::url(done));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Parses a page cursor that must be a workflow id.
fn uuid_cursor(name: &str, text: Option<&str>) -> Result<Option<uuid::Uuid>, Failure> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            uuid::Uuid::parse_str(t).map_err(|_| {
                Problem::bad_request(format!("`{name}`: {t:?} is not a cursor of this list")).into()
            })
        })
        .transpose()
}

/// Rows of a page.
const PAGE: u64 = 50;
