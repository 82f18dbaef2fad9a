//! Reading the plugin configuration JSON with the failing field's path in
//! every error.
//!
//! The document is parsed once into a [`Value`]; each section then
//! reads its keys through an [`Object`], which knows its own path
//! (`limit.adaptive`), checks types, fills defaults, and refuses keys nobody
//! asked for. This replaces serde derives: the readers are plain functions,
//! not one generic visitor per type, which keeps the filters' modules small.

use super::error::{ConfigError, Path};
use super::validate;
use super::value::{self, Map, Value};

/// Parses `bytes` as one JSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ConfigError::new(
            ".",
            "the plugin configuration is empty; expected a JSON object",
        ));
    }
    value::parse(bytes).map_err(|problem| ConfigError::new(".", problem))
}

/// What a JSON value is, for "expected X, found Y" messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(n) if n.is_i64() => "a negative number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_type(path: &Path, value: &Value, expected: &str) -> ConfigError {
    path.error(format!(
        "invalid type: {}, expected {expected}",
        kind(value)
    ))
}

/// One JSON object being read. Call [`Object::finish`] after the last key:
/// it refuses any key that was not read.
pub(crate) struct Object<'a> {
    path: Path,
    /// `None` for a section the document leaves out: every key is absent.
    map: Option<&'a Map>,
    known: Vec<&'static str>,
}

impl<'a> Object<'a> {
    pub(crate) fn new(path: Path, value: &'a Value) -> Result<Self, ConfigError> {
        match value {
            Value::Object(map) => Ok(Object {
                path,
                map: Some(map),
                known: Vec::new(),
            }),
            other => Err(invalid_type(&path, other, "an object")),
        }
    }

