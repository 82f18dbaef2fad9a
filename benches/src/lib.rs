//! Benchmarks only; see `benches/policy.rs`. The library holds the request
//! view the benchmarks classify, so that the view costs what Envoy's does
//! (one owned copy of each header value asked for) and nothing more.

use sluice_core::request::RequestView;

/// A request as a fixed list of lower-case headers and properties.
#[derive(Debug)]
pub struct StaticRequest {
    pub headers: &'static [(&'static str, &'static [u8])],
    pub source_address: &'static [u8],
}

impl RequestView for StaticRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_vec())
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        (path == ["source", "address"]).then(|| self.source_address.to_vec())
    }
}
