//! The throttle's plugin configuration: any bytes are either a valid
//! configuration, whose derived values stay in range, or refused with an
//! error that names the place and the problem. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_core::config::ThrottleConfig;
use sluice_core::throttle::Throttle;

fuzz_target!(|bytes: &[u8]| {
    match ThrottleConfig::from_json(bytes) {
        Err(e) => sluice_fuzz::oracle::config_error(&e),
        Ok(config) => {
            let routes = config.routes.len();
            assert_eq!(config.destinations().count(), routes + 1);
            assert!((0.0..=100.0).contains(&config.enforce_percent));
            let t = Throttle::new(config);
            let classes = t.config().classes.len();
            assert!(classes > 0, "a valid configuration has classes");
            assert!(t.config().classes.default_class().index() < classes);
            for limit in [0, 1, t.limit(), u32::MAX] {
                for class in t.config().classes.ids() {
                    assert!(t.threshold_at(limit, class) <= limit.max(1));
                    for reserved in [0.0, 0.5, 3.0, f64::from(limit) + 1.0, f64::INFINITY] {
                        let gate = t.admission_gate(limit, class, None, reserved);
                        assert!(gate.total <= limit.max(1));
                        assert!(gate.class_and_below == u32::MAX || gate.class_and_below <= limit);
                    }
                }
            }
        }
    }
});
