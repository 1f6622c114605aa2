//! The CLI's output layer: every command builds one value and hands it here with the function
//! that renders it as text, so `--json` and the human output never drift apart.

use serde::Serialize;

/// Prints `value` as pretty JSON with `--json`, else the text `render` makes of it.
pub(super) fn print<T: Serialize>(
    json: bool,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    let text = if json { format!("{}\n", serde_json::to_string_pretty(value)?) } else { render(value) };
    write_out(&text)
}

/// Writes `text` to stdout. A reader that went away (`status | head -1`, `| true`) is not an
/// error: the command did its work, and nobody is left to tell.
fn write_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Counts by state (or any name) as the indented two-column table `status`, `plan` and the
/// demo share: the name left-aligned in 16 columns, the count right-aligned in `width`.
pub(super) fn count_rows<K: std::fmt::Display>(
    rows: impl IntoIterator<Item = (K, u64)>,
    width: usize,
) -> String {
    let mut out = String::new();
    for (name, n) in rows {
        out += &format!("  {name:<16} {n:>width$}\n");
    }
    out
}
