//! What a client saw of one request, from either side, and the comparison
//! of the two sides as a table of differences.

use sluice_harness::host::metrics::{Metric, MetricKind};
use sluice_harness::sim::exchange::Exchange;
use sluice_testkit::client::Reply;
use sluice_testkit::stats::Stats;
use std::collections::BTreeMap;

/// Response headers that filters control and the comparison looks at.
/// Headers the proxy or the upstream add on their own (`date`, `server`,
/// `content-length`, `x-upstream-queue-ms`, ...) are left out; so is
/// `content-type`, which the harness's simulated upstream sets and the test
/// upstream does not.
const PREFIXES: [&str; 2] = ["x-conformance-", "x-sluice-"];
const NAMES: [&str; 2] = ["retry-after", "x-upstream-name"];

fn compared(name: &str) -> bool {
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// One request's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The status, or why there was none.
    pub status: String,
    /// Compared headers: name to its values in order, joined by `, `.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Outcome {
    fn new<'a>(
        status: String,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        body: &str,
    ) -> Outcome {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in headers {
            let k = k.to_ascii_lowercase();
            if compared(&k) {
                map.entry(k)
                    .and_modify(|all| {
                        all.push_str(", ");
                        all.push_str(v);
                    })
                    .or_insert_with(|| v.to_string());
            }
        }
        Outcome {
            status,
            headers: map,
            body: body.to_string(),
        }
    }

    pub fn from_reply(reply: &anyhow::Result<Reply>) -> Outcome {
        match reply {
            Ok(r) => Outcome::new(
                r.status.to_string(),
                r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &r.body,
            ),
            Err(e) => Outcome::new(format!("no response: {e:#}"), std::iter::empty(), ""),
        }
    }

    pub fn from_exchange(e: Option<&Exchange>) -> Outcome {
        match e {
            Some(e) => Outcome::new(
                e.status.to_string(),
                e.response_headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
                &e.body,
            ),
            None => Outcome::new("no response (not finished)".into(), std::iter::empty(), ""),
        }
    }
}

/// One difference between the two sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// `#3` for a request, `end` for metrics.
    pub at: String,
    pub what: String,
    pub envoy: String,
    pub harness: String,
}

fn missing() -> String {
    "(absent)".into()
}

/// Per request: status, compared headers, body. `labels` name the requests
/// (`GET /path`) in the table.
pub fn requests(labels: &[String], envoy: &[Outcome], harness: &[Outcome]) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for (i, ((label, e), h)) in labels.iter().zip(envoy).zip(harness).enumerate() {
        let at = format!("#{i} {label}");
        let mut push = |what: String, envoy: String, harness: String| {
            if envoy != harness {
                diffs.push(Diff {
                    at: at.clone(),
                    what,
                    envoy,
                    harness,
                });
            }
        };
        push("status".into(), e.status.clone(), h.status.clone());
        let names: std::collections::BTreeSet<&String> =
            e.headers.keys().chain(h.headers.keys()).collect();
        for name in names {
            let get = |o: &Outcome| o.headers.get(name).cloned().unwrap_or_else(missing);
            push(format!("header {name}"), get(e), get(h));
        }
        push("body".into(), e.body.clone(), h.body.clone());
    }
    if envoy.len() != harness.len() {
        diffs.push(Diff {
            at: "all".into(),
            what: "requests answered".into(),
            envoy: envoy.len().to_string(),
            harness: harness.len().to_string(),
        });
    }
    diffs
}

/// How a metric's two values must relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricRule {
    /// The same value (counters, gauges; histograms: the sample count).
    Exact,
    /// Both positive: the value measures how long the process ran (tick
    /// counts), which differs between a real process and a replay.
    Running,
}

