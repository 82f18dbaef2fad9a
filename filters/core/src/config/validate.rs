//! Small checks shared by every configuration section.

use super::error::{ConfigError, Path};

pub(crate) fn share(path: &Path, value: f64) -> Result<f64, ConfigError> {
    in_range(path, value, 0.0, 1.0)
}

pub(crate) fn in_range<T: PartialOrd + Shown>(
    path: &Path,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(path.error(format!(
            "{} is outside [{}, {}]",
            value.shown(),
            min.shown(),
            max.shown()
        )));
    }
    Ok(value)
}

/// A number as an error message shows it. Floats are written without
/// `core::fmt`'s float formatting, which would add ~18 KB to each module:
/// up to six decimals, trailing zeros dropped.
pub(crate) trait Shown: Copy {
    fn shown(self) -> String;
}

impl Shown for u32 {
    fn shown(self) -> String {
        self.to_string()
    }
}

impl Shown for f64 {
    fn shown(self) -> String {
        if !self.is_finite() {
            return "a non-finite number".to_string();
        }
        let sign = if self < 0.0 { "-" } else { "" };
        let scaled = (self.abs() * 1e6).round();
        if scaled >= 1e18 {
            return format!("{sign}{}", self.abs() as u64);
        }
        let scaled = scaled as u64;
        let (whole, frac) = (scaled / 1_000_000, scaled % 1_000_000);
        if frac == 0 {
            return format!("{sign}{whole}");
        }
        let digits = format!("{frac:06}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// An HTTP header name as Envoy stores it: lower-case RFC 9110 token
/// characters, not a pseudo-header.
pub(crate) fn header_name(path: &Path, name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        });
    if !ok {
        return Err(path.error(format!(
            "'{name}' is not a valid header name (lower-case letters, digits and -_. only)"
        )));
    }
    Ok(name.to_string())
}

/// A name used inside metric names and shared-data keys: `[a-z0-9_]`, 1 to 64 bytes.
pub(crate) fn identifier(path: &Path, name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(path.error(format!(
            "'{name}' must be 1 to 64 characters of a-z, 0-9 and _"
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn floats_show_without_float_formatting() {
        assert_eq!(1.5f64.shown(), "1.5");
        assert_eq!(100.0f64.shown(), "100");
        assert_eq!(0.001f64.shown(), "0.001");
        assert_eq!((-2.25f64).shown(), "-2.25");
        assert_eq!(1e300f64.shown(), u64::MAX.to_string());
        assert_eq!(f64::NAN.shown(), "a non-finite number");
        assert_eq!(0.1234567f64.shown(), "0.123457");
    }
}
