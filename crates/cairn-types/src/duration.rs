//! Go-syntax durations (`"15.0s"`, `"1m30s"`, `"150ms"`, integer nanoseconds).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration that reads and writes Go's `time.Duration` text form.
///
/// Decoding accepts a Go duration string (`"10s"`, `"1.5h"`, `"1m30s"`, `"-0s"` is rejected),
/// or a JSON integer of nanoseconds. Encoding writes Go's `Duration.String()` form (`"15s"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub Duration);

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text is not a Go duration.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A unit suffix is missing or unknown.
    #[error("time: unknown unit in duration {0:?}")]
    UnknownUnit(String),
    /// The value is negative where only non-negative durations make sense.
    #[error("time: negative duration {0:?}")]
    Negative(String),
    /// The value does not fit in 64 bits of nanoseconds.
    #[error("time: invalid duration {0:?} (overflow)")]
    Overflow(String),
}

impl GoDuration {
    /// The duration as a std [`Duration`].
    pub fn as_duration(&self) -> Duration {
        self.0
    }

    /// Whether the duration is zero (Go's "unset" for optional durations).
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Parse Go's duration syntax. A bare `"0"` is accepted, as in Go.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        parse_go_duration(text).map(GoDuration)
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration(d)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoDuration::parse(s)
    }
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let mut s = text.trim();
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if let Some(rest) = s.strip_prefix('-') {
        if rest == "0"
            || rest
                .chars()
                .all(|c| c == '0' || c == '.' || c.is_alphabetic())
        {
            // "-0s" is zero in Go; accept it as zero.
            s = rest;
        } else {
            return Err(DurationError::Negative(text.to_string()));
        }
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &s[start..i];
        let mut frac_part = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fstart = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &s[fstart..i];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit = &s[ustart..i];
        if unit.is_empty() {
            return Err(DurationError::UnknownUnit(text.to_string()));
        }
        let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit(text.to_string()))?;
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse::<u128>()
                .map_err(|_| DurationError::Overflow(text.to_string()))?
        };
        let mut value = whole
            .checked_mul(scale)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        if !frac_part.is_empty() {
            // Keep at most 18 fractional digits; more cannot change a nanosecond result.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(digits.len() as u32);
            value = value
                .checked_add(frac * scale / denom)
                .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        }
        total = total
            .checked_add(value)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
    }
    if total > i64::MAX as u128 {
        return Err(DurationError::Overflow(text.to_string()));
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Format like Go's `time.Duration.String()`: `"0s"`, `"1.5µs"`, `"150ms"`, `"1m30s"`, `"2h0m0s"`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{}", frac_string(nanos, scale), unit);
    }
    let hours = nanos / 3_600_000_000_000;
    let rem = nanos % 3_600_000_000_000;
    let minutes = rem / 60_000_000_000;
    let sec_nanos = rem % 60_000_000_000;
    let secs = frac_string(sec_nanos, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn frac_string(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_go_duration(self.0))
    }
}

struct GoDurationVisitor;

impl<'de> Visitor<'de> for GoDurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go duration string such as \"10s\" or an integer of nanoseconds")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
        Ok(GoDuration(Duration::from_nanos(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
        u64::try_from(v)
            .map(|n| GoDuration(Duration::from_nanos(n)))
            .map_err(|_| E::custom(format!("negative duration {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoDuration, E> {
        if v.is_finite() && v >= 0.0 && v <= i64::MAX as f64 {
            Ok(GoDuration(Duration::from_nanos(v as u64)))
        } else {
            Err(E::custom(format!("invalid duration {v}")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
        GoDuration::parse(v).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<GoDuration, E> {
        Ok(GoDuration::default())
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(GoDurationVisitor)
    }
}

/// Serde helpers for fields that Consul encodes as integer nanoseconds (e.g. `Session.LockDelay`)
/// but that clients may send in either form.
pub mod nanos {
    use super::GoDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the duration as an integer of nanoseconds.
    pub fn serialize<S: Serializer>(d: &GoDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.0.as_nanos().min(u64::MAX as u128) as u64)
    }

    /// Read a Go duration string or integer nanoseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        GoDuration::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Duration {
        GoDuration::parse(s).unwrap().0
    }

    #[test]
    fn parses_go_forms() {
        assert_eq!(p("15.0s"), Duration::from_secs(15));
        assert_eq!(p("150.0s"), Duration::from_secs(150));
        assert_eq!(p("0.001s"), Duration::from_millis(1));
        assert_eq!(p("1m30s"), Duration::from_secs(90));
        assert_eq!(p("1.5h"), Duration::from_secs(5400));
        assert_eq!(p("300ms"), Duration::from_millis(300));
        assert_eq!(p("2us"), Duration::from_micros(2));
        assert_eq!(p("2µs"), Duration::from_micros(2));
        assert_eq!(p("0"), Duration::ZERO);
        assert_eq!(p(".5s"), Duration::from_millis(500));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "s", "10", "10x", "1..s", "abc", "-5s", "9999999999999h"] {
            assert!(GoDuration::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        let f = |d| format_go_duration(d);
        assert_eq!(f(Duration::ZERO), "0s");
        assert_eq!(f(Duration::from_secs(15)), "15s");
        assert_eq!(f(Duration::from_secs(90)), "1m30s");
        assert_eq!(f(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(f(Duration::from_millis(1500)), "1.5s");
        assert_eq!(f(Duration::from_millis(150)), "150ms");
        assert_eq!(f(Duration::from_nanos(1500)), "1.5µs");
    }

    #[test]
    fn json_accepts_string_and_nanos() {
        let d: GoDuration = serde_json::from_str("\"10s\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(10));
        let d: GoDuration = serde_json::from_str("15000000000").unwrap();
        assert_eq!(d.0, Duration::from_secs(15));
        assert!(serde_json::from_str::<GoDuration>("-1").is_err());
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"15s\"");
    }
}
