//! The observer: reports the `x-conformance-*` request headers that reached
//! it, i.e. what the filters before it left for the upstream.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

const PREFIX: &str = "x-conformance-";

#[derive(Debug, Default)]
pub struct Observer {
    seen: Option<String>,
}

impl Context for Observer {}

impl HttpContext for Observer {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let mut seen: Vec<(String, String)> = self
            .get_http_request_headers()
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        seen.sort();
        let text: Vec<String> = seen.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.seen = Some(if text.is_empty() {
            "none".into()
        } else {
            text.join(";")
        });
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let seen = self.seen.as_deref().unwrap_or("request headers not seen");
        self.set_http_response_header("x-conformance-observed", Some(seen));
        Action::Continue
    }
}
