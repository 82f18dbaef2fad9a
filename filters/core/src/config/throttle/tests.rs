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
