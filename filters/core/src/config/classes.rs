//! The `classes` and `default_class` keys.

use super::error::{ConfigError, Path};
use super::validate;
use crate::priority::{PriorityClasses, MAX_CLASSES};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClass {
    name: String,
    share: f64,
}

pub(crate) fn default_classes() -> Vec<RawClass> {
    [("critical", 1.0), ("default", 0.8), ("sheddable", 0.5)]
        .into_iter()
        .map(|(name, share)| RawClass {
            name: name.into(),
            share,
        })
        .collect()
}

pub(crate) fn default_class_name() -> String {
    "default".into()
}

/// Checks: 1 to [`MAX_CLASSES`] classes; names are identifiers and unique;
/// shares are in `[0, 1]` and do not increase down the list (a less important
/// class never gets more headroom than a more important one); the default
/// class is one of them.
pub(crate) fn validate(
    root: &Path,
    raw: Vec<RawClass>,
    default_class: &str,
) -> Result<PriorityClasses, ConfigError> {
    let path = root.field("classes");
    if raw.is_empty() || raw.len() > MAX_CLASSES {
        return Err(path.error(format!(
            "{} classes given; between 1 and {MAX_CLASSES} are allowed",
            raw.len()
        )));
    }
    let mut classes: Vec<(String, f64)> = Vec::with_capacity(raw.len());
    for (i, class) in raw.into_iter().enumerate() {
        let at = path.index(i);
        let name = validate::identifier(&at.field("name"), &class.name)?;
        if classes.iter().any(|(n, _)| *n == name) {
            return Err(at
                .field("name")
                .error(format!("class '{name}' is declared twice")));
        }
        let share = validate::share(&at.field("share"), class.share)?;
        if let Some((prev_name, prev_share)) = classes.last() {
            if share > *prev_share {
                return Err(at.field("share").error(format!(
                    "{share} is larger than the share {prev_share} of the more important class '{prev_name}'; shares must not increase down the list"
                )));
            }
        }
        classes.push((name, share));
    }
    let Some(default) = classes.iter().position(|(n, _)| n == default_class) else {
        let names: Vec<&str> = classes.iter().map(|(n, _)| n.as_str()).collect();
        return Err(root.field("default_class").error(format!(
            "'{default_class}' is not a declared class (declared: {})",
            names.join(", ")
        )));
    };
    Ok(PriorityClasses::from_validated(classes, default))
}
