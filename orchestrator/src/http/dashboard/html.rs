//! The dashboard's HTML pieces: escaping (every text that came from the database or a request
//! goes through [`esc`]; reasons and errors hold `<`, `&` and quotes), URL encoding of path
//! segments, number and time formats, and the page frame (inline CSS, the header nav, who is
//! looking). No templating crate: the pages are small and `format!` with escaping keeps them
//! readable. Nothing here ever sees the operator token; forms carry only the session's CSRF token.

use super::super::App;
use axum::http::HeaderMap;
use axum::response::Html;
use chrono_tz::Tz;
use schema::WorkflowState;
use std::fmt::Write;

/// Text made safe for HTML content and double-quoted attributes.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes `text` for a path segment or a query value: everything but unreserved
/// characters (so `|`, spaces, `/`, `?` and `%` of a reason key survive the round trip).
pub(super) fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A count with thousands separators: `1,234,567`.
pub(super) fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Epoch ms as local time in the configured zone: `2026-11-30 14:05:09`.
pub(super) fn when(tz: Tz, ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map_or_else(|| format!("{ms} ms"), |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A duration in ms, short: `4 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(super) fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A state as a coloured badge.
pub(super) fn badge(state: WorkflowState) -> String {
    format!(r#"<span class="badge st-{0}">{0}</span>"#, state.as_str())
}

/// Who is looking, which decides whether forms are shown.
pub(super) enum Viewer {
    /// No token is configured: nothing can be changed here.
    ReadOnly,
    /// Not logged in.
    Anonymous,
    /// Logged in; forms carry this CSRF token.
    Operator(String),
}

impl Viewer {
    /// The viewer of a request.
    pub(super) fn of(app: &App, headers: &HeaderMap) -> Self {
        match (&app.token, app.sessions.of(headers)) {
            (None, _) => Viewer::ReadOnly,
            (Some(_), None) => Viewer::Anonymous,
            (Some(_), Some(s)) => Viewer::Operator(s.csrf),
        }
    }

    /// POST buttons to `action`s (path, label, css class), or what stands in for them: a note on a
    /// read-only server, a login link (back to `here`) without a session.
    pub(super) fn forms(&self, here: &str, actions: &[(&str, &str, &str)]) -> String {
        match self {
            Viewer::ReadOnly => {
                r#"<p class="note">Read-only server: no operator token is configured.</p>"#.into()
            }
            Viewer::Anonymous => format!(
                r#"<p class="note"><a id="login-link" href="/login?next={}">Log in</a> with the operator token to change anything here.</p>"#,
                url(here)
            ),
            Viewer::Operator(csrf) => {
                let mut out = String::from(r#"<div class="forms">"#);
                for (action, label, class) in actions {
                    let _ = write!(
                        out,
                        r#"<form method="post" action="{}"><input type="hidden" name="csrf" value="{}"><button type="submit" class="{}">{}</button></form>"#,
                        esc(action),
                        esc(csrf),
                        esc(class),
                        esc(label)
                    );
                }
                out + "</div>"
            }
        }
    }
}

/// The header nav's entries: (path, label).
const NAV: [(&str, &str); 5] = [
    ("/", "Overview"),
    ("/phases", "Phases"),
    ("/failures", "Failures"),
    ("/stuck", "Stuck"),
    ("/runs", "Runs"),
];

/// A whole page: `title`, the nav with `active` marked, a flash message (`done`, escaped here),
/// the body, and an auto-refresh every `refresh` seconds if given.
pub(super) fn page(
    viewer: &Viewer,
    title: &str,
    active: &str,
    done: Option<&str>,
    refresh: Option<u32>,
    body: &str,
) -> Html<String> {
    let mut nav = String::new();
    for (path, label) in NAV {
        let class = if path == active { r#" class="active""# } else { "" };
        let _ = write!(nav, r#"<a href="{path}"{class}>{label}</a>"#);
    }
    let who = match viewer {
        Viewer::ReadOnly => r#"<span class="who">read-only</span>"#.to_string(),
        Viewer::Anonymous => r#"<a class="who" href="/login">Log in</a>"#.to_string(),
        Viewer::Operator(csrf) => format!(
            r#"<form class="who" method="post" action="/logout"><input type="hidden" name="csrf" value="{}"><span>operator</span> <button type="submit">Log out</button></form>"#,
            esc(csrf)
        ),
    };
    let refresh = refresh.map_or(String::new(), |s| format!(r#"<meta http-equiv="refresh" content="{s}">"#));
    let flash = done.map_or(String::new(), |d| format!(r#"<p class="flash" id="flash">{}</p>"#, esc(d)));
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{refresh}<title>{title} · migrator</title><style>{CSS}</style></head><body><header><span class="brand">migrator</span><nav>{nav}</nav>{who}</header><main><h1>{title}</h1>{flash}{body}</main></body></html>"#,
        title = esc(title),
    ))
}

/// The one stylesheet.
const CSS: &str = "
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
header{display:flex;align-items:center;gap:24px;padding:0 24px;height:48px;background:#1f2d3d;color:#fff}
header .brand{font-weight:700;letter-spacing:.5px}
header nav{display:flex;gap:4px;flex:1}
header nav a{color:#cbd2d9;text-decoration:none;padding:6px 12px;border-radius:4px}
header nav a.active,header nav a:hover{background:#3e4c59;color:#fff}
header .who{color:#cbd2d9;display:flex;gap:8px;align-items:center}
header a.who{color:#fff}
main{padding:16px 24px 48px;max-width:1400px}
h1{font-size:20px;margin:8px 0 16px}
h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:14px 16px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;margin-bottom:16px}
.grid section{margin-bottom:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#52606d;font-size:12px;text-transform:uppercase;letter-spacing:.3px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.err{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-word}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
a{color:#2563eb}
.big{font-size:28px;font-weight:700;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:16px;margin-bottom:16px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:10px 18px;min-width:150px}
.card .label{color:#52606d;font-size:12px;text-transform:uppercase}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.st-created_in_a2{background:#7b8794}.st-migrated{background:#3b82f6}.st-dialog_created{background:#6366f1}
.st-synced{background:#16a34a}.st-sync_pending{background:#0d9488}.st-failed{background:#dc2626}
.st-rejected{background:#ea580c}.st-cancelled{background:#52525b}
.bar{background:#e4e7eb;border-radius:3px;height:10px;min-width:120px;overflow:hidden}
.bar span{display:block;height:100%;background:#16a34a}
.note{color:#52606d;font-style:italic}
.flash{background:#dcfce7;border:1px solid #86efac;padding:8px 12px;border-radius:4px}
.error{background:#fee2e2;border:1px solid #fca5a5;padding:8px 12px;border-radius:4px}
.forms{display:flex;gap:8px;margin:8px 0}
button{font:inherit;padding:5px 14px;border-radius:4px;border:1px solid #9aa5b1;background:#fff;cursor:pointer}
button.primary{background:#2563eb;border-color:#2563eb;color:#fff}
button.danger{background:#fff;border-color:#dc2626;color:#dc2626}
header button{padding:2px 10px;background:#3e4c59;color:#fff;border-color:#52606d}
.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #cbd2d9}
.timeline li{position:relative;padding:4px 0 10px 18px}
.timeline li:before{content:'';position:absolute;left:-8px;top:9px;width:13px;height:13px;border-radius:50%;background:#9aa5b1;border:2px solid #fff}
.meta{color:#52606d;font-size:12px}
.pager{margin-top:10px}
svg text{font:11px system-ui,sans-serif;fill:#52606d}
input[type=password]{font:inherit;padding:6px 10px;width:340px;border:1px solid #9aa5b1;border-radius:4px}
";
