//! An HTTP/1.1 client for tests: single requests, background requests,
//! abrupt disconnects, and a closed-loop load driver.

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client with its own runtime; its methods block.
#[derive(Debug)]
pub struct HttpClient {
    rt: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn send(
    client: Client<HttpConnector, Full<Bytes>>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
) -> Result<Reply> {
    let mut req = hyper::Request::builder().method(method.as_str()).uri(&url);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(Bytes::new()))?;
    let resp = client
        .request(req)
        .await
        .with_context(|| format!("{method} {url}"))?;
    read_reply(resp).await
}

/// Status, headers (values as lossy text) and body of a response.
pub(crate) async fn read_reply(resp: hyper::Response<hyper::body::Incoming>) -> Result<Reply> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("building a tokio runtime for the test client: {e}"))
}

impl HttpClient {
    /// A client that keeps idle connections for reuse (keep-alive), as
    /// load generators and service clients do.
    pub fn new() -> HttpClient {
        Self::with_pool(usize::MAX)
    }

    /// A client that opens a new connection for every request. After a
    /// listener update, Envoy serves new connections with the new filter
    /// chain while connections it accepted before keep the old one until
    /// they drain; a test that asserts what a configuration does must not
    /// send on a connection from before it.
    pub fn new_connections() -> HttpClient {
        Self::with_pool(0)
    }

    fn with_pool(max_idle_per_host: usize) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(max_idle_per_host)
            .build(connector);
        HttpClient {
            rt: runtime(),
            client,
        }
    }

    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Reply> {
        self.rt.block_on(send(
            self.client.clone(),
            method.to_string(),
            url.to_string(),
            owned(headers),
        ))
    }

    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Reply> {
        self.request("GET", url, headers)
    }

    /// Starts a request in the background.
    pub fn spawn(&self, method: &str, url: &str, headers: &[(&str, &str)]) -> Pending {
        let handle = self.rt.spawn(send(
            self.client.clone(),
            method.to_string(),
            url.to_string(),
            owned(headers),
        ));
        Pending {
            handle,
            rt: self.rt.handle().clone(),
        }
    }

    /// Runs closed-loop load: each group's clients send requests back to
    /// back (after `think`) until `duration` has passed.
    pub fn load(&self, url: &str, duration: Duration, groups: &[Group]) -> LoadReport {
        let deadline = tokio::time::Instant::now() + duration;
        let mut tasks = Vec::new();
        for g in groups {
            for _ in 0..g.concurrency {
                let client = self.client.clone();
                let (url, label, headers, think) =
                    (url.to_string(), g.label.clone(), g.headers.clone(), g.think);
                tasks.push(self.rt.spawn(async move {
                    let mut out = Outcome::default();
                    while tokio::time::Instant::now() < deadline {
                        let start = Instant::now();
                        let r =
                            send(client.clone(), "GET".into(), url.clone(), headers.clone()).await;
                        out.record(r.as_ref().ok(), start.elapsed());
                        if !think.is_zero() {
                            tokio::time::sleep(think).await;
                        }
                    }
                    (label, out)
                }));
            }
        }
        self.collect(tasks)
    }

    /// Waits for every task and merges their outcomes by group label.
    fn collect(&self, tasks: Vec<tokio::task::JoinHandle<(String, Outcome)>>) -> LoadReport {
        let mut report = LoadReport::default();
        for t in tasks {
            if let Ok((label, out)) = self.rt.block_on(t) {
                report.groups.entry(label).or_default().merge(out);
            }
        }
        report
    }

    /// Runs open-loop load: each group sends `rate` requests per second at
    /// evenly spaced times for `duration`, whatever the responses take (an
    /// overloaded service does not slow the offered load down, as real
    /// independent clients do not). Requests still running `timeout` after
    /// the end count as transport errors.
    pub fn load_open(
        &self,
        url: &str,
        duration: Duration,
        groups: &[(Group, f64)],
        timeout: Duration,
    ) -> LoadReport {
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for (g, rate) in groups {
            let n = (rate * duration.as_secs_f64()) as u64;
            let gap = Duration::from_secs_f64(1.0 / rate.max(1e-9));
            for i in 0..n {
                let client = self.client.clone();
                let (url, label, headers) = (url.to_string(), g.label.clone(), g.headers.clone());
                let at = start + gap.mul_f64(i as f64);
                tasks.push(self.rt.spawn(async move {
                    tokio::time::sleep_until(at).await;
                    let sent = Instant::now();
                    let r = tokio::time::timeout(timeout, send(client, "GET".into(), url, headers))
                        .await;
                    let mut out = Outcome::default();
                    out.record(r.ok().and_then(Result::ok).as_ref(), sent.elapsed());
                    (label, out)
                }));
            }
        }
        self.collect(tasks)
    }
}

