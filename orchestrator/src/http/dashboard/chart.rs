//! The overview's two charts, drawn on the server as inline SVG (no script, no chart library):
//! transitions per minute as bars, and schedule runs on a timeline (one row per schedule, a bar
//! from start to finish coloured by outcome). Every label is escaped.

use super::html::{esc, num};
use crate::store::RunRecord;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Milliseconds (or a count) as a coordinate.
#[allow(clippy::cast_precision_loss, reason = "a pixel position; epoch ms and counts fit f64 closely enough")]
fn f(n: i64) -> f64 {
    n as f64
}

/// Local `HH:MM`.
fn hhmm(tz: Tz, ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map_or_else(String::new, |t| t.with_timezone(&tz).format("%H:%M").to_string())
}

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 10.0;

/// Hour ticks between `since` and `now`: (x, label) every `step_h` hours.
fn ticks(tz: Tz, since: i64, now: i64, step_h: i64, x: impl Fn(i64) -> f64) -> Vec<(f64, String)> {
    let hour = 3_600_000;
    let mut t = (since / hour + 1) * hour;
    let mut out = Vec::new();
    while t <= now {
        if (t / hour) % step_h == 0 {
            out.push((x(t), hhmm(tz, t)));
        }
        t += hour;
    }
    out
}

/// Transitions per minute from `since` to `now`: `points` are (minute start, count).
pub(super) fn throughput(points: &[(i64, u64)], since: i64, now: i64, tz: Tz) -> String {
    let (height, top, bottom) = (170.0, 10.0, 22.0);
    let plot_h = height - top - bottom;
    let span = (now - since).max(60_000);
    let x = |t: i64| LEFT + (WIDTH - LEFT - RIGHT) * f(t - since) / f(span);
    let max = points.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bar_w = ((WIDTH - LEFT - RIGHT) * 60_000.0 / f(span)).max(1.0);
    let total: u64 = points.iter().map(|(_, n)| *n).sum();
    let mut svg = format!(
        r#"<svg id="throughput-chart" data-total="{total}" width="100%" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="transitions per minute">"#
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = top + plot_h * (1.0 - frac);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rounded, non-negative axis label"
        )]
        let label = (f(i64::try_from(max).unwrap_or(i64::MAX)) * frac).round() as u64;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e7eb"/><text x="{}" y="{:.1}" text-anchor="end">{}/min</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            num(label)
        );
    }
    for (minute, n) in points.iter().filter(|(m, _)| *m >= since - 60_000) {
        let h = plot_h * f(i64::try_from(*n).unwrap_or(i64::MAX)) / f(i64::try_from(max).unwrap_or(i64::MAX));
        let _ = write!(
            svg,
            r##"<rect x="{:.2}" y="{:.2}" width="{bar_w:.2}" height="{h:.2}" fill="#3b82f6"><title>{} · {}</title></rect>"##,
            x(*minute).max(LEFT),
            top + plot_h - h,
            hhmm(tz, *minute),
            num(*n)
        );
    }
    for (tx, label) in ticks(tz, since, now, 1, x) {
        let _ =
            write!(svg, r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, height - 6.0);
    }
    svg + "</svg>"
}

/// The colour of a run's outcome (running when None).
fn colour(outcome: Option<&str>) -> (&'static str, &'static str) {
    match outcome {
        None => ("#3b82f6", "running"),
        Some(o) if o.starts_with("ok") => ("#16a34a", "ok"),
        Some(o) if o.starts_with("skipped") => ("#9aa5b1", "skipped"),
        Some(o) if o.starts_with("abandoned") => ("#ea580c", "abandoned"),
        Some(_) => ("#dc2626", "error"),
    }
}

/// Schedule runs from `since` to `now`, one row per schedule.
pub(super) fn timeline(runs: &[RunRecord], since: i64, now: i64, tz: Tz) -> String {
    let mut rows: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        rows.entry(r.schedule.as_str()).or_default().push(r);
    }
    if rows.is_empty() {
        return r#"<p class="note" id="runs-timeline">No schedule ran in the last 24 hours.</p>"#.into();
    }
    let (row_h, top, bottom) = (24.0, 6.0, 40.0);
    let n_rows = f(i64::try_from(rows.len()).unwrap_or(i64::MAX));
    let height = top + row_h * n_rows + bottom;
    let span = (now - since).max(60_000);
    let x = |t: i64| LEFT + (WIDTH - LEFT - RIGHT) * f(t.clamp(since, now) - since) / f(span);
    let mut svg = format!(
        r#"<svg id="runs-timeline" width="100%" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="schedule runs">"#
    );
    let mut y = top;
    for (schedule, runs) in &rows {
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{y:.1}" width="{}" height="{}" fill="#f5f7fa"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - LEFT - RIGHT,
            row_h - 4.0,
            LEFT - 6.0,
            y + row_h / 2.0 + 2.0,
            esc(schedule)
        );
        for r in runs {
            let (fill, kind) = colour(r.outcome.as_deref());
            let x0 = x(r.started_at);
            let w = (x(r.finished_at.unwrap_or(now)) - x0).max(2.0);
            let took = r.finished_at.map_or("running".to_string(), |e| super::html::span(e - r.started_at));
            let _ = write!(
                svg,
                r#"<rect class="run run-{kind}" x="{x0:.2}" y="{:.1}" width="{w:.2}" height="{}" rx="2" fill="{fill}"><title>{} {} · {} · {}</title></rect>"#,
                y + 2.0,
                row_h - 8.0,
                esc(schedule),
                super::html::when(tz, r.started_at),
                took,
                esc(r.outcome.as_deref().unwrap_or("running"))
            );
        }
        y += row_h;
    }
    for (tx, label) in ticks(tz, since, now, 2, x) {
        let _ = write!(svg, r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, y + 12.0);
    }
    let mut lx = LEFT;
    for (fill, kind) in [
        ("#16a34a", "ok"),
        ("#dc2626", "error"),
        ("#9aa5b1", "skipped"),
        ("#ea580c", "abandoned"),
        ("#3b82f6", "running"),
    ] {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{:.1}" width="10" height="10" fill="{fill}"/><text x="{}" y="{:.1}">{kind}</text>"#,
            y + 22.0,
            lx + 14.0,
            y + 31.0
        );
        lx += 90.0;
    }
    svg + "</svg>"
}
