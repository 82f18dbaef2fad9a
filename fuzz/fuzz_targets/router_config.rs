//! The router's plugin configuration: any bytes are either a valid
//! configuration whose rules only name configured clusters, or refused with
//! an error that names the place and the problem. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_core::config::RouterConfig;
use sluice_core::route::Action;

fn clusters_of(action: &Action) -> Vec<usize> {
    match action {
        Action::To { cluster, spillover } => {
            let mut v = vec![*cluster];
            v.extend(spillover.map(|s| s.to));
            v
        }
        Action::Balance { candidates, .. } => candidates.iter().map(|c| c.cluster).collect(),
        Action::Primary {
            primary, replicas, ..
        } => {
            let mut v = vec![*primary];
            v.extend(replicas.iter().map(|c| c.cluster));
            v
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    match RouterConfig::from_json(bytes) {
        Err(e) => sluice_fuzz::oracle::config_error(&e),
        Ok(config) => {
            let n = config.clusters.len();
            assert!(n > 0);
            let r = &config.router;
            for action in r.rules.iter().map(|rule| &rule.action).chain([&r.default]) {
                if let Action::Balance { candidates, .. } = action {
                    assert!(!candidates.is_empty(), "a balance without candidates");
                }
                for c in clusters_of(action) {
                    assert!(c < n, "cluster {c} of {n}");
                }
            }
        }
    }
});
