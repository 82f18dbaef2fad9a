//! The `classes` and `default_class` keys.

use super::error::ConfigError;
use super::json::Object;
use super::validate::{self, Shown};
use crate::priority::{PriorityClasses, MAX_CLASSES, STANDARD_CLASSES};

/// Reads `classes` (default: [`STANDARD_CLASSES`]) and
/// `default_class` (default: `default`) from the root object.
///
/// Checks: 1 to [`MAX_CLASSES`] classes; names are identifiers and unique;
/// shares are in `[0, 1]` and do not increase down the list (a less important
/// class never gets more headroom than a more important one); the default
/// class is one of them.
pub(crate) fn read(root: &mut Object<'_>) -> Result<PriorityClasses, ConfigError> {
    let path = root.path().field("classes");
    let raw: Vec<(String, f64)> = match root.array("classes")? {
        None => STANDARD_CLASSES
            .iter()
            .map(|(n, s)| (n.to_string(), *s))
            .collect(),
        Some(items) => {
            let mut raw = Vec::with_capacity(items.len());
            for (at, item) in items {
                let mut class = Object::new(at, item)?;
                let name = class.required_str("name")?;
                let share = class.required_f64("share")?;
                class.finish()?;
                raw.push((name.to_string(), share));
            }
            raw
        }
    };
    let default_class = root.string("default_class", "default")?;
    if raw.is_empty() || raw.len() > MAX_CLASSES {
        return Err(path.error(format!(
            "{} classes given; between 1 and {MAX_CLASSES} are allowed",
            raw.len()
        )));
    }
    let mut classes: Vec<(String, f64)> = Vec::with_capacity(raw.len());
    for (i, (name, share)) in raw.into_iter().enumerate() {
        let at = path.index(i);
        let name = validate::identifier(&at.field("name"), &name)?;
        if classes.iter().any(|(n, _)| *n == name) {
            return Err(at
                .field("name")
                .error(format!("class '{name}' is declared twice")));
        }
        let share = validate::share(&at.field("share"), share)?;
        if let Some((prev_name, prev_share)) = classes.last() {
            if share > *prev_share {
                return Err(at.field("share").error(format!(
                    "{} is larger than the share {} of the more important class '{prev_name}'; shares must not increase down the list",
                    share.shown(),
                    prev_share.shown()
                )));
            }
        }
        classes.push((name, share));
    }
    let Some(default) = classes.iter().position(|(n, _)| *n == default_class) else {
        let names: Vec<&str> = classes.iter().map(|(n, _)| n.as_str()).collect();
        return Err(root.path().field("default_class").error(format!(
            "'{default_class}' is not a declared class (declared: {})",
            names.join(", ")
        )));
    };
    Ok(PriorityClasses::from_validated(classes, default))
}
