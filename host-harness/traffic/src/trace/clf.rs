//! Common and Combined Log Format: the access logs of Apache, NGINX and
//! most web servers.
//!
//! ```text
//! 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326
//! 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08"
//! ```
//!
//! Fields: client host, identity (ignored), user (ignored), time, request
//! line, status (`-` if none), response bytes (ignored). Combined Log
//! Format adds the referer (ignored) and the user agent (header
//! `user-agent`); it is detected per line, and anything after the user
//! agent (fields some servers append) is ignored. The host becomes the
//! source address and the status the recorded status (the duration is not
//! in the format: zero).
//!
//! Timestamps have one-second resolution, which would replay a second's
//! requests as one burst. So the `n` requests stamped with the same second
//! `s` are spread evenly across it in file order: the `k`-th (from 0)
//! arrives at `s + k / n`. This keeps the per-second rate of the log and
//! avoids inventing burstiness it does not show.

use super::{status_code, time, Options, Record};
use crate::{http, Recorded, RequestSpec};
use std::collections::HashMap;
use std::time::Duration;

const NS: i128 = 1_000_000_000;

const SHAPE: &str = "expected `host ident user [time] \"request\" status bytes`";

/// The time (ns since the epoch, whole seconds) and request of one line.
pub(super) fn parse_line(line: &str, options: &Options) -> Result<(i128, RequestSpec), String> {
    let mut c = Cursor { rest: line };
    let host = c.word().ok_or(SHAPE)?;
    let (_ident, _user) = (c.word().ok_or(SHAPE)?, c.word().ok_or(SHAPE)?);
    let stamp = c
        .bracketed()
        .ok_or("no timestamp: expected [dd/Mon/yyyy:hh:mm:ss ±hhmm] after the user")?;
    let time_ns = time::parse_clf(stamp).ok_or_else(|| {
        format!(
            "timestamp {} is not dd/Mon/yyyy:hh:mm:ss ±hhmm",
            crate::error::shown(stamp)
        )
    })?;
    let request = c
        .quoted()
        .ok_or("no request line: expected it in quotes after the time")?;
    let (method, target) = request_line(&request)?;
    let status = c.word().ok_or("no status after the request line")?;
    let status =
        match status {
            "-" => None,
            s => Some(s.parse::<u64>().ok().and_then(status_code).ok_or_else(|| {
                format!("status {} is not a status code", crate::error::shown(s))
            })?),
        };
    let bytes = c.word().ok_or("no byte count after the status")?;
    if bytes != "-" && !bytes.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "byte count {} is not a number",
            crate::error::shown(bytes)
        ));
    }
    let mut headers = Vec::new();
    if !c.rest.trim().is_empty() {
        let combined =
            "expected `\"referer\" \"user-agent\"` after the byte count (Combined Log Format)";
        let _referer = c.quoted().ok_or(combined)?;
        let agent = c.quoted().ok_or(combined)?;
        if agent != "-" && !agent.is_empty() {
            http::header_value(&agent).map_err(|p| format!("user agent: {p}"))?;
            headers.push(("user-agent".to_string(), agent));
        }
    }
    let (authority, path) = match split_absolute(target) {
        Some((authority, path)) => {
            http::authority(authority)?;
            (authority.to_string(), path.to_string())
        }
        None => (options.authority.clone(), target.to_string()),
    };
    http::path(&path)?;
    let request = RequestSpec {
        at: Duration::ZERO,
        method: method.to_ascii_uppercase(),
        path,
        authority,
        headers,
        body_bytes: 0,
        source_address: (host != "-").then(|| host.to_string()),
        recorded: status.map(|status| Recorded {
            status,
            duration: Duration::ZERO,
            upstream_cluster: None,
        }),
    };
    Ok((time_ns, request))
}

/// `GET /x HTTP/1.1` (or HTTP/0.9's `GET /x`) -> method and target.
fn request_line(line: &str) -> Result<(&str, &str), String> {
    if line == "-" {
        return Err("request line is '-': the client sent no request".into());
    }
    let bad = || {
        format!(
            "request line {} is not `METHOD PATH PROTOCOL`",
            crate::error::shown(line)
        )
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let (method, target) = match parts[..] {
        [m, t, protocol] if protocol.starts_with("HTTP/") => (m, t),
        [m, t] => (m, t),
        _ => return Err(bad()),
    };
    http::method(method).map_err(|_| bad())?;
    Ok((method, target))
}

/// A proxy's absolute-form target `http://host/path` -> (`host`, `/path`).
fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    Some(match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], "/"),
        None => (rest, "/"),
    })
}

/// Spreads records stamped with the same second evenly across it (see the
/// module docs).
pub(super) fn spread_within_seconds(records: &mut [Record]) {
    let mut per_second: HashMap<i128, (i128, i128)> = HashMap::new(); // (count, seen)
    for r in records.iter() {
        per_second.entry(r.time_ns).or_default().0 += 1;
    }
    for r in records.iter_mut() {
        if let Some((count, seen)) = per_second.get_mut(&r.time_ns) {
            let k = *seen;
            *seen += 1;
            r.time_ns += k * NS / *count;
        }
    }
}

