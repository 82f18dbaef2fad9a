//! What a policy may ask of a request.
//!
//! Header names are lower-case, as Envoy stores them; pseudo-headers
//! (`:method`, `:path`, `:authority`) are headers too. Values are bytes: a
//! header value is not guaranteed to be UTF-8, and the policy must not trap on
//! one that is not.

/// A read-only view of an HTTP request's headers.
pub trait RequestView {
    /// The value of header `name` (lower-case), or `None` if absent.
    fn header(&self, name: &str) -> Option<Vec<u8>>;

    /// The downstream peer's address as Envoy's `source.address` property
    /// gives it (`ip:port`), if the host knows it.
    fn source_address(&self) -> Option<Vec<u8>> {
        None
    }
}

/// A request held in memory, for tests and for the harness's reference model.
#[derive(Clone, Debug, Default)]
pub struct OwnedRequest {
    headers: Vec<(String, Vec<u8>)>,
    source_address: Option<String>,
}

impl OwnedRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn with_source_address(mut self, address: &str) -> Self {
        self.source_address = Some(address.to_string());
        self
    }
}

impl RequestView for OwnedRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn source_address(&self) -> Option<Vec<u8>> {
        self.source_address.clone().map(String::into_bytes)
    }
}
