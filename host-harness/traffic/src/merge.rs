//! Interleaving several traffic sources by arrival time.
//!
//! A scenario may combine generators and traces; the simulation consumes one
//! stream in time order. This is a k-way merge: a min-heap holds the next
//! request of each source, keyed by (arrival time, source index), so each
//! request costs O(log k) and ties go to the source listed first. Only one
//! request per source is held, so sources stay lazy. Each source must itself
//! be in arrival order (generators and loaded traces are).

use crate::RequestSpec;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// Merges time-ordered `sources` into one time-ordered stream.
pub fn merge(sources: Vec<Box<dyn Iterator<Item = RequestSpec>>>) -> Merge {
    Merge {
        sources,
        heap: BinaryHeap::new(),
        primed: false,
    }
}

/// The merged stream (see [`merge`]).
pub struct Merge {
    sources: Vec<Box<dyn Iterator<Item = RequestSpec>>>,
    heap: BinaryHeap<Reverse<Head>>,
    /// Whether the first request of every source has been pulled.
    primed: bool,
}

impl std::fmt::Debug for Merge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merge")
            .field("sources", &self.sources.len())
            .field("pending", &self.heap.len())
            .finish()
    }
}

/// The next request of source `source`.
struct Head {
    at: Duration,
    source: usize,
    request: RequestSpec,
}

impl Head {
    fn key(&self) -> (Duration, usize) {
        (self.at, self.source)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl Merge {
    fn pull(&mut self, source: usize) {
        if let Some(request) = self.sources[source].next() {
            self.heap.push(Reverse(Head {
                at: request.at,
                source,
                request,
            }));
        }
    }
}

impl Iterator for Merge {
    type Item = RequestSpec;

    fn next(&mut self) -> Option<RequestSpec> {
        if !self.primed {
            self.primed = true;
            for i in 0..self.sources.len() {
                self.pull(i);
            }
        }
        let Reverse(head) = self.heap.pop()?;
        self.pull(head.source);
        Some(head.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;
    use std::rc::Rc;

    fn at_ms(ms: u64, path: &str) -> RequestSpec {
        RequestSpec {
            path: path.into(),
            ..RequestSpec::get(Duration::from_millis(ms))
        }
    }

    fn source(items: Vec<RequestSpec>) -> Box<dyn Iterator<Item = RequestSpec>> {
        Box::new(items.into_iter())
    }

    #[test]
    fn interleaves_by_time_and_breaks_ties_by_source_order() {
        let a = vec![
            at_ms(0, "/a0"),
            at_ms(10, "/a1"),
            at_ms(10, "/a2"),
            at_ms(30, "/a3"),
        ];
        let b = vec![at_ms(5, "/b0"), at_ms(10, "/b1"), at_ms(40, "/b2")];
        let out: Vec<String> = merge(vec![source(b), source(vec![]), source(a)])
            .map(|r| r.path)
            .collect();
        assert_eq!(out, ["/a0", "/b0", "/b1", "/a1", "/a2", "/a3", "/b2"]);
    }

    #[test]
    fn pulls_lazily() {
        let pulled = Rc::new(Cell::new(0));
        let counter = Rc::clone(&pulled);
        let endless = (0u64..).map(move |i| {
            counter.set(counter.get() + 1);
            at_ms(i, "/x")
        });
        let mut m = merge(vec![Box::new(endless), source(vec![at_ms(3, "/y")])]);
        assert_eq!(
            pulled.get(),
            0,
            "nothing is pulled before the first request is asked for"
        );
        let first: Vec<_> = m.by_ref().take(5).map(|r| r.path).collect();
        assert_eq!(first, ["/x", "/x", "/x", "/x", "/y"]);
        assert!(pulled.get() <= 6, "pulled {}", pulled.get());
    }

    #[test]
    fn merges_a_generator_with_a_trace_as_the_harness_does() {
        use crate::generator::{Generator, GeneratorSpec};
        use crate::trace::{parse, TraceFormat, TraceSpec};
        let spec: GeneratorSpec =
            serde_json::from_str(r#"{"rate": {"constant": {"rps": 50}}}"#).unwrap();
        let generated = Generator::new(&spec, "traffic[0]").unwrap();
        let trace: TraceSpec =
            serde_json::from_str(r#"{"format": "jsonl", "path": "t", "offset": "1s"}"#).unwrap();
        let recorded = parse(
            TraceFormat::Jsonl,
            "{\"t_ms\": 0, \"path\": \"/t0\"}\n{\"t_ms\": 500, \"path\": \"/t1\"}",
            "t",
            &trace,
        )
        .unwrap();
        let sources: Vec<Box<dyn Iterator<Item = RequestSpec>>> = vec![
            Box::new(generated.arrivals(1, Duration::from_secs(2))),
            Box::new(recorded.into_iter()),
        ];
        let all: Vec<RequestSpec> = merge(sources).collect();
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
        let t: Vec<Duration> = all
            .iter()
            .filter(|r| r.path.starts_with("/t"))
            .map(|r| r.at)
            .collect();
        assert_eq!(
            t,
            [Duration::from_millis(1000), Duration::from_millis(1500)]
        );
        assert!(all.len() > 60, "{}", all.len());
    }

    proptest! {
        #[test]
        fn output_is_sorted_and_loses_nothing(
            lists in proptest::collection::vec(proptest::collection::vec(0u64..50, 0..20), 0..6)
        ) {
            let mut sources = Vec::new();
            let mut expected = Vec::new();
            for (s, mut times) in lists.into_iter().enumerate() {
                times.sort_unstable();
                for (i, t) in times.iter().enumerate() {
                    expected.push((*t, s, i));
                }
                sources.push(source(
                    times.iter().enumerate().map(|(i, t)| at_ms(*t, &format!("{s}/{i}"))).collect(),
                ));
            }
            // Stable order: by time, then source, then position in the source.
            expected.sort();
            let got: Vec<String> = merge(sources).map(|r| r.path).collect();
            let want: Vec<String> = expected.iter().map(|(_, s, i)| format!("{s}/{i}")).collect();
            prop_assert_eq!(got, want);
        }
    }
}
