//! Axis ranges with round tick values.
//!
//! A reader compares a curve against the grid, so ticks should fall on
//! numbers people read at a glance (0, 20, 40, … or 0, 0.5, 1, …). This is
//! the "nice numbers" loose-labelling method of Paul Heckbert, "Nice Numbers
//! for Graph Labels", Graphics Gems (Academic Press, 1990): round the data
//! range to 1, 2, 5 or 10 times a power of ten, derive a tick spacing from
//! it the same way, and widen the axis outwards to whole multiples of that
//! spacing. Implemented here from the description, not from the book's code.

/// An axis from `min` to `max` with ticks every `step`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Axis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    /// Decimals needed to print a tick value exactly (0 for steps >= 1).
    pub decimals: usize,
}

/// More ticks than this would only be unreadable; it also bounds loops when
/// the input is extreme.
const MAX_TICKS: usize = 64;

impl Axis {
    /// The loose axis covering `lo..=hi` with about `target` ticks. Inputs
    /// must be finite; an empty or inverted range is widened to one unit.
    pub fn loose(lo: f64, hi: f64, target: usize) -> Axis {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let hi = if hi > lo { hi } else { lo + 1.0 };
        let range = nice(hi - lo, false);
        let step = nice(range / (target.max(2) - 1) as f64, true);
        let (min, max) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if !(step.is_finite() && step > 0.0 && min.is_finite() && max.is_finite()) {
            // Only reachable for ranges near the limits of f64.
            return Axis {
                min: lo,
                max: hi,
                step: hi - lo,
                decimals: 0,
            };
        }
        let decimals = (-step.log10().floor()).clamp(0.0, 12.0) as usize;
        Axis {
            min,
            max,
            step,
            decimals,
        }
    }

    /// The tick values from `min` to `max`.
    pub fn ticks(&self) -> Vec<f64> {
        let n = ((self.max - self.min) / self.step).round();
        let n = if n.is_finite() && n >= 0.0 {
            (n as usize).min(MAX_TICKS)
        } else {
            0
        };
        (0..=n)
            .map(|i| {
                // Multiply rather than accumulate, so 0.1 + 0.1 + 0.1 drift
                // never shows; snap values within rounding noise of zero.
                let v = self.min + i as f64 * self.step;
                if v.abs() < self.step * 1e-9 {
                    0.0
                } else {
                    v
                }
            })
            .collect()
    }

    pub fn label(&self, v: f64) -> String {
        format!("{v:.*}", self.decimals)
    }

    /// Where `v` falls on the axis, 0 at `min` and 1 at `max`.
    pub fn fraction(&self, v: f64) -> f64 {
        (v - self.min) / (self.max - self.min)
    }
}

/// A "nice" number near `x` (> 0): 1, 2, 5 or 10 times a power of ten. With
/// `round` the nearest such number, otherwise the smallest one >= `x`.
fn nice(x: f64, round: bool) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let exp = x.log10().floor();
    let power = 10f64.powf(exp);
    let f = x / power;
    let nice_f = if round {
        match f {
            f if f < 1.5 => 1.0,
            f if f < 3.0 => 2.0,
            f if f < 7.0 => 5.0,
            _ => 10.0,
        }
    } else {
        match f {
            f if f <= 1.0 => 1.0,
            f if f <= 2.0 => 2.0,
            f if f <= 5.0 => 5.0,
            _ => 10.0,
        }
    };
    nice_f * power
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ticks_for_ordinary_ranges() {
        let a = Axis::loose(0.0, 60.0, 10);
        assert_eq!((a.min, a.max, a.step, a.decimals), (0.0, 60.0, 10.0, 0));
        assert_eq!(a.ticks(), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);

        let a = Axis::loose(0.0, 60.0, 5);
        assert_eq!(a.ticks(), vec![0.0, 20.0, 40.0, 60.0]);

        let a = Axis::loose(0.0, 0.87, 5);
        assert_eq!((a.min, a.max, a.step, a.decimals), (0.0, 1.0, 0.2, 1));
        assert_eq!(a.label(a.ticks()[3]), "0.6");

        let a = Axis::loose(0.0, 1234.0, 5);
        assert_eq!((a.min, a.max, a.step), (0.0, 1500.0, 500.0));
    }

    #[test]
    fn loose_axis_covers_the_data() {
        for (lo, hi) in [(3.2, 97.1), (-5.0, 5.0), (0.001, 0.0013), (1e6, 3e9)] {
            let a = Axis::loose(lo, hi, 5);
            assert!(a.min <= lo && a.max >= hi, "{lo}..{hi} -> {a:?}");
            let ticks = a.ticks();
            assert!((2..=12).contains(&ticks.len()), "{ticks:?}");
        }
    }

    #[test]
    fn degenerate_ranges_do_not_panic() {
        let a = Axis::loose(0.0, 0.0, 5);
        assert_eq!((a.min, a.max), (0.0, 1.0));
        let a = Axis::loose(7.0, 7.0, 5);
        assert!(a.min <= 7.0 && a.max >= 8.0);
        let a = Axis::loose(f64::NAN, f64::INFINITY, 5);
        assert_eq!((a.min, a.max), (0.0, 1.0));
        let a = Axis::loose(-f64::MAX, f64::MAX, 5);
        assert!(a.ticks().len() <= MAX_TICKS + 1);
        assert_eq!(nice(0.0, true), 1.0);
    }
}
