//! Replays a trace against a real proxy in real time, the way the harness
//! replays it in virtual time.
//!
//! Each request is sent at its arrival offset (`RequestSpec::at`) from the
//! start, on its own connection (the harness models one request per
//! connection), with a body of `body_bytes` bytes of the same filler the
//! harness uses. A recorded response becomes the test upstream's
//! per-request overrides, `x-upstream-status` and `x-upstream-delay-ms`, so
//! the real upstream answers as the harness's `use_recorded: true` cluster
//! does. Replies come back in trace order.

use crate::client::Reply;
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use sluice_traffic::RequestSpec;
use std::time::Duration;

/// How long before the first arrival the replay starts, so that every
/// request is scheduled before any is due.
const LEAD: Duration = Duration::from_millis(200);

/// Body bytes for a request of `len` bytes: the harness's filler
/// (`host-harness/src/sim/chain.rs`), so both see the same bytes.
pub fn filler(len: u64) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// The headers sent for `req`: its own, then the upstream overrides for a
/// recorded response (unless the trace sets them itself).
pub fn wire_headers(req: &RequestSpec) -> Vec<(String, String)> {
    let mut headers = req.headers.clone();
    if let Some(r) = &req.recorded {
        let overrides = [
            ("x-upstream-status", r.status.to_string()),
            (
                "x-upstream-delay-ms",
                (r.duration.as_secs_f64() * 1000.0).to_string(),
            ),
        ];
        for (k, v) in overrides {
            if !headers.iter().any(|(name, _)| name == k) {
                headers.push((k.to_string(), v));
            }
        }
    }
    headers
}

async fn send(
    client: Client<HttpConnector, Full<Bytes>>,
    base_url: String,
    req: RequestSpec,
) -> Result<Reply> {
    let url = format!("{base_url}{}", req.path);
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(&url)
        .header("host", &req.authority);
    for (k, v) in wire_headers(&req) {
        builder = builder.header(k, v);
    }
    let request = builder.body(Full::new(Bytes::from(filler(req.body_bytes))))?;
    let resp = client
        .request(request)
        .await
        .with_context(|| format!("{} {url}", req.method))?;
    crate::client::read_reply(resp).await
}

/// Sends `requests` to `base_url` (e.g. `http://127.0.0.1:10000`) at their
/// arrival offsets and returns what each got, in the same order.
pub fn replay(base_url: &str, requests: &[RequestSpec]) -> Result<Vec<Result<Reply>>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    // No idle connections are kept: each request opens its own.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    let start = tokio::time::Instant::now() + LEAD;
    let tasks: Vec<_> = requests
        .iter()
        .map(|req| {
            let (client, url, req) = (client.clone(), base_url.to_string(), req.clone());
            rt.spawn(async move {
                tokio::time::sleep_until(start + req.at).await;
                send(client, url, req).await
            })
        })
        .collect();
    Ok(tasks
        .into_iter()
        .map(|t| {
            rt.block_on(t)
                .unwrap_or_else(|e| Err(anyhow::anyhow!("request task failed: {e}")))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_traffic::Recorded;

    #[test]
    fn recorded_responses_become_upstream_overrides() {
        let mut req = RequestSpec::get(Duration::ZERO);
        req.headers.push(("x-upstream-status".into(), "418".into()));
        req.recorded = Some(Recorded {
            status: 503,
            duration: Duration::from_micros(12_500),
            upstream_cluster: None,
        });
        assert_eq!(
            wire_headers(&req),
            vec![
                ("x-upstream-status".to_string(), "418".to_string()),
                ("x-upstream-delay-ms".to_string(), "12.5".to_string()),
            ]
        );
        assert_eq!(filler(28), b"abcdefghijklmnopqrstuvwxyzab".to_vec());
    }
}
