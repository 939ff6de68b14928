//! Output for a terminal: aligned columns, and text from outside (URLs, response excerpts,
//! error messages) with control characters shown escaped, so a receiver's answer cannot move
//! the cursor or recolour the person's terminal.
use serde_json::Value;

/// `s` with every control character but newline and tab written as `\u{..}`.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value as a cell: strings bare, null as `-`, lists joined with commas.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => clean(s),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => clean(&other.to_string()),
    }
}

/// Rows under a header, each column as wide as its widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.clone()));
    }
    out
}

/// Pretty JSON, for `--json`.
pub(crate) fn json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_terminal_controls_but_keeps_lines() {
        assert_eq!(
            clean("a\u{1b}[31mred\n\tx\u{0}"),
            "a\\u{1b}[31mred\n\tx\\u{0}"
        );
    }

    #[test]
    fn tables_align_on_the_widest_cell() {
        let t = table(
            &["ID", "STATE"],
            &[
                vec!["sub_1".into(), "active".into()],
                vec!["s".into(), cell(&json!(null))],
            ],
        );
        assert_eq!(t, "ID     STATE\nsub_1  active\ns      -");
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
    }
}
