//! The `shed_response` key: what a shed request receives.

use super::error::{ConfigError, Path};
use super::validate;
use serde::Deserialize;

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawShedResponse {
    status: u16,
    retry_after_seconds: u32,
    reason_header: String,
    body: String,
}

impl Default for RawShedResponse {
    fn default() -> Self {
        RawShedResponse {
            status: 503,
            retry_after_seconds: 1,
            reason_header: "x-sluice-shed-reason".into(),
            body: "request shed by sluice: the service is overloaded\n".into(),
        }
    }
}

pub(crate) fn validate(path: &Path, raw: RawShedResponse) -> Result<ShedResponse, ConfigError> {
    Ok(ShedResponse {
        status: validate::in_range(&path.field("status"), raw.status, 400, 599)?,
        retry_after_seconds: validate::in_range(
            &path.field("retry_after_seconds"),
            raw.retry_after_seconds,
            0,
            3600,
        )?,
        reason_header: validate::header_name(&path.field("reason_header"), &raw.reason_header)?,
        body: raw.body,
    })
}
