//! Weighted random choice in O(log n): cumulative weights and a binary search.
//!
//! For weights w_0..w_{n-1} with total W, the prefix sums C_i = w_0 + ... + w_i
//! split [0, W) into intervals [C_{i-1}, C_i) of length w_i; a uniform draw
//! U in [0, 1) picks the item whose interval holds U * W, found by binary
//! search (the inversion method for a discrete distribution; Devroye,
//! "Non-Uniform Random Variate Generation", 1986, section III.2).

/// Items with their weights, ready to sample.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Weighted<T> {
    items: Vec<T>,
    /// `cumulative[i]` = sum of the weights of items 0..=i.
    cumulative: Vec<f64>,
    /// The last item with a positive weight, for U * W rounding up to W.
    last_positive: usize,
}

/// Why a set of weights cannot be sampled; `index` names the bad weight.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WeightError {
    pub index: Option<usize>,
    pub problem: String,
}

impl<T> Weighted<T> {
    /// Weights must be finite and >= 0, with a positive, finite total.
    pub fn new(pairs: Vec<(T, f64)>) -> Result<Self, WeightError> {
        let mut items = Vec::with_capacity(pairs.len());
        let mut cumulative = Vec::with_capacity(pairs.len());
        let mut total = 0.0;
        let mut last_positive = None;
        for (i, (item, w)) in pairs.into_iter().enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(WeightError {
                    index: Some(i),
                    problem: format!("weight must be a finite number >= 0, not {w}"),
                });
            }
            if w > 0.0 {
                last_positive = Some(i);
            }
            total += w;
            items.push(item);
            cumulative.push(total);
        }
        let problem = if items.is_empty() {
            "needs at least one choice"
        } else if last_positive.is_none() {
            "the weights add up to zero"
        } else if !total.is_finite() {
            "the weights add up to more than a float can hold"
        } else {
            return Ok(Weighted {
                items,
                cumulative,
                last_positive: last_positive.unwrap_or(0),
            });
        };
        Err(WeightError {
            index: None,
            problem: problem.into(),
        })
    }

    /// The item for a uniform draw `u` in [0, 1). Items of weight 0 are
    /// never picked.
    pub fn pick(&self, u: f64) -> &T {
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = u * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.items[i.min(self.last_positive)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn frequencies_follow_the_weights() {
        let w = Weighted::new(vec![("a", 1.0), ("zero", 0.0), ("b", 3.0), ("c", 6.0)]).unwrap();
        let mut rng = SplitMix64::new(1);
        let n = 100_000;
        let mut counts = std::collections::HashMap::new();
        for _ in 0..n {
            *counts.entry(*w.pick(rng.next_f64())).or_insert(0usize) += 1;
        }
        assert_eq!(counts.get("zero"), None);
        for (k, p) in [("a", 0.1), ("b", 0.3), ("c", 0.6)] {
            let got = counts[k] as f64 / n as f64;
            // Binomial standard error sqrt(p(1-p)/n) <= 0.0016; allow 5 of them.
            assert!((got - p).abs() < 0.008, "{k}: {got} vs {p}");
        }
    }

    #[test]
    fn edges_of_the_unit_interval() {
        let w = Weighted::new(vec![(1, 2.0), (2, 0.0), (3, 1.0), (4, 0.0)]).unwrap();
        assert_eq!(*w.pick(0.0), 1);
        assert_eq!(*w.pick(0.6666), 1);
        assert_eq!(*w.pick(0.6667), 3);
        assert_eq!(*w.pick(1.0 - f64::EPSILON), 3);
        assert_eq!(
            *w.pick(1.0),
            3,
            "rounding up to the total still picks a positive weight"
        );
    }

    #[test]
    fn bad_weights_are_refused() {
        let e = Weighted::new(vec![("a", 1.0), ("b", f64::NAN)]).unwrap_err();
        assert_eq!(e.index, Some(1));
        assert!(Weighted::new(vec![("a", -1.0)]).is_err());
        assert!(Weighted::new(vec![("a", 0.0)])
            .unwrap_err()
            .problem
            .contains("zero"));
        assert!(Weighted::<u8>::new(vec![]).is_err());
        assert!(Weighted::new(vec![("a", f64::MAX), ("b", f64::MAX)]).is_err());
    }
}
