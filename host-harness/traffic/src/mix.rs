//! A weighted mix of request templates: what a generated request looks like.
//!
//! A throttle's decisions depend on who is asking (priority header, tenant,
//! client address) and what for (method, path, body size), so a generator
//! offers a mix: each [`Template`] is picked with probability weight / total
//! weight, and each of its headers (and its source address) is either fixed
//! or itself a weighted [`Choice`]. Sampling is O(log n) per choice
//! (cumulative weights and a binary search); random draws are an argument so
//! the caller owns the seed.

use crate::error::{join, TrafficError};
use crate::weighted::Weighted;
use crate::{http, RequestSpec};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One kind of request in a mix.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Relative frequency (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// Default `GET`; upper-cased (`post` means `POST`).
    pub method: Option<String>,
    /// Path with query; default `/`.
    pub path: Option<String>,
    /// Header name -> a fixed value or a weighted choice of values.
    #[serde(default)]
    pub headers: BTreeMap<String, Choice>,
    #[serde(default)]
    pub body_bytes: u64,
    /// Downstream address: fixed or a weighted choice.
    pub source_address: Option<Choice>,
}

fn one() -> f64 {
    1.0
}

/// A fixed value (`critical`) or values with weights (`{critical: 1, default: 3}`).
///
/// Deserialized from a scalar (numbers and booleans become their text, so
/// `x-tenant: 42` works) or a map of value -> weight.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    Fixed(String),
    Weighted(BTreeMap<String, f64>),
}

/// Templates compiled for sampling.
#[derive(Clone, Debug)]
pub struct Mix {
    templates: Weighted<Compiled>,
}

#[derive(Clone, Debug, PartialEq)]
struct Compiled {
    method: String,
    path: String,
    headers: Vec<(String, Pick)>,
    body_bytes: u64,
    source_address: Option<Pick>,
}

#[derive(Clone, Debug, PartialEq)]
enum Pick {
    Fixed(String),
    Weighted(Weighted<String>),
}

impl Pick {
    fn draw(&self, rng: &mut impl FnMut() -> f64) -> String {
        match self {
            Pick::Fixed(v) => v.clone(),
            Pick::Weighted(w) => w.pick(rng()).clone(),
        }
    }
}

impl Mix {
    /// Checks and compiles `templates`; `place` is their field path (e.g.
    /// `traffic[0].mix`). No templates means every request is `GET /`.
    pub fn new(templates: Vec<Template>, place: &str) -> Result<Mix, TrafficError> {
        let templates = if templates.is_empty() {
            vec![Template {
                weight: 1.0,
                method: None,
                path: None,
                headers: BTreeMap::new(),
                body_bytes: 0,
                source_address: None,
            }]
        } else {
            templates
        };
        let mut compiled = Vec::with_capacity(templates.len());
        for (i, t) in templates.into_iter().enumerate() {
            let here = join(place, &format!("[{i}]"));
            let weight = t.weight;
            compiled.push((compile(t, &here)?, weight));
        }
        let templates = Weighted::new(compiled).map_err(|e| match e.index {
            Some(i) => TrafficError::new(join(place, &format!("[{i}].weight")), e.problem),
            None => TrafficError::new(place, format!("template {}", e.problem)),
        })?;
        Ok(Mix { templates })
    }

    /// A request arriving at `at`: one draw picks the template, then one draw
    /// per weighted header (in name order) and one for a weighted source
    /// address. `rng` returns uniform values in [0, 1).
    pub fn sample(
        &self,
        rng: &mut impl FnMut() -> f64,
        at: Duration,
        authority: &str,
    ) -> RequestSpec {
        let t = self.templates.pick(rng());
        RequestSpec {
            at,
            method: t.method.clone(),
            path: t.path.clone(),
            authority: authority.to_string(),
            headers: t
                .headers
                .iter()
                .map(|(name, pick)| (name.clone(), pick.draw(rng)))
                .collect(),
            body_bytes: t.body_bytes,
            source_address: t.source_address.as_ref().map(|p| p.draw(rng)),
            recorded: None,
        }
    }
}

