//! Hostile request headers in real Envoy (two workers) with both filters
//! in one chain (`router-mesh.yaml`: router, then throttle): values near
//! and past Envoy's size limits, header counts near and past its count
//! limit, bytes that are not UTF-8 in the priority header and in headers
//! the router's rules read, empty values and duplicated headers.
//!
//! Requests go as raw HTTP/1.1 bytes over a plain TCP socket, since an
//! HTTP client library refuses to send most of them. For each kind the test
//! checks what the filters made of it (class, cluster) and, at the end,
//! that no VM failed and that ordinary traffic is still classified,
//! throttled and routed.

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::HttpClient;
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::stats::Stats;
use sluice_testkit::{Behaviour, Upstream};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const NAMES: [&str; 3] = ["app_a", "app_b", "app_c"];

/// Gold tenants go to app_c, writes to app_b, a `beta=1` cookie to app_b,
/// everything else to app_a; the decision shows in `x-sluice-route`.
const ROUTER: &str = r#"{
    "clusters": {"app_a": {}, "app_b": {}, "app_c": {}},
    "decision_header": "x-sluice-route",
    "rules": [
        {"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "app_c"},
        {"name": "beta", "cookies": [{"name": "beta", "exact": "1"}], "to": "app_b"},
        {"name": "writes", "methods": ["POST", "PUT"], "to": "app_b"}
    ],
    "default": {"to": "app_a"},
    "tick_ms": 50
}"#;

/// Limit 4 with fixed shares, whose thresholds do not depend on the traffic
/// seen before: critical below 4 in flight, default below 3, sheddable
/// below 2.
const THROTTLE: &str = r#"{"limit": {"static": {"max_inflight": 4}}, "destination": "app_a", "tick_ms": 50,
        "admission": {"priority": "shares"}}"#;

struct Mesh {
    envoy: Envoy,
    addr: SocketAddr,
    upstreams: Vec<Upstream>,
}

fn start() -> Mesh {
    let upstreams: Vec<Upstream> = NAMES
        .iter()
        .map(|n| Upstream::start(n, Behaviour::default()).expect("upstream"))
        .collect();
    let mut bootstrap = Bootstrap::load("router-mesh.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.plugin_config("sluice_router", ROUTER))
        .and_then(|b| b.plugin_config("sluice_throttle", THROTTLE))
        .expect("bootstrap");
    for (n, u) in NAMES.iter().zip(&upstreams) {
        bootstrap = bootstrap
            .cluster_endpoints(n, &[u.addr()])
            .expect("endpoints");
    }
    let envoy = Envoy::start(&bootstrap, Options::default()).expect("envoy starts");
    let addr = envoy.listener("mesh").expect("listener");
    Mesh {
        envoy,
        addr,
        upstreams,
    }
}

/// Raw header lines: names and values as bytes.
type Headers<'a> = Vec<(&'a [u8], &'a [u8])>;

/// A response read off the wire: status and headers (values as bytes).
#[derive(Debug)]
struct RawReply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Sends one GET with `headers` (names and values as raw bytes, written
/// as given) on a fresh connection and reads the response.
fn raw_get(addr: SocketAddr, headers: &[(&[u8], &[u8])]) -> RawReply {
    raw_request(addr, b"GET", headers)
}

fn raw_request(addr: SocketAddr, method: &[u8], headers: &[(&[u8], &[u8])]) -> RawReply {
    let mut req = Vec::new();
    req.extend_from_slice(method);
    req.extend_from_slice(b" / HTTP/1.1\r\nhost: test\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k);
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"content-length: 0\r\nconnection: close\r\n\r\n");
    exchange(addr, &req).unwrap_or_else(|e| panic!("raw request: {e}"))
}

fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<RawReply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Envoy may answer (431) and close before it has read a too-large
    // request: a failed write is not the test's failure, a missing answer is.
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(reply) = parse(&buf) {
            return Ok(reply);
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other("no complete response in 10 s"));
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                return parse_head(&buf)
                    .map(|(r, _)| r)
                    .ok_or_else(|| std::io::Error::other(format!("closed after {buf:?}")))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e),
        }
    }
}

/// A complete response (head and a `content-length` body) in `buf`.
fn parse(buf: &[u8]) -> Option<RawReply> {
    let (reply, body_at) = parse_head(buf)?;
    let len: usize = reply
        .header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= body_at + len).then_some(reply)
}

