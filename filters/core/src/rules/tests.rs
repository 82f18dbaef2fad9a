use super::*;
use crate::config::ThrottleConfig;
use crate::priority::ClassSource;
use crate::request::OwnedRequest;

fn config(rules: &str) -> ThrottleConfig {
    ThrottleConfig::from_json(
        format!(r#"{{"limit": {{"static": {{"max_inflight": 10}}}}, "rules": {rules}}}"#)
            .as_bytes(),
    )
    .expect("valid")
}

fn class_of(cfg: &ThrottleConfig, request: &OwnedRequest) -> (String, ClassSource) {
    let (id, source) = cfg.classifier.classify(&cfg.classes, request);
    (cfg.classes.name(id).to_string(), source)
}

fn get(path: &str) -> OwnedRequest {
    OwnedRequest::new()
        .with_header(":method", "GET")
        .with_header(":path", path)
}

#[test]
fn first_matching_rule_wins_over_the_priority_header() {
    let cfg = config(
        r#"[{"class": "critical", "path_prefix": "/checkout", "methods": ["POST"]},
            {"class": "sheddable", "path_prefix": "/checkout"}]"#,
    );
    let post = OwnedRequest::new()
        .with_header(":method", "POST")
        .with_header(":path", "/checkout/pay?x=1")
        .with_header("x-sluice-priority", "sheddable");
    assert_eq!(
        class_of(&cfg, &post),
        ("critical".into(), ClassSource::Rule)
    );
    assert_eq!(
        class_of(&cfg, &get("/checkout")),
        ("sheddable".into(), ClassSource::Rule)
    );
    // No rule: the header decides, then the default.
    let other = get("/home").with_header("x-sluice-priority", "critical");
    assert_eq!(
        class_of(&cfg, &other),
        ("critical".into(), ClassSource::Header)
    );
    assert_eq!(
        class_of(&cfg, &get("/home")),
        ("default".into(), ClassSource::Default)
    );
}

#[test]
fn exact_paths_ignore_the_query_and_headers_match_by_presence_value_or_prefix() {
    let cfg = config(
        r#"[{"class": "critical", "path_exact": "/health"},
            {"class": "critical", "headers": [{"name": ":authority", "exact": "pay.internal"}]},
            {"class": "sheddable", "headers": [{"name": "user-agent", "prefix": "batch-"},
                                               {"name": "x-job"}]}]"#,
    );
    assert_eq!(class_of(&cfg, &get("/health?full=1")).0, "critical");
    assert_eq!(class_of(&cfg, &get("/healthz")).0, "default");
    assert_eq!(
        class_of(&cfg, &get("/").with_header(":authority", "pay.internal")).0,
        "critical"
    );
    let batch = get("/").with_header("user-agent", "batch-7");
    assert_eq!(class_of(&cfg, &batch).0, "default", "x-job is missing");
    assert_eq!(
        class_of(&cfg, &batch.with_header("x-job", "")).0,
        "sheddable"
    );
}

#[test]
fn source_cidrs_match_v4_v6_and_mapped_addresses() {
    let cfg = config(r#"[{"class": "critical", "source_cidrs": ["10.0.0.0/8", "fd00::/8"]}]"#);
    let from = |addr: &str| class_of(&cfg, &get("/").with_source_address(addr)).0;
    assert_eq!(from("10.1.2.3:4567"), "critical");
    assert_eq!(from("11.1.2.3:4567"), "default");
    assert_eq!(from("[fd12::1]:80"), "critical");
    assert_eq!(from("[::ffff:10.9.9.9]:80"), "critical");
    assert_eq!(from("/var/run/pipe"), "default");
    assert_eq!(class_of(&cfg, &get("/")).0, "default", "no source address");
}

#[test]
fn cidr_parsing_and_edges() {
    let any = Cidr::parse("0.0.0.0/0").expect("valid");
    assert!(any.contains("255.1.2.3".parse().expect("ip")));
    let one = Cidr::parse("192.168.1.7").expect("valid");
    assert!(one.contains("192.168.1.7".parse().expect("ip")));
    assert!(!one.contains("192.168.1.8".parse().expect("ip")));
    assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("[0, 32]"));
    assert!(Cidr::parse("ten/8")
        .unwrap_err()
        .contains("not an IPv4 or IPv6"));
    let v6 = Cidr::parse("2001:db8::/32").expect("valid");
    assert!(v6.contains("2001:db8:ffff::1".parse().expect("ip")));
    assert!(!v6.contains("10.0.0.1".parse().expect("ip")));
}

#[test]
fn bad_rules_are_refused_with_their_place() {
    let err = |rules: &str| {
        ThrottleConfig::from_json(
            format!(r#"{{"limit": {{"static": {{"max_inflight": 10}}}}, "rules": {rules}}}"#)
                .as_bytes(),
        )
        .unwrap_err()
    };
    let e = err(r#"[{"class": "gold"}]"#);
    assert_eq!(e.path, "rules[0].class");
    let e = err(r#"[{"class": "critical"}, {"class": "critical", "methods": ["get"]}]"#);
    assert_eq!(e.path, "rules[1].methods[0]");
    let e = err(r#"[{"class": "critical", "path_prefix": "api"}]"#);
    assert_eq!(e.path, "rules[0].path_prefix");
    let e = err(r#"[{"class": "critical", "path_prefix": "/a", "path_exact": "/b"}]"#);
    assert_eq!(e.path, "rules[0]");
    let e = err(r#"[{"class": "critical", "source_cidrs": ["10.0.0.0/99"]}]"#);
    assert_eq!(e.path, "rules[0].source_cidrs[0]");
    let e = err(r#"[{"class": "critical", "headers": [{"name": "X Y"}]}]"#);
    assert_eq!(e.path, "rules[0].headers[0].name");
    let e =
        err(r#"[{"class": "critical", "headers": [{"name": "a", "exact": "1", "prefix": "2"}]}]"#);
    assert_eq!(e.path, "rules[0].headers[0]");
    let e = err(r#"[{"class": "critical", "pathprefix": "/a"}]"#);
    assert_eq!(e.path, "rules[0].pathprefix");
    let many = format!("[{}]", vec![r#"{"class": "critical"}"#; 65].join(","));
    assert!(err(&many).problem.contains("at most 64"));
}

#[test]
fn non_utf8_header_values_never_panic() {
    let cfg = config(r#"[{"class": "critical", "headers": [{"name": "x-k", "prefix": "a"}]}]"#);
    let req = get("/").with_header("x-k", vec![b'a', 0xff, 0xfe]);
    assert_eq!(class_of(&cfg, &req).0, "critical");
    let req = get("/").with_header("x-k", vec![0xff]);
    assert_eq!(class_of(&cfg, &req).0, "default");
}
