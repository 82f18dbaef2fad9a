//! The filter's metrics, defined once per VM at configure.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// Metric ids in this VM. A metric the host refused to define has no id and
/// is never touched (the missing stat shows in the comparison).
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: Option<u32>,
    /// Responses by status class, indexed by `status / 100` (1xx..5xx).
    pub responses: [Option<u32>; 6],
    pub local_replies: Option<u32>,
    pub callouts: Option<u32>,
    pub queue_items: Option<u32>,
    pub tick_resumes: Option<u32>,
    pub ticks: Option<u32>,
    pub last_body_bytes: Option<u32>,
    pub request_body_bytes: Option<u32>,
}

fn define(kind: MetricType, name: &str) -> Option<u32> {
    hostcalls::define_metric(kind, name).ok()
}

impl Metrics {
    pub fn define() -> Metrics {
        let class = |c: u32| define(MetricType::Counter, &format!("conformance.responses.{c}xx"));
        Metrics {
            requests: define(MetricType::Counter, "conformance.requests"),
            responses: [None, class(1), class(2), class(3), class(4), class(5)],
            local_replies: define(MetricType::Counter, "conformance.local_replies"),
            callouts: define(MetricType::Counter, "conformance.callouts"),
            queue_items: define(MetricType::Counter, "conformance.queue.items"),
            tick_resumes: define(MetricType::Counter, "conformance.tick_resumes"),
            ticks: define(MetricType::Gauge, "conformance.ticks"),
            last_body_bytes: define(MetricType::Gauge, "conformance.last_body_bytes"),
            request_body_bytes: define(MetricType::Histogram, "conformance.request_body_bytes"),
        }
    }
}

/// Adds `n` to a counter or gauge.
pub fn add(id: Option<u32>, n: i64) {
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, n);
    }
}

/// Sets a gauge, adds to a counter, records a histogram sample.
pub fn record(id: Option<u32>, value: u64) {
    if let Some(id) = id {
        let _ = hostcalls::record_metric(id, value);
    }
}