/// Envoy's name for the histogram count of a wasm metric in
/// `/stats/prometheus`: the `wasmcustom.` namespace is dropped and the rest
/// sanitized.
fn prometheus_count(prometheus: &str, name: &str) -> Option<u64> {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let key = format!("{base}_count");
    prometheus.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let series_name = series.split('{').next()?;
        (series_name == key)
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// The harness's metrics at the end against Envoy's `wasmcustom.*` stats
/// (counters and gauges from `/stats`, histogram counts from
/// `/stats/prometheus`). A metric on one side only is a difference.
pub fn metrics(
    harness: &[Metric],
    stats: &Stats,
    prometheus: &str,
    rule: impl Fn(&str) -> MetricRule,
) -> Vec<Diff> {
    let mut diffs = Vec::new();
    let show = |v: Option<u64>| v.map_or_else(missing, |v| v.to_string());
    for m in harness {
        let (what, envoy, harness) = match m.kind {
            MetricKind::Histogram => (
                format!("histogram {} count", m.name),
                prometheus_count(prometheus, &m.name),
                Some(m.samples),
            ),
            _ => (
                format!("metric {}", m.name),
                stats.get(&format!("wasmcustom.{}", m.name)),
                u64::try_from(m.value).ok(),
            ),
        };
        let agree = match rule(&m.name) {
            MetricRule::Exact => envoy == harness,
            MetricRule::Running => envoy.unwrap_or(0) > 0 && harness.unwrap_or(0) > 0,
        };
        if !agree {
            diffs.push(Diff {
                at: "end".into(),
                what,
                envoy: show(envoy),
                harness: show(harness),
            });
        }
    }
    for (name, value) in stats.with_prefix("wasmcustom.") {
        let short = &name["wasmcustom.".len()..];
        if !harness.iter().any(|m| m.name == short) {
            diffs.push(Diff {
                at: "end".into(),
                what: format!("metric {short}"),
                envoy: value.to_string(),
                harness: missing(),
            });
        }
    }
    diffs
}

/// Every compared field of every request as Envoy answered it (both sides
/// agree when this is printed), for reading what the run exercised.
pub fn listing(labels: &[String], outcomes: &[Outcome]) -> String {
    let mut rows = Vec::new();
    for (i, (label, o)) in labels.iter().zip(outcomes).enumerate() {
        let at = format!("#{i} {label}");
        let mut push = |what: String, value: &str| {
            rows.push(Diff {
                at: at.clone(),
                what,
                envoy: value.to_string(),
                harness: "same".into(),
            })
        };
        push("status".into(), &o.status);
        for (k, v) in &o.headers {
            push(format!("header {k}"), v);
        }
        push("body".into(), &o.body);
    }
    table(&rows)
}

/// The harness's metrics at the end (Envoy's agree by `rule` when this is
/// printed).
pub fn metric_listing(metrics: &[Metric], rule: impl Fn(&str) -> MetricRule) -> String {
    let rows: Vec<Diff> = metrics
        .iter()
        .map(|m| {
            let (what, value) = match m.kind {
                MetricKind::Histogram => (format!("histogram {} count", m.name), m.samples as i64),
                _ => (format!("metric {}", m.name), m.value),
            };
            let (envoy, harness) = match rule(&m.name) {
                MetricRule::Exact => (value.to_string(), "same".to_string()),
                MetricRule::Running => ("> 0".to_string(), value.to_string()),
            };
            Diff {
                at: "end".into(),
                what,
                envoy,
                harness,
            }
        })
        .collect();
    table(&rows)
}

/// Escapes line breaks and cuts very long values (large bodies) so that a
/// row stays one line.
fn cell(s: &str) -> String {
    const MAX: usize = 240;
    let s = s.replace('\n', "\\n").replace('\r', "\\r");
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX - 3).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// The differences as an aligned table.
pub fn table(diffs: &[Diff]) -> String {
    let header = Diff {
        at: "request".into(),
        what: "what".into(),
        envoy: "envoy".into(),
        harness: "harness".into(),
    };
    let rows: Vec<[String; 4]> = std::iter::once(&header)
        .chain(diffs)
        .map(|d| [cell(&d.at), cell(&d.what), cell(&d.envoy), cell(&d.harness)])
        .collect();
    let mut widths = [0usize; 4];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join(" | ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-+-"));
            out.push('\n');
        }
    }
    out
}

#[test]
fn differences_are_found_and_tabled() {
    let a = Outcome::new(
        "200".into(),
        [
            ("X-Conformance-Multi", "one"),
            ("date", "x"),
            ("x-conformance-multi", "two"),
        ]
        .into_iter(),
        "ok\n",
    );
    assert_eq!(
        a.headers.get("x-conformance-multi").map(String::as_str),
        Some("one, two")
    );
    assert!(!a.headers.contains_key("date"));
    let mut b = a.clone();
    b.status = "503".into();
    b.headers.remove("x-conformance-multi");
    let d = requests(&["GET /".into()], std::slice::from_ref(&a), &[b]);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[1].harness, "(absent)");
    let t = table(&d);
    assert!(
        t.contains("#0 GET / | status") && t.contains("| 200"),
        "{t}"
    );
    let same = std::slice::from_ref(&a);
    assert!(requests(&["GET /".into()], same, same).is_empty());
    let prom = "# TYPE conformance_request_body_bytes histogram\nconformance_request_body_bytes_count{} 3\n";
    assert_eq!(
        prometheus_count(prom, "conformance.request_body_bytes"),
        Some(3)
    );
}
