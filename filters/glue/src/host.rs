//! The host as the core's traits.

use crate::hostcalls::{self, MapType, Status};
use sluice_core::request::RequestView;
use sluice_core::shared::{KvError, SharedKv};
use sluice_core::time::Timestamp;

/// Envoy's shared data for this VM's `vm_id`.
#[derive(Clone, Copy, Debug, Default)]
pub struct EnvoySharedData;

impl SharedKv for EnvoySharedData {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, KvError> {
        hostcalls::shared_data(key).map_err(|s| KvError::Host(s.0))
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), KvError> {
        hostcalls::set_shared_data(key, value, cas).map_err(|s| match s {
            Status::CAS_MISMATCH => KvError::CasMismatch,
            other => KvError::Host(other.0),
        })
    }
}

/// The current stream's request headers. Only valid inside a callback where
/// the host exposes them (from `on_http_request_headers` on); elsewhere every
/// lookup answers `None`, never a trap.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestHeaders;

impl RequestView for RequestHeaders {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::header(MapType::RequestHeaders, name)
            .ok()
            .flatten()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        property(path)
    }
}

/// The host's wall clock. If the host refuses (it never should), time stands
/// still at zero rather than trapping; heartbeats then look stale and lanes
/// expire, which fails open.
pub fn now() -> Timestamp {
    hostcalls::current_time_nanos()
        .map(Timestamp::from_nanos)
        .unwrap_or(Timestamp::ZERO)
}

/// The plugin configuration bytes (`proxy_on_configure`'s buffer).
pub fn plugin_configuration() -> Vec<u8> {
    hostcalls::buffer(hostcalls::BufferType::PluginConfiguration, 0, usize::MAX).unwrap_or_default()
}

/// The `:status` of the current stream's response, where the callback may
/// read response headers (`on_response_headers`, `on_log`).
pub fn response_status() -> Option<u16> {
    let value = hostcalls::header(MapType::ResponseHeaders, ":status").ok()??;
    std::str::from_utf8(&value).ok()?.parse().ok()
}

/// Sets (replacing) a request header of the current stream. Only valid in
/// request-header callbacks; the host's refusal is returned, never a trap.
pub fn set_request_header(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::replace_header(MapType::RequestHeaders, name, value.as_bytes())
}

/// Removes a request header of the current stream (absent is fine). Only
/// valid in request-header callbacks; the host's refusal is returned.
pub fn remove_request_header(name: &str) -> Result<(), Status> {
    hostcalls::remove_header(MapType::RequestHeaders, name)
}

/// Adds a response header to the current stream. Only valid in response-
/// header callbacks; the host's refusal is returned, never a trap.
pub fn add_response_header(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::add_header(MapType::ResponseHeaders, name, value.as_bytes())
}

/// A property of the current stream or of the plugin (`["xds",
/// "cluster_name"]`); `None` if absent or refused.
pub fn property(path: &[&str]) -> Option<Vec<u8>> {
    hostcalls::property(path).ok().flatten()
}
