//! Success-rate throttling: refuse early what the service would refuse.
//!
//! The client-side throttling of Google's *Site Reliability Engineering*
//! book (ch. 21, "Handling Overload"). Over a recent window, for each
//! priority class:
//!
//! ```text
//! p_reject = clamp((requests − K × accepts) / (requests + 1), 0, max_reject)
//! ```
//!
//! `requests` counts every request of the class the filter saw, including
//! the ones it refused itself, and `accepts` the ones the service answered
//! without failing. While the service accepts everything, `requests ≤ K ×
//! accepts` and nothing is refused; as it fails more, the filter refuses a
//! growing share before the request costs the service anything. Because
//! refused requests still count as requests, the rejection probability
//! stays bounded and recovers as soon as the service accepts again. `K`
//! (aggression, ≥ 1) sets how much failure is tolerated: the book's 2 lets
//! half the requests fail before any is refused. Below `min_rps` requests
//! per second the class is not throttled (too few samples to judge), and
//! `max_reject` keeps some traffic probing the service.

use std::time::Duration;

/// Parameters (validated by the configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct SuccessRateParams {
    /// `K` in the formula, ≥ 1.
    pub aggression: f64,
    /// Below this rate of requests per second a class is not throttled.
    pub min_rps: f64,
    /// Largest rejection probability, in [0, 1).
    pub max_reject: f64,
    /// Length of one window; the estimate spans the current and the
    /// previous window.
    pub window: Duration,
}

/// Requests and accepts of one class over the estimate's span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub accepts: u64,
}

impl SuccessRateParams {
    /// The probability with which to refuse the class's next request, from
    /// `counts` gathered over `span`.
    pub fn reject_probability(&self, counts: Counts, span: Duration) -> f64 {
        let requests = counts.requests as f64;
        let secs = span.as_secs_f64();
        if secs <= 0.0 || requests / secs < self.min_rps {
            return 0.0;
        }
        let p = (requests - self.aggression * counts.accepts as f64) / (requests + 1.0);
        super::within(p, 0.0, self.max_reject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params() -> SuccessRateParams {
        SuccessRateParams {
            aggression: 2.0,
            min_rps: 5.0,
            max_reject: 0.9,
            window: Duration::from_secs(2),
        }
    }

    const SPAN: Duration = Duration::from_secs(4);

    #[test]
    fn a_healthy_service_is_never_throttled() {
        let c = Counts {
            requests: 1000,
            accepts: 1000,
        };
        assert_eq!(params().reject_probability(c, SPAN), 0.0);
        // Half failing is what K = 2 tolerates.
        let c = Counts {
            requests: 1000,
            accepts: 500,
        };
        assert_eq!(params().reject_probability(c, SPAN), 0.0);
    }

    #[test]
    fn failures_beyond_the_tolerance_are_refused_in_proportion() {
        // 10 % accepted: (1000 − 200) / 1001 ≈ 0.8.
        let c = Counts {
            requests: 1000,
            accepts: 100,
        };
        let p = params().reject_probability(c, SPAN);
        assert!((p - 800.0 / 1001.0).abs() < 1e-12, "{p}");
        // Nothing accepted: capped.
        let c = Counts {
            requests: 1000,
            accepts: 0,
        };
        assert_eq!(params().reject_probability(c, SPAN), 0.9);
    }

    #[test]
    fn too_few_requests_are_not_judged() {
        let c = Counts {
            requests: 10,
            accepts: 0,
        };
        assert_eq!(params().reject_probability(c, SPAN), 0.0, "2.5 req/s < 5");
    }

    proptest! {
        #[test]
        fn the_probability_stays_within_zero_and_the_cap(
            requests in 0u64..1_000_000,
            accepts in 0u64..1_000_000,
            aggression in 1.0f64..10.0,
            max_reject in 0.0f64..0.999,
        ) {
            let p = SuccessRateParams { aggression, max_reject, ..params() };
            let r = p.reject_probability(Counts { requests, accepts }, SPAN);
            prop_assert!((0.0..=max_reject).contains(&r));
        }
    }
}
