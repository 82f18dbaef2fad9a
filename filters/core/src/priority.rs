//! Priority classes and request classification.
//!
//! Classes are ordered, most important first. Each has a *share*: the fraction
//! of the concurrency limit that in-flight requests may reach and still admit a
//! request of that class. With the default classes
//!
//! | class       | share | admitted while in-flight < |
//! |-------------|-------|----------------------------|
//! | `critical`  | 1.0   | `limit`                    |
//! | `default`   | 0.8   | `⌊0.8 × limit⌋`            |
//! | `sheddable` | 0.5   | `⌊0.5 × limit⌋`            |
//!
//! so as load rises, sheddable traffic is refused first and critical last.
//! This is the priority-headroom idea of Google's "Handling Overload" (SRE
//! book, ch. 21: criticality), applied to a concurrency limit. Shares are
//! how priority works under `admission.priority: shares`. Under strict
//! admission (the default, `limit::reservation`) priority comes from the
//! slots reserved for the classes above, and a class's *max share*
//! (default 1.0) is only an operator's cap on it.

use crate::request::RequestView;
use crate::rules::{self, Rule};

/// Most classes a configuration may declare; keeps metric cardinality and
/// per-class state bounded.
pub const MAX_CLASSES: usize = 8;

/// The classes used when the configuration declares none: names and shares.
pub const STANDARD_CLASSES: [(&str, f64); 3] =
    [("critical", 1.0), ("default", 0.8), ("sheddable", 0.5)];

/// Index of a class in its [`PriorityClasses`]; 0 is the most important.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassId(u8);

impl ClassId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A validated, ordered set of priority classes with a default.
#[derive(Clone, Debug, PartialEq)]
pub struct PriorityClasses {
    names: Vec<String>,
    shares: Vec<f64>,
    max_shares: Vec<f64>,
    default: ClassId,
}

impl PriorityClasses {
    /// Builds classes from pairs the configuration layer has already
    /// validated (unique names, shares and max shares in `[0, 1]`,
    /// non-increasing, at most [`MAX_CLASSES`], `default` in range).
    pub(crate) fn from_validated(classes: Vec<(String, f64, f64)>, default: usize) -> Self {
        debug_assert!(!classes.is_empty() && classes.len() <= MAX_CLASSES);
        debug_assert!(default < classes.len());
        let mut names = Vec::with_capacity(classes.len());
        let mut shares = Vec::with_capacity(classes.len());
        let mut max_shares = Vec::with_capacity(classes.len());
        for (name, share, max_share) in classes {
            names.push(name);
            shares.push(share);
            max_shares.push(max_share);
        }
        PriorityClasses {
            names,
            shares,
            max_shares,
            default: ClassId(default as u8),
        }
    }

    /// [`STANDARD_CLASSES`]; default class `default`.
    pub fn standard() -> Self {
        Self::from_validated(
            STANDARD_CLASSES
                .iter()
                .map(|(name, share)| (name.to_string(), *share, 1.0))
                .collect(),
            1,
        )
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn default_class(&self) -> ClassId {
        self.default
    }

    pub fn name(&self, id: ClassId) -> &str {
        &self.names[id.index()]
    }

    pub fn share(&self, id: ClassId) -> f64 {
        self.shares[id.index()]
    }

    /// The cap on a class under strict admission (`max_share`, default 1).
    pub fn max_share(&self, id: ClassId) -> f64 {
        self.max_shares[id.index()]
    }

    /// All classes, most important first.
    pub fn ids(&self) -> impl Iterator<Item = ClassId> + '_ {
        (0..self.names.len()).map(|i| ClassId(i as u8))
    }

    /// The class whose name equals `value` exactly, ignoring ASCII case and
    /// surrounding whitespace.
    pub fn by_name(&self, value: &[u8]) -> Option<ClassId> {
        let value = value.trim_ascii();
        self.names
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(value))
            .map(|i| ClassId(i as u8))
    }
}

