//! Configuration errors that name the place and the problem.

use std::fmt;

/// A refused configuration: `path` is where the problem is, in the form
/// `classes[2].share` (`.` for the document itself); `problem` says what is
/// wrong and, where it helps, what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at '{}': {}", self.path, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Builds field paths for validation errors: `Path::root().field("classes").index(2).field("share")`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn root() -> Self {
        Path(String::new())
    }

    pub(crate) fn field(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        Path(format!("{}[{}]", self.0, i))
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn error(&self, problem: impl Into<String>) -> ConfigError {
        let path = if self.0.is_empty() { "." } else { &self.0 };
        ConfigError::new(path, problem)
    }
}
