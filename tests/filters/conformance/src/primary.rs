//! The primary: one stream, steered by its `x-conformance-*` request headers
//! (the table is in the crate docs).

use crate::config::QUEUE;
use crate::metrics;
use crate::root::Plugin;
use crate::shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;
use std::time::Duration;

/// A request header of the current stream.
fn header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
}

/// How long a callout may take before the host fails it.
const CALLOUT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Primary {
    context_id: u32,
    plugin: Rc<Plugin>,
    /// `K=N` after a shared-data increment.
    counter: Option<String>,
    /// What enqueueing returned.
    enqueue: Option<String>,
    waiting_for_tick: bool,
    /// With a callout: answer locally with its status.
    callout_then_reply: bool,
    callout: Option<String>,
    echo_body: bool,
    /// Length and FNV-1a of the request body, once it ended.
    body: Option<(usize, u64)>,
    rewrite_body: bool,
    hide_upstream: bool,
}

impl Primary {
    pub fn new(context_id: u32, plugin: Rc<Plugin>) -> Primary {
        Primary {
            context_id,
            plugin,
            counter: None,
            enqueue: None,
            waiting_for_tick: false,
            callout_then_reply: false,
            callout: None,
            echo_body: false,
            body: None,
            rewrite_body: false,
            hide_upstream: false,
        }
    }

    fn reply(&self, status: u32, headers: Vec<(&str, &str)>, body: &str) {
        metrics::add(self.plugin.metrics.local_replies, 1);
        self.send_http_response(status, headers, Some(body.as_bytes()));
    }

    fn edit_request_headers(&self) {
        self.add_http_request_header("x-conformance-added", "primary");
        self.remove_http_request_header("x-conformance-strip");
        if let Some(v) = self.get_http_request_header("x-conformance-replace") {
            self.set_http_request_header("x-conformance-replace", Some(&format!("replaced({v})")));
        }
    }

    fn count(&mut self, key: &str) {
        let value = match shared::increment(&format!("conformance.counter.{key}")) {
            Ok(n) => n.to_string(),
            Err(e) => format!("error:{e:?}"),
        };
        self.counter = Some(format!("{key}={value}"));
    }

    fn enqueue(&mut self, item: &str) {
        let vm_id = self.plugin.config.queue_vm_id.clone();
        let result = match hostcalls::resolve_shared_queue(&vm_id, QUEUE) {
            Ok(Some(token)) => {
                match hostcalls::enqueue_shared_queue(token, Some(item.as_bytes())) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("enqueue:{e:?}"),
                }
            }
            Ok(None) => "unresolved".to_string(),
            Err(e) => format!("resolve:{e:?}"),
        };
        self.enqueue = Some(result);
    }

    /// Starts the callout; true if the request now waits for it.
    fn call_out(&mut self, status: &str) -> bool {
        let cluster = self.plugin.config.callout_cluster.clone();
        let headers = vec![
            (":method", "GET"),
            (":path", "/callout"),
            (":authority", "conformance.callout"),
            ("x-upstream-status", status),
            ("x-upstream-delay-ms", "20"),
        ];
        match self.dispatch_http_call(&cluster, headers, None, vec![], CALLOUT_TIMEOUT) {
            Ok(_) => {
                metrics::add(self.plugin.metrics.callouts, 1);
                true
            }
            Err(e) => {
                self.callout = Some(format!("dispatch:{e:?}"));
                false
            }
        }
    }
}

impl Context for Primary {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let status = self
            .get_http_call_response_header(":status")
            .unwrap_or_else(|| "none".into());
        let upstream = self
            .get_http_call_response_header("x-upstream-name")
            .unwrap_or_else(|| "none".into());
        let body_bytes = self
            .get_http_call_response_body(0, body_size)
            .map_or(0, |b| b.len());
        let result = format!("status={status} body_bytes={body_bytes} upstream={upstream}");
        if self.callout_then_reply {
            let code = status.parse().unwrap_or(500);
            self.reply(
                code,
                vec![("x-conformance-callout", &result)],
                &format!("callout answered {status}\n"),
            );
        } else {
            // The request is paused, so its headers can still be changed.
            self.set_http_request_header("x-conformance-callout-status", Some(&status));
            self.resume_http_request();
        }
        self.callout = Some(result);
    }
}

