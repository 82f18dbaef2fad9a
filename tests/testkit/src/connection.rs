//! One HTTP/1.1 connection held open across requests, and how it ended.
//!
//! A pooled client hides which connection a request went out on. Tests of
//! what Envoy does to connections it accepted before a listener update
//! (they keep the old filter chain until they drain, then Envoy closes
//! them) need to hold one connection and watch it.

use crate::client::{read_reply, Reply};
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The server closed it between responses (a FIN, no request cut off).
    Closed,
    /// It failed: a reset, or a close in the middle of a response.
    Failed(String),
    /// Still open when the wait ran out.
    Open,
}

/// One client connection; requests on it go one at a time.
#[derive(Debug)]
pub struct Connection {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    driver: Option<JoinHandle<Result<(), hyper::Error>>>,
}

impl Connection {
    /// Connects to `addr` and completes the HTTP/1.1 handshake.
    pub fn open(addr: SocketAddr) -> Result<Connection> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (sender, driver) = rt.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .with_context(|| format!("connecting to {addr}"))?;
            stream.set_nodelay(true)?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
            anyhow::Ok((sender, tokio::spawn(conn)))
        })?;
        Ok(Connection {
            rt,
            addr,
            sender,
            driver: Some(driver),
        })
    }

    /// A GET of `path` on this connection.
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Result<Reply> {
        let mut req = hyper::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::new()))?;
        let sender = &mut self.sender;
        self.rt.block_on(async {
            sender
                .ready()
                .await
                .context("the connection is no longer usable")?;
            let resp = sender.send_request(req).await?;
            read_reply(resp).await
        })
    }

    /// Waits up to `timeout` for the server to end the connection.
    pub fn wait_ended(&mut self, timeout: Duration) -> Ended {
        let Some(driver) = self.driver.as_mut() else {
            return Ended::Failed("already waited for".to_string());
        };
        let ended = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, driver).await });
        let outcome = match ended {
            Err(_) => return Ended::Open,
            Ok(joined) => joined.map_err(|e| anyhow!("connection task: {e}")),
        };
        self.driver = None;
        match outcome {
            Ok(Ok(())) => Ended::Closed,
            Ok(Err(e)) => Ended::Failed(format!("{e:?}")),
            Err(e) => Ended::Failed(e.to_string()),
        }
    }
}
