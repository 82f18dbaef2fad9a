//! One request to replay.

use std::time::Duration;

/// A request arriving at `at` (virtual time since the scenario start).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    pub at: Duration,
    /// `GET`, `POST`, ... (upper case).
    pub method: String,
    /// Path with query string, e.g. `/api/items?id=3`.
    pub path: String,
    /// `:authority` (host).
    pub authority: String,
    /// Other request headers; names lower-case.
    pub headers: Vec<(String, String)>,
    /// Request body size in bytes (0 = no body).
    pub body_bytes: u64,
    /// Downstream peer address (`source.address` property), if known.
    pub source_address: Option<String>,
    /// What a trace recorded about the original response, if anything.
    pub recorded: Option<Recorded>,
}

impl RequestSpec {
    /// A GET of `/` at `at` with no extra headers.
    pub fn get(at: Duration) -> Self {
        RequestSpec {
            at,
            method: "GET".into(),
            path: "/".into(),
            authority: "service.local".into(),
            headers: Vec::new(),
            body_bytes: 0,
            source_address: None,
            recorded: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The original response, as a trace recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub status: u16,
    pub duration: Duration,
    pub upstream_cluster: Option<String>,
}
