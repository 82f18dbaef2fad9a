//! The `rules` key: classification rules, tried in order before the
//! priority header.
//!
//! ```json
//! "rules": [
//!   {"class": "critical", "path_prefix": "/checkout", "methods": ["POST"]},
//!   {"class": "sheddable", "headers": [{"name": "user-agent", "prefix": "batch-"}]},
//!   {"class": "critical", "source_cidrs": ["10.0.0.0/8"],
//!    "headers": [{"name": ":authority", "exact": "payments.internal"}]}
//! ]
//! ```
//! `crate::rules` says how a rule matches.

use super::error::ConfigError;
use super::json::Object;
use super::validate;
use crate::priority::PriorityClasses;
use crate::rules::{Cidr, Conditions, HeaderMatch, PathMatch, Rule, ValueMatch};

/// Most rules a configuration may hold; each request may try them all.
pub const MAX_RULES: usize = 64;

/// Reads `rules` (none when absent) against the declared classes.
pub(crate) fn read(
    root: &mut Object<'_>,
    classes: &PriorityClasses,
) -> Result<Vec<Rule>, ConfigError> {
    let Some(items) = root.array("rules")? else {
        return Ok(Vec::new());
    };
    if items.len() > MAX_RULES {
        return Err(root.path().field("rules").error(format!(
            "{} rules given; at most {MAX_RULES} are allowed",
            items.len()
        )));
    }
    items
        .into_iter()
        .map(|(path, item)| rule(Object::new(path, item)?, classes))
        .collect()
}

fn rule(mut raw: Object<'_>, classes: &PriorityClasses) -> Result<Rule, ConfigError> {
    let name = raw.required_str("class")?;
    let class = classes.by_name(name.as_bytes()).ok_or_else(|| {
        raw.path()
            .field("class")
            .error(format!("'{name}' is not a declared class"))
    })?;
    let when = conditions(&mut raw)?;
    raw.finish()?;
    Ok(Rule { class, when })
}

/// Reads the condition keys of a rule (`path_exact`, `path_prefix`,
/// `methods`, `headers`, `source_cidrs`) from `raw`; the caller reads its
/// own keys and finishes the object.
pub(crate) fn conditions(raw: &mut Object<'_>) -> Result<Conditions, ConfigError> {
    let path = match (raw.opt_str("path_exact")?, raw.opt_str("path_prefix")?) {
        (Some(_), Some(_)) => {
            return Err(raw.path().error("give path_exact or path_prefix, not both"))
        }
        (Some(p), None) => Some(PathMatch::Exact(path_value(raw, "path_exact", p)?)),
        (None, Some(p)) => Some(PathMatch::Prefix(path_value(raw, "path_prefix", p)?)),
        (None, None) => None,
    };
    let methods = methods(raw, "methods")?;
    let headers = raw
        .array("headers")?
        .unwrap_or_default()
        .into_iter()
        .map(|(at, v)| header(Object::new(at, v)?))
        .collect::<Result<_, _>>()?;
    let sources = cidrs(raw, "source_cidrs")?;
    Ok(Conditions {
        path,
        methods,
        headers,
        sources,
    })
}

/// A list of IPv4/IPv6 CIDR blocks at `key` (empty when absent).
pub(crate) fn cidrs(raw: &mut Object<'_>, key: &'static str) -> Result<Vec<Cidr>, ConfigError> {
    raw.strings(key)?
        .into_iter()
        .map(|(at, c)| Cidr::parse(c).map_err(|e| at.error(e)))
        .collect()
}

/// A list of upper-case HTTP methods at `key` (empty when absent).
pub(crate) fn methods(raw: &mut Object<'_>, key: &'static str) -> Result<Vec<String>, ConfigError> {
    raw.strings(key)?
        .into_iter()
        .map(|(at, m)| {
            if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(m.to_string())
            } else {
                Err(at.error(format!("'{m}' is not an upper-case HTTP method")))
            }
        })
        .collect()
}

fn path_value(raw: &mut Object<'_>, key: &'static str, value: &str) -> Result<String, ConfigError> {
    if value.starts_with('/') {
        Ok(value.to_string())
    } else {
        Err(raw
            .path()
            .field(key)
            .error(format!("'{value}' does not start with '/'")))
    }
}

fn header(mut raw: Object<'_>) -> Result<HeaderMatch, ConfigError> {
    let name = raw.required_str("name")?;
    // Pseudo-headers (`:authority`, `:path`) may be matched too.
    let bare = name.strip_prefix(':').unwrap_or(name);
    validate::header_name(&raw.path().field("name"), bare)?;
    let name = name.to_string();
    let value = value_match(&mut raw)?;
    raw.finish()?;
    Ok(HeaderMatch { name, value })
}

/// The `exact` or `prefix` key of a header, query or cookie match; neither
/// means "present".
pub(crate) fn value_match(raw: &mut Object<'_>) -> Result<ValueMatch, ConfigError> {
    match (raw.opt_str("exact")?, raw.opt_str("prefix")?) {
        (None, None) => Ok(ValueMatch::Present),
        (Some(v), None) => Ok(ValueMatch::Exact(v.as_bytes().to_vec())),
        (None, Some(v)) => Ok(ValueMatch::Prefix(v.as_bytes().to_vec())),
        (Some(_), Some(_)) => Err(raw.path().error("give exact or prefix, not both")),
    }
}
