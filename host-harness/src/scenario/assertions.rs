//! SLO assertions: a measure over a window of the run, and a bound.
//!
//! ```yaml
//! assertions:
//!   - {expect: success_rate, class: critical, at_least: 0.995, after: 10s}
//!   - {expect: latency_p99, at_most: 250, after: 10s}        # milliseconds
//!   - {expect: shed_fraction, class: sheddable, at_most: 0.6}
//!   - {expect: metric, name: sluice.throttle.limit, stat: cv, at_most: 0.1, after: 20s}
//! ```
//! Windows are whole report intervals: `after` and `until` select the
//! intervals that start at or after `after` and end at or before `until`.

use crate::sim::collector::Collector;
use serde::Deserialize;
use sluice_report::model::AssertionOutcome;
use sluice_traffic::Dur;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Succeeded / offered (shed requests count as not succeeded).
    SuccessRate,
    /// Shed / offered, optionally for one `reason`.
    ShedFraction,
    /// Admitted (sent upstream) / offered.
    AdmittedFraction,
    /// Latency quantiles of admitted requests, in milliseconds.
    LatencyP50,
    LatencyP90,
    LatencyP99,
    /// Successful completions per second.
    GoodputRps,
    OfferedRps,
    /// Requests sent to `cluster` / requests sent to any cluster.
    UpstreamShare,
    /// A statistic (`stat`) of a filter metric's per-interval values.
    Metric,
    /// VM events (traps, interruptions, reloads), optionally of one `reason` kind.
    VmEvents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    #[default]
    Last,
    Min,
    Max,
    Mean,
    /// Coefficient of variation: standard deviation / mean.
    Cv,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionSpec {
    pub expect: Measure,
    #[serde(default)]
    pub class: Option<String>,
    /// Shed reason (shed_fraction) or VM event kind (vm_events).
    #[serde(default)]
    pub reason: Option<String>,
    /// Metric name (metric).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stat: Option<Stat>,
    /// Cluster (upstream_share).
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub after: Option<Dur>,
    #[serde(default)]
    pub until: Option<Dur>,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
}

