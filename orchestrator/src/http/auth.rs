//! Who may change things. The API takes the operator token as `Authorization: Bearer …`; the
//! dashboard asks for it once per browser session and then holds a session cookie (HttpOnly,
//! SameSite=Strict) whose forms carry a per-session CSRF token. Tokens are compared in constant
//! time, and never echoed, logged or stored.

use super::App;
use super::problem::Problem;
use axum::http::{HeaderMap, StatusCode, header};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "migrator_session";

/// How long a dashboard session lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);

/// Dashboard sessions: session id → (CSRF token, expiry). In memory: a restart logs everyone out.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, (String, Instant)>>);

/// A logged-in dashboard session.
pub(crate) struct Session {
    /// The session id (the cookie's value).
    pub(crate) id: String,
    /// The CSRF token its forms must carry.
    pub(crate) csrf: String,
}

impl Sessions {
    /// Opens a session: its id and CSRF token.
    pub(crate) fn open(&self) -> Session {
        let (id, csrf) = (random_hex(), random_hex());
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, (_, until)| *until > now);
        map.insert(id.clone(), (csrf.clone(), now + SESSION));
        Session { id, csrf }
    }

    /// The session the request's cookie names, if it is open.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (csrf, until) = map.get(&id)?;
        (*until > Instant::now()).then(|| Session { id, csrf: csrf.clone() })
    }

    /// Ends the session the request's cookie names.
    pub(crate) fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        }
    }
}

/// 32 random bytes as hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Constant-time equality of two secrets' bytes.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl App {
    /// Does `offered` match the configured operator token? Always false on a read-only server.
    pub(crate) fn token_matches(&self, offered: &str) -> bool {
        self.token.as_ref().is_some_and(|t| same(t.expose(), offered.trim()))
    }

    /// Lets an API mutation through when it carries the token as a bearer header: 403 on a
    /// read-only server, 401 without the header or with a wrong token.
    pub(crate) fn require_bearer(&self, headers: &HeaderMap) -> Result<(), Problem> {
        if self.token.is_none() {
            return Err(read_only());
        }
        let offered = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        match offered {
            Some(t) if self.token_matches(t) => Ok(()),
            Some(_) => Err(Problem::unauthorized("the operator token is wrong")),
            None => Err(Problem::unauthorized("this needs the operator token as `Authorization: Bearer …`")),
        }
    }

    /// Lets a dashboard form through when its session is open and it carries the session's
    /// CSRF token: 403 on a read-only server or a wrong CSRF token, 401 without a session.
    pub(crate) fn require_session(&self, headers: &HeaderMap, csrf: &str) -> Result<Session, Problem> {
        if self.token.is_none() {
            return Err(read_only());
        }
        let session = self
            .sessions
            .of(headers)
            .ok_or_else(|| Problem::unauthorized("log in with the operator token first"))?;
        if same(&session.csrf, csrf) {
            Ok(session)
        } else {
            Err(Problem::new(StatusCode::FORBIDDEN, "the form's CSRF token does not match this session"))
        }
    }
}

/// The answer of a read-only server to a mutation.
fn read_only() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "this server is read-only: no operator token is configured (http.token_file or MIGRATOR__HTTP__TOKEN)",
    )
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(session: &Session) -> String {
    format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", session.id, SESSION.as_secs())
}

/// The `Set-Cookie` value that ends a session.
pub(crate) fn expired_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}
