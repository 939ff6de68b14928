//! The document's field rules, each limit a named constant so tests can sit just inside and
//! just outside it. Where the document gives no limit (title, description, ids, ciphertext) the
//! one chosen here is written beside it; the 32 KB body limit bounds them all anyway.
use super::{Call, Change, Checked, MAX_ATTRS_DEPTH, Refusal, Route, Severity};
use serde_json::{Map, Value, value::RawValue};

pub const BODY_LIMIT: usize = 32 * 1024;
pub const MIN_PASSWORD_LEN: usize = crate::channel::MIN_PASSWORD_LEN;
pub const MAX_PASSWORD_LEN: usize = crate::channel::MAX_PASSWORD_LEN;
pub const MAX_STATUS_LEN: usize = 24;
pub const MAX_MESSAGE_LEN: usize = 512;
/// Not in the document: a title is a line, not a page.
pub const MAX_TITLE_LEN: usize = 256;
/// Not in the document.
pub const MAX_DESCRIPTION_LEN: usize = 4_096;
/// Not in the document: `op_id`, `event_id`, `thing_id` and `channel_id` are identifiers.
pub const MAX_ID_LEN: usize = 128;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_LEN: usize = 64;
pub const MAX_IMAGES: usize = 32;
pub const MAX_IMAGE_LEN: usize = 2_048;
pub const MAX_METADATA_KEY_LEN: usize = 64;
pub const MAX_METADATA_VALUE_LEN: usize = 512;
/// Not in the document: attrs keys are names.
pub const MAX_ATTRS_KEY_LEN: usize = 128;
/// Latest Unix millisecond accepted (the last of year 9999): what every later stage can show.
pub const MAX_UNIX_MILLIS: u64 = 253_402_300_799_999;

impl Call {
    /// Applies every rule of `route`, or says which one the call breaks first.
    pub fn check(self, route: Route) -> Result<Checked, Refusal> {
        let channel_id = id("channel_id", required("channel_id", self.channel_id)?)?;
        let password = required("password", self.password)?;
        let n = password.chars().count();
        if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) || password.contains('\0') {
            return Err(Refusal::field(
                "password",
                format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
            ));
        }
        let op_id = self.op_id.map(|o| id("op_id", o)).transpose()?;
        let event_id = match (route, self.event_id) {
            (Route::Create, Some(_)) => return Err(not_allowed("event_id", route)),
            (Route::Create, None) => None,
            (_, e) => Some(id("event_id", required("event_id", e)?)?),
        };
        let title = match (route, self.title) {
            (Route::Create, t) => Some(required("title", t)?),
            (_, t) => t,
        };
        let started_at = only_on(route, Route::Create, "started_at", self.started_at)?;
        let ended_at = only_on(route, Route::Close, "ended_at", self.ended_at)?;
        let change = Change {
            title: title.map(|t| line("title", t, MAX_TITLE_LEN)).transpose()?,
            description: self
                .description
                .filter(|d| !d.is_empty())
                .map(|d| text("description", d, MAX_DESCRIPTION_LEN))
                .transpose()?,
            status: line("status", required("status", self.status)?, MAX_STATUS_LEN)?,
            message: text(
                "message",
                required("message", self.message)?,
                MAX_MESSAGE_LEN,
            )?,
            severity: severity(required("severity", self.severity)?)?,
            event_time: millis("event_time", &required("event_time", self.event_time)?)?,
            started_at: started_at.map(|v| millis("started_at", &v)).transpose()?,
            ended_at: ended_at.map(|v| millis("ended_at", &v)).transpose()?,
            tags: self.tags.map(tags).transpose()?,
            images: self.images.map(images).transpose()?,
            attrs: self.attrs.map(attrs).transpose()?,
            metadata: self.metadata.map(metadata).transpose()?,
            thing_id: self.thing_id.map(|t| id("thing_id", t)).transpose()?,
            ciphertext: self
                .ciphertext
                .map(|c| text("ciphertext", c, BODY_LIMIT))
                .transpose()?,
        };
        Ok(Checked {
            route,
            channel_id,
            password,
            op_id,
            event_id,
            change,
        })
    }
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, Refusal> {
    value.ok_or_else(|| Refusal::new("missing_field", format!("{field}: is required")))
}

