//! How commands print what they list: a table with a header row for
//! people, or JSON for programs (`--json`). Times are ISO-8601 in UTC in
//! both. Text a client chose (names, nicknames, user agents) is escaped
//! either way: in a table by `escape` (a newline or tab in a name cannot
//! forge a row or a column, nor an escape sequence reach the terminal),
//! in JSON by `escape_json` (the document means the same, the terminal
//! sees no raw control or bidi characters).

use keybound_service::names::text::{escape, escape_json};
use serde::Serialize;

/// A listing's output format, as `--json` chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A table with a header row.
    Table,
    /// One JSON document (an array of objects).
    Json,
}

impl Format {
    /// The format a `--json` flag asks for.
    pub(crate) fn json_if(json: bool) -> Format {
        if json {
            Format::Json
        } else {
            Format::Table
        }
    }
}

/// `ms` since the epoch as ISO-8601 UTC to the second,
/// `2026-12-02T14:05:00Z`; out of range: the number as it is.
pub(crate) fn iso(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// [`iso`] of an optional time, `never` (tables) when there is none.
pub(crate) fn iso_or_never(ms: Option<i64>) -> String {
    ms.map_or_else(|| "never".to_owned(), iso)
}

/// Rows under a header, printed with aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub(crate) fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; each cell is escaped, and a space that follows a space
    /// is written `\u{20}`: columns are two or more spaces apart, so no
    /// cell can hold what looks like a column break.
    pub(crate) fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(cells.into_iter().map(|c| cell(c.as_ref())).collect());
    }

    /// The table as text: the header, then one line a row, columns two
    /// spaces apart, the last one not padded; `(none)` under the header
    /// when there are no rows.
    pub(crate) fn render(&self) -> String {
        if self.rows.is_empty() {
            return format!("{}\n(none)\n", self.header.join("  "));
        }
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let mut widths = vec![0usize; self.header.len()];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line.iter()) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in lines {
            let last = line.len().saturating_sub(1);
            for (i, (cell, width)) in line.iter().zip(&widths).enumerate() {
                out.push_str(cell);
                if i < last {
                    let pad = width.saturating_sub(cell.chars().count()) + 2;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// One cell's text: escaped, no two spaces in a row.
fn cell(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::with_capacity(escaped.len());
    let mut after_space = false;
    for c in escaped.chars() {
        if c == ' ' && after_space {
            out.push_str("\\u{20}");
        } else {
            out.push(c);
        }
        after_space = c == ' ';
    }
    out
}

/// Prints `rows` in `format`: as one JSON array (`[]` when there are
/// none), or as the table `table` makes (its header and a `(none)` line
/// when there are none, so an empty listing reads as one, not as a
/// failure to print).
pub(crate) fn print<T: Serialize>(
    format: Format,
    rows: &[T],
    table: impl FnOnce(&[T]) -> Table,
) -> Result<(), String> {
    match format {
        Format::Json => write_out(&format!("{}\n", json(rows)?)),
        Format::Table => write_out(&table(rows).render()),
    }
}

/// Writes `text` to standard output. A reader that went away (`| head`)
/// is not an error: the listing was wanted no further, and printing must
/// not panic as `print!` does on a closed pipe.
pub(crate) fn write_out(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// `value` as one line of terminal-safe JSON.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    Ok(escape_json(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_800_000_000_999), "2027-01-15T08:00:00Z");
        assert_eq!(iso_or_never(None), "never");
        assert_eq!(iso(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn tables_align_and_escape() {
        let mut t = Table::new(&["NAME", "STATUS"]);
        t.row(["ada", "active"]);
        t.row(["mallory\nroot", "x"]);
        t.row(["a  b", "y"]);
        assert_eq!(
            t.render(),
            "NAME              STATUS\nada               active\nmallory\\u{a}root  x\n\
             a \\u{20}b         y\n"
        );
        assert_eq!(
            Table::new(&["NAME", "STATUS"]).render(),
            "NAME  STATUS\n(none)\n"
        );
    }
}
