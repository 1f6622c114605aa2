//! The `Migrate` policy (`MigrationController.cs:23,43,67,103,128,154,180`; `Auth/DependencyInjection.cs:280`)
//! reduced to one shared bearer token: no or a wrong token → 401 from the JwtBearer handler, before
//! model binding. (A3 answers 403 for a Maskinporten token that was not exchanged,
//! `AltinnTokenEventsHelper.cs:22-36`; the simulator has no such token kind.)

use crate::problem::{self, Answer};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// `Ok` when `Authorization: Bearer <token>` carries `token` (scheme case-insensitive).
pub(crate) fn check(headers: &HeaderMap, token: &str) -> Result<(), Answer> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(problem::unauthorized(false));
    };
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or("");
    let given = parts.next().unwrap_or("").trim();
    if !scheme.eq_ignore_ascii_case("bearer") || given.is_empty() {
        return Err(problem::unauthorized(false));
    }
    if given != token {
        return Err(problem::unauthorized(true));
    }
    Ok(())
}
