//! SplitMix64: a small, seeded pseudo-random generator.
//!
//! Replays must be reproducible from the scenario's seed on every platform
//! and every version of our dependencies, so the generator lives here rather
//! than behind a crate whose output may change. SplitMix64 is Steele, Lea and
//! Flood, "Fast Splittable Pseudorandom Number Generators" (OOPSLA 2014): a
//! Weyl sequence (add the odd constant 0x9E3779B97F4A7C15, 2^64 / golden
//! ratio, to the state) passed through a 64-bit finalizer (xor-shift 30,
//! multiply, xor-shift 27, multiply, xor-shift 31: David Stafford's "Mix13"
//! variant of the MurmurHash3 finalizer, as in Vigna's reference
//! `splitmix64.c`). It passes BigCrush, has period 2^64, and every
//! seed (including 0) is good; that is plenty for traffic synthesis, and it is
//! not for cryptography.

/// Seeded SplitMix64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits as the mantissa, so every value is
    /// a multiple of 2^-53 and 1.0 is never returned.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with mean 1, by inversion: -ln(1 - U) for U uniform in
    /// [0, 1) (1 - U is in (0, 1], so the logarithm is finite).
    pub fn next_exp(&mut self) -> f64 {
        -(1.0 - self.next_f64()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let take = |seed| {
            let mut r = SplitMix64::new(seed);
            (0..8).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(take(7), take(7));
        assert_ne!(take(7), take(8));
        assert_ne!(take(0)[0], 0, "seed 0 must not be degenerate");
    }

    #[test]
    fn uniform_is_in_range_with_the_right_mean_and_spread() {
        let mut r = SplitMix64::new(42);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // U(0,1): mean 1/2 (standard error 0.29/sqrt(n) = 0.0009), variance 1/12.
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "variance {var}");
        // Every tenth of the interval gets about a tenth of the draws.
        let mut bins = [0usize; 10];
        for x in &xs {
            bins[(x * 10.0) as usize] += 1;
        }
        assert!(
            bins.iter().all(|&b| (b as f64 - 10_000.0).abs() < 500.0),
            "{bins:?}"
        );
    }

    #[test]
    fn exponential_has_mean_one() {
        let mut r = SplitMix64::new(3);
        let n = 100_000;
        let mean = (0..n).map(|_| r.next_exp()).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
    }
}
