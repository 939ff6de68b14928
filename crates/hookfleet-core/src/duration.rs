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

/// Parses a comma-separated ladder such as `5s,30s,5m,30m`: the waits before attempts 2, 3, …
/// An empty string is a ladder with no retries.
pub fn parse_ladder(s: &str) -> Result<Vec<Duration>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    let rungs = s
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    check_ladder(&rungs)?;
    Ok(rungs)
}

/// The limits every ladder keeps: at most 20 rungs, each longer than zero and at most a day.
pub fn check_ladder(rungs: &[Duration]) -> Result<(), String> {
    if rungs.len() > 20 {
        return Err("a retry ladder has at most 20 rungs".into());
    }
    if rungs
        .iter()
        .any(|d| d.is_zero() || *d > Duration::from_secs(86_400))
    {
        return Err("a retry ladder rung must be longer than zero and at most a day".into());
    }
    Ok(())
}

/// The fleet's default ladder, from the webhooks document: 5 s, 30 s, 5 min, 30 min.
pub fn default_ladder() -> Vec<Duration> {
    [5, 30, 300, 1800].map(Duration::from_secs).to_vec()
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
        assert!(parse_ladder("213503982334602d").is_err());
    }

    #[test]
    fn parses_the_default_ladder() {
        let l = parse_ladder("5s,30s,5m,30m").unwrap();
        assert_eq!(l, [5, 30, 300, 1800].map(Duration::from_secs).to_vec());
        assert!(parse_ladder("5s,0s").is_err());
    }
}