/// How a request's class was found; counted so operators can see, for
/// example, clients sending priority values nobody configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassSource {
    /// A classification rule matched.
    Rule,
    /// The priority header named a configured class.
    Header,
    /// No priority header: the default class.
    Default,
    /// The priority header named no configured class: the default class.
    UnknownValue,
}

/// Assigns a class: the first matching rule, else the priority header, else
/// the default class.
#[derive(Clone, Debug, PartialEq)]
pub struct Classifier {
    rules: Vec<Rule>,
    header: String,
}

impl Classifier {
    pub fn new(rules: Vec<Rule>, header: impl Into<String>) -> Self {
        Classifier {
            rules,
            header: header.into(),
        }
    }

    pub fn header(&self) -> &str {
        &self.header
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn classify(
        &self,
        classes: &PriorityClasses,
        request: &impl RequestView,
    ) -> (ClassId, ClassSource) {
        if let Some(id) = rules::first_match(&self.rules, request) {
            return (id, ClassSource::Rule);
        }
        self.classify_by_header(classes, request)
    }

    /// As [`Classifier::classify`] for a request whose priority header does
    /// not count (its source is not trusted, [`crate::trust`]): the first
    /// matching rule, else the default class.
    pub fn classify_by_rules(
        &self,
        classes: &PriorityClasses,
        request: &impl RequestView,
    ) -> (ClassId, ClassSource) {
        match rules::first_match(&self.rules, request) {
            Some(id) => (id, ClassSource::Rule),
            None => (classes.default_class(), ClassSource::Default),
        }
    }

    fn classify_by_header(
        &self,
        classes: &PriorityClasses,
        request: &impl RequestView,
    ) -> (ClassId, ClassSource) {
        match request.header(&self.header) {
            None => (classes.default_class(), ClassSource::Default),
            Some(value) => match classes.by_name(&value) {
                Some(id) => (id, ClassSource::Header),
                None => (classes.default_class(), ClassSource::UnknownValue),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedRequest;

    #[test]
    fn header_names_a_class_case_insensitively() {
        let classes = PriorityClasses::standard();
        let c = Classifier::new(Vec::new(), "x-sluice-priority");
        let req = OwnedRequest::new().with_header("x-sluice-priority", " Critical ");
        let (id, src) = c.classify(&classes, &req);
        assert_eq!(classes.name(id), "critical");
        assert_eq!(src, ClassSource::Header);
    }

    #[test]
    fn missing_or_unknown_header_gives_default() {
        let classes = PriorityClasses::standard();
        let c = Classifier::new(Vec::new(), "x-sluice-priority");
        let (id, src) = c.classify(&classes, &OwnedRequest::new());
        assert_eq!((classes.name(id), src), ("default", ClassSource::Default));
        let req = OwnedRequest::new().with_header("x-sluice-priority", "urgent!!");
        let (id, src) = c.classify(&classes, &req);
        assert_eq!(
            (classes.name(id), src),
            ("default", ClassSource::UnknownValue)
        );
    }

    #[test]
    fn non_utf8_value_is_unknown_not_a_panic() {
        let classes = PriorityClasses::standard();
        let c = Classifier::new(Vec::new(), "x-sluice-priority");
        let req = OwnedRequest::new().with_header("x-sluice-priority", vec![0xff, 0xfe, b'a']);
        let (_, src) = c.classify(&classes, &req);
        assert_eq!(src, ClassSource::UnknownValue);
    }

    #[test]
    fn empty_blank_and_high_byte_values_are_unknown_and_get_default() {
        let classes = PriorityClasses::standard();
        let c = Classifier::new(Vec::new(), "x-sluice-priority");
        let values: [Vec<u8>; 4] = [
            Vec::new(),
            b" \t ".to_vec(),
            (0x80..=0xffu8).collect(),
            b"critical\x80".to_vec(),
        ];
        for v in values {
            let req = OwnedRequest::new().with_header("x-sluice-priority", v.clone());
            let (id, src) = c.classify(&classes, &req);
            assert_eq!(
                (classes.name(id), src),
                ("default", ClassSource::UnknownValue),
                "{v:?}"
            );
        }
    }
}
