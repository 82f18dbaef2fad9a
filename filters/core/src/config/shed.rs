//! The `shed_response` key: what a shed request receives.

use super::error::ConfigError;
use super::json::Object;
use super::validate;

/// The local reply sent instead of forwarding a shed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShedResponse {
    /// HTTP status, 503 by default (429 is the other common choice).
    pub status: u16,
    /// Value of `retry-after` in seconds; 0 leaves the header out.
    pub retry_after_seconds: u32,
    /// Response header that carries the shed reason.
    pub reason_header: String,
    /// Response body.
    pub body: String,
    /// The `grpc-status` a gRPC client receives. Envoy turns a local reply
    /// to a gRPC request into a trailers-only gRPC response; without this
    /// key it maps the HTTP status (503 and 429 both become UNAVAILABLE, 14).
    /// RESOURCE_EXHAUSTED (8) is the usual alternative.
    pub grpc_status: Option<u8>,
}

/// Reads `shed_response`; every key has a default.
pub(crate) fn read(mut raw: Object<'_>) -> Result<ShedResponse, ConfigError> {
    let response = ShedResponse {
        status: raw.u32_in("status", 503, 400, 599)? as u16,
        retry_after_seconds: raw.u32_in("retry_after_seconds", 1, 0, 3600)?,
        reason_header: {
            let name = raw.string("reason_header", "x-sluice-shed-reason")?;
            validate::header_name(&raw.path().field("reason_header"), &name)?
        },
        body: raw.string(
            "body",
            "request shed by sluice: the service is overloaded\n",
        )?,
        grpc_status: raw.opt_u32_in("grpc_status", 1, 16)?.map(|s| s as u8),
    };
    raw.finish()?;
    Ok(response)
}
