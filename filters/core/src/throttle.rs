//! The throttle policy: which class a request is in, and the in-flight level
//! up to which that class is admitted.
//!
//! The glue asks [`Throttle::classify`] and [`Throttle::threshold`], then lets
//! [`crate::shared::SharedInflight`] admit or refuse against the shared count.

use crate::config::{LimitConfig, Mode, ThrottleConfig};
use crate::limit::class_threshold;
use crate::priority::{ClassId, ClassSource};
use crate::random::Random;
use crate::request::RequestView;

/// A configured throttle.
#[derive(Clone, Debug)]
pub struct Throttle {
    config: ThrottleConfig,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle { config }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// The configured static limit, or for an adaptive limit its start-up
    /// (minimum) value; the glue passes the adaptive limit in force to
    /// [`Throttle::threshold_at`].
    pub fn limit(&self) -> u32 {
        match &self.config.limit {
            LimitConfig::Static { max_inflight } => *max_inflight,
            LimitConfig::Adaptive(a) => a.params.min_limit,
        }
    }

    /// Whether a shed decision is carried out: never in shadow mode; in
    /// enforce mode for `enforce_percent` of decisions, drawn at random.
    pub fn enforce(&self, random: &mut impl Random) -> bool {
        match self.config.mode {
            Mode::Shadow => false,
            Mode::Enforce if self.config.enforce_percent >= 100.0 => true,
            Mode::Enforce => random.next_unit() * 100.0 < self.config.enforce_percent,
        }
    }

    pub fn classify(&self, request: &impl RequestView) -> (ClassId, ClassSource) {
        self.config
            .classifier
            .classify(&self.config.classes, request)
    }

    /// In-flight level below which a request of `class` is admitted.
    pub fn threshold(&self, class: ClassId) -> u32 {
        self.threshold_at(self.limit(), class)
    }

    /// In-flight level below which a request of `class` is admitted under
    /// `limit`.
    pub fn threshold_at(&self, limit: u32, class: ClassId) -> u32 {
        class_threshold(limit, self.config.classes.share(class))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedRequest;

    #[test]
    fn classes_get_their_share_of_the_static_limit() {
        let cfg = ThrottleConfig::from_json(br#"{"limit": {"static": {"max_inflight": 10}}}"#)
            .expect("valid");
        let t = Throttle::new(cfg);
        let thresholds: Vec<u32> = t.config().classes.ids().map(|c| t.threshold(c)).collect();
        assert_eq!(thresholds, vec![10, 8, 5]);
        let (class, _) =
            t.classify(&OwnedRequest::new().with_header("x-sluice-priority", "sheddable"));
        assert_eq!(t.threshold(class), 5);
    }

    #[test]
    fn shadow_never_enforces_and_enforce_percent_enforces_about_that_share() {
        use crate::random::SplitMix64;
        let shadow = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 1}}, "mode": "shadow"}"#,
            )
            .expect("valid"),
        );
        let mut r = SplitMix64::new(9);
        assert!((0..1000).all(|_| !shadow.enforce(&mut r)));
        let quarter = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 1}}, "enforce_percent": 25}"#,
            )
            .expect("valid"),
        );
        let n = (0..10_000).filter(|_| quarter.enforce(&mut r)).count();
        assert!((2_300..2_700).contains(&n), "{n} of 10000 enforced");
    }
}
