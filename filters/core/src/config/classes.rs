//! The `classes` and `default_class` keys.

use super::error::ConfigError;
use super::json::Object;
use super::validate::{self, Shown};
use crate::priority::{PriorityClasses, MAX_CLASSES, STANDARD_CLASSES};

/// Reads `classes` (default: [`STANDARD_CLASSES`]) and
/// `default_class` (default: `default`) from the root object.
///
/// Each class has a `share` (its part of the limit under
/// `admission.priority: shares`) and an optional `max_share` (its cap under
/// strict admission, default 1).
///
/// Checks: 1 to [`MAX_CLASSES`] classes; names are identifiers and unique;
/// shares and max shares are in `[0, 1]` and do not increase down the list
/// (a less important class never gets more headroom than a more important
/// one); the default class is one of them.
pub(crate) fn read(root: &mut Object<'_>) -> Result<PriorityClasses, ConfigError> {
    let path = root.path().field("classes");
    let raw: Vec<(String, f64, f64)> = match root.array("classes")? {
        None => STANDARD_CLASSES
            .iter()
            .map(|(n, s)| (n.to_string(), *s, 1.0))
            .collect(),
        Some(items) => {
            let mut raw = Vec::with_capacity(items.len());
            for (at, item) in items {
                let mut class = Object::new(at, item)?;
                let name = class.required_str("name")?;
                let share = class.required_f64("share")?;
                let max_share = class.f64_in("max_share", 1.0, 0.0, 1.0)?;
                class.finish()?;
                raw.push((name.to_string(), share, max_share));
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
    let mut classes: Vec<(String, f64, f64)> = Vec::with_capacity(raw.len());
    for (i, (name, share, max_share)) in raw.into_iter().enumerate() {
        let at = path.index(i);
        let name = validate::identifier(&at.field("name"), &name)?;
        if classes.iter().any(|(n, _, _)| *n == name) {
            return Err(at
                .field("name")
                .error(format!("class '{name}' is declared twice")));
        }
        let share = validate::share(&at.field("share"), share)?;
        if let Some((prev_name, prev_share, prev_max)) = classes.last() {
            for (field, value, prev) in [
                ("share", share, prev_share),
                ("max_share", max_share, prev_max),
            ] {
                if value > *prev {
                    return Err(at.field(field).error(format!(
                        "{} is larger than the {field} {} of the more important class '{prev_name}'; {field} must not increase down the list",
                        value.shown(),
                        prev.shown()
                    )));
                }
            }
        }
        classes.push((name, share, max_share));
    }
    let Some(default) = classes.iter().position(|(n, _, _)| *n == default_class) else {
        let names: Vec<&str> = classes.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(root.path().field("default_class").error(format!(
            "'{default_class}' is not a declared class (declared: {})",
            names.join(", ")
        )));
    };
    Ok(PriorityClasses::from_validated(classes, default))
}
