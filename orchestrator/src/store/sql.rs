//! A small builder for the hand-written bulk statements of the hot path.
//!
//! Placeholders are written `$n` (PostgreSQL) or `?` (SQLite); PostgreSQL gets explicit casts so
//! that parameters inside `VALUES` lists have a type. SQLite gets anonymous `?`: numbered ones
//! (`?7`) are looked up by name on every bind, which is quadratic in the parameter count and made
//! a 1,000-row statement spend 90% of its time binding.

use sea_orm::{DbBackend, Statement, Value};

/// Statement sizes for `n` rows: full statements of `max` rows, then the rest in descending powers
/// of two, so that only log2(`max`) + 1 shapes ever occur. Each shape is prepared once and stays
/// in the connection's statement cache, where a text per row count would be prepared again and
/// again (and a cache full of 1,000-row programs holds tens of MiB). The engine's writes and the
/// importer's intake both split this way.
pub(crate) fn pieces(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let full = std::iter::repeat_n(max, n / max);
    let rest = n % max;
    let powers = (0..usize::BITS).rev().map(|b| 1usize << b).filter(move |p| rest & p != 0);
    full.chain(powers)
}

/// How a bulk statement of `n` rows is split on `backend`: on SQLite into [`pieces`]; on
/// PostgreSQL not at all. PostgreSQL plans every statement of the hot path again anyway, so a
/// fixed shape saves it nothing, while each piece is another round trip and another plan (the
/// engine's bench on PostgreSQL fell from about 15k to 8k transitions/s with pieces).
pub(crate) fn statement_rows(backend: DbBackend, n: usize) -> Vec<std::ops::Range<usize>> {
    match backend {
        DbBackend::Postgres => std::iter::once(0..n).filter(|r| !r.is_empty()).collect(),
        _ => {
            let mut start = 0;
            pieces(n, super::CHUNK.next_power_of_two())
                .map(|size| {
                    start += size;
                    start - size..start
                })
                .collect()
        }
    }
}

/// SQL text plus its parameters, for one backend.
#[derive(Debug)]
pub(crate) struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self { backend, text: String::with_capacity(256), values: Vec::new() }
    }

    /// Appends literal SQL.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder for `value`, cast to `pg_type` on PostgreSQL.
    pub(crate) fn param(&mut self, value: impl Into<Value>, pg_type: &str) -> &mut Self {
        let value = match value.into() {
            // PostgreSQL text cannot hold NUL; an error message quoting bad input must not make a
            // whole batch fail for ever. (Import rejects lines with NUL before they get here.)
            Value::String(Some(s)) if s.contains('\0') => Value::String(Some(s.replace('\0', "\u{fffd}"))),
            v => v,
        };
        self.values.push(value);
        let n = self.values.len();
        match self.backend {
            DbBackend::Postgres => {
                self.text.push_str(&format!("${n}::{pg_type}"));
            }
            _ => {
                self.text.push('?');
            }
        }
        self
    }

    /// Appends a parenthesised, comma-separated row of typed placeholders.
    pub(crate) fn row<'a>(&mut self, cells: impl IntoIterator<Item = (Value, &'a str)>) -> &mut Self {
        self.push("(");
        for (i, (v, t)) in cells.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.param(v, t);
        }
        self.push(")")
    }

    /// Appends `(p1, p2, …)`: one placeholder per item, for `IN` lists.
    pub(crate) fn list<T: Into<Value> + Copy>(&mut self, items: &[T], pg_type: &str) -> &mut Self {
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.param(*item, pg_type);
        }
        self.push(")")
    }

    /// Appends `(SELECT id FROM workflows WHERE <predicate>)`, on PostgreSQL with `FOR UPDATE SKIP
    /// LOCKED`: an `UPDATE … WHERE id IN` this subquery touches only rows no other transaction
    /// holds, so it never waits for a lock, and what never waits cannot deadlock. For
    /// housekeeping writes (renewal, freeing leases) that a later pass repeats.
    pub(crate) fn push_unlocked(&mut self, predicate: impl FnOnce(&mut Self)) -> &mut Self {
        self.push("(SELECT id FROM workflows WHERE ");
        predicate(self);
        if self.backend == DbBackend::Postgres {
            self.push(" FOR UPDATE SKIP LOCKED");
        }
        self.push(")")
    }

    pub(crate) fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_backend() {
        let mut pg = Sql::new(DbBackend::Postgres);
        pg.push("SELECT ").param(1i64, "int8").push(", ").param("x", "text");
        assert_eq!(pg.build().sql, "SELECT $1::int8, $2::text");
        let mut lite = Sql::new(DbBackend::Sqlite);
        lite.row(vec![(1i64.into(), "int8"), ("x".into(), "text")]);
        assert_eq!(lite.build().sql, "(?, ?)");
    }

    #[test]
    fn pieces_are_powers_of_two_covering_every_row_once() {
        let rows = |n| statement_rows(DbBackend::Sqlite, n);
        assert_eq!(rows(0).len(), 0);
        assert_eq!(rows(1), vec![0..1]);
        assert_eq!(rows(1000).iter().map(|r| r.len()).collect::<Vec<_>>(), vec![512, 256, 128, 64, 32, 8]);
        for n in 0..2100 {
            let all: Vec<usize> = rows(n).into_iter().flatten().collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
            assert!(rows(n).iter().all(|r| r.len().is_power_of_two()));
        }
    }
}