fn parse_head(buf: &[u8]) -> Option<(RawReply, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &buf[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next()?).into_owned();
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| {
            let i = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..i]).trim().to_ascii_lowercase();
            Some((name, l[i + 1..].trim_ascii().to_vec()))
        })
        .collect();
    Some((RawReply { status, headers }, end + 4))
}

/// Envoy's default request-header limits (`max_request_headers_kb`: 60
/// KiB; `max_headers_count`: 100): values and counts just below them reach
/// the filters, values and counts past them are refused by Envoy's codec.
const NEAR_LIMIT_VALUE: usize = 59 * 1024;
const PAST_LIMIT_VALUE: usize = 70 * 1024;

fn throttle(stats: &Stats, name: &str) -> u64 {
    stats.value(&format!("wasmcustom.sluice.throttle.{name}"))
}

fn prefix_sum(stats: &Stats, prefix: &str) -> u64 {
    stats.with_prefix(prefix).map(|(_, v)| v).sum()
}

/// Requests the throttle decided on (admitted or shed, any class).
fn throttle_decisions(stats: &Stats) -> u64 {
    prefix_sum(stats, "wasmcustom.sluice.throttle.rq_admitted.")
        + prefix_sum(stats, "wasmcustom.sluice.throttle.rq_shed.")
}

/// Requests the router routed (any cluster, any reason).
fn router_decisions(stats: &Stats) -> u64 {
    prefix_sum(stats, "wasmcustom.sluice.router.rq.cluster.")
}

const ACTIVE_VMS: &str = "wasm.envoy.wasm.runtime.v8.active";

