//! Stats defined by guests, by name.
//!
//! Envoy gives every VM that defines the same name and kind the same stat,
//! so counters incremented on different workers add up. `record_metric` on a
//! counter adds, on a gauge sets, on a histogram records a sample;
//! `increment_metric` on a histogram is refused.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn from_abi(v: u32) -> Option<Self> {
        match v {
            0 => Some(MetricKind::Counter),
            1 => Some(MetricKind::Gauge),
            2 => Some(MetricKind::Histogram),
            _ => None,
        }
    }
}

/// One stat's current value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub kind: MetricKind,
    pub name: String,
    /// Counter total or gauge value (gauges may go negative transiently).
    pub value: i64,
    /// Histogram: samples recorded and their sum.
    pub samples: u64,
    pub sum: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricError {
    BadArgument,
}

/// Every stat of a simulated Envoy process.
#[derive(Debug, Default)]
pub struct MetricStore {
    by_name: HashMap<(MetricKind, String), usize>,
    metrics: Vec<Metric>,
}

impl MetricStore {
    /// The index of the stat `(kind, name)`, creating it at zero.
    pub fn define(&mut self, kind: MetricKind, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(&(kind, name.to_string())) {
            return i;
        }
        self.metrics.push(Metric {
            kind,
            name: name.to_string(),
            value: 0,
            samples: 0,
            sum: 0,
        });
        let i = self.metrics.len() - 1;
        self.by_name.insert((kind, name.to_string()), i);
        i
    }

    pub fn record(&mut self, index: usize, value: u64) -> Result<(), MetricError> {
        let m = self
            .metrics
            .get_mut(index)
            .ok_or(MetricError::BadArgument)?;
        let v = i64::try_from(value).unwrap_or(i64::MAX);
        match m.kind {
            MetricKind::Counter => m.value = m.value.saturating_add(v),
            MetricKind::Gauge => m.value = v,
            MetricKind::Histogram => {
                m.samples += 1;
                m.sum = m.sum.saturating_add(value);
            }
        }
        Ok(())
    }

    pub fn increment(&mut self, index: usize, offset: i64) -> Result<(), MetricError> {
        let m = self
            .metrics
            .get_mut(index)
            .ok_or(MetricError::BadArgument)?;
        match m.kind {
            MetricKind::Counter if offset < 0 => Err(MetricError::BadArgument),
            MetricKind::Counter | MetricKind::Gauge => {
                m.value = m.value.saturating_add(offset);
                Ok(())
            }
            MetricKind::Histogram => Err(MetricError::BadArgument),
        }
    }

    pub fn get(&self, index: usize) -> Result<u64, MetricError> {
        let m = self.metrics.get(index).ok_or(MetricError::BadArgument)?;
        match m.kind {
            MetricKind::Histogram => Err(MetricError::BadArgument),
            _ => Ok(u64::try_from(m.value).unwrap_or(0)),
        }
    }

    pub fn all(&self) -> &[Metric] {
        &self.metrics
    }

    /// The value of a counter or gauge by name.
    pub fn value_of(&self, name: &str) -> Option<i64> {
        self.metrics
            .iter()
            .find(|m| m.name == name && m.kind != MetricKind::Histogram)
            .map(|m| m.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_gauges_set_histograms_refuse_increment() {
        let mut s = MetricStore::default();
        let c = s.define(MetricKind::Counter, "c");
        assert_eq!(s.define(MetricKind::Counter, "c"), c);
        let g = s.define(MetricKind::Gauge, "g");
        let h = s.define(MetricKind::Histogram, "h");
        s.record(c, 3).unwrap();
        s.record(c, 4).unwrap();
        s.increment(c, 1).unwrap();
        assert_eq!(s.get(c), Ok(8));
        assert_eq!(s.increment(c, -1), Err(MetricError::BadArgument));
        s.record(g, 5).unwrap();
        s.record(g, 2).unwrap();
        s.increment(g, -1).unwrap();
        assert_eq!(s.get(g), Ok(1));
        s.record(h, 10).unwrap();
        assert_eq!(s.increment(h, 1), Err(MetricError::BadArgument));
        assert_eq!(s.get(h), Err(MetricError::BadArgument));
        assert_eq!(s.get(99), Err(MetricError::BadArgument));
    }
}
