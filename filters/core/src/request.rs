//! What a policy may ask of a request.
//!
//! Header names are lower-case, as Envoy stores them; pseudo-headers
//! (`:method`, `:path`, `:authority`) are headers too. Values are bytes: a
//! header value is not guaranteed to be UTF-8, and the policy must not trap on
//! one that is not.

/// A read-only view of an HTTP request: its headers and the stream's
/// properties (Envoy's attributes: `source.address`,
/// `connection.uri_san_peer_certificate`, `xds.route_name`, ...).
pub trait RequestView {
    /// The value of header `name` (lower-case), or `None` if absent.
    fn header(&self, name: &str) -> Option<Vec<u8>>;

    /// The property at `path`, if the host knows it.
    fn property(&self, _path: &[&str]) -> Option<Vec<u8>> {
        None
    }

    /// The downstream peer's address (`ip:port`).
    fn source_address(&self) -> Option<Vec<u8>> {
        self.property(&["source", "address"])
    }
}

/// A request held in memory, for tests and for the harness's reference model.
#[derive(Clone, Debug, Default)]
pub struct OwnedRequest {
    headers: Vec<(String, Vec<u8>)>,
    properties: Vec<(String, Vec<u8>)>,
}

impl OwnedRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the property at the dotted `path` (`source.address`).
    pub fn with_property(mut self, path: &str, value: impl Into<Vec<u8>>) -> Self {
        self.properties.push((path.to_string(), value.into()));
        self
    }

    pub fn with_source_address(self, address: &str) -> Self {
        self.with_property("source.address", address)
    }
}

impl RequestView for OwnedRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        let dotted = path.join(".");
        self.properties
            .iter()
            .find(|(p, _)| *p == dotted)
            .map(|(_, v)| v.clone())
    }
}
