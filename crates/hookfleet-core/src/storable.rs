//! What the record and the wire can hold, checked in one place at the edge.
//!
//! Whatever the intake accepts, every later stage must be able to store (PostgreSQL `jsonb`
//! and `text`), route (AMQP short strings), deliver and read back (serde_json, whose reader
//! stops at 128 levels). So client JSON is scanned here once for what any of them would refuse:
//! the NUL character (PostgreSQL text and jsonb cannot hold it), lone UTF-16 surrogates in
//! `\u` escapes, numbers that are not finite doubles or that PostgreSQL's numeric cannot
//! hold, and nesting deeper than [`MAX_JSON_DEPTH`]. Text that comes from outside and is only
//! kept for people to read (a receiver's answer, an error message) is not refused but made
//! storable by [`lossy`].
use crate::Invalid;
use std::borrow::Cow;

/// Deepest nesting of arrays and objects accepted in client JSON (the value itself is level 1).
/// Well under serde_json's 128, so a body that wraps the data can always be read back.
pub const MAX_JSON_DEPTH: usize = 64;
/// Longest number literal accepted, in characters.
pub const MAX_NUMBER_LEN: usize = 100;
/// Largest decimal exponent accepted (`1e-1000` is fine for PostgreSQL, `1e-20000` is not).
pub const MAX_EXPONENT: i64 = 1_000;

/// Checks that `raw` (JSON text) holds only what every stage can store and read back.
/// Syntax errors are reported too, so the function is safe on any input.
pub fn check_json(field: &'static str, raw: &str) -> Result<(), Invalid> {
    Scanner {
        field,
        bytes: raw.as_bytes(),
        pos: 0,
    }
    .run()
}

/// Checks free text a client gives (a description, a key): no NUL, at most `max` characters.
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.contains('\0') {
        return Err(Invalid::new(field, "must not contain the NUL character"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(field, format!("at most {max} characters")));
    }
    Ok(())
}

/// Makes outside bytes storable as text: invalid UTF-8 and NUL become U+FFFD.
pub fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text {
        Cow::Borrowed(s) if !s.contains('\0') => s.to_owned(),
        other => other.replace('\0', "\u{FFFD}"),
    }
}

