use super::*;
use crate::config::RouterConfig;
use crate::random::SplitMix64;
use crate::request::OwnedRequest;

fn router(json: &str) -> Router {
    RouterConfig::from_json(json.as_bytes())
        .expect("valid")
        .router
}

const T0: Timestamp = Timestamp::from_nanos(1_000_000_000_000);

fn decide(r: &Router, req: &OwnedRequest, views: &[ClusterView]) -> Decision {
    r.decide(req, views, T0, &mut SplitMix64::new(1))
}

#[test]
fn rules_pick_fixed_destinations_in_order_and_the_default_balances() {
    let r = router(
        r#"{"clusters": {"a": {}, "b": {}, "c": {}},
            "rules": [{"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "a"},
                      {"name": "writes", "methods": ["POST"], "to": "b"}],
            "default": {"balance": [{"cluster": "b"}, {"cluster": "c"}]}}"#,
    );
    let views = [ClusterView::default(); 3];
    let gold = OwnedRequest::new()
        .with_header(":method", "POST")
        .with_header("x-tenant", "gold");
    let d = decide(&r, &gold, &views);
    assert_eq!(
        (d.cluster, d.reason, d.rule),
        (0, RouteReason::Rule, Some(0))
    );
    assert_eq!(r.reason_text(&d), "rule:gold");
    let post = OwnedRequest::new().with_header(":method", "POST");
    assert_eq!(decide(&r, &post, &views).cluster, 1);
    let get = OwnedRequest::new().with_header(":method", "GET");
    let d = decide(&r, &get, &views);
    assert!(d.cluster == 1 || d.cluster == 2);
    assert_eq!((d.reason, d.rule), (RouteReason::P2c, None));
}

#[test]
fn spillover_sends_a_bounded_fraction_only_while_near_the_limit() {
    let r = router(
        r#"{"clusters": {"a": {}, "b": {}},
            "default": {"to": "a", "spillover": {"to": "b", "max_fraction": 0.3}}}"#,
    );
    let req = OwnedRequest::new();
    let mut views = [ClusterView::default(); 2];
    let mut rnd = SplitMix64::new(2);
    let spilled = |views: &[ClusterView], rnd: &mut SplitMix64| {
        (0..10_000)
            .filter(|_| r.decide(&req, views, T0, rnd).reason == RouteReason::Spillover)
            .count()
    };
    assert_eq!(spilled(&views, &mut rnd), 0);
    views[0].near_limit = true;
    let n = spilled(&views, &mut rnd);
    assert!((2_700..3_300).contains(&n), "{n}");
}

#[test]
fn writes_go_to_the_primary_and_pin_the_session_for_reads() {
    let r = router(
        r#"{"clusters": {"p": {}, "r1": {}, "r2": {}},
            "default": {"primary": "p", "replicas": [{"cluster": "r1"}, {"cluster": "r2"}],
                        "consistency": "session"},
            "session": {"window_ms": 5000}}"#,
    );
    let views = [ClusterView::default(); 3];
    let write = OwnedRequest::new().with_header(":method", "PUT");
    let d = decide(&r, &write, &views);
    assert_eq!(
        (d.cluster, d.reason, d.pin_session),
        (0, RouteReason::Primary, true)
    );
    let cookie = r.pin_cookie(T0);
    let pair = cookie.split(';').next().expect("pair").to_string();
    let pinned_read = OwnedRequest::new()
        .with_header(":method", "GET")
        .with_header("cookie", pair.as_str());
    let d = decide(&r, &pinned_read, &views);
    assert_eq!((d.cluster, d.reason), (0, RouteReason::SessionPin));
    let later = T0.saturating_add(Duration::from_secs(6));
    let d = r.decide(&pinned_read, &views, later, &mut SplitMix64::new(3));
    assert_ne!(d.cluster, 0, "the pin expired: {d:?}");
    let other = OwnedRequest::new().with_header(":method", "GET");
    assert_ne!(decide(&r, &other, &views).cluster, 0);
}

#[test]
fn strong_routes_always_use_the_primary_and_eventual_reads_never_pin() {
    let strong = router(
        r#"{"clusters": {"p": {}, "r": {}},
            "default": {"primary": "p", "replicas": [{"cluster": "r"}], "consistency": "strong"}}"#,
    );
    let views = [ClusterView::default(); 2];
    let read = OwnedRequest::new().with_header(":method", "GET");
    assert_eq!(decide(&strong, &read, &views).reason, RouteReason::Primary);
    let eventual = router(
        r#"{"clusters": {"p": {}, "r": {}},
            "default": {"primary": "p", "replicas": [{"cluster": "r"}], "consistency": "eventual"}}"#,
    );
    let write = OwnedRequest::new().with_header(":method", "POST");
    let d = decide(&eventual, &write, &views);
    assert_eq!((d.cluster, d.pin_session), (0, false));
    assert_eq!(decide(&eventual, &read, &views).cluster, 1);
}

#[test]
fn sticky_keys_stay_on_one_candidate_and_requests_without_a_key_balance() {
    let r = router(
        r#"{"clusters": {"a": {}, "b": {}, "c": {}},
            "default": {"balance": [{"cluster": "a"}, {"cluster": "b"}, {"cluster": "c"}],
                        "sticky": {"cookie": "session"}}}"#,
    );
    let views = [ClusterView::default(); 3];
    let req = OwnedRequest::new().with_header("cookie", "session=u-42");
    let first = decide(&r, &req, &views);
    assert_eq!(first.reason, RouteReason::Sticky);
    for seed in 0..20 {
        let d = r.decide(&req, &views, T0, &mut SplitMix64::new(seed));
        assert_eq!(d.cluster, first.cluster);
    }
    assert_eq!(
        decide(&r, &OwnedRequest::new(), &views).reason,
        RouteReason::P2c
    );
}
