//! Recorded traffic: access logs replayed with their real arrival times.
//!
//! Synthetic load shows how a policy behaves under shapes we imagine; a trace
//! shows it under the traffic we actually had. Three formats are read:
//!
//! - `jsonl`: Sluice's own JSON lines ([`jsonl`]);
//! - `envoy_json`: Envoy JSON access logs, e.g. Istio's default format
//!   ([`envoy_json`]);
//! - `clf`: Common and Combined Log Format (Apache, NGINX) ([`clf`]).
//!
//! Arrival times are relative to the earliest record: that record arrives at
//! `offset` (default 0) and every other at `offset + (t - t_earliest) /
//! speed`. The result is sorted by arrival time (stably, so records with the
//! same time keep their file order). Methods are upper-cased. Blank lines
//! and lines starting with `#`
//! are skipped; any other line that cannot be read is an error naming
//! `file:line` and the problem. Parsers never panic on any input (there are
//! property tests feeding them arbitrary text).

// The format modules are public for their documentation (fields, defaults,
// examples); their parsers are internal.
pub mod clf;
pub mod envoy_json;
pub mod jsonl;
mod time;

use crate::error::{join, TrafficError};
use crate::{http, Dur, RequestSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The format of a trace file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// Sluice JSON lines.
    Jsonl,
    /// Envoy JSON access log lines.
    EnvoyJson,
    /// Common or Combined Log Format (detected per line).
    Clf,
}

/// A `trace` traffic source as the scenario writes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    pub format: TraceFormat,
    /// Relative paths are resolved against the scenario's directory.
    pub path: PathBuf,
    /// Replay speed: 2.0 replays twice as fast (time gaps halved).
    #[serde(default = "one")]
    pub speed: f64,
    /// Arrival time of the earliest record (default 0).
    #[serde(default)]
    pub offset: Option<Dur>,
    /// Headers set on every request, replacing a recorded header of the
    /// same name (e.g. `x-sluice-priority: sheddable`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `:authority` for records that have none (default `service.local`).
    #[serde(default)]
    pub authority: Option<String>,
    /// `envoy_json` only: our field name -> the log's JSON key, overriding
    /// the defaults (see [`envoy_json`]).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

fn one() -> f64 {
    1.0
}

/// Reads and parses the trace at `spec.path` (relative to `base_dir`).
/// Errors name the path as the scenario wrote it, with the line.
pub fn load(spec: &TraceSpec, base_dir: &Path) -> Result<Vec<RequestSpec>, TrafficError> {
    let path = if spec.path.is_absolute() {
        spec.path.clone()
    } else {
        base_dir.join(&spec.path)
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        TrafficError::new(
            path.display().to_string(),
            format!("cannot read the trace: {e}"),
        )
    })?;
    // Logs may hold stray bytes (a user agent in Latin-1); they only ever
    // end up in values, so replace rather than refuse.
    let text = String::from_utf8_lossy(&bytes);
    parse(spec.format, &text, &spec.path.display().to_string(), spec)
}

/// Parses trace `text` in `format`, with the options of `spec` (its `format`
/// and `path` are not used). `source_name` is used in error places.
pub fn parse(
    format: TraceFormat,
    text: &str,
    source_name: &str,
    spec: &TraceSpec,
) -> Result<Vec<RequestSpec>, TrafficError> {
    let options = Options::new(format, spec)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Leading blanks are kept so that JSON error columns match the file.
        let line = line.trim_end();
        let parsed = match format {
            TraceFormat::Jsonl => jsonl::parse_line(line, &options),
            TraceFormat::EnvoyJson => envoy_json::parse_line(line, &options),
            TraceFormat::Clf => clf::parse_line(line, &options),
        };
        let place = format!("{source_name}:{}", number + 1);
        let (time_ns, request) = parsed.map_err(|problem| TrafficError::new(&place, problem))?;
        records.push(Record {
            place,
            time_ns,
            request,
        });
    }
    if format == TraceFormat::Clf {
        clf::spread_within_seconds(&mut records);
    }
    finish(records, spec, &options, source_name)
}

/// What the line parsers share: options checked once per trace.
#[derive(Debug)]
struct Options {
    authority: String,
    headers: Vec<(String, String)>,
    keys: envoy_json::Keys,
}

