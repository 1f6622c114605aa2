//! The CLI's output layer: every command builds one value and hands it here with the function
//! that renders it as text, so `--json` and the human output never drift apart.

use serde::Serialize;

/// Prints `value` as pretty JSON with `--json`, else the text `render` makes of it.
pub(super) fn print<T: Serialize>(
    json: bool,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", render(value));
    }
    Ok(())
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
