//! Sluice JSON lines: one request per line, written by our own tools.
//!
//! ```text
//! {"t_ms": 12.5, "method": "GET", "path": "/x", "authority": "a.b",
//!  "headers": {"x-sluice-priority": "critical"}, "body_bytes": 0,
//!  "source": "10.0.0.1", "status": 200, "duration_ms": 3.2, "cluster": "app"}
//! ```
//!
//! Only `t_ms` (milliseconds since the trace start, >= 0) is required; the
//! method defaults to `GET` and the path to `/`. `status`, `duration_ms` and
//! `cluster` describe the original response and are kept (as
//! [`crate::Recorded`]) when `status` is present. Since we write this format
//! ourselves, it is read strictly: an unknown key or a value of the wrong type
//! is an error, so a typo cannot silently drop data.

use super::{json_error, strip_port, Options};
use crate::{http, Recorded, RequestSpec};
use serde_json::{Map, Value};
use std::time::Duration;

const KEYS: [&str; 10] = [
    "t_ms",
    "method",
    "path",
    "authority",
    "headers",
    "body_bytes",
    "source",
    "status",
    "duration_ms",
    "cluster",
];

/// The time (ns since the trace start) and request of one line.
pub(super) fn parse_line(line: &str, options: &Options) -> Result<(i128, RequestSpec), String> {
    let object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(json_error(&e)),
    };
    if let Some(unknown) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}`; expected one of {}",
            KEYS.join(", ")
        ));
    }
    let t_ms = number(&object, "t_ms")?.ok_or("no timestamp: field `t_ms` is required")?;
    if !(t_ms.is_finite() && t_ms >= 0.0) {
        return Err(format!("field `t_ms` must be >= 0, not {t_ms}"));
    }
    let method = string(&object, "method")?
        .unwrap_or("GET")
        .to_ascii_uppercase();
    http::method(&method)?;
    let path = string(&object, "path")?.unwrap_or("/").to_string();
    http::path(&path)?;
    let authority = match string(&object, "authority")? {
        Some(a) => {
            http::authority(a)?;
            a.to_string()
        }
        None => options.authority.clone(),
    };
    let headers = headers(object.get("headers"))?;
    let body_bytes = match object.get("body_bytes") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .ok_or("field `body_bytes` must be a whole number >= 0")?,
    };
    let source_address = match string(&object, "source")? {
        Some(s) if !s.is_empty() => Some(strip_port(s).to_string()),
        _ => None,
    };
    let recorded = match object.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let status = v
                .as_u64()
                .and_then(super::status_code)
                .ok_or("field `status` must be a status code (0-999)")?;
            let duration_ms = number(&object, "duration_ms")?.unwrap_or(0.0);
            let duration = (duration_ms >= 0.0)
                .then(|| Duration::try_from_secs_f64(duration_ms / 1000.0).ok())
                .flatten()
                .ok_or_else(|| format!("field `duration_ms` must be >= 0, not {duration_ms}"))?;
            Some(Recorded {
                status,
                duration,
                upstream_cluster: string(&object, "cluster")?.map(str::to_string),
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
    // t_ms <= f64::MAX; the cast saturates and `finish` reports the range.
    Ok(((t_ms * 1e6).round() as i128, request))
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("field `{key}` must be a string")),
    }
}

fn number(object: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("field `{key}` must be a number")),
    }
}

fn headers(value: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let object = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err("field `headers` must be an object of name -> value".into()),
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(object.len());
    for (name, value) in object {
        let lower = http::header_name(name).map_err(|p| format!("in `headers`: {p}"))?;
        let Value::String(value) = value else {
            return Err(format!("header `{name}` must be a string"));
        };
        http::header_value(value).map_err(|p| format!("header `{name}`: {p}"))?;
        if out.iter().any(|(n, _)| *n == lower) {
            return Err(format!("header `{lower}` is given twice"));
        }
        out.push((lower, value.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, TraceFormat, TraceSpec};
    use crate::{Recorded, RequestSpec};
    use std::time::Duration;

    fn read(text: &str) -> Result<Vec<RequestSpec>, String> {
        let spec: TraceSpec = serde_json::from_str(r#"{"format": "jsonl", "path": "t"}"#).unwrap();
        parse(TraceFormat::Jsonl, text, "t.jsonl", &spec).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_record() {
        let r = &read(
            r#"{"t_ms": 12.5, "method": "post", "path": "/x?y=1", "authority": "a.b", "headers": {"X-Sluice-Priority": "critical"}, "body_bytes": 512, "source": "10.0.0.1:3456", "status": 503, "duration_ms": 3.25, "cluster": "app"}"#,
        )
        .unwrap()[0];
        assert_eq!(r.at, Duration::ZERO);
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.authority.as_str()),
            ("POST", "/x?y=1", "a.b")
        );
        assert_eq!(
            r.headers,
            [("x-sluice-priority".to_string(), "critical".to_string())]
        );
        assert_eq!(
            (r.body_bytes, r.source_address.as_deref()),
            (512, Some("10.0.0.1"))
        );
        assert_eq!(
            r.recorded,
            Some(Recorded {
                status: 503,
                duration: Duration::from_micros(3250),
                upstream_cluster: Some("app".into())
            })
        );
    }

    #[test]
    fn only_t_ms_is_required() {
        let reqs = read("{\"t_ms\": 5}\n{\"t_ms\": 7.5, \"duration_ms\": 4}").unwrap();
        let mut expected = RequestSpec::get(Duration::ZERO);
        assert_eq!(reqs[0], expected);
        expected.at = Duration::from_micros(2500);
        assert_eq!(
            reqs[1], expected,
            "duration_ms without status records nothing"
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                r#"{"t_ms": "soon"}"#,
                "t.jsonl:1: field `t_ms` must be a number",
            ),
            (
                r#"{"path": "/"}"#,
                "t.jsonl:1: no timestamp: field `t_ms` is required",
            ),
            (
                r#"{"t_ms": -1}"#,
                "t.jsonl:1: field `t_ms` must be >= 0, not -1",
            ),
            (
                r#"{"t_ms": 1, "stauts": 200}"#,
                "t.jsonl:1: unknown field `stauts`; expected one of t_ms, method",
            ),
            (
                r#"{"t_ms": 1, "status": "ok"}"#,
                "t.jsonl:1: field `status` must be a status code (0-999)",
            ),
            (
                r#"{"t_ms": 1, "status": 1000}"#,
                "t.jsonl:1: field `status` must be a status code",
            ),
            (
                r#"{"t_ms": 1, "status": 200, "duration_ms": -3}"#,
                "t.jsonl:1: field `duration_ms` must be >= 0",
            ),
            (
                r#"{"t_ms": 1, "headers": {"p": 1}}"#,
                "t.jsonl:1: header `p` must be a string",
            ),
            (
                r#"{"t_ms": 1, "headers": ["p"]}"#,
                "t.jsonl:1: field `headers` must be an object",
            ),
            (
                r#"{"t_ms": 1, "headers": {"a b": "1"}}"#,
                "t.jsonl:1: in `headers`: header name 'a b'",
            ),
            (
                r#"{"t_ms": 1, "body_bytes": 1.5}"#,
                "t.jsonl:1: field `body_bytes` must be a whole number",
            ),
            (r#"{"t_ms": 1, "path": "/a b"}"#, "t.jsonl:1: path"),
            (
                r#"{"t_ms": 1, "method": 7}"#,
                "t.jsonl:1: field `method` must be a string",
            ),
            (r#"[1, 2]"#, "t.jsonl:1: not a JSON object"),
            (
                r#"{"t_ms": 1"#,
                "t.jsonl:1: not JSON: EOF while parsing an object (column 10)",
            ),
        ];
        for (line, want) in cases {
            let got = read(&format!("{{\"t_ms\": 0}}\n{line}")).unwrap_err();
            let want = want.replacen(":1:", ":2:", 1);
            assert!(got.starts_with(&want), "{line}\n got: {got}\nwant: {want}");
        }
    }
}