impl HttpContext for Primary {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        metrics::add(self.plugin.metrics.requests, 1);
        self.edit_request_headers();
        if let Some(status) = header("x-conformance-local").and_then(|s| s.parse::<u32>().ok()) {
            let code = status.to_string();
            self.reply(
                status,
                vec![
                    ("x-conformance-local", &code),
                    ("x-conformance-custom", "custom-value"),
                    ("x-conformance-multi", "local-1"),
                    ("x-conformance-multi", "local-2"),
                ],
                &format!("local reply {status}\n"),
            );
            return Action::Pause;
        }
        self.echo_body = header("x-conformance-body").as_deref() == Some("echo");
        self.rewrite_body = header("x-conformance-rewrite-body").is_some();
        self.hide_upstream = header("x-conformance-hide-upstream").is_some();
        self.callout_then_reply = header("x-conformance-callout-then").as_deref() == Some("reply");
        let counter = header("x-conformance-counter");
        let item = header("x-conformance-enqueue");
        let callout = header("x-conformance-callout");
        let wait = header("x-conformance-wait-tick").is_some();
        if let Some(key) = counter {
            self.count(&key);
        }
        if let Some(item) = item {
            self.enqueue(&item);
        }
        if let Some(status) = callout {
            if self.call_out(&status) {
                return Action::Pause;
            }
        }
        if wait {
            self.waiting_for_tick = true;
            self.plugin
                .waiting_for_tick
                .borrow_mut()
                .push(self.context_id);
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            // Buffer the whole body: the size at the end is then all of it.
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        let (len, hash) = (body.len(), shared::fnv1a(&body));
        metrics::record(self.plugin.metrics.request_body_bytes, len as u64);
        metrics::record(self.plugin.metrics.last_body_bytes, len as u64);
        self.body = Some((len, hash));
        if self.echo_body {
            let (len, hash) = (len.to_string(), format!("{hash:016x}"));
            self.reply(
                200,
                vec![
                    ("x-conformance-body-bytes", &len),
                    ("x-conformance-body-fnv", &hash),
                ],
                &format!("echo body_bytes={len} fnv1a={hash}\n"),
            );
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        self.set_http_response_header("x-conformance-saw-status", Some(&status));
        self.add_http_response_header("x-conformance-multi", "one");
        self.add_http_response_header("x-conformance-multi", "two");
        if let Some(c) = &self.counter {
            self.set_http_response_header("x-conformance-counter", Some(c));
        }
        if let Some(e) = &self.enqueue {
            self.set_http_response_header("x-conformance-enqueue", Some(e));
            let (dequeued, _) = shared::read_counter(shared::DEQUEUED_KEY);
            self.set_http_response_header("x-conformance-dequeued", Some(&dequeued.to_string()));
        }
        if self.waiting_for_tick {
            self.set_http_response_header("x-conformance-resumed", Some("tick"));
            metrics::add(self.plugin.metrics.tick_resumes, 1);
        }
        if let Some(c) = &self.callout {
            self.set_http_response_header("x-conformance-callout", Some(c));
        }
        if let Some((len, hash)) = self.body {
            let seen = format!("bytes={len} fnv1a={hash:016x}");
            self.set_http_response_header("x-conformance-request-body", Some(&seen));
        }
        if self.hide_upstream {
            self.remove_http_response_header("x-upstream-name");
        }
        if self.rewrite_body {
            // The body changes length: let the proxy frame it.
            self.remove_http_response_header("content-length");
            self.set_http_response_header("x-conformance-rewritten", Some("1"));
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.rewrite_body {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self
            .get_http_response_body(0, body_size)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body).to_uppercase();
        let new = format!("rewritten {} bytes: {text}", body.len());
        self.set_http_response_body(0, body_size, new.as_bytes());
        Action::Continue
    }

    fn on_log(&mut self) {
        let class = self
            .get_http_response_header(":status")
            .and_then(|s| s.parse::<usize>().ok())
            .map(|s| s / 100);
        if let Some(id) = class.and_then(|c| self.plugin.metrics.responses.get(c).copied()) {
            metrics::add(id, 1);
        }
    }
}
