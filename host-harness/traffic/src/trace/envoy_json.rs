//! Envoy JSON access logs: what a mesh already records, replayed.
//!
//! Envoy's file access logger with a `json_format` writes one JSON object per
//! request; Istio's default JSON format is the common case:
//!
//! ```text
//! {"start_time": "2026-11-22T10:00:00.123Z", "method": "GET", "path": "/x",
//!  "authority": "app.default", "response_code": 200, "duration": 3,
//!  "upstream_cluster": "outbound|80||app", "x_forwarded_for": "-",
//!  "downstream_remote_address": "10.0.0.1:4567", "request_id": "…", ...}
//! ```
//!
//! Our fields and the keys they are read from by default (`fields` in the
//! trace spec overrides any of them with one key of your log):
//!
//! | field        | default key(s)                                   | becomes                     |
//! |--------------|--------------------------------------------------|-----------------------------|
//! | `time`       | `start_time` (RFC 3339, or a number of Unix seconds) | arrival time (required) |
//! | `method`     | `method`                                         | method (default GET)        |
//! | `path`       | `path`                                           | path (default /)            |
//! | `authority`  | `authority`                                      | `:authority`                |
//! | `status`     | `response_code`                                  | recorded status             |
//! | `duration`   | `duration` (ms)                                  | recorded duration           |
//! | `cluster`    | `upstream_cluster`                               | recorded upstream cluster   |
//! | `source`     | `x_forwarded_for`, then `downstream_remote_address` | source address (first hop, no port) |
//! | `request_id` | `request_id`                                     | header `x-request-id`       |
//! | `user_agent` | `user_agent`                                     | header `user-agent`         |
//! | `body_bytes` | `bytes_received`                                 | request body size           |
//!
//! Envoy writes `"-"` or `null` for a value it does not have (and Istio
//! fills absent headers that way); both mean absent. Values may be strings
//! or numbers. Keys we do not use are ignored: access logs carry many.

use super::{json_error, status_code, strip_port, time, Options};
use crate::error::{join, TrafficError};
use crate::{http, Recorded, RequestSpec};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_KEYS: [(&str, &[&str]); 11] = [
    ("time", &["start_time"]),
    ("method", &["method"]),
    ("path", &["path"]),
    ("authority", &["authority"]),
    ("status", &["response_code"]),
    ("duration", &["duration"]),
    ("cluster", &["upstream_cluster"]),
    ("source", &["x_forwarded_for", "downstream_remote_address"]),
    ("request_id", &["request_id"]),
    ("user_agent", &["user_agent"]),
    ("body_bytes", &["bytes_received"]),
];

/// For each of our fields, the log keys to try in order.
#[derive(Debug)]
pub(super) struct Keys(Vec<(&'static str, Vec<String>)>);

impl Keys {
    /// The defaults with `overrides` (our field -> log key) applied; the
    /// place of an error is `fields.<name>`.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Keys, TrafficError> {
        for (ours, theirs) in overrides {
            if !DEFAULT_KEYS.iter().any(|(name, _)| name == ours) {
                let names: Vec<&str> = DEFAULT_KEYS.iter().map(|(n, _)| *n).collect();
                return Err(TrafficError::new(
                    join("fields", ours),
                    format!("no such field; expected one of {}", names.join(", ")),
                ));
            }
            if theirs.is_empty() {
                return Err(TrafficError::new(
                    join("fields", ours),
                    "must name a JSON key",
                ));
            }
        }
        Ok(Keys(
            DEFAULT_KEYS
                .iter()
                .map(|(ours, defaults)| {
                    let keys = match overrides.get(*ours) {
                        Some(key) => vec![key.clone()],
                        None => defaults.iter().map(|k| k.to_string()).collect(),
                    };
                    (*ours, keys)
                })
                .collect(),
        ))
    }

    fn of(&self, ours: &str) -> &[String] {
        self.0
            .iter()
            .find(|(name, _)| *name == ours)
            .map_or(&[], |(_, keys)| keys.as_slice())
    }

    /// The first present value of field `ours`, with the key it came from.
    fn get<'a>(
        &'a self,
        object: &'a Map<String, Value>,
        ours: &str,
    ) -> Result<Option<(&'a str, Scalar<'a>)>, String> {
        for key in self.of(ours) {
            let scalar = match object.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.is_empty() || s == "-" => continue,
                Some(Value::String(s)) => Scalar::Text(s),
                Some(Value::Number(n)) => Scalar::Number(n),
                Some(Value::Bool(b)) => Scalar::Bool(*b),
                Some(_) => return Err(format!("key `{key}` must be a string or a number")),
            };
            return Ok(Some((key, scalar)));
        }
        Ok(None)
    }

    fn text(&self, object: &Map<String, Value>, ours: &str) -> Result<Option<String>, String> {
        Ok(self.get(object, ours)?.map(|(_, v)| v.text()))
    }
}

