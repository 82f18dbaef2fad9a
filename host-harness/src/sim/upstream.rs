//! Simulated upstream clusters: servers, a FIFO queue, service times,
//! errors, and windows of brownout and outage.
//!
//! A cluster with `servers` servers and a service time of mean `S` serves at
//! most `servers / S` requests per second; past that, requests wait in the
//! queue and latency grows with it, as in an M/G/c queue. During a brownout
//! window service times are multiplied by `latency_factor` (and the error
//! rate may change); during an outage every request fails at once with 503.

use serde::Deserialize;
use sluice_traffic::Dur;
use std::collections::VecDeque;
use std::time::Duration;

/// Distribution of service times.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Exponential with the given mean (memoryless; the M in M/M/c).
    #[default]
    Exponential,
    /// Always the mean.
    Constant,
    /// Log-normal with the given mean and shape `sigma` (heavy-ish tail).
    Lognormal { sigma: f64 },
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTime {
    pub mean: Dur,
    #[serde(default)]
    pub distribution: Distribution,
}

/// A window of degraded behaviour.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: Dur,
    pub end: Dur,
    /// Service times are multiplied by this (brownout); 1 = unchanged.
    #[serde(default = "one")]
    pub latency_factor: f64,
    /// Error rate during the window, replacing the cluster's.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Every request fails at once with 503 (outage).
    #[serde(default)]
    pub outage: bool,
}

fn one() -> f64 {
    1.0
}

/// A cluster as the scenario declares it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Requests served at once.
    pub servers: u32,
    pub service: ServiceTime,
    /// Most requests that may wait; past it, 503 at once. None = unbounded.
    #[serde(default)]
    pub queue_limit: Option<u32>,
    /// Fraction of responses that are 500.
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub windows: Vec<Window>,
    /// Answer with the status and duration a trace recorded, when it did.
    #[serde(default)]
    pub use_recorded: bool,
}

