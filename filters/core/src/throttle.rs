//! The throttle policy: which class a request is in, and the in-flight level
//! up to which that class is admitted.
//!
//! The glue asks [`Throttle::classify`] and [`Throttle::threshold`], then lets
//! [`crate::shared::SharedInflight`] admit or refuse against the shared count.

use crate::config::{LimitConfig, Mode, ThrottleConfig};
use crate::decision::ShedReason;
use crate::limit::class_threshold;
use crate::limit::reservation::room_below;
use crate::limit::tuner::Tuned;
use crate::priority::{ClassId, ClassSource};
use crate::random::Random;
use crate::request::RequestView;
use crate::rules::Facts;
use crate::shared::Gate;
use crate::tenant;
use crate::trust::Untrusted;

/// A static limit, or an adaptive limit's start-up (minimum) value.
pub fn initial_limit(limit: &LimitConfig) -> u32 {
    match limit {
        LimitConfig::Static { max_inflight } => *max_inflight,
        LimitConfig::Adaptive(a) => a.params.min_limit,
    }
}

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
        initial_limit(&self.config.limit)
    }

    /// The destination a request counts against: 0 for the top-level one,
    /// `i + 1` for the first route `i` whose conditions hold.
    pub fn destination_of(&self, request: &impl RequestView) -> usize {
        if self.config.routes.is_empty() {
            return 0;
        }
        let mut facts = Facts::new(request);
        self.config
            .routes
            .iter()
            .position(|r| r.when.matches(&mut facts))
            .map_or(0, |i| i + 1)
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
        self.classify_as(request, self.trusted(request))
    }

    /// True if `request`'s steering headers (priority, tenant) count: its
    /// source is trusted, or no `trust` section is configured.
    pub fn trusted(&self, request: &impl RequestView) -> bool {
        self.config.trust.as_ref().is_none_or(|t| t.trusts(request))
    }

    /// The class of `request`, whose source [`Throttle::trusted`] judged:
    /// the priority header counts only from a trusted source.
    pub fn classify_as(&self, request: &impl RequestView, trusted: bool) -> (ClassId, ClassSource) {
        let classifier = &self.config.classifier;
        if trusted {
            classifier.classify(&self.config.classes, request)
        } else {
            classifier.classify_by_rules(&self.config.classes, request)
        }
    }

    /// The tenant bucket `request` counts in under the per-tenant cap, if
    /// one is configured, the source is trusted and the request names a
    /// tenant.
    pub fn tenant_of(&self, request: &impl RequestView, trusted: bool) -> Option<usize> {
        let cap = self.config.tenant.as_ref().filter(|_| trusted)?;
        tenant::bucket(&request.header(&cap.header)?)
    }

    /// The headers a client could steer Sluice with: removed from requests
    /// of untrusted sources when `trust.untrusted` is `strip`.
    pub fn steering_headers(&self) -> impl Iterator<Item = &str> {
        let tenant = self.config.tenant.as_ref().map(|t| t.header.as_str());
        std::iter::once(self.config.classifier.header()).chain(tenant)
    }

    /// True if steering headers from untrusted sources are removed.
    pub fn strips_untrusted(&self) -> bool {
        self.config
            .trust
            .as_ref()
            .is_some_and(|t| t.untrusted == Untrusted::Strip)
    }

    /// The in-flight level below which a tenant's request is admitted under
    /// `limit` (`tenant::TenantCap::threshold`); `u32::MAX` without a cap.
    pub fn tenant_threshold(&self, limit: u32) -> u32 {
        self.config
            .tenant
            .as_ref()
            .map_or(u32::MAX, |t| t.threshold(limit))
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

    /// The gate a request of `class` must pass under `limit`, with the SLO
    /// tuner's values applied when given: the total in flight below the
    /// class's threshold (its `max_share` cap under strict admission, its
    /// `share` under shares); and under strict admission, the in flight of
    /// the class and those below it under `limit − reserved`, the
    /// `reserved` slots being what the classes above may need
    /// (`limit::reservation`). The classes after it count in full; the
    /// caller narrows `below_room` to their own gate's
    /// [`Gate::room`].
    pub fn admission_gate(
        &self,
        limit: u32,
        class: ClassId,
        tuned: Option<&Tuned>,
        reserved: f64,
    ) -> Gate {
        let classes = &self.config.classes;
        let strict = self.config.admission.strict;
        let share = if strict {
            classes.max_share(class)
        } else {
            classes.share(class)
        };
        let (limit, share) = match tuned {
            Some(t) => (t.cap(limit), t.share(share, class.index() == 0)),
            None => (limit, share),
        };
        let cap = class_threshold(limit, share);
        Gate {
            class: class.index(),
            total: if strict {
                cap.min(room_below(limit, reserved))
            } else {
                cap
            },
            class_and_below: u32::MAX,
            below_room: u32::MAX,
        }
    }

    /// Why a request of `class` that found `inflight` in flight (and
    /// `class_and_below` of its class and those below it) was refused under
    /// `limit` with `reserved` slots kept above it: the SLO guard if only the
    /// tuner's values refused it.
    pub fn shed_reason(
        &self,
        limit: u32,
        class: ClassId,
        (inflight, class_and_below): (u64, u64),
        reserved: f64,
    ) -> ShedReason {
        let gate = self.admission_gate(limit, class, None, reserved);
        if inflight < u64::from(gate.total) && class_and_below < u64::from(gate.class_and_below) {
            ShedReason::SloGuard
        } else {
            ShedReason::ConcurrencyLimit
        }
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
    fn steering_headers_count_only_from_trusted_sources() {
        let t = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 10}},
                     "rules": [{"class": "sheddable", "path_prefix": "/batch"}],
                     "trust": {"source_cidrs": ["10.0.0.0/8"]},
                     "tenant": {"header": "x-tenant", "max_share": 0.5}}"#,
            )
            .expect("valid"),
        );
        let from = |address: &str| {
            OwnedRequest::new()
                .with_source_address(address)
                .with_header(":path", "/api")
                .with_header("x-sluice-priority", "critical")
                .with_header("x-tenant", "acme")
        };
        let forged = from("203.0.113.9:5000");
        let gateway = from("10.9.9.9:5000");
        let name = |r: &OwnedRequest| {
            let (class, _) = t.classify(r);
            t.config().classes.name(class).to_string()
        };
        assert_eq!(name(&forged), "default", "a forged priority is ignored");
        assert_eq!(name(&gateway), "critical");
        assert!(!t.trusted(&forged));
        assert_eq!(
            t.tenant_of(&forged, false),
            None,
            "a forged tenant is ignored"
        );
        assert_eq!(t.tenant_of(&gateway, true), crate::tenant::bucket(b"acme"));
        // Rules are the operator's, so they hold whatever the source.
        let batch = OwnedRequest::new()
            .with_source_address("203.0.113.9:5000")
            .with_header(":path", "/batch/1");
        assert_eq!(name(&batch), "sheddable");
        assert_eq!(
            t.steering_headers().collect::<Vec<_>>(),
            ["x-sluice-priority", "x-tenant"]
        );
        assert!(t.strips_untrusted());
        assert_eq!(t.tenant_threshold(10), 5);
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

    #[test]
    fn routes_pick_their_own_destination_in_order() {
        let t = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 100}},
                     "routes": [{"destination": "checkout", "path_prefix": "/checkout",
                                 "limit": {"static": {"max_inflight": 10}}},
                                {"destination": "search", "headers": [{"name": ":authority", "exact": "search.shop"}],
                                 "limit": {"adaptive": {}}}]}"#,
            )
            .expect("valid"),
        );
        let at = |path: &str, host: &str| {
            t.destination_of(
                &OwnedRequest::new()
                    .with_header(":path", path)
                    .with_header(":authority", host),
            )
        };
        assert_eq!(at("/checkout/pay", "search.shop"), 1);
        assert_eq!(at("/q", "search.shop"), 2);
        assert_eq!(at("/q", "shop"), 0);
        let names: Vec<&str> = t.config().destinations().map(|(n, _)| n).collect();
        assert_eq!(names, ["default", "checkout", "search"]);
        for bad in [
            r#"[{"destination": "default", "limit": {"static": {"max_inflight": 1}}}]"#,
            r#"[{"destination": "a", "limit": {"static": {"max_inflight": 1}}},
                {"destination": "a", "limit": {"static": {"max_inflight": 1}}}]"#,
        ] {
            let json =
                format!(r#"{{"limit": {{"static": {{"max_inflight": 1}}}}, "routes": {bad}}}"#);
            let e = ThrottleConfig::from_json(json.as_bytes()).unwrap_err();
            assert!(e.path.ends_with("].destination"), "{e}");
        }
        let missing =
            r#"{"limit": {"static": {"max_inflight": 1}}, "routes": [{"destination": "a"}]}"#;
        assert_eq!(
            ThrottleConfig::from_json(missing.as_bytes())
                .unwrap_err()
                .path,
            "routes[0]"
        );
    }

    #[test]
    fn tuned_thresholds_cap_the_limit_and_scale_all_but_the_first_class() {
        let t = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 100}}, "admission": {"priority": "shares"}}"#,
            )
            .expect("valid"),
        );
        let tuned = Tuned {
            max_limit: 50.0,
            share_scale: 0.5,
            aggression: None,
        };
        let ids: Vec<ClassId> = t.config().classes.ids().collect();
        let tuned: Vec<u32> = ids
            .iter()
            .map(|c| t.admission_gate(100, *c, Some(&tuned), 0.0).total)
            .collect();
        assert_eq!(tuned, vec![50, 20, 12]);
        // Sheddable (configured threshold 50) found 30 in flight: only the
        // tuner's threshold refused it; at 60 the configured one did too.
        assert_eq!(
            t.shed_reason(100, ids[2], (30, 30), 0.0),
            ShedReason::SloGuard
        );
        assert_eq!(
            t.shed_reason(100, ids[2], (60, 60), 0.0),
            ShedReason::ConcurrencyLimit
        );
    }

    #[test]
    fn strict_gates_cap_the_total_by_max_share_and_by_the_headroom_above() {
        let t = Throttle::new(
            ThrottleConfig::from_json(
                br#"{"limit": {"static": {"max_inflight": 100}}, "classes": [
                    {"name": "critical", "share": 1}, {"name": "default", "share": 0.8},
                    {"name": "sheddable", "share": 0.5, "max_share": 0.6}]}"#,
            )
            .expect("valid"),
        );
        let ids: Vec<ClassId> = t.config().classes.ids().collect();
        // Shares do not apply under strict admission; the operator's cap on
        // sheddable does; the headroom for the classes above leaves a lower
        // class the limit less it (an infinite one: nothing).
        let at = |c: usize, reserved: f64| t.admission_gate(100, ids[c], None, reserved).total;
        assert_eq!(at(0, 0.0), 100);
        assert_eq!(at(1, 30.5), 69);
        assert_eq!(at(2, 30.5), 60);
        assert_eq!(at(2, 120.0), 0);
        assert_eq!(at(1, f64::INFINITY), 0);
        assert_eq!(
            t.shed_reason(100, ids[1], (69, 69), 30.5),
            ShedReason::ConcurrencyLimit
        );
        // The tuner's share scale shrinks the caps of all but the top class.
        let tuned = Tuned {
            max_limit: 100.0,
            share_scale: 0.5,
            aggression: None,
        };
        assert_eq!(t.admission_gate(100, ids[1], Some(&tuned), 0.0).total, 50);
        assert_eq!(t.admission_gate(100, ids[0], Some(&tuned), 0.0).total, 100);
    }
}