/// Reads space-separated fields from the front of a line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// The next run of non-space characters.
    fn word(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(' ');
        let end = s.find(' ').unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        self.rest = &s[end..];
        Some(&s[..end])
    }

    /// `[...]`, without the brackets.
    fn bracketed(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(' ').strip_prefix('[')?;
        let (inside, rest) = s.split_once(']')?;
        self.rest = rest;
        Some(inside)
    }

    /// `"..."` with `\"` and `\\` unescaped (as Apache writes them); other
    /// escapes are kept as written.
    fn quoted(&mut self) -> Option<String> {
        let s = self.rest.trim_start_matches(' ').strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &s[i + 1..];
                    return Some(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        None // unterminated
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, TraceFormat, TraceSpec};
    use crate::RequestSpec;
    use proptest::prelude::*;
    use std::time::Duration;

    fn read(text: &str) -> Result<Vec<RequestSpec>, String> {
        let spec: TraceSpec = serde_json::from_str(r#"{"format": "clf", "path": "t"}"#).unwrap();
        parse(TraceFormat::Clf, text, "day1.log", &spec).map_err(|e| e.to_string())
    }

    const LOG: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326
10.0.0.2 - - [10/Oct/2000:13:55:36 -0700] "POST /form?x=\"1\" HTTP/1.1" 503 - "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"
10.0.0.3 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" - 0 "-" "-"
10.0.0.4 - - [10/Oct/2000:13:55:36 -0700] "GET /four HTTP/1.1" 200 1 "-" "curl/8.0" 0.004 extra
::1 - - [10/Oct/2000:22:55:35 +0200] "GET http://proxy.example:8080/abs?q HTTP/1.1" 200 10
"#;

    #[test]
    fn common_and_combined_lines() {
        let reqs = read(LOG).unwrap();
        assert_eq!(reqs.len(), 5);
        // The last line, 22:55:35 +0200, is 20:55:35 UTC: one second before
        // the others (13:55:36 -0700), so it comes first.
        let abs = &reqs[0];
        assert_eq!(
            (abs.authority.as_str(), abs.path.as_str()),
            ("proxy.example:8080", "/abs?q")
        );
        assert_eq!(abs.source_address.as_deref(), Some("::1"));
        let first = &reqs[1];
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("GET", "/apache_pb.gif")
        );
        assert_eq!(first.source_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(first.authority, "service.local");
        assert!(first.headers.is_empty());
        let rec = first.recorded.as_ref().unwrap();
        assert_eq!((rec.status, rec.duration), (200, Duration::ZERO));
        let post = &reqs[2];
        assert_eq!(
            (post.method.as_str(), post.path.as_str()),
            ("POST", "/form?x=\"1\"")
        );
        assert_eq!(
            post.header("user-agent"),
            Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
        );
        assert_eq!(post.recorded.as_ref().unwrap().status, 503);
        assert!(
            reqs[3].recorded.is_none() && reqs[3].headers.is_empty(),
            "status and agent '-'"
        );
        assert_eq!(reqs[4].header("user-agent"), Some("curl/8.0"));
    }

    #[test]
    fn one_second_is_spread_evenly_in_file_order() {
        let reqs = read(LOG).unwrap();
        let at: Vec<_> = reqs.iter().map(|r| r.at).collect();
        assert_eq!(
            at,
            [0, 1000, 1250, 1500, 1750].map(Duration::from_millis),
            "the four requests of 13:55:36 are a quarter second apart"
        );
    }

    #[test]
    fn mistakes_are_named() {
        let good = r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5"#;
        let cases = [
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "-" 400 0"#,
                "request line is '-'",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 0"#,
                "request line '\\x16\\x03\\x01' is not",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a b HTTP/1.1" 200 5"#,
                "request line",
            ),
            (
                r#"1.2.3.4 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 5"#,
                "no timestamp",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 5"#,
                "timestamp '10/Oct/2000:13:55:36' is not",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.1 200 5"#,
                "no request line",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1 200 5"#,
                "no request line",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" OK 5"#,
                "status 'OK'",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200"#,
                "no byte count",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 five"#,
                "byte count 'five'",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 referer"#,
                "expected `\"referer\" \"user-agent\"`",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-""#,
                "expected `\"referer\"",
            ),
            ("1.2.3.4", "expected `host ident user"),
        ];
        for (line, want) in cases {
            let got = read(&format!("{good}\n# comment\n{line}\n")).unwrap_err();
            assert!(got.starts_with("day1.log:3: "), "{got}");
            assert!(got.contains(want), "{line}\n got: {got}\nwant: {want}");
        }
    }

    proptest! {
        /// Lines that look almost right exercise the deep paths of the parser.
        #[test]
        fn near_misses_never_panic(
            line in r#"[0-9a-f:.-]{0,12} [-a-z]{0,3} [-a-z]{0,3} \[[0-9]{0,2}/[A-Za-z]{0,3}/[0-9]{0,4}:[0-9:]{0,8} [+-]?[0-9]{0,4}\]? "?[A-Z-]{0,5} ?[/a-z"\\?=]{0,8} ?(HTTP/1\.[01])?"? [0-9-]{0,4} [0-9-]{0,4}( "[^"]{0,6}"?)?( "[^"]{0,6}"?)?"#
        ) {
            let _ = read(&line);
        }
    }
}
