//! The dashboard: server-rendered HTML pages (placeholder until the pages land).

use super::App;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/", get(|| async { Html("<!doctype html><title>migrator</title><p>dashboard</p>") }))
}
