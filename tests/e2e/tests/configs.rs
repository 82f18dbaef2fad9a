//! Every Envoy bootstrap in `envoy-configs/` is accepted by real Envoy 1.40
//! (`envoy --mode validate`, which also loads each wasm plugin and runs its
//! `on_configure` on the configuration in the file).

use sluice_testkit::envoy::Envoy;
use sluice_testkit::paths;
use std::path::{Path, PathBuf};

fn envoy_yamls(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Istio resources and rollout plans are not Envoy bootstraps;
            // they have their own tests (deploy/tests, rollout.rs).
            if p.file_name()
                .is_some_and(|n| n != "istio" && n != "rollout")
            {
                envoy_yamls(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_envoy_config_validates() {
    let mut files = Vec::new();
    envoy_yamls(&paths::repo_root().join("envoy-configs"), &mut files);
    assert!(!files.is_empty(), "no Envoy configs found");
    let mut failures = Vec::new();
    for f in &files {
        let (ok, output) = Envoy::validate(f).expect("running envoy --mode validate");
        if !ok {
            failures.push(format!("{}:\n{output}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid configs:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_config_with_a_bad_plugin_configuration_fails_validation() {
    let bootstrap = sluice_testkit::bootstrap::Bootstrap::load("throttle-inbound.yaml")
        .and_then(|b| {
            b.plugin_config(
                "sluice_throttle",
                r#"{"limit": {"static": {"max_inflight": -3}}}"#,
            )
        })
        .expect("bootstrap");
    let dir = std::env::temp_dir().join(format!("sluice-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, bootstrap.to_yaml().expect("yaml")).expect("write");
    let (ok, output) = Envoy::validate(&file).expect("envoy --mode validate");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "validation should fail:\n{output}");
    assert!(
        output.contains("invalid plugin configuration at 'limit.static.max_inflight'"),
        "{output}"
    );
}
