//! Local replies for shed requests.

use crate::hostcalls::{self, Status};
use sluice_core::config::ShedResponse;

/// Refuses the current request with the configured status, `retry-after`,
/// and a header naming `reason`. The reply takes effect when the current
/// callback returns. Envoy's response-code details (`%RESPONSE_CODE_DETAILS%`
/// in access logs) read `sluice_<filter>_<reason>`.
pub fn send_shed(response: &ShedResponse, filter: &str, reason: &str) -> Result<(), Status> {
    let retry_after = response.retry_after_seconds.to_string();
    let mut headers: Vec<(&str, &[u8])> = vec![
        (response.reason_header.as_str(), reason.as_bytes()),
        ("content-type", b"text/plain"),
    ];
    if response.retry_after_seconds > 0 {
        headers.push(("retry-after", retry_after.as_bytes()));
    }
    let details = format!("sluice_{filter}_{reason}");
    hostcalls::send_local_response(
        u32::from(response.status),
        &details,
        response.body.as_bytes(),
        &headers,
        response.grpc_status.map_or(-1, i32::from),
    )
}
