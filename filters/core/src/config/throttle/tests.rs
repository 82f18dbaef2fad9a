use super::*;

fn err(json: &str) -> ConfigError {
    match ThrottleConfig::from_json(json.as_bytes()) {
        Ok(c) => panic!("expected an error for {json}, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_config_takes_the_documented_defaults() {
    let c = ThrottleConfig::from_json(br#"{"limit": {"static": {"max_inflight": 10}}}"#)
        .expect("valid");
    assert_eq!(c.limit, LimitConfig::Static { max_inflight: 10 });
    assert_eq!(c.classes, PriorityClasses::standard());
    assert_eq!(c.classifier.header(), "x-sluice-priority");
    assert_eq!(c.shed_response.status, 503);
    assert_eq!(c.shed_response.retry_after_seconds, 1);
    assert_eq!(c.shed_response.reason_header, "x-sluice-shed-reason");
    assert_eq!(c.destination, "default");
    assert_eq!(c.tick, Duration::from_millis(500));
}

#[test]
fn custom_classes_and_response() {
    let c = ThrottleConfig::from_json(
        br#"{"classes": [{"name": "gold", "share": 1.0}, {"name": "bronze", "share": 0.25}],
             "default_class": "bronze", "priority_header": "x-tier",
             "limit": {"static": {"max_inflight": 4}},
             "shed_response": {"status": 429, "retry_after_seconds": 0}}"#,
    )
    .expect("valid");
    assert_eq!(c.classes.len(), 2);
    assert_eq!(c.classes.name(c.classes.default_class()), "bronze");
    assert_eq!(c.shed_response.status, 429);
}

#[test]
fn unknown_field_names_the_field_and_its_place() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}}, "shed_response": {"statu": 503}}"#);
    assert_eq!(e.path, "shed_response.statu");
    assert!(e.problem.contains("unknown field `statu`"), "{e}");
}

#[test]
fn wrong_type_names_the_field() {
    let e = err(r#"{"limit": {"static": {"max_inflight": "ten"}}}"#);
    assert_eq!(e.path, "limit.static.max_inflight");
    assert!(e.problem.contains("invalid type"), "{e}");
}

#[test]
fn share_outside_unit_interval_is_refused() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
            "classes": [{"name": "a", "share": 1.0}, {"name": "b", "share": 1.5}],
            "default_class": "a"}"#);
    assert_eq!(e.path, "classes[1].share");
    assert!(e.problem.contains("outside [0, 1]"), "{e}");
}

#[test]
fn increasing_share_is_refused() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
            "classes": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.6}],
            "default_class": "a"}"#);
    assert_eq!(e.path, "classes[1].share");
}

#[test]
fn duplicate_and_bad_class_names_are_refused() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
            "classes": [{"name": "a", "share": 1.0}, {"name": "a", "share": 0.5}],
            "default_class": "a"}"#);
    assert_eq!(e.path, "classes[1].name");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
            "classes": [{"name": "Gold Tier", "share": 1.0}], "default_class": "Gold Tier"}"#);
    assert_eq!(e.path, "classes[0].name");
}

#[test]
fn default_class_must_be_declared() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}}, "default_class": "bulk"}"#);
    assert_eq!(e.path, "default_class");
    assert!(e.problem.contains("critical, default, sheddable"), "{e}");
}

#[test]
fn missing_limit_and_empty_document_are_refused() {
    let e = err("{}");
    assert!(e.problem.contains("missing field `limit`"), "{e}");
    let e = err("  ");
    assert_eq!(e.path, ".");
    assert!(e.problem.contains("empty"), "{e}");
}

#[test]
fn zero_limit_status_and_header_are_checked() {
    assert_eq!(
        err(r#"{"limit": {"static": {"max_inflight": 0}}}"#).path,
        "limit.static.max_inflight"
    );
    assert_eq!(
        err(r#"{"limit": {"static": {"max_inflight": 1}}, "shed_response": {"status": 200}}"#).path,
        "shed_response.status"
    );
    assert_eq!(
        err(r#"{"limit": {"static": {"max_inflight": 1}}, "priority_header": "X Prio"}"#).path,
        "priority_header"
    );
    assert_eq!(
        err(r#"{"limit": {"statik": {"max_inflight": 1}}}"#).path,
        "limit"
    );
}

#[test]
fn trailing_garbage_and_non_json_are_refused() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 1}}} xyz"#);
    assert!(e.problem.contains("trailing"), "{e}");
    let e = err("\u{0}\u{1}not json");
    assert!(!e.problem.is_empty());
}

