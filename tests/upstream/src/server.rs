//! The server and its run-time behaviour.

use crate::fault::{AbortedBody, CloseWithoutAnswer, Fault, ABORTED_PREFIX};
use crate::gate::Gate;
use crate::stats::{Counters, Stats};
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the upstream behaves; every field can change at run time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    /// Requests served at once; the rest queue. 0 = unlimited.
    pub capacity: usize,
    /// Mean service time of a request, in milliseconds.
    pub service_ms: f64,
    /// Service time varies uniformly within ± this fraction of `service_ms`.
    pub jitter: f64,
    /// Fraction of requests answered with 500.
    pub error_rate: f64,
    /// Most requests allowed to wait; past it, 503 at once. `None` = unbounded.
    pub queue_limit: Option<usize>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            capacity: 0,
            service_ms: 0.0,
            jitter: 0.0,
            error_rate: 0.0,
            queue_limit: None,
        }
    }
}

struct Shared {
    name: String,
    behaviour: RwLock<Behaviour>,
    gate: Gate,
    counters: Counters,
    seq: AtomicU64,
}

impl Shared {
    fn behaviour(&self) -> Behaviour {
        self.behaviour
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stats(&self) -> Stats {
        let (_, queued) = self.gate.busy_and_queued();
        self.counters.snapshot(queued as u64)
    }

    /// A uniform draw in [0, 1) for the n-th request (SplitMix64 finalizer).
    fn draw(&self, n: u64, salt: u64) -> f64 {
        let mut z = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A running upstream on its own threads; stopped when dropped.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.shared.name)
            .field("addr", &self.addr)
            .finish()
    }
}

impl Upstream {
    /// Starts an upstream named `name` on `127.0.0.1` at a free port.
    pub fn start(name: &str, behaviour: Behaviour) -> Result<Upstream> {
        Self::start_on("127.0.0.1:0".parse()?, name, behaviour)
    }

    /// Starts an upstream on `addr` (port 0 picks a free one).
    pub fn start_on(addr: SocketAddr, name: &str, behaviour: Behaviour) -> Result<Upstream> {
        let listener =
            std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.to_string(),
            behaviour: RwLock::new(behaviour),
            gate: Gate::default(),
            counters: Counters::default(),
            seq: AtomicU64::new(0),
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name(format!("upstream-{name}"))
            .build()?;
        let served = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("upstream-{name}"))
            .spawn(move || {
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        tokio::select! {
                            _ = accept_loop(listener, served) => {}
                            _ = rx => {}
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Upstream {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let capacity = behaviour.capacity;
        *self
            .shared
            .behaviour
            .write()
            .unwrap_or_else(|e| e.into_inner()) = behaviour;
        self.shared.gate.wake(capacity);
    }

    /// Serves until the process ends (for the binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                handle(shared, req)
            });
            // Past hyper's default of 100 headers: tests reach the proxy's
            // header limits, not the upstream's.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Request headers the server accepts.
const MAX_HEADERS: usize = 1000;

/// A whole response, or one whose body fails part-way (`abort-body`).
type Reply = Response<Either<Full<Bytes>, AbortedBody>>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r
}

/// A response, or [`CloseWithoutAnswer`] to drop the connection (`close`).
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, CloseWithoutAnswer> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/__upstream/stats") => {
            let body = serde_json::to_vec(&shared.stats()).unwrap_or_default();
            text(StatusCode::OK, body)
        }
        (&Method::POST | &Method::PUT, "/__upstream/behaviour") => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            match body
                .map_err(|e| e.to_string())
                .and_then(|b| merge(&shared, &b))
            {
                Ok(b) => text(StatusCode::OK, serde_json::to_vec(&b).unwrap_or_default()),
                Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            }
        }
        _ => return serve(shared, req).await,
    })
}

fn merge(shared: &Shared, patch: &[u8]) -> Result<Behaviour, String> {
    let patch: serde_json::Value = serde_json::from_slice(patch).map_err(|e| e.to_string())?;
    let mut current = serde_json::to_value(shared.behaviour()).map_err(|e| e.to_string())?;
    let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) else {
        return Err("expected a JSON object".into());
    };
    for (k, v) in p {
        cur.insert(k.clone(), v.clone());
    }
    let b: Behaviour = serde_json::from_value(current).map_err(|e| e.to_string())?;
    let capacity = b.capacity;
    *shared.behaviour.write().unwrap_or_else(|e| e.into_inner()) = b.clone();
    shared.gate.wake(capacity);
    Ok(b)
}

