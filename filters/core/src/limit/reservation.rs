//! Strict priority: the in-flight slots a class leaves free for the classes
//! above it.
//!
//! Fixed shares reserve headroom, they do not give priority: whenever the
//! classes above need more than `(1 − share) × L`, they are refused while a
//! lower class is admitted. Strict admission keeps, below each class, a
//! headroom sized from the load of the classes above it:
//!
//! ```text
//! ρ_c   = Σ_{k < c} λ_k / μ                   (their rate over the rate requests leave)
//! h_c   = ladder_headroom(ρ_c, tail)          (the M/M/1/K walk, below)
//! class c is admitted while  N < ⌊max_share_c × L⌋  and  N < ⌊L − h_c⌋
//! ```
//!
//! with `N` the in flight of every class. The top class is admitted up to
//! the whole limit; a lower class fills the in flight up to `L − h_c`, and
//! the `h_c` slots above are the classes above's alone: a class is refused
//! while a lower one is admitted only when their walk through those slots
//! reaches the top, at most a `tail` of the time. `λ_k` counts every
//! request of the class, refused ones included, so unmet load above keeps
//! its headroom. The headroom depends on rates, not on the latency or the
//! in flight it controls: an earlier version sized it from demand in
//! flight (`λ × W`, [`reserved_above`]), and since the latency `W` itself
//! grows with the in flight the lower classes are let into, the estimate
//! chased its own effect.
//!
//! This is the admission level of DAGOR (Zhou et al., "Overload Control
//! for Scaling WeChat Microservices", SoCC 2018), which admits from the top
//! of the priority order down to a cut-off set from the last window's
//! per-priority load, expressed in in-flight slots rather than as a
//! request-rate cut-off; and the partitioned limiter of Netflix's
//! concurrency-limits library, with partitions sized from measured load
//! instead of fixed percentages. Operator shares stay as caps
//! (`max_share`).

/// The in flight a known demand keeps, with room for its spread: sizes a
/// probe's room for the classes it protects (`throttle::destination`). The
/// upper `z`-sigma quantile of a Poisson count with mean `S`, `S + z√S +
/// (z² − 1)/6` (Cornish-Fisher; the last term matters at small `S`, where
/// the Poisson tail is heavier than the normal one), with `S` the sum of
/// the demands (in in-flight requests) of the classes before it in
/// `demands`.
pub fn reserved_above(demands: &[f64], class: usize, sigmas: f64) -> f64 {
    let above = sum_above(demands, class);
    if above <= 0.0 {
        return 0.0;
    }
    let z = sigmas.max(0.0);
    above + z * above.sqrt() + ((z * z - 1.0) / 6.0).max(0.0)
}

/// The sum of the per-class `values` (demands, rates) of the classes before
/// `class`, ignoring any that is not a positive finite number.
pub fn sum_above(values: &[f64], class: usize) -> f64 {
    values
        .iter()
        .take(class)
        .filter(|v| v.is_finite() && **v > 0.0)
        .sum()
}

/// The in-flight headroom a lower class leaves under the limit so that the
/// classes above it, whose load is `rho` (their request rate over the rate
/// requests leave), find the limit full with probability at most `tail`.
///
/// While the lower classes are held at `N < L − h`, only the classes above
/// are admitted in the top `h` slots: each of their arrivals takes a slot
/// (rate `λ`), each departure frees one (rate `μ`, the service being busy),
/// a freed slot is not refilled from below, and a slot freed at the fill
/// level is refilled at once. The in flight above `L − h` is then a
/// birth-death walk with ratio `ρ = λ/μ` on `0..=h`, which stands at `h`
/// (the limit full: a request of the classes above is refused) with
/// stationary probability `(1 − ρ)ρ^h / (1 − ρ^(h+1))` (the M/M/1/K
/// queue, Kleinrock, "Queueing Systems" vol. 1, §3.6), so
///
/// ```text
/// h = the least h with (1 − ρ)ρ^h / (1 − ρ^(h+1)) ≤ tail
///     (0 for ρ = 0; infinite for ρ ≥ 1: the classes above fill the service)
/// ```
///
/// found by stepping `h` up, at most to `max` (a class under a load that
/// needs more gets `max`). It depends on the load above, not on the limit
/// or the latency, so it does not move with the occupancy it controls.
pub fn ladder_headroom(rho: f64, tail: f64, max: u32) -> f64 {
    if rho.is_nan() || rho <= 0.0 {
        return 0.0;
    }
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    let tail = super::within(tail, 1e-12, 0.5);
    // ρ^h, and the walk's probability of standing at the top.
    let mut power = 1.0;
    let mut h = 0u32;
    while h < max && (1.0 - rho) * power / (1.0 - rho * power) > tail {
        power *= rho;
        h += 1;
    }
    f64::from(h)
}