#[test]
fn an_adaptive_limit_takes_defaults_and_refuses_bad_bounds() {
    let cfg = ThrottleConfig::from_json(br#"{"limit": {"adaptive": {}}, "tick_ms": 100}"#)
        .expect("defaults are valid");
    let LimitConfig::Adaptive(a) = &cfg.limit else {
        panic!("adaptive expected")
    };
    assert_eq!(
        (
            a.params.min_limit,
            a.params.max_limit,
            a.params.initial_limit
        ),
        (4, 1000, 50)
    );
    let err =
        ThrottleConfig::from_json(br#"{"limit": {"adaptive": {"min_limit": 10, "max_limit": 5}}}"#)
            .unwrap_err();
    assert_eq!(err.path, "limit.adaptive.max_limit");
    let err =
        ThrottleConfig::from_json(br#"{"limit": {"adaptive": {"smoothing": 0}}}"#).unwrap_err();
    assert_eq!(err.path, "limit.adaptive.smoothing");
    let err = ThrottleConfig::from_json(
        br#"{"limit": {"adaptive": {"window_ms": 200}}, "tick_ms": 500}"#,
    )
    .unwrap_err();
    assert_eq!(err.path, "limit.adaptive.window_ms");
    assert!(err.problem.contains("tick_ms"), "{}", err.problem);
    let err =
        ThrottleConfig::from_json(br#"{"limit": {"adaptive": {"buffer": "x"}}}"#).unwrap_err();
    assert_eq!(err.path, "limit.adaptive.buffer");
}

#[test]
fn shadow_mode_and_enforce_percent_are_read_and_checked() {
    let cfg = ThrottleConfig::from_json(
        br#"{"limit": {"static": {"max_inflight": 5}}, "mode": "shadow", "enforce_percent": 25}"#,
    )
    .expect("valid");
    assert_eq!(cfg.mode, Mode::Shadow);
    assert_eq!(cfg.enforce_percent, 25.0);
    assert_eq!(cfg.shadow_header, "x-sluice-shadow");
    let e = err(r#"{"limit": {"static": {"max_inflight": 5}}, "mode": "dry_run"}"#);
    assert_eq!(e.path, "mode");
    let e = err(r#"{"limit": {"static": {"max_inflight": 5}}, "enforce_percent": 101}"#);
    assert_eq!(e.path, "enforce_percent");
}

#[test]
fn success_rate_throttling_is_optional_and_checked() {
    let cfg =
        ThrottleConfig::from_json(br#"{"limit": {"static": {"max_inflight": 5}}}"#).expect("valid");
    assert_eq!(cfg.success_rate, None);
    let cfg = ThrottleConfig::from_json(
        br#"{"limit": {"static": {"max_inflight": 5}}, "success_rate": {"aggression": 1.5}}"#,
    )
    .expect("valid");
    let s = cfg.success_rate.expect("configured");
    assert_eq!((s.aggression, s.max_reject), (1.5, 0.9));
    let e =
        err(r#"{"limit": {"static": {"max_inflight": 5}}, "success_rate": {"aggression": 0.5}}"#);
    assert_eq!(e.path, "success_rate.aggression");
    let e = err(r#"{"limit": {"static": {"max_inflight": 5}}, "success_rate": {"max_reject": 1}}"#);
    assert_eq!(e.path, "success_rate.max_reject");
}

#[test]
fn shed_response_takes_a_grpc_status_in_range() {
    let cfg = ThrottleConfig::from_json(
        br#"{"limit": {"static": {"max_inflight": 5}}, "shed_response": {"status": 429, "grpc_status": 8}}"#,
    )
    .expect("valid");
    assert_eq!(
        (cfg.shed_response.status, cfg.shed_response.grpc_status),
        (429, Some(8))
    );
    let e =
        err(r#"{"limit": {"static": {"max_inflight": 5}}, "shed_response": {"grpc_status": 0}}"#);
    assert_eq!(e.path, "shed_response.grpc_status");
    assert_eq!(
        ThrottleConfig::from_json(br#"{"limit": {"static": {"max_inflight": 5}}}"#)
            .expect("valid")
            .shed_response
            .grpc_status,
        None
    );
}

#[test]
fn a_section_of_the_wrong_type_or_a_limit_without_its_key_is_refused() {
    let e = err(r#"{"limit": {"static": {"max_inflight": 5}}, "shed_response": 503}"#);
    assert_eq!(e.path, "shed_response");
    assert!(e.problem.contains("expected an object"), "{e}");
    let e = err(r#"{"limit": {"static": {}}}"#);
    assert_eq!(e.path, "limit.static");
    assert!(e.problem.contains("missing field `max_inflight`"), "{e}");
    let e = err(r#"[1, 2]"#);
    assert_eq!(e.path, ".");
}

#[test]
fn the_slo_tuner_is_read_with_defaults_and_its_dependencies_are_checked() {
    let cfg = ThrottleConfig::from_json(
        br#"{"limit": {"adaptive": {}}, "slo": {"latency_ms": 200,
             "tune": {"max_limit": {"min": 20, "max": 500, "step": 20}}}}"#,
    )
    .expect("valid");
    let t = cfg.slo.expect("tuner");
    assert_eq!(t.latency_target, Some(Duration::from_millis(200)));
    assert_eq!(
        (t.interval, t.cooldown),
        (Duration::from_secs(2), Duration::from_secs(10))
    );
    assert_eq!(
        t.max_limit.map(|k| (k.min, k.max, k.step)),
        Some((20.0, 500.0, 20.0))
    );
    assert_eq!((t.share_scale, t.aggression), (None, None));

    let static_limit = r#"{"limit": {"static": {"max_inflight": 5}}, "slo": {"latency_ms": 200, "tune": {"share_scale": {"min": 0.5, "max": 1, "step": 0.1}}}}"#;
    assert_eq!(err(static_limit).path, "slo.latency_ms");
    let no_target = r#"{"limit": {"adaptive": {}}, "slo": {"tune": {"share_scale": {"min": 0.5, "max": 1, "step": 0.1}}}}"#;
    assert_eq!(err(no_target).path, "slo");
    let no_knob = r#"{"limit": {"adaptive": {}}, "slo": {"latency_ms": 9, "tune": {}}}"#;
    assert_eq!(err(no_knob).path, "slo.tune");
    let aggression = r#"{"limit": {"adaptive": {}}, "slo": {"error_rate": 0.01, "tune": {"aggression": {"min": 1.5, "max": 2, "step": 0.1}}}}"#;
    assert_eq!(err(aggression).path, "slo.tune.aggression");
    let inverted = r#"{"limit": {"adaptive": {}}, "slo": {"latency_ms": 9, "tune": {"max_limit": {"min": 50, "max": 10, "step": 5}}}}"#;
    assert_eq!(err(inverted).path, "slo.tune.max_limit.max");
    let zero_step = r#"{"limit": {"adaptive": {}}, "slo": {"latency_ms": 9, "tune": {"share_scale": {"min": 0.1, "max": 1, "step": 0}}}}"#;
    assert_eq!(err(zero_step).path, "slo.tune.share_scale.step");
    let scale = r#"{"limit": {"adaptive": {}}, "slo": {"latency_ms": 9, "tune": {"share_scale": {"min": 0.1, "max": 1.5, "step": 0.1}}}}"#;
    assert_eq!(err(scale).path, "slo.tune.share_scale.max");
    let fast = r#"{"limit": {"adaptive": {}}, "tick_ms": 500, "slo": {"latency_ms": 9, "interval_ms": 200, "tune": {"share_scale": {"min": 0.1, "max": 1, "step": 0.1}}}}"#;
    assert_eq!(err(fast).path, "slo.interval_ms");
}

#[test]
fn trust_and_tenant_sections_are_read_and_checked() {
    let c = ThrottleConfig::from_json(
        br#"{"limit": {"static": {"max_inflight": 10}},
             "trust": {"principals": ["spiffe://cluster.local/ns/edge/*"],
                       "source_cidrs": ["10.0.0.0/8"], "untrusted": "ignore"},
             "tenant": {"header": "x-tenant", "max_share": 0.25}}"#,
    )
    .expect("valid");
    let trust = c.trust.expect("trust");
    assert_eq!(trust.untrusted, crate::trust::Untrusted::Ignore);
    assert_eq!(trust.sources.len(), 1);
    assert_eq!(c.tenant.expect("tenant").max_share, 0.25);

    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "trust": {"source_cidrs": ["10.0.0.0/33"]}}"#);
    assert_eq!(e.path, "trust.source_cidrs[0]");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "trust": {"principals": ["*"]}}"#);
    assert_eq!(e.path, "trust.principals[0]");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "trust": {"untrusted": "drop"}}"#);
    assert_eq!(e.path, "trust.untrusted");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "tenant": {"header": "x-tenant", "max_share": 0}}"#);
    assert_eq!(e.path, "tenant.max_share");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "tenant": {"header": "x-sluice-priority", "max_share": 0.5}}"#);
    assert_eq!(e.path, "tenant.header");
    let e = err(r#"{"limit": {"static": {"max_inflight": 10}},
                    "tenant": {"max_share": 0.5}}"#);
    assert!(e.path.starts_with("tenant"), "{e:?}");
}
