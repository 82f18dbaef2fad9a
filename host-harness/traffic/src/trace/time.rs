//! Calendar timestamps in access logs -> nanoseconds since the Unix epoch.
//!
//! Two notations appear in the logs we read: RFC 3339 (`2026-11-22T10:00:00.123Z`,
//! Envoy's `%START_TIME%`) and the Common Log Format's
//! `10/Oct/2000:13:55:36 -0700`. Both are a civil date and time with a UTC
//! offset. The day count uses the "days from civil" method of Howard
//! Hinnant, "chrono-Compatible Low-Level Date Algorithms"
//! (<https://howardhinnant.github.io/date_algorithms.html>): start the year in
//! March so that the leap day is the last day of a year, count whole 400-year
//! eras (146 097 days each), then years, then months with the linear formula
//! `(153 m + 2) / 5` for the days before month `m` (March = 0). Only relative
//! times matter to a replay, but getting leap years and offsets right keeps
//! a trace that crosses midnight, a month end or a time zone in order.

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day`
/// (negative before 1970). `month` is 1..=12, `day` 1..=31.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // January and February count as months 10 and 11 of the previous year.
    let march_year = if month <= 2 { year - 1 } else { year };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year.rem_euclid(400); // 0..=399
    let month_from_march = i64::from((month + 9) % 12); // March 0 .. February 11
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = 365 * year_of_era + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days separate 0000-03-01, where era 0 starts, from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const NS: i128 = 1_000_000_000;

/// Nanoseconds since the epoch of a checked civil date-time and offset.
fn to_ns(date: (i64, u32, u32), time: (u32, u32, u32), nanos: u32, offset_s: i64) -> Option<i128> {
    let (year, month, day) = date;
    let (hour, minute, second) = time;
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60; // 60: a leap second, counted into the next minute
    if !valid {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_s;
    Some(i128::from(secs) * NS + i128::from(nanos))
}

/// The value of `len` ASCII digits at `at`, if they are all there.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    s.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `2026-11-22T10:00:00.123Z`, `2026-11-22 10:00:00+01:00`, ...: RFC 3339
/// with any number of fraction digits (nanoseconds kept) and a `Z` or
/// `±hh:mm` offset (`±hhmm` is accepted too). A missing offset is read as
/// UTC: only differences between records matter.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if sep(i, b".,") {
        i += 1;
        let first = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - first < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let kept = (i - first).min(9);
        if kept == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - kept as u32);
    }
    let offset_s = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(b, i + 1, 2)?;
            i += 3;
            if sep(i, b":") {
                i += 1;
            }
            let minutes = digits(b, i, 2)?;
            i += 2;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }
    to_ns(
        (i64::from(year), month, day),
        (hour, minute, second),
        nanos,
        offset_s,
    )
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// `10/Oct/2000:13:55:36 -0700` (Common Log Format, `%d/%b/%Y:%H:%M:%S %z`)
/// in nanoseconds since the epoch (always whole seconds).
pub(crate) fn parse_clf(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() != 26 {
        return None;
    }
    let day = digits(b, 0, 2)?;
    let name = b[3..6].to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| **m == name[..])? as u32 + 1;
    let year = digits(b, 7, 4)?;
    let hour = digits(b, 12, 2)?;
    let minute = digits(b, 15, 2)?;
    let second = digits(b, 18, 2)?;
    let offset_h = digits(b, 22, 2)?;
    let offset_m = digits(b, 24, 2)?;
    let seps = [
        (2, b'/'),
        (6, b'/'),
        (11, b':'),
        (14, b':'),
        (17, b':'),
        (20, b' '),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) || offset_h > 23 || offset_m > 59 {
        return None;
    }
    let offset = i64::from(offset_h * 3600 + offset_m * 60);
    let offset = match b[21] {
        b'+' => offset,
        b'-' => -offset,
        _ => return None,
    };
    to_ns(
        (i64::from(year), month, day),
        (hour, minute, second),
        0,
        offset,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn day_numbers_of_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
    }

    #[test]
    fn consecutive_dates_are_consecutive_days() {
        // Walk every day from 1599 to 2401 with the month lengths: each
        // step must add exactly one, across months, years and leap rules.
        let mut expected = days_from_civil(1599, 1, 1);
        for year in 1599..=2401 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(
                        days_from_civil(year, month, day),
                        expected,
                        "{year}-{month}-{day}"
                    );
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn rfc3339_forms() {
        let base = parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        let days = i128::from(days_from_civil(2026, 11, 22));
        assert_eq!(base, (days * 86_400 + 36_000) * NS);
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00.123Z").unwrap() - base,
            123_000_000
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00.000000001Z").unwrap() - base,
            1
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00.1234567899Z").unwrap() - base,
            123_456_789
        );
        assert_eq!(parse_rfc3339("2026-11-22T11:00:00+01:00").unwrap(), base);
        assert_eq!(parse_rfc3339("2026-11-22T05:30:00-0430").unwrap(), base);
        assert_eq!(parse_rfc3339("2026-11-22 10:00:00z").unwrap(), base);
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00").unwrap(),
            base,
            "no offset: UTC"
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T00:00:00+14:00").unwrap(),
            parse_rfc3339("2026-11-22T10:00:00Z").unwrap()
        );
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T10:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00+1:00",
            "2026-11-22T10:00:00+01:00 ",
            "2026-11-22T10:00:00Zjunk",
            "2026/11/22T10:00:00Z",
            "１２３４-11-22T10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some(), "leap day");
    }

    #[test]
    fn clf_forms() {
        let t = parse_clf("10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t, parse_rfc3339("2000-10-10T20:55:36Z").unwrap());
        assert_eq!(parse_clf("10/oct/2000:13:55:36 -0700"), Some(t));
        for bad in [
            "10/Oct/2000:13:55:36",
            "10/Foo/2000:13:55:36 -0700",
            "32/Oct/2000:13:55:36 -0700",
            "10/Oct/2000 13:55:36 -0700",
            "10/Oct/2000:13:55:36 *0700",
            "10/Oct/2000:13:55:36 -07000",
            "10/Oct/2000:13:55:3é -0700",
        ] {
            assert_eq!(parse_clf(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn rfc3339_never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
        }

        #[test]
        fn rfc3339_like_text_never_panics(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{0,3})?") {
            let _ = parse_rfc3339(&s);
        }

        #[test]
        fn clf_never_panics(s in "\\PC{0,30}", t in "[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}") {
            let _ = parse_clf(&s);
            let _ = parse_clf(&t);
        }

        /// The same instant written with different offsets is the same time.
        #[test]
        fn offsets_shift_the_clock(days in 0i64..40_000, secs in 0u32..86_400, off_min in -(23 * 60 + 59)..(23 * 60 + 59i32)) {
            let utc_s = days * 86_400 + i64::from(secs);
            let local_s = utc_s + i64::from(off_min) * 60;
            let (d, s) = (local_s.div_euclid(86_400), local_s.rem_euclid(86_400));
            // Find the civil date of day `d` by walking from 1970 (cheap for these ranges).
            let (mut y, mut m, mut rest) = (1970i64, 1u32, d);
            while rest < 0 { y -= 1; rest += if is_leap(y) { 366 } else { 365 }; }
            loop {
                let len = if is_leap(y) { 366 } else { 365 };
                if rest < len { break; }
                rest -= len;
                y += 1;
            }
            while rest >= i64::from(days_in_month(y, m)) { rest -= i64::from(days_in_month(y, m)); m += 1; }
            let sign = if off_min < 0 { '-' } else { '+' };
            let text = format!(
                "{y:04}-{m:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
                rest + 1, s / 3600, s / 60 % 60, s % 60, off_min.abs() / 60, off_min.abs() % 60
            );
            prop_assert_eq!(parse_rfc3339(&text), Some(i128::from(utc_s) * NS), "{}", text);
        }
    }
}