fn header_num(req: &Request<Incoming>, name: &str) -> Option<f64> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// Marks a request in service; on drop (finished or cancelled) frees its slot.
struct InService<'a> {
    shared: &'a Shared,
    capacity: usize,
    finished: bool,
}

impl Drop for InService<'_> {
    fn drop(&mut self) {
        self.shared.counters.leave_service();
        if !self.finished {
            Counters::bump(&self.shared.counters.cancelled);
        }
        self.shared.gate.release(self.capacity);
    }
}

/// `x-upstream-echo: a,b`: the request's headers `a` and `b`, as they
/// reached the upstream, returned as `x-upstream-echo-a` / `-b` (absent if
/// the request did not carry them), so tests can see what a filter removed.
fn echoed_headers(
    req: &Request<Incoming>,
) -> Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)> {
    let Some(names) = req
        .headers()
        .get("x-upstream-echo")
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    names
        .split(',')
        .filter_map(|name| {
            let value = req.headers().get(name.trim())?.clone();
            let echo = format!("x-upstream-echo-{}", name.trim()).parse().ok()?;
            Some((echo, value))
        })
        .collect()
}

async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, CloseWithoutAnswer> {
    let n = shared.seq.fetch_add(1, Ordering::Relaxed);
    Counters::bump(&shared.counters.requests);
    let b = shared.behaviour();
    let delay_ms = header_num(&req, "x-upstream-delay-ms").unwrap_or_else(|| {
        let spread = (shared.draw(n, 0x5EED) * 2.0 - 1.0) * b.jitter;
        b.service_ms * (1.0 + spread)
    });
    let forced =
        header_num(&req, "x-upstream-status").and_then(|s| StatusCode::from_u16(s as u16).ok());
    let fault = req
        .headers()
        .get("x-upstream-fault")
        .and_then(|v| Fault::parse(v.as_bytes()));
    let echoed = echoed_headers(&req);
    let _ = req.into_body().collect().await;
    let queued_at = tokio::time::Instant::now();
    if shared
        .gate
        .acquire(b.capacity, b.queue_limit)
        .await
        .is_err()
    {
        Counters::bump(&shared.counters.rejected);
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream queue full\n",
        ));
    }
    let queue_ms = queued_at.elapsed().as_millis();
    shared.counters.enter_service();
    let mut guard = InService {
        shared: &shared,
        capacity: b.capacity,
        finished: false,
    };
    if delay_ms > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(delay_ms / 1000.0)).await;
    }
    if fault.is_some() {
        Counters::bump(&shared.counters.faults);
    }
    if fault == Some(Fault::Close) {
        guard.finished = true;
        return Err(CloseWithoutAnswer);
    }
    let status = forced.unwrap_or_else(|| {
        if shared.draw(n, 0xE77) < b.error_rate {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    });
    if status.is_success() {
        Counters::bump(&shared.counters.ok);
    } else if status.is_server_error() {
        Counters::bump(&shared.counters.errors);
    }
    guard.finished = true;
    drop(guard);
    let mut r = text(
        status,
        format!("{} from {}\n", status.as_u16(), shared.name),
    );
    let h = r.headers_mut();
    if let Ok(v) = shared.name.parse() {
        h.insert("x-upstream-name", v);
    }
    if let Ok(v) = queue_ms.to_string().parse() {
        h.insert("x-upstream-queue-ms", v);
    }
    for (name, value) in echoed {
        h.insert(name, value);
    }
    if fault == Some(Fault::AbortBody) {
        // Announce more than the body will send before it fails.
        let (mut parts, _) = r.into_parts();
        parts.headers.insert(
            hyper::header::CONTENT_LENGTH,
            hyper::header::HeaderValue::from(ABORTED_PREFIX.len() * 4),
        );
        return Ok(Response::from_parts(
            parts,
            Either::Right(AbortedBody::default()),
        ));
    }
    Ok(r)
}