enum Scalar<'a> {
    Text(&'a str),
    Number(&'a serde_json::Number),
    Bool(bool),
}

impl Scalar<'_> {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.to_string(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Text(s) => s.trim().parse::<f64>().ok(),
            Scalar::Number(n) => n.as_f64(),
            Scalar::Bool(_) => None,
        }
        .filter(|x| x.is_finite())
    }
}

/// The time (ns since the epoch) and request of one log line.
pub(super) fn parse_line(line: &str, options: &Options) -> Result<(i128, RequestSpec), String> {
    let object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(json_error(&e)),
    };
    let keys = &options.keys;
    let Some((time_key, when)) = keys.get(&object, "time")? else {
        return Err(format!(
            "no timestamp (key `{}`)",
            keys.of("time").join("`, `")
        ));
    };
    let time_ns = timestamp(&when).ok_or_else(|| {
        format!(
            "timestamp {} (key `{time_key}`) is not RFC 3339, e.g. 2026-11-22T10:00:00.123Z",
            crate::error::shown(&when.text())
        )
    })?;
    let method = keys
        .text(&object, "method")?
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    http::method(&method)?;
    let path = keys.text(&object, "path")?.unwrap_or_else(|| "/".into());
    http::path(&path)?;
    let authority = match keys.text(&object, "authority")? {
        Some(a) => {
            http::authority(&a)?;
            a
        }
        None => options.authority.clone(),
    };
    let mut headers = Vec::new();
    for (ours, header) in [("request_id", "x-request-id"), ("user_agent", "user-agent")] {
        if let Some(value) = keys.text(&object, ours)? {
            http::header_value(&value).map_err(|p| format!("{header}: {p}"))?;
            headers.push((header.to_string(), value));
        }
    }
    let body_bytes = match keys.get(&object, "body_bytes")? {
        None => 0,
        Some((key, v)) => v
            .number()
            .filter(|n| *n >= 0.0 && n.fract() == 0.0)
            .map(|n| n as u64)
            .ok_or_else(|| {
                format!(
                    "key `{key}` must be a byte count, not {}",
                    crate::error::shown(&v.text())
                )
            })?,
    };
    let source_address = keys.text(&object, "source")?.and_then(|s| {
        // X-Forwarded-For lists the client first, then each proxy.
        let first = s.split(',').next().unwrap_or("").trim();
        let address = strip_port(first);
        (!address.is_empty()).then(|| address.to_string())
    });
    let recorded = match keys.get(&object, "status")? {
        None => None,
        Some((key, v)) => {
            let status = v
                .number()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .and_then(|n| status_code(n as u64))
                .ok_or_else(|| {
                    format!(
                        "key `{key}` must be a status code (0-999), not {}",
                        crate::error::shown(&v.text())
                    )
                })?;
            let duration = match keys.get(&object, "duration")? {
                None => Duration::ZERO,
                Some((key, v)) => v
                    .number()
                    .filter(|ms| *ms >= 0.0)
                    .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
                    .ok_or_else(|| {
                        format!(
                            "key `{key}` must be milliseconds >= 0, not {}",
                            crate::error::shown(&v.text())
                        )
                    })?,
            };
            Some(Recorded {
                status,
                duration,
                upstream_cluster: keys.text(&object, "cluster")?,
            })
        }
    };
    let request = RequestSpec {
        at: Duration::ZERO,
        method,
        path,
        authority,
        headers,
        body_bytes,
        source_address,
        recorded,
    };
    Ok((time_ns, request))
}