fn compile(t: Template, place: &str) -> Result<Compiled, TrafficError> {
    let method = t
        .method
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    http::method(&method).map_err(|p| TrafficError::new(join(place, "method"), p))?;
    let path = t.path.unwrap_or_else(|| "/".into());
    http::path(&path).map_err(|p| TrafficError::new(join(place, "path"), p))?;
    let mut headers: Vec<(String, Pick)> = Vec::with_capacity(t.headers.len());
    for (name, choice) in t.headers {
        let here = join(place, &format!("headers.{name}"));
        let lower = http::header_name(&name).map_err(|p| TrafficError::new(&here, p))?;
        if headers.iter().any(|(n, _)| *n == lower) {
            return Err(TrafficError::new(
                here,
                format!("header `{lower}` is given twice (names are case-insensitive)"),
            ));
        }
        let pick = compile_choice(choice, &here, http::header_value)?;
        headers.push((lower, pick));
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let source_address = match t.source_address {
        None => None,
        Some(c) => Some(compile_choice(c, &join(place, "source_address"), |v| {
            if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err(format!(
                    "address {} must be non-empty without spaces",
                    crate::error::shown(v)
                ))
            } else {
                Ok(())
            }
        })?),
    };
    Ok(Compiled {
        method,
        path,
        headers,
        body_bytes: t.body_bytes,
        source_address,
    })
}

fn compile_choice(
    choice: Choice,
    place: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Pick, TrafficError> {
    match choice {
        Choice::Fixed(v) => {
            check(&v).map_err(|p| TrafficError::new(place, p))?;
            Ok(Pick::Fixed(v))
        }
        Choice::Weighted(map) => {
            for v in map.keys() {
                check(v).map_err(|p| TrafficError::new(place, p))?;
            }
            let names: Vec<String> = map.keys().cloned().collect();
            Weighted::new(map.into_iter().collect())
                .map(Pick::Weighted)
                .map_err(|e| match e.index {
                    Some(i) => TrafficError::new(join(place, &names[i]), e.problem),
                    None => TrafficError::new(place, e.problem),
                })
        }
    }
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ChoiceVisitor)
    }
}

struct ChoiceVisitor;

