//! Human durations (`250ms`, `5s`, `30m`, `1h`, `5d`) for settings and the retry ladder.
use std::time::Duration;

/// Parses one duration: an integer followed by `ms`, `s`, `m` or `h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` has no unit (use ms, s, m, h or d)"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let secs_per_unit = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{s}` has an unknown unit `{unit}` (use ms, s, m, h or d)"
            ));
        }
    };
    // Checked: `213503982334602d` must be refused, not wrap around to a few hours.
    n.checked_mul(secs_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is too long a duration"))
}

/// A retry ladder: the waits before attempts 2, 3, … One type from the settings and the API to
/// the worker's decision and the rung queues; milliseconds only at the edges (the record's
/// `integer[]`, a rung queue's name and TTL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder(Vec<Duration>);

impl Ladder {
    /// Most rungs a ladder may have.
    pub const MAX_RUNGS: usize = 20;
    /// Longest wait a rung may be.
    pub const MAX_RUNG: Duration = Duration::from_secs(86_400);

    /// Checks the limits every ladder keeps: at most 20 rungs, each longer than zero and at
    /// most a day, in whole milliseconds.
    pub fn new(rungs: Vec<Duration>) -> Result<Self, String> {
        if rungs.len() > Self::MAX_RUNGS {
            return Err(format!(
                "a retry ladder has at most {} rungs",
                Self::MAX_RUNGS
            ));
        }
        if rungs
            .iter()
            .any(|d| d.as_millis() == 0 || *d > Self::MAX_RUNG)
        {
            return Err("a retry ladder rung must be at least 1ms and at most a day".into());
        }
        Ok(Self(rungs))
    }

    /// Parses a comma-separated ladder such as `5s,30s,5m,30m`; an empty string has no rungs.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(Self(Vec::new()));
        }
        Self::new(s.split(',').map(parse_duration).collect::<Result<_, _>>()?)
    }

    /// The wait before attempt `attempt + 1`, if the ladder has a rung for it.
    pub fn after_attempt(&self, attempt: i32) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }

    pub fn rungs(&self) -> &[Duration] {
        &self.0
    }

    /// As the record keeps it: whole milliseconds.
    pub fn to_millis(&self) -> Vec<i32> {
        self.0
            .iter()
            .map(|d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX))
            .collect()
    }

    /// Read back from the record (where only valid ladders are written).
    pub fn from_millis(ms: &[i32]) -> Self {
        Self(
            ms.iter()
                .map(|m| Duration::from_millis(u64::try_from(*m).unwrap_or(0)))
                .collect(),
        )
    }

    /// As the API shows it: `["100ms", …]`.
    pub fn display(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|d| format!("{}ms", d.as_millis()))
            .collect()
    }
}

impl Default for Ladder {
    /// The fleet's default ladder, from the webhooks document: 5 s, 30 s, 5 min, 30 min.
    fn default() -> Self {
        Self([5, 30, 300, 1800].map(Duration::from_secs).to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_rejects_junk() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(5 * 86_400)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("3w").is_err());
        // u64::MAX / 86_400 + 1 days overflows; it must not wrap to a short duration.
        assert!(parse_duration("213503982334602d").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
        assert!(parse_duration("99999999999999999999999s").is_err());
        assert!(Ladder::parse("213503982334602d").is_err());
    }

    #[test]
    fn parses_the_default_ladder() {
        let l = Ladder::parse("5s,30s,5m,30m").unwrap();
        assert_eq!(l, Ladder::default());
        assert_eq!(l.after_attempt(1), Some(Duration::from_secs(5)));
        assert_eq!(l.after_attempt(4), Some(Duration::from_secs(1800)));
        assert_eq!(l.after_attempt(5), None);
        assert_eq!(l.after_attempt(0), None);
        assert_eq!(Ladder::from_millis(&l.to_millis()), l);
        assert!(Ladder::parse("5s,0s").is_err());
    }
}