/// [`lossy`] for text that is already UTF-8 (error messages, header values).
pub fn lossy_str(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

struct Scanner<'a> {
    field: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn err(&self, message: impl Into<String>) -> Invalid {
        Invalid::new(self.field, message)
    }

    fn run(mut self) -> Result<(), Invalid> {
        let mut depth = 0usize;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_JSON_DEPTH {
                        return Err(self.err(format!(
                            "nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
                        )));
                    }
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| self.err("is not valid JSON"))?;
                    self.pos += 1;
                }
                b'"' => self.string()?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => self.pos += 1,
            }
        }
        if depth != 0 {
            return Err(self.err("is not valid JSON"));
        }
        Ok(())
    }

    /// A string, from its opening quote to just past its closing one.
    fn string(&mut self) -> Result<(), Invalid> {
        self.pos += 1;
        // A high surrogate seen in the previous escape, waiting for its low half.
        let mut high = false;
        loop {
            let b = *self
                .bytes
                .get(self.pos)
                .ok_or_else(|| self.err("is not valid JSON"))?;
            if b == b'"' {
                if high {
                    return Err(self.lone_surrogate());
                }
                self.pos += 1;
                return Ok(());
            }
            if b == 0 {
                return Err(self.err("must not contain the NUL character"));
            }
            if b != b'\\' {
                if high {
                    return Err(self.lone_surrogate());
                }
                self.pos += 1;
                continue;
            }
            let kind = *self
                .bytes
                .get(self.pos + 1)
                .ok_or_else(|| self.err("is not valid JSON"))?;
            if kind != b'u' {
                if high {
                    return Err(self.lone_surrogate());
                }
                self.pos += 2;
                continue;
            }
            let hex = self
                .bytes
                .get(self.pos + 2..self.pos + 6)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u16::from_str_radix(h, 16).ok())
                .ok_or_else(|| self.err("is not valid JSON (a bad \\u escape)"))?;
            self.pos += 6;
            match hex {
                0 => return Err(self.err("must not contain the NUL character (\\u0000)")),
                0xD800..=0xDBFF if !high => high = true,
                0xDC00..=0xDFFF if high => high = false,
                0xD800..=0xDFFF => return Err(self.lone_surrogate()),
                _ if high => return Err(self.lone_surrogate()),
                _ => {}
            }
        }
    }

    fn lone_surrogate(&self) -> Invalid {
        self.err("contains a lone UTF-16 surrogate in a \\u escape")
    }

    fn number(&mut self) -> Result<(), Invalid> {
        let start = self.pos;
        while let Some(b) = self.bytes.get(self.pos)
            && matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default();
        let shown = || text.chars().take(24).collect::<String>();
        if text.len() > MAX_NUMBER_LEN {
            return Err(self.err(format!(
                "has a number longer than {MAX_NUMBER_LEN} characters ({}…)",
                shown()
            )));
        }
        let exponent_ok = text
            .find(['e', 'E'])
            .map(|i| {
                text[i + 1..]
                    .parse::<i64>()
                    .is_ok_and(|e| e.abs() <= MAX_EXPONENT)
            })
            .unwrap_or(true);
        let finite = text.parse::<f64>().is_ok_and(f64::is_finite);
        if !exponent_ok || !finite {
            return Err(self.err(format!(
                "has the number {} out of range (numbers must be finite doubles with an exponent of at most {MAX_EXPONENT})",
                shown()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(raw: &str) -> bool {
        check_json("data", raw).is_ok()
    }

    #[test]
    fn refuses_what_the_record_cannot_hold() {
        assert!(ok(
            r#"{"k":"v","n":[1,-2.5e10,0.1],"o":{"x":null,"t":true}}"#
        ));
        assert!(ok(
            r#"{"emoji":"\ud83d\ude00","quote":"\"\\","uni":"\u00e9ü"}"#
        ));
        assert!(!ok(r#"{"k":"\u0000"}"#));
        assert!(!ok(r#"{"\u0000":1}"#));
        assert!(!ok(r#"{"k":"\ud800"}"#));
        assert!(!ok(r#"{"k":"\udc00x"}"#));
        assert!(!ok(r#"{"k":"\ud800\u0041"}"#));
        assert!(!ok(r#"{"k":"\ud800\n"}"#));
        assert!(!ok(r#"{"k":1e999999}"#));
        assert!(!ok(r#"{"k":1e-20000}"#));
        assert!(!ok(&format!(r#"{{"k":1{}}}"#, "0".repeat(400))));
        assert!(ok(r#"{"k":1e-300,"j":1.7e308}"#));
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(ok(&deep(MAX_JSON_DEPTH)));
        assert!(!ok(&deep(MAX_JSON_DEPTH + 1)));
        assert!(!ok(&deep(100_000)));
        assert!(!ok(r#"{"k":"unterminated}"#));
        assert!(!ok("]"));
    }

    #[test]
    fn lossy_makes_outside_bytes_storable() {
        assert_eq!(lossy(b"ab\0cd"), "ab\u{FFFD}cd");
        assert_eq!(lossy(b"ok\xff"), "ok\u{FFFD}");
        assert_eq!(lossy(b"plain"), "plain");
        assert_eq!(lossy_str("a\0"), "a\u{FFFD}");
    }

    proptest! {
        /// Whatever the scanner accepts, serde_json reads back as a value with no NUL and no
        /// non-finite number, and PostgreSQL-sized numbers; whatever serde_json cannot read
        /// (lone surrogates), the scanner refuses.
        #[test]
        fn accepted_json_reads_back(s in "(\\PC|\\x00){0,40}", n in any::<f64>(), depth in 1usize..80) {
            let inner = serde_json::json!({"s": s, "n": if n.is_finite() { serde_json::json!(n) } else { serde_json::Value::Null }});
            let raw = format!("{}{}{}", "[".repeat(depth - 1), inner, "]".repeat(depth - 1));
            let accepted = check_json("data", &raw).is_ok();
            let expect = depth <= MAX_JSON_DEPTH && !s.contains('\0');
            prop_assert_eq!(accepted, expect, "{}", raw);
            if accepted {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&raw).is_ok());
            }
        }

        #[test]
        fn never_panics_on_any_text(raw in "[\\[\\]{}\"\\\\u0-9a-fA-F:,.eE+-]{0,64}") {
            let _ = check_json("data", &raw);
        }
    }
}
