//! The `Migrate` policy (`MigrationController.cs:23,43,67,103,128,154,180`; `Auth/DependencyInjection.cs:280`)
//! reduced to one shared bearer token: no or a wrong token → 401 from the JwtBearer handler, before
//! model binding. The policy authenticates with the Maskinporten scheme alone (`:73-93,280`), so
//! a token of another issuer is a 401 too; a valid token without the migrate scope would be a 403,
//! which the simulator, having one token kind, cannot produce.

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