fn not_allowed(field: &str, route: Route) -> Refusal {
    Refusal::new(
        "field_not_allowed",
        format!("{field}: must not be sent to /event/{}", route.name()),
    )
}

fn only_on<T>(
    route: Route,
    allowed: Route,
    field: &str,
    value: Option<T>,
) -> Result<Option<T>, Refusal> {
    match value {
        Some(_) if route != allowed => Err(not_allowed(field, route)),
        v => Ok(v),
    }
}

/// Free text: no NUL, at most `max` characters, not blank.
fn text(field: &str, s: String, max: usize) -> Result<String, Refusal> {
    if s.trim().is_empty() {
        return Err(Refusal::field(field, "must not be empty"));
    }
    if s.contains('\0') {
        return Err(Refusal::field(field, "must not contain the NUL character"));
    }
    if s.chars().count() > max {
        return Err(Refusal::field(field, format!("at most {max} characters")));
    }
    Ok(s)
}

/// One line of text: [`text`] without control characters.
fn line(field: &str, s: String, max: usize) -> Result<String, Refusal> {
    if s.chars().any(char::is_control) {
        return Err(Refusal::field(field, "must not contain control characters"));
    }
    text(field, s, max)
}

/// An identifier: one line of at most [`MAX_ID_LEN`] characters, no white space.
fn id(field: &str, s: String) -> Result<String, Refusal> {
    if s.chars().any(char::is_whitespace) {
        return Err(Refusal::field(field, "must not contain white space"));
    }
    line(field, s, MAX_ID_LEN)
}

fn severity(s: String) -> Result<Severity, Refusal> {
    serde_json::from_value(Value::String(s)).map_err(|_| {
        Refusal::new(
            "invalid_severity",
            "severity: must be one of critical, high, normal, low",
        )
    })
}

/// Unix milliseconds: a whole number from 0 to [`MAX_UNIX_MILLIS`], written as an integer or as
/// a number with an exponent or a zero fraction (`1.8e12`, `1800000000000.0`: what Python's
/// `dt.timestamp() * 1000` and Jackson's doubles write). Judged on the digits sent, not on a
/// double, so a fraction a double would round away (`1800000000000.0000001`) is refused too.
fn millis(field: &str, v: &RawValue) -> Result<u64, Refusal> {
    whole_number(v.get().trim())
        .filter(|&n| n <= MAX_UNIX_MILLIS)
        .ok_or_else(|| {
            Refusal::field(
                field,
                format!(
                    "must be Unix milliseconds, a whole number from 0 to {MAX_UNIX_MILLIS} \
                     (1.8e12 and 1800000000000.0 are whole; fractions are not)"
                ),
            )
        })
}

/// The value of a JSON number's text when it is a whole number from 0 to `u64::MAX`; `None`
/// for a fraction, a negative number, anything larger, or text that is not a number. `-0` is 0.
pub(super) fn whole_number(text: &str) -> Option<u64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (mantissa, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    // The value is `significant × 10^scale`, with no zero at either end of `significant`.
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    let trailing_zeros = (trimmed.len() - significant.len()) as i64;
    let scale = exponent
        .checked_sub(frac.len() as i64)?
        .checked_add(trailing_zeros)?;
    if negative || scale < 0 {
        return None;
    }
    // Past 20 digits it cannot fit in a u64; this also keeps the power below from overflowing.
    if significant.len() as i64 + scale > 20 {
        return None;
    }
    significant
        .parse::<u64>()
        .ok()?
        .checked_mul(10u64.checked_pow(u32::try_from(scale).ok()?)?)
}

