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
}

/// A request held in memory, for tests and for the harness's reference model.
#[derive(Clone, Debug, Default)]
pub struct OwnedRequest {
    headers: Vec<(String, Vec<u8>)>,
}

impl OwnedRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
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
}
