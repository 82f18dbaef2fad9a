//! Small checks shared by every configuration section.

use super::error::{ConfigError, Path};

pub(crate) fn share(path: &Path, value: f64) -> Result<f64, ConfigError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(path.error(format!("{value} is outside [0, 1]")));
    }
    Ok(value)
}

pub(crate) fn in_range<T: PartialOrd + std::fmt::Display>(
    path: &Path,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(path.error(format!("{value} is outside [{min}, {max}]")));
    }
    Ok(value)
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