/// A request running in the background.
#[derive(Debug)]
pub struct Pending {
    handle: tokio::task::JoinHandle<Result<Reply>>,
    rt: tokio::runtime::Handle,
}

impl Pending {
    pub fn wait(self) -> Result<Reply> {
        self.rt
            .block_on(self.handle)
            .map_err(|e| anyhow!("request task failed: {e}"))?
    }
}

/// A group of identical clients in a load run.
#[derive(Clone, Debug)]
pub struct Group {
    pub label: String,
    pub concurrency: usize,
    pub headers: Vec<(String, String)>,
    pub think: Duration,
}

impl Group {
    pub fn new(label: &str, concurrency: usize, headers: &[(&str, &str)]) -> Group {
        Group {
            label: label.to_string(),
            concurrency,
            headers: owned(headers),
            think: Duration::ZERO,
        }
    }
}

/// Closed-loop clients of the three standard priority classes, labelled
/// `critical`, `default` (no priority header) and `sheddable`.
pub fn priority_mix(critical: usize, default: usize, sheddable: usize) -> Vec<Group> {
    vec![
        Group::new("critical", critical, &[("x-sluice-priority", "critical")]),
        Group::new("default", default, &[]),
        Group::new(
            "sheddable",
            sheddable,
            &[("x-sluice-priority", "sheddable")],
        ),
    ]
}

/// What one group of clients saw.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub by_status: BTreeMap<u16, u64>,
    /// Requests that got no HTTP response (connection errors).
    pub transport_errors: u64,
    /// Responses that carried a shed-reason header, by reason.
    pub shed_reasons: BTreeMap<String, u64>,
    pub latencies_ms: Vec<f64>,
    /// Latencies of the 2xx responses alone (the admitted requests).
    pub ok_latencies_ms: Vec<f64>,
}

impl Outcome {
    fn record(&mut self, reply: Option<&Reply>, elapsed: Duration) {
        match reply {
            Some(r) => {
                *self.by_status.entry(r.status).or_default() += 1;
                if let Some(reason) = r.header("x-sluice-shed-reason") {
                    *self.shed_reasons.entry(reason.to_string()).or_default() += 1;
                }
                let ms = elapsed.as_secs_f64() * 1e3;
                self.latencies_ms.push(ms);
                if (200..300).contains(&r.status) {
                    self.ok_latencies_ms.push(ms);
                }
            }
            None => self.transport_errors += 1,
        }
    }

    fn merge(&mut self, other: Outcome) {
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in other.shed_reasons {
            *self.shed_reasons.entry(k).or_default() += v;
        }
        self.transport_errors += other.transport_errors;
        self.latencies_ms.extend(other.latencies_ms);
        self.ok_latencies_ms.extend(other.ok_latencies_ms);
    }

    pub fn total(&self) -> u64 {
        self.by_status.values().sum::<u64>() + self.transport_errors
    }

    pub fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }

    /// Fraction of requests answered 2xx.
    pub fn success_rate(&self) -> f64 {
        let ok: u64 = self
            .by_status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum();
        ok as f64 / self.total().max(1) as f64
    }
}

/// Outcomes by group label.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub groups: BTreeMap<String, Outcome>,
}

impl LoadReport {
    pub fn group(&self, label: &str) -> Outcome {
        self.groups.get(label).cloned().unwrap_or_default()
    }
}

fn shared() -> &'static HttpClient {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    CLIENT.get_or_init(HttpClient::new)
}

/// A one-off GET on a process-wide client.
pub fn blocking_get(url: &str) -> Result<Reply> {
    shared().get(url, &[])
}

/// A one-off request on a process-wide client.
pub fn blocking_request(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    shared().request(method, url, headers)
}

/// Opens a connection, sends a request's headers, and leaves it open so the
/// caller can [`RawRequest::reset`] it mid-flight: a client that goes away.
#[derive(Debug)]
pub struct RawRequest {
    stream: TcpStream,
}

impl RawRequest {
    pub fn send(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<RawRequest> {
        let mut stream = TcpStream::connect(addr)?;
        let mut req = format!("GET {path} HTTP/1.1\r\nhost: test\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes())?;
        Ok(RawRequest { stream })
    }

    /// Closes the connection with a TCP reset (SO_LINGER 0 is not in std, so
    /// shut both directions; Envoy sees the downstream disconnect either way).
    pub fn reset(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}
