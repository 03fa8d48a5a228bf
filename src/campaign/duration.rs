//! Durations as campaign authors write them: `90s`, `15m`, `2h`, `7d`, `2w`, or combined
//! (`1h30m`, `1d 12h`). A day is 24 hours and a week 7 days.

use jiff::SignedDuration;

/// Why a duration does not parse. The message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {why}")]
pub struct DurationError {
    pub text: String,
    pub why: &'static str,
}

pub const EXPECTED: &str = "a number followed by a unit: s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. `30m`, `2d`, `1h30m`";

/// The longest duration a campaign may use: ten years (3650d). Longer ones are mistakes, and
/// would overflow date arithmetic.
pub const MAX: SignedDuration = SignedDuration::from_hours(24 * 3650);

/// Parses `2d`, `1h30m`, `1d 12h`. Zero is allowed; negative durations and durations longer
/// than [`MAX`] are not.
pub fn parse(text: &str) -> Result<SignedDuration, DurationError> {
    let err = |why| DurationError { text: text.to_owned(), why };
    let s = text.trim();
    if s.is_empty() {
        return Err(err("it is empty; expected a number followed by a unit, e.g. `2d`"));
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("expected a number before each unit, e.g. `2d` or `1h30m`"));
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err("the number is too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "" => return Err(err("a unit is missing: add s, m, h, d or w after the number, e.g. `2d`")),
            _ => return Err(err("unknown unit: use s, m, h, d or w, e.g. `30m`, `2d`")),
        };
        total =
            n.checked_mul(secs).and_then(|v| total.checked_add(v)).ok_or_else(|| err("the duration is too large"))?;
        rest = &rest[unit_len..];
    }
    let d = SignedDuration::from_secs(total);
    if d > MAX {
        return Err(err("it is longer than ten years (3650d), the longest a campaign may use"));
    }
    Ok(d)
}

/// Formats a duration compactly: `2d 3h`, `15m`, `45s`, `0s`. Negative durations get a `-`.
pub fn format(d: SignedDuration) -> String {
    let mut secs = d.as_secs();
    let sign = if secs < 0 { "-" } else { "" };
    secs = secs.abs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            parts.push(format!("{n}{unit}"));
        }
    }
    if parts.is_empty() {
        return "0s".to_owned();
    }
    format!("{sign}{}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse("90s").unwrap(), SignedDuration::from_secs(90));
        assert_eq!(parse("15m").unwrap(), SignedDuration::from_mins(15));
        assert_eq!(parse("2h").unwrap(), SignedDuration::from_hours(2));
        assert_eq!(parse("7d").unwrap(), SignedDuration::from_hours(168));
        assert_eq!(parse("2w").unwrap(), SignedDuration::from_hours(336));
        assert_eq!(parse("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse("1d 12h").unwrap(), SignedDuration::from_hours(36));
        assert_eq!(parse("0s").unwrap(), SignedDuration::ZERO);
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(parse("").unwrap_err().why.contains("empty"));
        assert!(parse("2").unwrap_err().why.contains("unit is missing"));
        assert!(parse("2 days").unwrap_err().why.contains("unknown unit"));
        assert!(parse("d").unwrap_err().why.contains("expected a number"));
        assert!(parse("-2d").unwrap_err().why.contains("expected a number"));
        assert!(parse("99999999999999999999d").unwrap_err().why.contains("too large"));
        assert!(parse("1000000w").unwrap_err().why.contains("ten years"));
        assert_eq!(parse("3650d").unwrap(), MAX);
        assert!(parse("3650d 1s").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format(SignedDuration::from_secs(0)), "0s");
        assert_eq!(format(parse("1d 3h").unwrap()), "1d 3h");
        assert_eq!(format(parse("90s").unwrap()), "1m 30s");
        assert_eq!(format(-SignedDuration::from_mins(5)), "-5m");
    }
}