/// Trimmed, blank ones dropped, de-duplicated in the order sent.
fn tags(sent: Vec<String>) -> Result<Vec<String>, Refusal> {
    if sent.len() > MAX_TAGS {
        return Err(Refusal::field("tags", format!("at most {MAX_TAGS} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(sent.len());
    for t in sent {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().any(char::is_control) || t.chars().count() > MAX_TAG_LEN {
            return Err(Refusal::field(
                "tags",
                format!("each at most {MAX_TAG_LEN} characters, with no control characters"),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// Absolute http(s) URLs of at most [`MAX_IMAGE_LEN`] characters.
fn images(sent: Vec<String>) -> Result<Vec<String>, Refusal> {
    if sent.len() > MAX_IMAGES {
        return Err(Refusal::field(
            "images",
            format!("at most {MAX_IMAGES} items"),
        ));
    }
    for i in &sent {
        let is_url = url::Url::parse(i).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if i.chars().count() > MAX_IMAGE_LEN || !is_url {
            return Err(Refusal::field(
                "images",
                format!("each an http(s) URL of at most {MAX_IMAGE_LEN} characters"),
            ));
        }
    }
    Ok(sent)
}

/// An object patch: nested objects allowed down to [`MAX_ATTRS_DEPTH`] levels (the object
/// itself is level 1; deeper would not fit in what the call publishes), arrays nowhere; a `null`
/// deletes its key.
fn attrs(v: Value) -> Result<Map<String, Value>, Refusal> {
    fn walk(map: &Map<String, Value>, level: usize) -> Result<(), Refusal> {
        for (k, v) in map {
            if k.is_empty() || k.chars().count() > MAX_ATTRS_KEY_LEN {
                return Err(Refusal::new(
                    "invalid_attrs",
                    format!("attrs: keys are 1 to {MAX_ATTRS_KEY_LEN} characters"),
                ));
            }
            match v {
                Value::Array(_) => {
                    return Err(Refusal::new(
                        "invalid_attrs",
                        format!("attrs: `{k}` is an array; arrays are not allowed"),
                    ));
                }
                Value::Object(_) if level == MAX_ATTRS_DEPTH => {
                    return Err(Refusal::new(
                        "invalid_attrs",
                        format!(
                            "attrs: nests deeper than {MAX_ATTRS_DEPTH} levels of objects \
                             (attrs itself is level 1)"
                        ),
                    ));
                }
                Value::Object(inner) => walk(inner, level + 1)?,
                _ => {}
            }
        }
        Ok(())
    }
    let Value::Object(map) = v else {
        return Err(Refusal::new("invalid_attrs", "attrs: must be an object"));
    };
    walk(&map, 1)?;
    Ok(map)
}

/// Flat: string, number or boolean values only; key ≤ 64, value ≤ 512 characters.
fn metadata(v: Value) -> Result<Map<String, Value>, Refusal> {
    let Value::Object(map) = v else {
        return Err(Refusal::field("metadata", "must be an object"));
    };
    for (k, v) in &map {
        if k.is_empty() || k.chars().count() > MAX_METADATA_KEY_LEN {
            return Err(Refusal::field(
                "metadata",
                format!("keys are 1 to {MAX_METADATA_KEY_LEN} characters"),
            ));
        }
        let len = match v {
            Value::String(s) => s.chars().count(),
            Value::Number(n) => n.to_string().len(),
            Value::Bool(_) => 0,
            _ => {
                return Err(Refusal::field(
                    "metadata",
                    format!("`{k}` must be a string, number or boolean"),
                ));
            }
        };
        if len > MAX_METADATA_VALUE_LEN {
            return Err(Refusal::field(
                "metadata",
                format!("`{k}` is over {MAX_METADATA_VALUE_LEN} characters"),
            ));
        }
    }
    Ok(map)
}