impl Options {
    fn new(format: TraceFormat, spec: &TraceSpec) -> Result<Options, TrafficError> {
        if !(spec.speed.is_finite() && spec.speed > 0.0) {
            return Err(TrafficError::new(
                "speed",
                format!(
                    "must be a positive number (2 replays twice as fast), not {}",
                    spec.speed
                ),
            ));
        }
        let mut headers = Vec::with_capacity(spec.headers.len());
        for (name, value) in &spec.headers {
            let place = join("headers", name);
            let lower = http::header_name(name).map_err(|p| TrafficError::new(&place, p))?;
            http::header_value(value).map_err(|p| TrafficError::new(&place, p))?;
            if headers.iter().any(|(n, _)| *n == lower) {
                return Err(TrafficError::new(
                    place,
                    format!("header `{lower}` is given twice"),
                ));
            }
            headers.push((lower, value.clone()));
        }
        let authority = spec
            .authority
            .clone()
            .unwrap_or_else(|| "service.local".into());
        http::authority(&authority).map_err(|p| TrafficError::new("authority", p))?;
        if format != TraceFormat::EnvoyJson && !spec.fields.is_empty() {
            return Err(TrafficError::new(
                "fields",
                "only used with format envoy_json",
            ));
        }
        let keys = envoy_json::Keys::new(&spec.fields)?;
        Ok(Options {
            authority,
            headers,
            keys,
        })
    }
}

/// One line read: where it was, its time (ns, epoch or trace-relative) and
/// the request.
#[derive(Debug)]
struct Record {
    place: String,
    time_ns: i128,
    request: RequestSpec,
}

/// Arrival times relative to the earliest record, scaled and shifted;
/// trace-wide headers applied; sorted by arrival.
fn finish(
    records: Vec<Record>,
    spec: &TraceSpec,
    options: &Options,
    source_name: &str,
) -> Result<Vec<RequestSpec>, TrafficError> {
    let Some(origin) = records.iter().map(|r| r.time_ns).min() else {
        return Err(TrafficError::new(
            source_name,
            "no requests (the trace is empty or only comments)",
        ));
    };
    let offset = spec.offset.map_or(Duration::ZERO, |d| d.0);
    let mut out = Vec::with_capacity(records.len());
    for Record {
        place,
        time_ns,
        mut request,
    } in records
    {
        // >= 0, but two absurd timestamps could overflow the difference.
        let since = time_ns.checked_sub(origin);
        let scaled = since.and_then(|since| {
            if spec.speed == 1.0 {
                u64::try_from(since).ok().map(Duration::from_nanos)
            } else {
                Duration::try_from_secs_f64(since as f64 / 1e9 / spec.speed).ok()
            }
        });
        request.at = scaled.and_then(|d| d.checked_add(offset)).ok_or_else(|| {
            TrafficError::new(
                &place,
                "arrival time out of range (check `speed` and the timestamps)",
            )
        })?;
        for (name, value) in &options.headers {
            request.headers.retain(|(n, _)| n != name);
            request.headers.push((name.clone(), value.clone()));
        }
        out.push(request);
    }
    out.sort_by_key(|r| r.at);
    Ok(out)
}

/// `host:port`, `[v6]:port`, or a bare address -> the address.
fn strip_port(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    match address.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => address, // bare IPv6, or no port
    }
}

/// serde_json's message without its "at line 1 column N" (each trace line
/// is parsed alone, so "line 1" would mislead), plus the column.
fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |i| &message[..i]);
    format!("not JSON: {message} (column {})", e.column())
}

