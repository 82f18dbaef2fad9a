//! Durations as scenario files write them: `"250ms"`, `"1.5s"`, `"2m"`.
//!
//! Scenario authors think in units, not in nanoseconds, and YAML has no
//! duration type, so [`Dur`] reads a decimal number with a unit (`us`, `ms`,
//! `s`, `m`, `h`) or a bare number of seconds. Decimal strings are converted
//! exactly (`"0.1s"` is 100 000 000 ns, not the nearest binary fraction);
//! digits below a nanosecond are dropped. [`Dur`] writes itself back in the
//! largest unit that is exact, so `Display` and `FromStr` round-trip.

use crate::error::TrafficError;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A [`Duration`] that reads and writes scenario notation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

const NS_PER_US: u128 = 1_000;
const NS_PER_MS: u128 = 1_000_000;
const NS_PER_S: u128 = 1_000_000_000;
const NS_PER_M: u128 = 60 * NS_PER_S;
const NS_PER_H: u128 = 3600 * NS_PER_S;

/// Fraction digits beyond this many are below a nanosecond even in hours.
const MAX_FRACTION_DIGITS: usize = 24;

fn not_a_duration(text: &str, why: &str) -> TrafficError {
    TrafficError::new("", format!("'{text}' is not a duration: {why}"))
}

fn expected_units(text: &str) -> TrafficError {
    not_a_duration(text, "expected a number with a unit ms, s, m, h, us")
}

/// Parses `"1.5s"`, `"250ms"`, `"10"` (seconds), ... exactly.
fn parse(text: &str) -> Result<Duration, TrafficError> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(not_a_duration(text, "durations cannot be negative"));
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit_ns = match unit.trim_start() {
        "" | "s" => NS_PER_S,
        "ms" => NS_PER_MS,
        "us" | "µs" => NS_PER_US,
        "m" => NS_PER_M,
        "h" => NS_PER_H,
        _ => return Err(expected_units(text)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(expected_units(text));
    }
    let too_long = || not_a_duration(text, "too long");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let digits = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
    let mut fraction_ns = 0u128;
    if !digits.is_empty() {
        let numerator: u128 = digits.parse().map_err(|_| expected_units(text))?;
        // digits.len() <= 24, so 10^len and numerator * unit_ns fit in u128.
        fraction_ns = numerator * unit_ns / 10u128.pow(digits.len() as u32);
    }
    let nanos = whole
        .checked_mul(unit_ns)
        .and_then(|n| n.checked_add(fraction_ns))
        .ok_or_else(too_long)?;
    let secs = u64::try_from(nanos / NS_PER_S).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % NS_PER_S) as u32))
}

impl FromStr for Dur {
    type Err = TrafficError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Dur)
    }
}

impl fmt::Display for Dur {
    /// The largest unit in which the value is a whole number (`2m`, `250ms`),
    /// or else decimal seconds (`1.5s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.as_nanos();
        if n == 0 {
            return f.write_str("0s");
        }
        for (unit_ns, unit) in [(NS_PER_H, "h"), (NS_PER_M, "m"), (NS_PER_S, "s")] {
            if n % unit_ns == 0 {
                return write!(f, "{}{unit}", n / unit_ns);
            }
        }
        if n < NS_PER_S {
            for (unit_ns, unit) in [(NS_PER_MS, "ms"), (NS_PER_US, "us")] {
                if n % unit_ns == 0 {
                    return write!(f, "{}{unit}", n / unit_ns);
                }
            }
        }
        let fraction = format!("{:09}", n % NS_PER_S);
        write!(f, "{}.{}s", n / NS_PER_S, fraction.trim_end_matches('0'))
    }
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Self {
        Dur(d)
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Self {
        d.0
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurVisitor)
    }
}

struct DurVisitor;

