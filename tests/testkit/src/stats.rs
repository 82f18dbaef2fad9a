//! Envoy's `/stats` text output as a map.

use std::collections::BTreeMap;

/// Counter and gauge values by full stat name. Histograms are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    values: BTreeMap<String, u64>,
}

impl Stats {
    /// Parses `name: value` lines; lines whose value is not an integer
    /// (histogram summaries) are skipped.
    pub fn parse(text: &str) -> Stats {
        let values = text
            .lines()
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(": ")?;
                Some((name.trim().to_string(), value.trim().parse().ok()?))
            })
            .collect();
        Stats { values }
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        self.values.get(name).copied()
    }

    /// The value of `name`, or 0 if Envoy has not created it.
    pub fn value(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    /// Every stat whose name starts with `prefix`.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, u64)> {
        self.values
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_and_skips_histograms() {
        let s = Stats::parse(
            "a.b: 3\nwasmcustom.x.y: 10\nh: P0(nan,1) P25(nan,2)\ncluster.c.upstream_rq_200: 7\n",
        );
        assert_eq!(s.get("a.b"), Some(3));
        assert_eq!(s.value("wasmcustom.x.y"), 10);
        assert_eq!(s.get("h"), None);
        assert_eq!(s.with_prefix("wasmcustom.").count(), 1);
    }
}