/// Envoy log lines of the wasm component at error level or worse (a trap
/// logs `Function: proxy_on_... failed: Uncaught RuntimeError ...`).
fn wasm_errors(envoy: &Envoy) -> Vec<String> {
    envoy
        .log()
        .lines()
        .filter(|l| l.contains("][wasm]") && (l.contains("[error]") || l.contains("[critical]")))
        .map(str::to_string)
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After the hostile requests: no VM failed (none trapped, none was
/// replaced or reloaded, nothing logged), and ordinary traffic is still
/// classified, throttled and routed. Two slow default requests hold 2 of
/// the 4 slots: a sheddable request is shed (threshold 2), a default one
/// (threshold 3) and a critical one pass, a gold one goes to app_c, and
/// the slots come back.
fn assert_filters_still_work(m: &Mesh, vms_at_start: u64) {
    assert_eq!(wasm_errors(&m.envoy), Vec::<String>::new(), "wasm errors");
    let stats = m.envoy.stats().expect("stats");
    assert_eq!(stats.value(ACTIVE_VMS), vms_at_start, "wasm VMs");
    let reloads: u64 = stats
        .with_prefix("wasm.sluice_")
        .filter(|(k, _)| k.ends_with(".vm_reload"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(reloads, 0, "VM reloads");

    let client = HttpClient::new();
    let url = format!("http://{}", m.addr);
    let before = m.envoy.stats().expect("stats");
    let held: Vec<_> = (0..2)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "1500")]))
        .collect();
    wait_until("2 requests held at app_a", Duration::from_secs(5), || {
        m.upstreams[0].stats().in_service == 2
    });
    let shed = client
        .get(&url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable");
    assert_eq!(shed.status, 503, "{shed:?}");
    assert_eq!(
        shed.header("x-sluice-shed-reason"),
        Some("concurrency_limit")
    );
    let default = client.get(&url, &[]).expect("default");
    assert_eq!(default.status, 200, "{default:?}");
    let critical = client
        .get(
            &url,
            &[("x-sluice-priority", "critical"), ("x-tenant", "gold")],
        )
        .expect("critical");
    assert_eq!(critical.status, 200, "{critical:?}");
    assert_eq!(critical.header("x-upstream-name"), Some("app_c"));
    for h in held {
        assert_eq!(h.wait().expect("held").status, 200);
    }
    let after = m
        .envoy
        .wait_for_stats(Duration::from_secs(3), |s| throttle(s, "inflight") == 0)
        .expect("stats");
    assert_eq!(throttle(&after, "inflight"), 0, "slots came back");
    for (class, n) in [("default", 3), ("critical", 1), ("sheddable", 0)] {
        assert_eq!(
            throttle(&after, &format!("rq_admitted.class.{class}"))
                - throttle(&before, &format!("rq_admitted.class.{class}")),
            n,
            "admitted {class}"
        );
    }
}

/// What a priority header value must come to.
struct PriorityCase {
    what: &'static str,
    values: Vec<Vec<u8>>,
    class: &'static str,
    unknown: bool,
}

/// Values that name no class (bytes that are not UTF-8, an empty value, a
/// value near Envoy's size limit) are counted as unknown and get the
/// default class; duplicated headers are read as Envoy's header map gives
/// them to a filter, the first value.
#[test]
fn priority_values_that_name_no_class_get_the_default_class() {
    let m = start();
    let vms = m.envoy.stats().expect("stats").value(ACTIVE_VMS);
    let v = |b: &[u8]| b.to_vec();
    let cases = [
        PriorityCase {
            what: "bytes that are not UTF-8",
            values: vec![v(b"\xff\xfe")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "a class name with a stray high byte",
            values: vec![v(b"critical\x80")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "Latin-1 text",
            values: vec![v(b"cr\xedtical")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "a truncated UTF-8 sequence",
            values: vec![v(b"crit\xc3\x28ical")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "every byte above 0x7f",
            values: vec![(0x80..=0xffu8).collect()],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "an empty value",
            values: vec![v(b"")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "a value of spaces",
            values: vec![v(b"    ")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "a value near Envoy's header size limit",
            values: vec![vec![b'c'; NEAR_LIMIT_VALUE]],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "a valid class name in another case, padded",
            values: vec![v(b"  SHEDDABLE ")],
            class: "sheddable",
            unknown: false,
        },
        PriorityCase {
            what: "two values: the first is read",
            values: vec![v(b"sheddable"), v(b"critical")],
            class: "sheddable",
            unknown: false,
        },
        PriorityCase {
            what: "a non-UTF-8 value before a valid one",
            values: vec![v(b"\xff"), v(b"critical")],
            class: "default",
            unknown: true,
        },
        PriorityCase {
            what: "the header 90 times",
            values: vec![v(b"critical"); 90],
            class: "critical",
            unknown: false,
        },
    ];
    for case in &cases {
        let before = m.envoy.stats().expect("stats");
        let headers: Vec<(&[u8], &[u8])> = case
            .values
            .iter()
            .map(|v| (&b"x-sluice-priority"[..], v.as_slice()))
            .collect();
        let r = raw_get(m.addr, &headers);
        assert_eq!(r.status, 200, "{}: {r:?}", case.what);
        assert_eq!(r.header("x-upstream-name").as_deref(), Some("app_a"));
        let after = m.envoy.stats().expect("stats");
        let delta = |name: &str| throttle(&after, name) - throttle(&before, name);
        assert_eq!(
            delta(&format!("rq_admitted.class.{}", case.class)),
            1,
            "{}: admitted as {}",
            case.what,
            case.class
        );
        assert_eq!(
            delta("priority_unknown"),
            u64::from(case.unknown),
            "{}: counted as unknown",
            case.what
        );
    }

    // Near Envoy's header count limit: 95 other headers and the priority
    // header (with host, content-length and connection, 99 of 100).
    let names: Vec<Vec<u8>> = (0..95).map(|i| format!("x-h{i}").into_bytes()).collect();
    let mut many: Vec<(&[u8], &[u8])> = names.iter().map(|n| (n.as_slice(), &b"v"[..])).collect();
    many.push((b"x-sluice-priority", b"critical"));
    let before = m.envoy.stats().expect("stats");
    let r = raw_get(m.addr, &many);
    assert_eq!(r.status, 200, "99 headers: {r:?}");
    let after = m.envoy.stats().expect("stats");
    assert_eq!(
        throttle(&after, "rq_admitted.class.critical")
            - throttle(&before, "rq_admitted.class.critical"),
        1,
        "99 headers: admitted as critical"
    );

    assert_filters_still_work(&m, vms);
}

/// The router's rules compare raw bytes: a tenant or cookie value with
/// bytes that are not UTF-8, an empty one or a huge one matches no rule it
/// should not (and the request takes the default), duplicated headers are
/// read as their first value, and a cookie rule still finds its cookie
/// among undecodable ones.
#[test]
fn router_rules_read_hostile_header_values_as_bytes() {
    let m = start();
    let vms = m.envoy.stats().expect("stats").value(ACTIVE_VMS);
    let big_tenant = vec![b'g'; NEAR_LIMIT_VALUE];
    let mut big_cookie = b"junk=".to_vec();
    big_cookie.extend(std::iter::repeat_n(b'\xfe', NEAR_LIMIT_VALUE));
    big_cookie.extend_from_slice(b"; beta=1");
    let cases: Vec<(&str, &[u8], Headers, &str)> = vec![
        (
            "gold + high byte",
            b"GET",
            vec![(b"x-tenant", b"gold\xff")],
            "app_a; reason=rule:default",
        ),
        (
            "high byte + gold",
            b"GET",
            vec![(b"x-tenant", b"\xffgold")],
            "app_a; reason=rule:default",
        ),
        (
            "empty tenant",
            b"GET",
            vec![(b"x-tenant", b"")],
            "app_a; reason=rule:default",
        ),
        (
            "tenant near the size limit",
            b"GET",
            vec![(b"x-tenant", &big_tenant)],
            "app_a; reason=rule:default",
        ),
        (
            "gold, then silver",
            b"GET",
            vec![(b"x-tenant", b"gold"), (b"x-tenant", b"silver")],
            "app_c; reason=rule:gold",
        ),
        (
            "silver, then gold",
            b"GET",
            vec![(b"x-tenant", b"silver"), (b"x-tenant", b"gold")],
            "app_a; reason=rule:default",
        ),
        (
            "beta among undecodable cookies",
            b"GET",
            vec![(b"cookie", b"theme=\xff\xfe; beta=1")],
            "app_b; reason=rule:beta",
        ),
        (
            "beta with an undecodable value",
            b"GET",
            vec![(b"cookie", b"beta=\xff1")],
            "app_a; reason=rule:default",
        ),
        (
            "beta after a cookie near the size limit",
            b"GET",
            vec![(b"cookie", &big_cookie)],
            "app_b; reason=rule:beta",
        ),
        (
            "a cookie header of separators",
            b"GET",
            vec![(b"cookie", b";;; ;=;")],
            "app_a; reason=rule:default",
        ),
        (
            "a write from an undecodable tenant",
            b"POST",
            vec![(b"x-tenant", b"\xc3\x28")],
            "app_b; reason=rule:writes",
        ),
    ];
    let before = m.envoy.stats().expect("stats");
    for (what, method, headers, route) in &cases {
        let r = raw_request(m.addr, method, headers);
        assert_eq!(r.status, 200, "{what}: {r:?}");
        assert_eq!(
            r.header("x-sluice-route").as_deref(),
            Some(*route),
            "{what}"
        );
        let cluster = route.split(';').next().unwrap_or_default();
        assert_eq!(
            r.header("x-upstream-name").as_deref(),
            Some(cluster),
            "{what}"
        );
    }
    let after = m.envoy.stats().expect("stats");
    assert_eq!(
        router_decisions(&after) - router_decisions(&before),
        cases.len() as u64
    );
    assert_filters_still_work(&m, vms);
}

/// Past Envoy's limits (a 70 KiB value, 150 headers) and with bytes HTTP
/// forbids (a non-token byte in a header name, NUL in a value), Envoy's
/// codec refuses the request before any filter sees it; the filters count
/// nothing, and Envoy goes on serving.
#[test]
fn envoy_refuses_what_is_past_its_limits_before_the_filters_and_keeps_serving() {
    let m = start();
    let vms = m.envoy.stats().expect("stats").value(ACTIVE_VMS);
    let huge = vec![b'c'; PAST_LIMIT_VALUE];
    let names: Vec<Vec<u8>> = (0..150).map(|i| format!("x-h{i}").into_bytes()).collect();
    let many: Vec<(&[u8], &[u8])> = names.iter().map(|n| (n.as_slice(), &b"v"[..])).collect();
    let cases: Vec<(&str, Headers, u16)> = vec![
        (
            "a 70 KiB priority value",
            vec![(b"x-sluice-priority", &huge)],
            431,
        ),
        ("a 70 KiB tenant", vec![(b"x-tenant", &huge)], 431),
        ("150 headers", many, 431),
        (
            "a high byte in a header name",
            vec![(b"x-sluice-priorit\xff", b"critical")],
            400,
        ),
        (
            "NUL in the priority value",
            vec![(b"x-sluice-priority", b"crit\0ical")],
            400,
        ),
    ];
    let client = HttpClient::new();
    let url = format!("http://{}", m.addr);
    for (what, headers, status) in &cases {
        let before = m.envoy.stats().expect("stats");
        let r = raw_get(m.addr, headers);
        assert_eq!(r.status, *status, "{what}: {r:?}");
        let after = m.envoy.stats().expect("stats");
        assert_eq!(
            throttle_decisions(&after),
            throttle_decisions(&before),
            "{what}"
        );
        assert_eq!(
            router_decisions(&after),
            router_decisions(&before),
            "{what}"
        );
        let ok = client.get(&url, &[]).expect("request after");
        assert_eq!(ok.status, 200, "after {what}: {ok:?}");
    }
    assert_filters_still_work(&m, vms);
}