fn snake(m: Measure) -> String {
    let s = format!("{m:?}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn fmt_dur(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl AssertionSpec {
    /// Checks the assertion makes sense for this scenario.
    pub fn validate(
        &self,
        place: &str,
        classes: &[String],
        clusters: &[String],
    ) -> Result<(), String> {
        if self.at_least.is_some() == self.at_most.is_some() {
            return Err(format!("{place}: give exactly one of at_least and at_most"));
        }
        if let Some(c) = &self.class {
            if !classes.contains(c) {
                return Err(format!(
                    "{place}.class: '{c}' is not a report class ({})",
                    classes.join(", ")
                ));
            }
        }
        match self.expect {
            Measure::Metric if self.name.is_none() => {
                return Err(format!(
                    "{place}.name: a metric assertion needs the metric's name"
                ))
            }
            Measure::UpstreamShare => match &self.cluster {
                None => return Err(format!("{place}.cluster: upstream_share needs a cluster")),
                Some(c) if !clusters.contains(c) => {
                    return Err(format!("{place}.cluster: '{c}' is not an upstream"))
                }
                _ => {}
            },
            _ => {}
        }
        if let (Some(a), Some(u)) = (&self.after, &self.until) {
            if u.0 <= a.0 {
                return Err(format!("{place}.until: must be after `after`"));
            }
        }
        Ok(())
    }

    /// The assertion as one line, e.g.
    /// `success_rate{class=critical} >= 0.995 after 10s`.
    pub fn text(&self) -> String {
        let mut labels = Vec::new();
        for (k, v) in [
            ("class", &self.class),
            ("reason", &self.reason),
            ("name", &self.name),
            ("cluster", &self.cluster),
        ] {
            if let Some(v) = v {
                labels.push(format!("{k}={v}"));
            }
        }
        if let Some(s) = self.stat {
            labels.push(format!("stat={}", format!("{s:?}").to_lowercase()));
        }
        let mut t = snake(self.expect);
        if !labels.is_empty() {
            t.push_str(&format!("{{{}}}", labels.join(",")));
        }
        match (self.at_least, self.at_most) {
            (Some(v), _) => t.push_str(&format!(" >= {v}")),
            (_, Some(v)) => t.push_str(&format!(" <= {v}")),
            _ => {}
        }
        if let Some(a) = &self.after {
            t.push_str(&format!(" after {}", fmt_dur(a.0)));
        }
        if let Some(u) = &self.until {
            t.push_str(&format!(" until {}", fmt_dur(u.0)));
        }
        t
    }

    /// Measures the run and compares with the bound.
    pub fn evaluate(
        &self,
        c: &Collector,
        classes: &[String],
        clusters: &[String],
        duration: Duration,
    ) -> AssertionOutcome {
        let from = self.after.map_or(Duration::ZERO, |d| d.0);
        let to = self.until.map_or(duration, |d| d.0.min(duration));
        let w = c.window(from, to);
        let secs = c.window_seconds(&w).max(1e-9);
        let class = self
            .class
            .as_ref()
            .and_then(|n| classes.iter().position(|c| c == n));
        let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let measured = match self.expect {
            Measure::SuccessRate => ratio(c.succeeded(&w, class), c.offered(&w, class)),
            Measure::ShedFraction => {
                let offered = c.offered(&w, class);
                if offered == 0 {
                    0.0
                } else {
                    c.shed(&w, class, self.reason.as_deref()) as f64 / offered as f64
                }
            }
            Measure::AdmittedFraction => ratio(c.admitted(&w, class), c.offered(&w, class)),
            Measure::LatencyP50 => c.latency(&w, class).quantile(0.50),
            Measure::LatencyP90 => c.latency(&w, class).quantile(0.90),
            Measure::LatencyP99 => c.latency(&w, class).quantile(0.99),
            Measure::GoodputRps => c.succeeded(&w, class) as f64 / secs,
            Measure::OfferedRps => c.offered(&w, class) as f64 / secs,
            Measure::UpstreamShare => {
                let k = self
                    .cluster
                    .as_ref()
                    .and_then(|n| clusters.iter().position(|c| c == n));
                let all = c.upstream_requests(&w, None);
                if all == 0 {
                    0.0
                } else {
                    c.upstream_requests(&w, k) as f64 / all as f64
                }
            }
            Measure::Metric => {
                let values = c.metric_values(&w, self.name.as_deref().unwrap_or(""));
                stat(self.stat.unwrap_or_default(), &values)
            }
            Measure::VmEvents => c.vm_event_count(self.reason.as_deref()) as f64,
        };
        let (passed, threshold) = match (self.at_least, self.at_most) {
            (Some(v), _) => (measured >= v, v),
            (_, Some(v)) => (measured <= v, v),
            _ => (false, f64::NAN),
        };
        AssertionOutcome {
            text: self.text(),
            measured,
            threshold,
            passed: passed && measured.is_finite(),
        }
    }
}

/// A statistic of a series (NaN for an empty one).
pub fn stat(s: Stat, values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    match s {
        Stat::Last => values[values.len() - 1],
        Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::Mean => mean,
        Stat::Cv => {
            if mean == 0.0 {
                return 0.0;
            }
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            var.sqrt() / mean.abs()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reads_like_the_slo() {
        let a = AssertionSpec {
            expect: Measure::SuccessRate,
            class: Some("critical".into()),
            reason: None,
            name: None,
            stat: None,
            cluster: None,
            after: Some(Dur(Duration::from_secs(10))),
            until: None,
            at_least: Some(0.995),
            at_most: None,
        };
        assert_eq!(a.text(), "success_rate{class=critical} >= 0.995 after 10s");
        assert!(a
            .validate("assertions[0]", &["critical".into()], &[])
            .is_ok());
        assert!(a.validate("assertions[0]", &["gold".into()], &[]).is_err());
    }

    #[test]
    fn stats() {
        assert_eq!(stat(Stat::Mean, &[1.0, 3.0]), 2.0);
        assert_eq!(stat(Stat::Last, &[1.0, 3.0]), 3.0);
        assert!((stat(Stat::Cv, &[9.0, 11.0]) - 0.1).abs() < 1e-12);
        assert!(stat(Stat::Min, &[]).is_nan());
    }
}
