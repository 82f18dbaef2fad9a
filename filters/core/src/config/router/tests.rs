use super::*;
use crate::route::RouteReason;

fn err(json: &str) -> ConfigError {
    match RouterConfig::from_json(json.as_bytes()) {
        Ok(c) => panic!("expected an error for {json}, got {c:?}"),
        Err(e) => e,
    }
}

const CLUSTERS: &str =
    r#""clusters": {"a": {}, "b": {"throttle_destination": "b_app", "limit": 50}, "c": {}}"#;

#[test]
fn a_minimal_config_takes_the_defaults() {
    let cfg = RouterConfig::from_json(
        format!(r#"{{{CLUSTERS}, "default": {{"balance": [{{"cluster": "a"}}, {{"cluster": "c", "weight": 2}}]}}}}"#)
            .as_bytes(),
    )
    .expect("valid");
    assert_eq!(cfg.clusters.len(), 3);
    assert_eq!(
        cfg.clusters[1].throttle_destination.as_deref(),
        Some("b_app")
    );
    assert_eq!(cfg.destination_header, "x-sluice-cluster");
    assert_eq!(cfg.decision_header, None);
    assert_eq!(cfg.router.write_methods, ["POST", "PUT", "PATCH", "DELETE"]);
    assert_eq!(cfg.router.session_cookie, "sluice-rw");
    assert_eq!(cfg.outlier.dwell, Duration::from_secs(5));
    assert_eq!(cfg.mode, Mode::Enforce);
    let Action::Balance { candidates, sticky } = &cfg.router.default else {
        panic!("balance expected")
    };
    assert_eq!((candidates[1].cluster, candidates[1].weight), (2, 2.0));
    assert_eq!(*sticky, None);
}

#[test]
fn rules_with_every_kind_of_condition_and_action_are_read() {
    let cfg = RouterConfig::from_json(
        format!(
            r#"{{{CLUSTERS},
            "rules": [
              {{"name": "gold", "headers": [{{"name": "x-tenant", "exact": "gold"}}], "to": "a",
                "spillover": {{"to": "b", "max_fraction": 0.3}}}},
              {{"name": "api", "path_regex": "^/api/v[0-9]+/", "query": [{{"name": "debug"}}],
                "cookies": [{{"name": "beta", "exact": "1"}}], "hosts": ["*.example.com"],
                "principals": ["spiffe://x/*"], "route_names": ["r1"], "methods": ["GET"],
                "balance": [{{"cluster": "b"}}, {{"cluster": "c"}}], "sticky": {{"header": "x-user"}}}},
              {{"name": "orders", "path_prefix": "/orders", "primary": "a",
                "replicas": [{{"cluster": "b"}}, {{"cluster": "c"}}], "consistency": "eventual"}}
            ],
            "default": {{"to": "c"}}, "decision_header": "x-sluice-route", "mode": "shadow"}}"#
        )
        .as_bytes(),
    )
    .expect("valid");
    assert_eq!(cfg.router.rules.len(), 3);
    assert!(matches!(
        cfg.router.rules[0].action,
        Action::To {
            cluster: 0,
            spillover: Some(Spillover { to: 1, .. })
        }
    ));
    assert!(cfg.router.rules[1].when.path_regex.is_some());
    assert!(matches!(
        cfg.router.rules[2].action,
        Action::Primary {
            primary: 0,
            consistency: Consistency::Eventual,
            ..
        }
    ));
    assert_eq!(cfg.mode, Mode::Shadow);
    assert_eq!(RouteReason::ALL.len(), 8);
}

#[test]
fn mistakes_are_refused_with_their_place() {
    let cases = [
        (r#""default": {"to": "zz"}"#, "default.to"),
        (
            r#""default": {"to": "a", "balance": [{"cluster": "b"}]}"#,
            "default",
        ),
        (r#""default": {}"#, "default"),
        (r#""default": {"balance": []}"#, "default.balance"),
        (
            r#""default": {"balance": [{"cluster": "a"}, {"cluster": "a"}]}"#,
            "default.balance[1].cluster",
        ),
        (
            r#""default": {"balance": [{"cluster": "a", "weight": 0}]}"#,
            "default.balance[0].weight",
        ),
        (r#""default": {"primary": "a"}"#, "default"),
        (
            r#""default": {"primary": "a", "replicas": [{"cluster": "b"}], "consistency": "linear"}"#,
            "default.consistency",
        ),
        (
            r#""default": {"to": "a"}, "rules": [{"name": "r", "path_regex": "(", "to": "a"}]"#,
            "rules[0].path_regex",
        ),
        (
            r#""default": {"to": "a"}, "rules": [{"name": "r", "to": "a"}, {"name": "r", "to": "b"}]"#,
            "rules[1].name",
        ),
        (
            r#""default": {"to": "a"}, "rules": [{"name": "r", "hosts": ["*example.com"], "to": "a"}]"#,
            "rules[0].hosts[0]",
        ),
        (
            r#""default": {"to": "a"}, "rules": [{"name": "r", "to": "a", "spillover": {"to": "q"}}]"#,
            "rules[0].spillover.to",
        ),
        (
            r#""default": {"balance": [{"cluster": "a"}], "sticky": {}}"#,
            "default.sticky",
        ),
        (
            r#""default": {"to": "a"}, "session": {"cookie": "a b"}"#,
            "session.cookie",
        ),
        (
            r#""default": {"to": "a"}, "outlier": {"probe_fraction": 0.9}"#,
            "outlier.probe_fraction",
        ),
        (r#""default": {"to": "a"}, "tick": 5"#, "tick"),
    ];
    for (rest, path) in cases {
        let e = err(&format!("{{{CLUSTERS}, {rest}}}"));
        assert_eq!(e.path, path, "{rest}: {e}");
    }
    assert_eq!(
        err(r#"{"clusters": {}, "default": {"to": "a"}}"#).path,
        "clusters"
    );
    assert_eq!(
        err(r#"{"clusters": {"a b": {}}, "default": {"to": "a b"}}"#).path,
        "clusters.a b"
    );
    assert!(err(r#"{"default": {"to": "a"}}"#)
        .problem
        .contains("missing field `clusters`"));
}

#[test]
fn istio_cluster_names_are_accepted_and_get_one_stats_segment() {
    let cfg = RouterConfig::from_json(
        br#"{"clusters": {"outbound|8080||catalog.shop.svc.cluster.local": {}},
             "default": {"to": "outbound|8080||catalog.shop.svc.cluster.local"}}"#,
    )
    .expect("valid");
    assert_eq!(
        cfg.clusters[0].stat_name(),
        "outbound_8080__catalog_shop_svc_cluster_local"
    );
    let e = err(r#"{"clusters": {"a.b": {}, "a_b": {}}, "default": {"to": "a.b"}}"#);
    assert!(e.problem.contains("same stats name 'a_b'"), "{e}");
}