impl<'de> Visitor<'de> for ChoiceVisitor {
    type Value = Choice;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, or a map of value -> weight such as {critical: 1, default: 3}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Choice, E> {
        Ok(Choice::Fixed(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Choice, E> {
        Ok(Choice::Fixed(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Choice, E> {
        Ok(Choice::Fixed(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Choice, E> {
        Ok(Choice::Fixed(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Choice, E> {
        Ok(Choice::Fixed(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Choice, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((Scalar(value), weight)) = map.next_entry::<Scalar, f64>()? {
            if out.insert(value.clone(), weight).is_some() {
                return Err(de::Error::custom(format!(
                    "value '{value}' is listed twice"
                )));
            }
        }
        Ok(Choice::Weighted(out))
    }
}

/// A map key that may be written as a string, number or boolean.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(ChoiceVisitor)? {
            Choice::Fixed(s) => Ok(Scalar(s)),
            Choice::Weighted(_) => Err(de::Error::custom("expected a value, not a map")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn templates(json: &str) -> Vec<Template> {
        serde_json::from_str(json).unwrap()
    }

    fn draws(seed: u64) -> impl FnMut() -> f64 {
        let mut r = SplitMix64::new(seed);
        move || r.next_f64()
    }

    #[test]
    fn no_templates_means_get_slash() {
        let mix = Mix::new(vec![], "mix").unwrap();
        let r = mix.sample(&mut draws(1), Duration::from_secs(3), "svc");
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.authority.as_str()),
            ("GET", "/", "svc")
        );
        assert_eq!(r.at, Duration::from_secs(3));
        assert!(r.headers.is_empty() && r.source_address.is_none() && r.recorded.is_none());
    }

    #[test]
    fn templates_and_header_values_follow_their_weights() {
        let mix = Mix::new(
            templates(
                r#"[
                {"weight": 3, "path": "/api", "headers": {"X-Sluice-Priority": {"critical": 1, "sheddable": 4}}},
                {"method": "post", "path": "/upload", "body_bytes": 1024, "headers": {"x-tenant": 42},
                 "source_address": {"10.0.0.1": 1, "10.0.0.2": 1}}
            ]"#,
            ),
            "traffic[0].mix",
        )
        .unwrap();
        let mut rng = draws(9);
        let n = 40_000;
        let (mut api, mut critical, mut from_1) = (0, 0, 0);
        for _ in 0..n {
            let r = mix.sample(&mut rng, Duration::ZERO, "svc");
            if r.path == "/api" {
                api += 1;
                assert_eq!(r.method, "GET");
                if r.header("x-sluice-priority") == Some("critical") {
                    critical += 1;
                }
            } else {
                assert_eq!((r.method.as_str(), r.body_bytes), ("POST", 1024));
                assert_eq!(r.header("x-tenant"), Some("42"));
                from_1 += usize::from(r.source_address.as_deref() == Some("10.0.0.1"));
            }
        }
        let frac = |k: usize, of: usize| k as f64 / of as f64;
        assert!((frac(api, n) - 0.75).abs() < 0.012, "api {api}");
        assert!(
            (frac(critical, api) - 0.2).abs() < 0.012,
            "critical {critical}/{api}"
        );
        assert!((frac(from_1, n - api) - 0.5).abs() < 0.025, "{from_1}");
    }

    #[test]
    fn same_draws_same_requests() {
        let mix = Mix::new(
            templates(r#"[{"headers": {"p": {"a": 1, "b": 1, "c": 1}}}, {"path": "/x"}]"#),
            "m",
        )
        .unwrap();
        let run = |seed| {
            let mut rng = draws(seed);
            (0..50)
                .map(|_| mix.sample(&mut rng, Duration::ZERO, "s"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str| {
            Mix::new(templates(json), "traffic[1].mix")
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"[{}, {"weight": -1}]"#).starts_with("traffic[1].mix[1].weight: "));
        assert!(err(r#"[{"weight": 0}]"#).contains("zero"));
        let e = err(r#"[{"headers": {"bad name": "x"}}]"#);
        assert!(
            e.starts_with("traffic[1].mix[0].headers.bad name: ") && e.contains("token"),
            "{e}"
        );
        let e = err(r#"[{"headers": {"X-A": "1", "x-a": "2"}}]"#);
        assert!(e.contains("given twice"), "{e}");
        let e = err(r#"[{"headers": {"p": {"a": 1, "b": -2}}}]"#);
        assert!(e.starts_with("traffic[1].mix[0].headers.p.b: "), "{e}");
        assert!(err(r#"[{"headers": {"p": {}}}]"#).contains("at least one"));
        assert!(err(r#"[{"headers": {"p": "a\nb"}}]"#).contains("control character"));
        assert!(err(r#"[{"method": "GE T"}]"#).starts_with("traffic[1].mix[0].method: "));
        assert!(err(r#"[{"path": ""}]"#).starts_with("traffic[1].mix[0].path: "));
        assert!(
            err(r#"[{"source_address": ""}]"#).starts_with("traffic[1].mix[0].source_address: ")
        );
    }

    #[test]
    fn deserialization_refuses_typos_and_nonsense() {
        assert!(serde_json::from_str::<Vec<Template>>(r#"[{"wieght": 2}]"#).is_err());
        assert!(serde_json::from_str::<Vec<Template>>(r#"[{"headers": {"p": [1]}}]"#).is_err());
        assert!(
            serde_json::from_str::<Vec<Template>>(r#"[{"headers": {"p": {"a": "x"}}}]"#).is_err()
        );
        let t: Vec<Template> = serde_json::from_str(r#"[{"headers": {"p": true}}]"#).unwrap();
        assert_eq!(t[0].headers["p"], Choice::Fixed("true".into()));
        assert_eq!(t[0].weight, 1.0);
    }
}