/// The in-flight level, `⌊limit − reserved⌋` (at least 0), below which a
/// class and the classes after it are admitted when `reserved` slots are
/// kept for the classes above it.
pub fn room_below(limit: u32, reserved: f64) -> u32 {
    let free = (f64::from(limit) - reserved.max(0.0) + 1e-9).floor();
    if free <= 0.0 {
        0
    } else {
        free as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_class_reserves_nothing_and_lower_ones_keep_the_demand_above_free() {
        let demands = [4.0, 9.0, 30.0];
        assert_eq!(reserved_above(&demands, 0, 3.0), 0.0);
        let skew = 8.0 / 6.0;
        assert_eq!(reserved_above(&demands, 1, 3.0), 4.0 + 6.0 + skew);
        assert_eq!(
            reserved_above(&demands, 2, 3.0),
            13.0 + 3.0 * 13f64.sqrt() + skew
        );
        assert_eq!(reserved_above(&demands, 2, 0.0), 13.0);
        // Unknown or nonsensical demands reserve nothing.
        assert_eq!(reserved_above(&[f64::NAN, -1.0, 2.0], 2, 3.0), 0.0);
    }

    #[test]
    fn the_room_below_is_the_limit_less_the_reservation_floored_at_zero() {
        assert_eq!(room_below(20, 0.0), 20);
        assert_eq!(room_below(20, 10.0), 10);
        assert_eq!(room_below(20, 10.5), 9);
        assert_eq!(room_below(20, 19.5), 0);
        assert_eq!(room_below(20, 25.0), 0);
    }

    #[test]
    fn the_ladder_is_zero_without_load_above_and_infinite_at_full_load() {
        assert_eq!(ladder_headroom(0.0, 0.001, 32), 0.0);
        assert_eq!(ladder_headroom(f64::NAN, 0.001, 32), 0.0);
        assert_eq!(ladder_headroom(-1.0, 0.001, 32), 0.0);
        assert!(ladder_headroom(1.0, 0.001, 32).is_infinite());
        assert!(ladder_headroom(1.5, 0.001, 32).is_infinite());
        // It grows with the load above: 0.2 → 5 slots, 0.6 → 12.
        assert_eq!(ladder_headroom(0.2, 0.001, 32), 5.0);
        assert_eq!(ladder_headroom(0.6, 0.001, 32), 12.0);
        // Near 1 the walk spreads evenly over its levels: 1/(h + 1) ≤ tail.
        let near = ladder_headroom(0.99999, 0.001, 2000);
        assert!((990.0..=999.0).contains(&near), "{near}");
        // Stepping stops at the bound given.
        assert_eq!(ladder_headroom(0.99999, 0.001, 32), 32.0);
    }

    /// The property behind the headroom: with `h` slots above the level
    /// the lower classes fill to, a birth-death walk with ratio `ρ`
    /// (arrivals above at `ρμ`, departures at `μ`) stands at the limit
    /// with stationary probability at most the tail, and with one slot
    /// fewer it would not. Checked against the walk's stationary law
    /// summed term by term.
    #[test]
    fn the_walk_above_the_fill_level_reaches_the_limit_at_most_the_tail() {
        let at_top = |rho: f64, h: u32| {
            let weights: Vec<f64> = (0..=h).map(|k| rho.powi(k as i32)).collect();
            weights[h as usize] / weights.iter().sum::<f64>()
        };
        for rho in [0.01f64, 0.1, 0.3, 0.5, 0.72, 0.9, 0.99] {
            let h = ladder_headroom(rho, 0.001, 2000);
            assert!(h.is_finite(), "rho {rho}");
            let h = h as u32;
            assert!(at_top(rho, h) <= 0.001 + 1e-12, "rho {rho}: h {h}");
            if h >= 1 {
                assert!(at_top(rho, h - 1) > 0.001, "rho {rho}: h {h}");
            }
        }
    }

    /// The property behind the mechanism: a lower class is admitted only
    /// while it and those below hold < L − R, so the classes above
    /// still find R free slots, which their in-flight (Poisson with mean S)
    /// exceeds with probability under 0.5 % for z = 3, small means
    /// included.
    #[test]
    fn three_sigmas_of_poisson_demand_are_rarely_exceeded() {
        for mean in [0.1f64, 0.36, 1.0, 4.0, 16.0, 64.0] {
            let r = reserved_above(&[mean], 1, 3.0);
            // P(N > r) for N ~ Poisson(mean), summed exactly.
            let mut p = (-mean).exp();
            let mut at_most = 0.0;
            for n in 0..=(r.floor() as u32) {
                at_most += p;
                p *= mean / f64::from(n + 1);
            }
            assert!(1.0 - at_most < 0.005, "mean {mean}: {}", 1.0 - at_most);
        }
    }
}
