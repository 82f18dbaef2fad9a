//! One HTTP stream's data, as the filters in a chain see it.
//!
//! The header maps and bodies belong to the stream, not to a filter: a header
//! one filter adds is seen by the next. They are shared between the
//! simulation and every VM a stream passes through ([`SharedStream`]).
//!
//! Which maps a filter may read depends on where the stream is, and Envoy
//! (1.40, checked against real Envoy by the harness's differential tests) is
//! strict about it: request headers are readable in `on_request_headers` and
//! stay readable only while that filter keeps the request paused; response
//! headers likewise in `on_response_headers`; both are readable again in
//! `on_log`; outside those, and in `on_done` and `on_delete`, a map access
//! returns `BadArgument`.

use super::pairs::Pairs;
use std::sync::{Arc, Mutex, MutexGuard};

/// Facts about the request that properties expose.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub id: u64,
    pub source_address: String,
    pub destination_address: String,
    pub route_name: String,
    pub cluster_name: String,
    /// Peer principal (`connection.uri_san_peer_certificate`), if mTLS.
    pub peer_principal: Option<String>,
    pub start_wall_nanos: u64,
}

/// The stream's maps and bodies.
#[derive(Debug, Default)]
pub struct StreamData {
    pub request_headers: Pairs,
    pub request_trailers: Pairs,
    pub response_headers: Pairs,
    pub response_trailers: Pairs,
    /// Body bytes a filter is looking at in `on_request_body` (including what
    /// it asked to buffer by pausing).
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    /// Values set with `proxy_set_property` (Envoy's filter state).
    pub filter_state: Vec<(Vec<u8>, Vec<u8>)>,
    pub info: RequestInfo,
    /// Response status once known (`response.code`).
    pub response_code: Option<u32>,
    pub response_code_details: String,
    /// True once a filter changed the request headers (Envoy clears the route
    /// cache when an ABI 0.2.1 module does; the route is then recomputed).
    pub request_headers_modified: bool,
}

/// A stream shared by the simulation and the VMs.
#[derive(Clone, Debug, Default)]
pub struct SharedStream(Arc<Mutex<StreamData>>);

impl SharedStream {
    pub fn new(data: StreamData) -> Self {
        SharedStream(Arc::new(Mutex::new(data)))
    }

    pub fn lock(&self) -> MutexGuard<'_, StreamData> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one filter context may touch right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub request_headers: bool,
    pub request_body: bool,
    pub request_trailers: bool,
    pub response_headers: bool,
    pub response_body: bool,
    pub response_trailers: bool,
}

impl Access {
    pub const NONE: Access = Access {
        request_headers: false,
        request_body: false,
        request_trailers: false,
        response_headers: false,
        response_body: false,
        response_trailers: false,
    };

    /// Everything but bodies: the access-log phase (`on_log`).
    pub const LOG: Access = Access {
        request_headers: true,
        request_body: false,
        request_trailers: true,
        response_headers: true,
        response_body: false,
        response_trailers: true,
    };
}

/// One filter's context for a stream.
#[derive(Debug)]
pub struct HttpContextState {
    pub root_context_id: u32,
    pub stream: SharedStream,
    pub access: Access,
    /// A local reply was sent from this context (a second one is refused).
    pub local_reply_sent: bool,
}