impl Visitor<'_> for DurVisitor {
    type Value = Dur;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"250ms\", \"1.5s\", \"2m\" or a number of seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
        v.parse().map_err(|e: TrafficError| E::custom(e.problem))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
        Ok(Dur(Duration::from_secs(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
        u64::try_from(v)
            .map(|s| Dur(Duration::from_secs(s)))
            .map_err(|_| {
                E::custom(format!(
                    "'{v}' is not a duration: durations cannot be negative"
                ))
            })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
        if v < 0.0 {
            return Err(E::custom(format!(
                "'{v}' is not a duration: durations cannot be negative"
            )));
        }
        Duration::try_from_secs_f64(v).map(Dur).map_err(|_| {
            E::custom(format!(
                "'{v}' is not a duration: not a finite number of seconds"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Duration {
        s.parse::<Dur>().unwrap().0
    }

    #[test]
    fn units() {
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("10s"), Duration::from_secs(10));
        assert_eq!(d("1.5s"), Duration::from_millis(1500));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("500us"), Duration::from_micros(500));
        assert_eq!(d("3"), Duration::from_secs(3));
        assert_eq!(d(" 2 ms "), Duration::from_millis(2));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("7."), Duration::from_secs(7));
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(d("0.1s"), Duration::from_nanos(100_000_000));
        assert_eq!(d("0.001ms"), Duration::from_nanos(1_000));
        assert_eq!(d("1.0000000019s"), Duration::from_nanos(1_000_000_001));
        assert_eq!(d("0.5h"), Duration::from_secs(1800));
    }

    #[test]
    fn bad_input_says_what_is_expected() {
        let e = "10 parsecs".parse::<Dur>().unwrap_err().to_string();
        assert_eq!(
            e,
            "'10 parsecs' is not a duration: expected a number with a unit ms, s, m, h, us"
        );
        for bad in ["", "s", ".s", "1.2.3s", "1e3s", "abc", "1 s s"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad:?} parsed");
        }
        assert!("-1s"
            .parse::<Dur>()
            .unwrap_err()
            .to_string()
            .contains("negative"));
        assert!("99999999999999999999999h"
            .parse::<Dur>()
            .unwrap_err()
            .to_string()
            .contains("too long"));
    }

    #[test]
    fn display_picks_the_largest_exact_unit() {
        let show = |ns: u64| Dur(Duration::from_nanos(ns)).to_string();
        assert_eq!(show(0), "0s");
        assert_eq!(show(1_500_000_000), "1.5s");
        assert_eq!(show(250_000_000), "250ms");
        assert_eq!(show(120_000_000_000), "2m");
        assert_eq!(show(90_000_000_000), "90s");
        assert_eq!(show(7_200_000_000_000), "2h");
        assert_eq!(show(500_000), "500us");
        assert_eq!(show(1), "0.000000001s");
    }

    #[test]
    fn serde_reads_strings_and_numbers() {
        let from = |json: &str| serde_json::from_str::<Dur>(json);
        assert_eq!(from("\"250ms\"").unwrap().0, Duration::from_millis(250));
        assert_eq!(from("2").unwrap().0, Duration::from_secs(2));
        assert_eq!(from("0.25").unwrap().0, Duration::from_millis(250));
        assert!(from("-1").unwrap_err().to_string().contains("negative"));
        assert!(from("-0.5").is_err());
        assert!(from("true").is_err());
        let e = from("\"10 parsecs\"").unwrap_err().to_string();
        assert!(e.contains("expected a number with a unit"), "{e}");
        assert_eq!(
            serde_json::to_string(&Dur(Duration::from_millis(1500))).unwrap(),
            "\"1.5s\""
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(secs in 0u64..10_000_000_000, nanos in 0u32..1_000_000_000) {
            let dur = Dur(Duration::new(secs, nanos));
            prop_assert_eq!(dur.to_string().parse::<Dur>().unwrap(), dur);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<Dur>();
        }

        #[test]
        fn parsing_number_like_text_never_panics(s in "[0-9.+-]{0,45}(ms|s|m|h|us|x)?") {
            let _ = s.parse::<Dur>();
        }
    }
}