    /// A section the document leaves out: every key takes its default.
    pub(crate) fn absent(path: Path) -> Self {
        Object {
            path,
            map: None,
            known: Vec::new(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The value at `key`, if present; marks `key` as known.
    pub(crate) fn get(&mut self, key: &'static str) -> Option<(Path, &'a Value)> {
        self.known.push(key);
        self.map?.get(key).map(|v| (self.path.field(key), v))
    }

    /// The value at `key`, or "missing field" at this object's path.
    pub(crate) fn required(&mut self, key: &'static str) -> Result<(Path, &'a Value), ConfigError> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    fn missing(&self, key: &str) -> ConfigError {
        self.path.error(format!("missing field `{key}`"))
    }

    pub(crate) fn opt_u32(&mut self, key: &'static str) -> Result<Option<u32>, ConfigError> {
        let Some((path, value)) = self.get(key) else {
            return Ok(None);
        };
        match value.as_u64() {
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| path.error(format!("{n} is larger than {}", u32::MAX))),
            None => Err(invalid_type(&path, value, "a non-negative integer")),
        }
    }

    /// An optional `u32` that, when given, must lie in `[min, max]`.
    pub(crate) fn opt_u32_in(
        &mut self,
        key: &'static str,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, ConfigError> {
        match self.opt_u32(key)? {
            None => Ok(None),
            Some(v) => validate::in_range(&self.path.field(key), v, min, max).map(Some),
        }
    }

    pub(crate) fn required_u32_in(
        &mut self,
        key: &'static str,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        self.opt_u32_in(key, min, max)?
            .ok_or_else(|| self.missing(key))
    }

    pub(crate) fn u32(&mut self, key: &'static str, default: u32) -> Result<u32, ConfigError> {
        Ok(self.opt_u32(key)?.unwrap_or(default))
    }

    /// A `u32` (default when absent) that must lie in `[min, max]`.
    pub(crate) fn u32_in(
        &mut self,
        key: &'static str,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        let value = self.u32(key, default)?;
        validate::in_range(&self.path.field(key), value, min, max)
    }

    /// An `f64` (default when absent) that must lie in `[min, max]`.
    pub(crate) fn f64_in(
        &mut self,
        key: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<f64, ConfigError> {
        let value = self.f64(key, default)?;
        validate::in_range(&self.path.field(key), value, min, max)
    }

    pub(crate) fn opt_f64(&mut self, key: &'static str) -> Result<Option<f64>, ConfigError> {
        let Some((path, value)) = self.get(key) else {
            return Ok(None);
        };
        // serde_json refuses numbers outside f64's range, so this is finite.
        value
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid_type(&path, value, "a number"))
    }

    pub(crate) fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, ConfigError> {
        Ok(self.opt_f64(key)?.unwrap_or(default))
    }

    /// An optional `f64` that, when given, must lie in `[min, max]`.
    pub(crate) fn opt_f64_in(
        &mut self,
        key: &'static str,
        min: f64,
        max: f64,
    ) -> Result<Option<f64>, ConfigError> {
        match self.opt_f64(key)? {
            None => Ok(None),
            Some(v) => validate::in_range(&self.path.field(key), v, min, max).map(Some),
        }
    }

    pub(crate) fn required_f64_in(
        &mut self,
        key: &'static str,
        min: f64,
        max: f64,
    ) -> Result<f64, ConfigError> {
        self.opt_f64_in(key, min, max)?
            .ok_or_else(|| self.missing(key))
    }

    pub(crate) fn required_f64(&mut self, key: &'static str) -> Result<f64, ConfigError> {
        self.opt_f64(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_str(&mut self, key: &'static str) -> Result<Option<&'a str>, ConfigError> {
        let Some((path, value)) = self.get(key) else {
            return Ok(None);
        };
        value
            .as_str()
            .map(Some)
            .ok_or_else(|| invalid_type(&path, value, "a string"))
    }

    pub(crate) fn required_str(&mut self, key: &'static str) -> Result<&'a str, ConfigError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn string(
        &mut self,
        key: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        Ok(self.opt_str(key)?.unwrap_or(default).to_string())
    }

    /// A string that must be one of `choices`; the index of the one given,
    /// or `default` when absent.
    pub(crate) fn choice(
        &mut self,
        key: &'static str,
        choices: &[&str],
        default: usize,
    ) -> Result<usize, ConfigError> {
        let Some(given) = self.opt_str(key)? else {
            return Ok(default);
        };
        choices.iter().position(|c| *c == given).ok_or_else(|| {
            self.path.field(key).error(format!(
                "unknown variant `{given}`, expected one of `{}`",
                choices.join("`, `")
            ))
        })
    }

    /// The object at `key`, or an absent section when the key is missing.
    pub(crate) fn section(&mut self, key: &'static str) -> Result<Object<'a>, ConfigError> {
        let path = self.path.field(key);
        Ok(self.opt_object(key)?.unwrap_or(Object::absent(path)))
    }

    pub(crate) fn opt_object(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Object<'a>>, ConfigError> {
        self.get(key)
            .map(|(path, value)| Object::new(path, value))
            .transpose()
    }

    /// The elements of the array at `key` with their paths (empty when absent).
    pub(crate) fn array(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Vec<(Path, &'a Value)>>, ConfigError> {
        let Some((path, value)) = self.get(key) else {
            return Ok(None);
        };
        match value {
            Value::Array(items) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (path.index(i), v))
                    .collect(),
            )),
            other => Err(invalid_type(&path, other, "an array")),
        }
    }

    /// An array of strings at `key` (empty when absent).
    pub(crate) fn strings(
        &mut self,
        key: &'static str,
    ) -> Result<Vec<(Path, &'a str)>, ConfigError> {
        let mut out = Vec::new();
        for (path, value) in self.array(key)?.unwrap_or_default() {
            match value.as_str() {
                Some(s) => out.push((path, s)),
                None => return Err(invalid_type(&path, value, "a string")),
            }
        }
        Ok(out)
    }

    /// An object with exactly one key among `variants` (an externally tagged
    /// enum, `{"static": {...}}`): the variant's index and its object.
    pub(crate) fn variant(self, variants: &[&str]) -> Result<(usize, Object<'a>), ConfigError> {
        let expected = variants.join("`, `");
        let not_one = || {
            self.path
                .error(format!("expected exactly one of `{expected}`"))
        };
        let map = self.map.ok_or_else(not_one)?;
        let mut keys = map.keys();
        let (Some(key), None) = (keys.next(), keys.next()) else {
            return Err(not_one());
        };
        let Some(index) = variants.iter().position(|v| *v == key.as_str()) else {
            return Err(self.path.error(format!(
                "unknown variant `{key}`, expected one of `{expected}`"
            )));
        };
        let inner = Object::new(self.path.field(key), &map[key])?;
        Ok((index, inner))
    }

    /// Refuses the first key that no reader asked for.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        let mut keys = self.map.into_iter().flat_map(Map::keys);
        match keys.find(|k| !self.known.contains(&k.as_str())) {
            None => Ok(()),
            Some(unknown) => Err(self.path.field(unknown).error(format!(
                "unknown field `{unknown}`, expected one of `{}`",
                self.known.join("`, `")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Value {
        parse(json.as_bytes()).expect("json")
    }

    #[test]
    fn reads_defaults_types_and_refuses_unknown_keys() {
        let v = object(r#"{"a": 3, "b": 0.5, "c": "x", "d": ["p", "q"]}"#);
        let mut o = Object::new(Path::root().field("s"), &v).expect("object");
        assert_eq!(o.u32("a", 0), Ok(3));
        assert_eq!(o.f64("b", 0.0), Ok(0.5));
        assert_eq!(o.string("c", ""), Ok("x".to_string()));
        assert_eq!(o.u32("missing", 7), Ok(7));
        assert_eq!(o.strings("d").expect("strings").len(), 2);
        assert_eq!(o.finish(), Ok(()));

        let v = object(r#"{"a": 1, "zz": 2}"#);
        let mut o = Object::new(Path::root().field("s"), &v).expect("object");
        o.u32("a", 0).expect("a");
        let e = o.finish().unwrap_err();
        assert_eq!(e.path, "s.zz");
        assert!(
            e.problem
                .contains("unknown field `zz`, expected one of `a`"),
            "{e}"
        );
    }

    #[test]
    fn type_errors_name_the_field_and_what_was_found() {
        let v = object(r#"{"n": -1, "f": "x", "big": 5000000000}"#);
        let mut o = Object::new(Path::root(), &v).expect("object");
        let e = o.u32("n", 0).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.problem.as_str()),
            (
                "n",
                "invalid type: a negative number, expected a non-negative integer"
            )
        );
        assert_eq!(o.f64("f", 0.0).unwrap_err().path, "f");
        assert!(o.u32("big", 0).unwrap_err().problem.contains("larger than"));
        let e = Object::new(Path::root().field("x"), &Value::Bool(true))
            .err()
            .expect("not an object");
        assert_eq!(e.problem, "invalid type: a boolean, expected an object");
    }

    #[test]
    fn variants_need_exactly_one_known_key() {
        for (json, problem) in [
            (r#"{}"#, "expected exactly one of `a`, `b`"),
            (r#"{"a": {}, "b": {}}"#, "expected exactly one of `a`, `b`"),
            (
                r#"{"c": {}}"#,
                "unknown variant `c`, expected one of `a`, `b`",
            ),
        ] {
            let v = object(json);
            let o = Object::new(Path::root().field("v"), &v).expect("object");
            let e = o.variant(&["a", "b"]).err().expect("refused");
            assert_eq!((e.path.as_str(), e.problem.as_str()), ("v", problem));
        }
        let v = object(r#"{"b": {"k": 1}}"#);
        let o = Object::new(Path::root().field("v"), &v).expect("object");
        let (i, inner) = o.variant(&["a", "b"]).expect("variant");
        assert_eq!((i, inner.path().as_str()), (1, "v.b"));
    }

    #[test]
    fn empty_trailing_and_malformed_documents_are_refused_at_the_root() {
        assert!(parse(b" \n").unwrap_err().problem.contains("empty"));
        assert!(parse(b"{} x").unwrap_err().problem.contains("trailing"));
        assert_eq!(parse(b"{\"a\":").unwrap_err().path, ".");
    }
}
