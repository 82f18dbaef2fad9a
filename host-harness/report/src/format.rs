//! Number formatting shared by the renderers.
//!
//! Golden summaries are compared byte for byte across machines, so every
//! float that reaches them goes through Rust's own formatter with a fixed
//! number of decimals (exact decimal rounding of the binary value, no libc,
//! no libm). The decimal exponent is found with comparisons against powers
//! of ten built by exact multiplication, not with `log10`, whose last bit
//! may differ between platforms.

/// `v` rounded to `digits` significant digits, without trailing zeros after
/// the decimal point: `sig(0.99949, 3)` is `"0.999"`, `sig(1234.0, 2)` is
/// `"1200"`. Non-finite values print as `NaN`, `inf`, `-inf`.
pub(crate) fn sig(v: f64, digits: u32) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let digits = digits.clamp(1, 17) as i32;
    let decimals = digits - 1 - decimal_exponent(v.abs());
    let text = if decimals >= 0 {
        format!("{:.*}", decimals as usize, v)
    } else {
        let p = pow10(decimals.unsigned_abs());
        format!("{:.0}", (v / p).round() * p)
    };
    trim_zeros(text)
}

/// A latency in milliseconds for people: two decimals below 10 ms, one
/// below 100 ms, none above. `-` for a value that is not a number.
pub(crate) fn ms(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    let decimals = if v.abs() < 10.0 {
        2
    } else if v.abs() < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.decimals$}")
}

/// A ratio (0..=1) as a percentage with one decimal, without the sign.
pub(crate) fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "-".to_string();
    }
    clean_negative_zero(format!("{:.1}", ratio * 100.0))
}

/// A value for people: integers as integers, other values to 4 significant
/// digits, `-` for a value that is not a number.
pub(crate) fn number(v: f64) -> String {
    if !v.is_finite() {
        "-".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        clean_negative_zero(format!("{v:.0}"))
    } else {
        sig(v, 4)
    }
}

/// `part / whole`, or 0 when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The `e` with `10^e <= a < 10^(e+1)`, for finite `a > 0`.
fn decimal_exponent(a: f64) -> i32 {
    let mut e: i32 = 0;
    while e < 400 && a >= ten_to(e + 1) {
        e += 1;
    }
    while e > -400 && a < ten_to(e) {
        e -= 1;
    }
    e
}

/// 10^e. For negative `e`, 1 / 10^|e| is the correctly rounded division of
/// two exact values, so it is the same double as the literal `1e-k` (for
/// k <= 22).
fn ten_to(e: i32) -> f64 {
    if e >= 0 {
        pow10(e.unsigned_abs())
    } else {
        1.0 / pow10(e.unsigned_abs())
    }
}

/// 10^k by repeated multiplication: exact up to 10^22, deterministic beyond.
fn pow10(k: u32) -> f64 {
    let mut p = 1.0;
    for _ in 0..k {
        p *= 10.0;
    }
    p
}

fn trim_zeros(mut s: String) -> String {
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
    clean_negative_zero(s)
}

/// `-0` and `-0.0` are zero; printing the sign would only make goldens flap.
fn clean_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(sig(0.99949, 3), "0.999");
        assert_eq!(sig(0.99951, 3), "1");
        assert_eq!(sig(1234.0, 2), "1200");
        assert_eq!(sig(12.34, 2), "12");
        assert_eq!(sig(0.012345, 2), "0.012");
        assert_eq!(sig(0.001, 2), "0.001");
        assert_eq!(sig(100.0, 2), "100");
        assert_eq!(sig(-61.25, 3), "-61.2");
        assert_eq!(sig(0.0, 2), "0");
        assert_eq!(sig(-0.0, 2), "0");
        assert_eq!(sig(f64::NAN, 2), "NaN");
        assert_eq!(sig(f64::INFINITY, 2), "inf");
        assert_eq!(sig(1e300, 2).len(), 301);
        assert_eq!(sig(1e-300, 2), format!("0.{}1", "0".repeat(299)));
    }

    #[test]
    fn exponents_at_powers_of_ten() {
        for k in 0..=22u32 {
            assert_eq!(decimal_exponent(pow10(k)), k as i32);
            assert_eq!(decimal_exponent(1.0 / pow10(k)), -(k as i32));
        }
        assert_eq!(decimal_exponent(9.999), 0);
        assert_eq!(decimal_exponent(0.0999), -2);
    }

    #[test]
    fn human_numbers() {
        assert_eq!(ms(4.256), "4.26");
        assert_eq!(ms(42.56), "42.6");
        assert_eq!(ms(425.6), "426");
        assert_eq!(ms(f64::NAN), "-");
        assert_eq!(percent(0.99949), "99.9");
        assert_eq!(percent(-0.0001), "0.0");
        assert_eq!(number(120.0), "120");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(f64::INFINITY), "-");
        assert_eq!(ratio(1, 0), 0.0);
        assert_eq!(ratio(1, 4), 0.25);
    }
}
