//! JSON as JavaScript writes it. The InnerVoice document's receiver verifies its signature over
//! `JSON.stringify(req.body)`: the body parsed by Express, then written again. A signature only
//! holds if that round trip gives back the exact bytes that were signed, so bodies for that
//! profile are written here the way `JSON.stringify` would write their parse: no white space,
//! integer-like keys first in ascending order (JavaScript's own property order), then the other
//! keys, and every number as JavaScript's `Number.prototype.toString` writes the double it
//! parses to (`1e21`, not `1000000000000000000000`; `100`, not `1e2`).
use serde_json::{Map, Value};

/// `value` as `JSON.stringify(JSON.parse(text))` would write it.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => object(map, out),
    }
}

fn object(map: &Map<String, Value>, out: &mut String) {
    let mut indexed: Vec<(u32, &String, &Value)> = Vec::new();
    let mut named: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in map {
        match array_index(k) {
            Some(i) => indexed.push((i, k, v)),
            None => named.push((k, v)),
        }
    }
    indexed.sort_by_key(|(i, _, _)| *i);
    out.push('{');
    let entries = indexed.iter().map(|(_, k, v)| (*k, *v)).chain(named);
    for (n, (k, v)) in entries.enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        write(v, out);
    }
    out.push('}');
}

/// A key JavaScript orders first: the canonical decimal form of 0 ..= 2^32 − 2.
fn array_index(k: &str) -> Option<u32> {
    let canonical = k == "0" || (!k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit()));
    k.parse::<u32>()
        .ok()
        .filter(|i| canonical && *i != u32::MAX)
}

/// ECMAScript's Number::toString(x) for a finite double.
pub fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        // JSON cannot hold the others; serde_json never parses them.
        return "0".into();
    }
    if x < 0.0 {
        return format!("-{}", number(-x));
    }
    // Rust writes the shortest digits that round-trip, as JavaScript does: d.ddde±x.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let sign = if n - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{rest}e{sign}{}", (n - 1).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        for (x, js) in [
            (0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (0.75, "0.75"),
            (342.0, "342"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (2f64.powi(53) + 2.0, "9007199254740994"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(number(x), js, "{x:e}");
        }
    }

    #[test]
    fn objects_put_integer_keys_first_as_javascript_does() {
        let v = json!({"b": 1, "10": 2, "a": [1.0, "x\u{1}"], "2": null, "01": true});
        assert_eq!(
            to_string(&v),
            r#"{"2":null,"10":2,"01":true,"a":[1,"x\u0001"],"b":1}"#
        );
    }
}