impl ClusterSpec {
    pub fn validate(&self, place: &str) -> Result<(), String> {
        if self.servers == 0 {
            return Err(format!("{place}.servers: must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "{place}.error_rate: {} is outside [0, 1]",
                self.error_rate
            ));
        }
        if let Distribution::Lognormal { sigma } = self.service.distribution {
            if !(sigma.is_finite() && sigma >= 0.0) {
                return Err(format!(
                    "{place}.service.distribution.lognormal.sigma: must be >= 0"
                ));
            }
        }
        for (i, w) in self.windows.iter().enumerate() {
            if w.end.0 <= w.start.0 {
                return Err(format!("{place}.windows[{i}]: end must be after start"));
            }
            if !(w.latency_factor.is_finite() && w.latency_factor > 0.0) {
                return Err(format!("{place}.windows[{i}].latency_factor: must be > 0"));
            }
            if let Some(e) = w.error_rate {
                if !(0.0..=1.0).contains(&e) {
                    return Err(format!(
                        "{place}.windows[{i}].error_rate: {e} is outside [0, 1]"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What the cluster does with a request that arrives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Admission {
    /// Service starts now and ends after this long.
    Serve(Duration),
    /// All servers busy; the request waits.
    Queued,
    /// Refused at once with this status (outage, queue full).
    Refuse(u16),
}

/// A cluster's live state.
#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    pub spec: ClusterSpec,
    busy: u32,
    queue: VecDeque<u64>,
}

impl Cluster {
    pub fn new(name: String, spec: ClusterSpec) -> Self {
        Cluster {
            name,
            spec,
            busy: 0,
            queue: VecDeque::new(),
        }
    }

    fn window(&self, now: Duration) -> Option<&Window> {
        self.spec
            .windows
            .iter()
            .find(|w| w.start.0 <= now && now < w.end.0)
    }

    /// A request `stream` arrives at `now`; `draw` gives uniform [0,1) numbers.
    pub fn arrive(
        &mut self,
        stream: u64,
        now: Duration,
        recorded: Option<Duration>,
        draw: &mut impl FnMut() -> f64,
    ) -> Admission {
        if self.window(now).is_some_and(|w| w.outage) {
            return Admission::Refuse(503);
        }
        if self.busy < self.spec.servers {
            self.busy += 1;
            return Admission::Serve(self.service_time(now, recorded, draw));
        }
        if self
            .spec
            .queue_limit
            .is_some_and(|l| self.queue.len() >= l as usize)
        {
            return Admission::Refuse(503);
        }
        self.queue.push_back(stream);
        Admission::Queued
    }

    /// A server finished; returns the next queued stream to start, if any.
    pub fn finish(&mut self) -> Option<u64> {
        match self.queue.pop_front() {
            Some(next) => Some(next),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// Drops a queued stream (its client gave up); true if it was queued.
    pub fn abandon(&mut self, stream: u64) -> bool {
        match self.queue.iter().position(|&s| s == stream) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn service_time(
        &self,
        now: Duration,
        recorded: Option<Duration>,
        draw: &mut impl FnMut() -> f64,
    ) -> Duration {
        if let (true, Some(d)) = (self.spec.use_recorded, recorded) {
            return d;
        }
        let mean = self.spec.service.mean.0.as_secs_f64();
        let base = match self.spec.service.distribution {
            Distribution::Constant => mean,
            // Inverse transform: -mean * ln(1 - u).
            Distribution::Exponential => -mean * (1.0 - draw()).ln(),
            Distribution::Lognormal { sigma } => {
                // mu chosen so the mean is `mean`: E = exp(mu + sigma^2 / 2).
                let mu = mean.max(1e-12).ln() - sigma * sigma / 2.0;
                (mu + sigma * standard_normal(draw)).exp()
            }
        };
        let factor = self.window(now).map_or(1.0, |w| w.latency_factor);
        Duration::from_secs_f64((base * factor).max(0.0))
    }

    /// The status of a response completing now.
    pub fn status(
        &self,
        now: Duration,
        recorded: Option<u16>,
        draw: &mut impl FnMut() -> f64,
    ) -> u16 {
        if let (true, Some(s)) = (self.spec.use_recorded, recorded) {
            return s;
        }
        let rate = self
            .window(now)
            .and_then(|w| w.error_rate)
            .unwrap_or(self.spec.error_rate);
        if draw() < rate {
            500
        } else {
            200
        }
    }

    /// Requests in service plus queued.
    pub fn load(&self) -> u64 {
        u64::from(self.busy) + self.queue.len() as u64
    }
}

/// Box-Muller transform (Box & Muller, 1958).
fn standard_normal(draw: &mut impl FnMut() -> f64) -> f64 {
    let u1 = draw().max(f64::MIN_POSITIVE);
    let u2 = draw();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(servers: u32) -> ClusterSpec {
        ClusterSpec {
            servers,
            service: ServiceTime {
                mean: Dur(Duration::from_millis(10)),
                distribution: Distribution::Constant,
            },
            queue_limit: Some(1),
            error_rate: 0.0,
            windows: vec![Window {
                start: Dur(Duration::from_secs(5)),
                end: Dur(Duration::from_secs(6)),
                latency_factor: 5.0,
                error_rate: None,
                outage: false,
            }],
            use_recorded: false,
        }
    }

    #[test]
    fn servers_then_queue_then_refuse() {
        let mut c = Cluster::new("a".into(), spec(1));
        let mut d = || 0.5;
        let t = Duration::ZERO;
        assert_eq!(
            c.arrive(1, t, None, &mut d),
            Admission::Serve(Duration::from_millis(10))
        );
        assert_eq!(c.arrive(2, t, None, &mut d), Admission::Queued);
        assert_eq!(c.arrive(3, t, None, &mut d), Admission::Refuse(503));
        assert_eq!(c.load(), 2);
        assert_eq!(c.finish(), Some(2));
        assert_eq!(c.finish(), None);
        assert_eq!(c.load(), 0);
    }

    #[test]
    fn brownout_multiplies_service_time() {
        let c = Cluster::new("a".into(), spec(1));
        let mut d = || 0.5;
        assert_eq!(
            c.service_time(Duration::from_millis(5_500), None, &mut d),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn exponential_mean_is_right() {
        let mut s = spec(1);
        s.service.distribution = Distribution::Exponential;
        let c = Cluster::new("a".into(), s);
        let mut x = 1u64;
        let mut d = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 20_000;
        let mean: f64 = (0..n)
            .map(|_| c.service_time(Duration::ZERO, None, &mut d).as_secs_f64())
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.010).abs() < 0.0005, "{mean}");
    }
}