/// RFC 3339 text, or Unix seconds as a number or numeric text
/// (`%START_TIME(%s.%3f)%`).
fn timestamp(when: &Scalar<'_>) -> Option<i128> {
    match when {
        Scalar::Text(s) => time::parse_rfc3339(s).or_else(|| unix_seconds(s.trim())),
        Scalar::Number(n) => unix_seconds(&n.to_string()).or_else(|| {
            // Exponent notation: a float is all we have. The cast saturates;
            // absurd values are caught when times are made relative.
            when.number().map(|secs| (secs * 1e9).round() as i128)
        }),
        Scalar::Bool(_) => None,
    }
}

/// `1700000000.25` -> nanoseconds, exactly (a float would lose the
/// sub-microsecond digits of a current epoch time).
fn unix_seconds(text: &str) -> Option<i128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() || whole.len() > 20 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let mut nanos: i128 = 0;
    for (i, c) in fraction.bytes().take(9).enumerate() {
        nanos += i128::from(c - b'0') * 10i128.pow(8 - i as u32);
    }
    Some(whole.parse::<i128>().ok()? * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, TraceFormat, TraceSpec};
    use crate::{Recorded, RequestSpec};
    use std::time::Duration;

    fn read_with(spec_json: &str, text: &str) -> Result<Vec<RequestSpec>, String> {
        let spec: TraceSpec = serde_json::from_str(spec_json).unwrap();
        parse(TraceFormat::EnvoyJson, text, "access.log", &spec).map_err(|e| e.to_string())
    }

    fn read(text: &str) -> Result<Vec<RequestSpec>, String> {
        read_with(r#"{"format": "envoy_json", "path": "access.log"}"#, text)
    }

    const ISTIO: &str = r#"{"authority":"reviews:9080","bytes_received":0,"bytes_sent":295,"connection_termination_details":null,"downstream_local_address":"10.244.0.12:9080","downstream_remote_address":"10.244.0.9:51254","duration":7,"method":"GET","path":"/reviews/0","protocol":"HTTP/1.1","request_id":"8d2c1e0a-3f5b-9b7e-a7a5-1b0f2e7d9c11","requested_server_name":null,"response_code":200,"response_flags":"-","route_name":"default","start_time":"2026-11-22T10:00:00.123Z","upstream_cluster":"inbound|9080||","upstream_host":"10.244.0.12:9080","user_agent":"Mozilla/5.0","x_forwarded_for":null}
{"authority":"reviews:9080","bytes_received":120,"downstream_remote_address":"10.244.0.9:51260","duration":"1503","method":"POST","path":"/reviews","response_code":"503","start_time":"2026-11-22T10:00:01.000Z","upstream_cluster":"inbound|9080||","user_agent":"-","x_forwarded_for":"203.0.113.7, 10.244.0.1","request_id":"-"}
{"authority":"reviews:9080","method":"GET","path":"/early","response_code":0,"start_time":"2026-11-22T09:59:59.123Z","downstream_remote_address":"[2001:db8::5]:40000"}"#;

    #[test]
    fn istio_lines() {
        let reqs = read(ISTIO).unwrap();
        let paths: Vec<_> = reqs.iter().map(|r| (r.at, r.path.as_str())).collect();
        assert_eq!(
            paths,
            [
                (Duration::ZERO, "/early"),
                (Duration::from_secs(1), "/reviews/0"),
                (Duration::from_millis(1877), "/reviews"),
            ]
        );
        let first = &reqs[1];
        assert_eq!(
            (first.method.as_str(), first.authority.as_str()),
            ("GET", "reviews:9080")
        );
        assert_eq!(first.source_address.as_deref(), Some("10.244.0.9"));
        assert_eq!(
            first.header("x-request-id"),
            Some("8d2c1e0a-3f5b-9b7e-a7a5-1b0f2e7d9c11")
        );
        assert_eq!(first.header("user-agent"), Some("Mozilla/5.0"));
        assert_eq!(
            first.recorded,
            Some(Recorded {
                status: 200,
                duration: Duration::from_millis(7),
                upstream_cluster: Some("inbound|9080||".into())
            })
        );
        let post = &reqs[2];
        assert_eq!(
            post.source_address.as_deref(),
            Some("203.0.113.7"),
            "first X-Forwarded-For hop"
        );
        assert_eq!(post.body_bytes, 120);
        assert!(
            post.headers.is_empty(),
            "'-' means absent: {:?}",
            post.headers
        );
        let rec = post.recorded.as_ref().unwrap();
        assert_eq!(
            (rec.status, rec.duration),
            (503, Duration::from_millis(1503))
        );
        assert_eq!(reqs[0].source_address.as_deref(), Some("2001:db8::5"));
        assert_eq!(reqs[0].recorded.as_ref().unwrap().status, 0);
    }

    #[test]
    fn fields_remap_keys() {
        let text = r#"{"timestamp": "2026-11-22T10:00:00+01:00", "req_method": "DELETE", "method": "GET", "client": "10.1.1.1", "start_time": "garbage"}
{"timestamp": "2026-11-22T09:00:00.5Z", "req_method": "PUT", "client": "10.1.1.2"}"#;
        let reqs = read_with(
            r#"{"format": "envoy_json", "path": "a", "fields": {"time": "timestamp", "method": "req_method", "source": "client"}, "authority": "svc"}"#,
            text,
        )
        .unwrap();
        assert_eq!(reqs[0].method, "DELETE");
        assert_eq!(reqs[1].at, Duration::from_millis(500));
        assert_eq!(reqs[1].source_address.as_deref(), Some("10.1.1.2"));
        assert_eq!(reqs[1].authority, "svc");
    }

    #[test]
    fn unix_seconds_are_accepted() {
        let reqs =
            read("{\"start_time\": 1700000000.25}\n{\"start_time\": \"1700000001.000000001\"}")
                .unwrap();
        assert_eq!(reqs[1].at, Duration::from_nanos(750_000_001));
        let e = read("{\"start_time\": \"1700000001.5.1\"}").unwrap_err();
        assert!(e.contains("is not RFC 3339"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("<html>", "access.log:2: not JSON: expected value (column 1)"),
            ("  {\"start_time\": ", "access.log:2: not JSON: EOF while parsing a value (column 16)"),
            (r#"{"method": "GET"}"#, "access.log:2: no timestamp (key `start_time`)"),
            (r#"{"start_time": "-"}"#, "access.log:2: no timestamp"),
            (
                r#"{"start_time": "22/Nov/2026:10:00:00 +0000"}"#,
                "access.log:2: timestamp '22/Nov/2026:10:00:00 +0000' (key `start_time`) is not RFC 3339",
            ),
            (r#"{"start_time": "2026-11-22T10:00:00Z", "response_code": "OK"}"#, "access.log:2: key `response_code` must be a status code"),
            (r#"{"start_time": "2026-11-22T10:00:00Z", "response_code": 200, "duration": -1}"#, "access.log:2: key `duration` must be milliseconds"),
            (r#"{"start_time": "2026-11-22T10:00:00Z", "path": {"a": 1}}"#, "access.log:2: key `path` must be a string or a number"),
            (r#"{"start_time": "2026-11-22T10:00:00Z", "bytes_received": -5}"#, "access.log:2: key `bytes_received` must be a byte count"),
            (r#"{"start_time": "2026-11-22T10:00:00Z", "method": "GE T"}"#, "access.log:2: method"),
            ("[1]", "access.log:2: not a JSON object"),
        ];
        for (line, want) in cases {
            let got = read(&format!(
                "{{\"start_time\": \"2026-11-22T10:00:00Z\"}}\n{line}"
            ))
            .unwrap_err();
            assert!(got.starts_with(want), "{line}\n got: {got}\nwant: {want}");
        }
        let got = read_with(
            r#"{"format": "envoy_json", "path": "a", "fields": {"time": "ts"}}"#,
            r#"{"start_time": "2026-11-22T10:00:00Z"}"#,
        )
        .unwrap_err();
        assert_eq!(got, "access.log:1: no timestamp (key `ts`)");
    }
}