/// A status code as logs write it (`0` means no response was sent).
fn status_code(n: u64) -> Option<u16> {
    u16::try_from(n).ok().filter(|s| *s <= 999)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(json: &str) -> TraceSpec {
        serde_json::from_str(json).unwrap()
    }

    fn plain() -> TraceSpec {
        spec(r#"{"format": "jsonl", "path": "t.jsonl"}"#)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn spec_defaults_and_typos() {
        let s = plain();
        assert_eq!(
            (s.speed, s.offset, s.authority.as_deref()),
            (1.0, None, None)
        );
        assert!(s.headers.is_empty() && s.fields.is_empty());
        assert!(serde_json::from_str::<TraceSpec>(
            r#"{"format": "jsonl", "path": "x", "sped": 2}"#
        )
        .is_err());
        assert!(serde_json::from_str::<TraceSpec>(r#"{"format": "har", "path": "x"}"#).is_err());
        let s = spec(r#"{"format": "envoy_json", "path": "x"}"#);
        assert_eq!(s.format, TraceFormat::EnvoyJson);
    }

    #[test]
    fn times_are_rebased_scaled_shifted_and_sorted() {
        let text = "\
# a comment
{\"t_ms\": 1500, \"path\": \"/c\"}

{\"t_ms\": 1000, \"path\": \"/a\"}
   # indented comment
{\"t_ms\": 1200, \"path\": \"/b\"}
{\"t_ms\": 1200, \"path\": \"/b2\"}
";
        let s = spec(r#"{"format": "jsonl", "path": "t", "speed": 2, "offset": "10s"}"#);
        let reqs = parse(TraceFormat::Jsonl, text, "t", &s).unwrap();
        let got: Vec<(Duration, &str)> = reqs.iter().map(|r| (r.at, r.path.as_str())).collect();
        assert_eq!(
            got,
            [
                (ms(10_000), "/a"),
                (ms(10_100), "/b"),
                (ms(10_100), "/b2"),
                (ms(10_250), "/c")
            ]
        );
    }

    #[test]
    fn trace_headers_replace_recorded_ones_and_the_authority_defaults() {
        let text = r#"{"t_ms": 0, "headers": {"x-sluice-priority": "critical", "x-other": "1"}}
{"t_ms": 1, "authority": "own.host"}"#;
        let s = spec(
            r#"{"format": "jsonl", "path": "t", "headers": {"X-Sluice-Priority": "sheddable"}, "authority": "api.local"}"#,
        );
        let reqs = parse(TraceFormat::Jsonl, text, "t", &s).unwrap();
        assert_eq!(reqs[0].header("x-sluice-priority"), Some("sheddable"));
        assert_eq!(reqs[0].header("x-other"), Some("1"));
        assert_eq!(reqs[0].headers.len(), 2);
        assert_eq!(reqs[0].authority, "api.local");
        assert_eq!(reqs[1].authority, "own.host");
        assert_eq!(reqs[1].header("x-sluice-priority"), Some("sheddable"));
    }

    #[test]
    fn option_errors_name_the_option() {
        let err = |json: &str, format| {
            parse(format, "{\"t_ms\": 0}", "t", &spec(json))
                .unwrap_err()
                .to_string()
        };
        assert!(err(
            r#"{"format": "jsonl", "path": "t", "speed": 0}"#,
            TraceFormat::Jsonl
        )
        .starts_with("speed: "));
        assert!(err(
            r#"{"format": "jsonl", "path": "t", "speed": -1}"#,
            TraceFormat::Jsonl
        )
        .starts_with("speed: "));
        assert!(err(
            r#"{"format": "jsonl", "path": "t", "headers": {"a b": "x"}}"#,
            TraceFormat::Jsonl
        )
        .starts_with("headers.a b: "));
        assert!(err(
            r#"{"format": "jsonl", "path": "t", "authority": "a b"}"#,
            TraceFormat::Jsonl
        )
        .starts_with("authority: "));
        assert!(err(
            r#"{"format": "jsonl", "path": "t", "fields": {"time": "ts"}}"#,
            TraceFormat::Jsonl
        )
        .starts_with("fields: only used with format envoy_json"));
        assert!(err(
            r#"{"format": "envoy_json", "path": "t", "fields": {"tiem": "ts"}}"#,
            TraceFormat::EnvoyJson
        )
        .starts_with("fields.tiem: "));
    }

    #[test]
    fn an_empty_trace_is_an_error() {
        let e = parse(TraceFormat::Clf, "# nothing\n\n", "day1.log", &plain()).unwrap_err();
        assert_eq!(e.place, "day1.log");
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "{\"t_ms\": 0}\n\n{\"t_ms\": \"soon\"}\n";
        let e = parse(TraceFormat::Jsonl, text, "traces/day1.jsonl", &plain()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "traces/day1.jsonl:3: field `t_ms` must be a number"
        );
    }

    #[test]
    fn load_resolves_relative_paths_and_reports_missing_files() {
        let dir = std::env::temp_dir().join(format!("sluice-traffic-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("traces")).unwrap();
        std::fs::write(
            dir.join("traces/a.log"),
            b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /\xff HTTP/1.1\" 200 5\n",
        )
        .unwrap();
        let s = spec(r#"{"format": "clf", "path": "traces/a.log"}"#);
        let reqs = load(&s, &dir).unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].path, "/\u{fffd}");
        let missing = spec(r#"{"format": "clf", "path": "traces/none.log"}"#);
        let e = load(&missing, &dir).unwrap_err();
        assert!(
            e.place.ends_with("none.log") && e.problem.contains("cannot read"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("10.0.0.1:4567"), "10.0.0.1");
        assert_eq!(strip_port("10.0.0.1"), "10.0.0.1");
        assert_eq!(strip_port("[::1]:8080"), "::1");
        assert_eq!(strip_port("[::1"), "::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }

    fn json_key() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
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
            "start_time",
            "response_code",
            "duration",
            "upstream_cluster",
            "x_forwarded_for",
            "downstream_remote_address",
            "request_id",
            "user_agent",
            "bytes_received",
        ])
    }

    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("{}".to_string()),
            Just("[1]".to_string()),
            Just("{\"x-a\": \"b\"}".to_string()),
            "-?[0-9]{1,25}(\\.[0-9]{0,12})?(e[+-]?[0-9]{1,3})?",
            "\"[ !#-\\[\\]-~é]{0,30}\"",
            "\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,14}(Z|[+-][0-9:]{4,5})?\"",
            "\"[0-9.]{1,30}\"",
        ]
    }

    fn any_format() -> impl Strategy<Value = TraceFormat> {
        prop_oneof![
            Just(TraceFormat::Jsonl),
            Just(TraceFormat::EnvoyJson),
            Just(TraceFormat::Clf)
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(format in any_format(), text in "\\PC{0,200}(\n\\PC{0,80}){0,4}") {
            let _ = parse(format, &text, "t", &plain());
        }

        #[test]
        fn line_noise_never_panics(format in any_format(), text in "[ -~\n\"\\[\\]{}:,\u{e9}\u{ff}]{0,300}") {
            let _ = parse(format, &text, "t", &plain());
        }

        /// JSON objects with the keys both JSON formats read and values of
        /// every type, including absurd numbers and almost-dates.
        #[test]
        fn json_records_with_odd_values_never_panic(
            format in prop_oneof![Just(TraceFormat::Jsonl), Just(TraceFormat::EnvoyJson)],
            lines in proptest::collection::vec(
                proptest::collection::vec((json_key(), json_value()), 0..6), 1..4),
        ) {
            let text: Vec<String> = lines.iter().map(|pairs| {
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }).collect();
            let _ = parse(format, &text.join("\n"), "t", &plain());
            let mut fast = plain();
            fast.speed = 1e-300;
            let _ = parse(format, &text.join("\n"), "t", &fast);
        }

        /// Whatever the order of the lines, the output is sorted, complete,
        /// and keeps the gaps between records divided by the speed.
        #[test]
        fn records_keep_their_spacing(times in proptest::collection::vec(0u32..1_000_000, 1..40), speed in prop_oneof![Just(1.0), 0.25..8.0]) {
            let text: String = times.iter().enumerate()
                .map(|(i, t)| format!("{{\"t_ms\": {t}, \"path\": \"/{i}\"}}\n")).collect();
            let mut s = plain();
            s.speed = speed;
            let reqs = parse(TraceFormat::Jsonl, &text, "t", &s).unwrap();
            prop_assert_eq!(reqs.len(), times.len());
            prop_assert!(reqs.windows(2).all(|w| w[0].at <= w[1].at));
            let min = *times.iter().min().unwrap();
            for r in &reqs {
                let i: usize = r.path[1..].parse().unwrap();
                let want = f64::from(times[i] - min) / 1000.0 / speed;
                prop_assert!((r.at.as_secs_f64() - want).abs() < 1e-6);
            }
        }
    }
}
