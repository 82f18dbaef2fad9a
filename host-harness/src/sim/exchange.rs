//! What one request saw, end to end: the request as it left the filter
//! chain for the upstream, and the response the client got.
//!
//! Recorded only on request (`SimConfig::record_exchanges`), for the
//! differential tests against real Envoy and for users who want to see a
//! filter's effect request by request (`sluice replay --exchanges`).

use crate::host::pairs::Pairs;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// Position of the request in arrival order, from 0.
    pub index: u64,
    /// Request headers when the request was sent upstream; `None` if it
    /// never was (shed, or answered by the proxy).
    pub upstream_request_headers: Option<Vec<(String, String)>>,
    pub status: u32,
    pub response_headers: Vec<(String, String)>,
    pub body: String,
    /// Envoy's response code details (`via_upstream`, `sluice_throttle_...`).
    pub details: String,
}

/// Header pairs as text (lossy for non-UTF-8 bytes).
pub fn text_pairs(pairs: &Pairs) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}
