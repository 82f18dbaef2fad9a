//! Priority headroom: the in-flight level up to which a class is admitted.

/// In-flight requests below which a request of a class with `share` is
/// admitted: `⌊limit × share⌋`.
///
/// A tiny epsilon is added before flooring so that shares written in decimal
/// land where an operator expects (`0.29 × 100` is `28.999…` in binary
/// floating point, and the operator meant 29).
pub fn class_threshold(limit: u32, share: f64) -> u32 {
    let t = (f64::from(limit) * share + 1e-9).floor();
    if t <= 0.0 {
        0
    } else if t >= f64::from(limit) {
        limit
    } else {
        t as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_floor_and_clamp() {
        assert_eq!(class_threshold(10, 1.0), 10);
        assert_eq!(class_threshold(10, 0.8), 8);
        assert_eq!(class_threshold(10, 0.55), 5);
        assert_eq!(class_threshold(100, 0.29), 29);
        assert_eq!(class_threshold(3, 0.0), 0);
        assert_eq!(class_threshold(1, 0.5), 0);
    }
}
