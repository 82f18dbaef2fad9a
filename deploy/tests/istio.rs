//! The Istio WasmPlugin resources in `envoy-configs/istio/` pass the CRD's
//! schema, its CEL rules and the filters' configuration types; and each
//! kind of mistake is caught with its place.

use serde_json::{json, Value};
use sluice_deploy::wasmplugin::{check, check_file, Crd};
use sluice_testkit::paths;

fn crd() -> Crd {
    Crd::load(&paths::repo_root().join("deploy/schemas/wasmplugin-crd.yaml")).expect("CRD")
}

#[test]
fn the_shipped_wasmplugins_have_no_problems() {
    let crd = crd();
    let dir = paths::repo_root().join("envoy-configs/istio");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("envoy-configs/istio") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let problems = check_file(&crd, &path).expect("readable");
            assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            n += 1;
        }
    }
    assert!(
        n >= 2,
        "expected the throttle and router WasmPlugins, found {n}"
    );
}

/// The schema in `deploy/schemas/` is a copy of the CRD this project was
/// given (`../shared/data/istio/`); where that is present, they must agree.
#[test]
fn the_vendored_crd_matches_the_given_one_where_present() {
    let given = paths::repo_root().join("../shared/data/istio/wasmplugin-crd.yaml");
    let Ok(given) = std::fs::read(&given) else {
        eprintln!("{} is absent here; nothing to compare", given.display());
        return;
    };
    let ours = std::fs::read(paths::repo_root().join("deploy/schemas/wasmplugin-crd.yaml"))
        .expect("vendored CRD");
    assert!(
        ours == given,
        "deploy/schemas/wasmplugin-crd.yaml differs from the given CRD"
    );
}

fn base() -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "sluice-throttle"},
        "spec": {
            "selector": {"matchLabels": {"app": "checkout"}},
            "pluginName": "sluice_throttle",
            "phase": "AUTHZ",
            "url": format!("oci://r.example/sluice@sha256:{}", "a".repeat(64)),
            "pluginConfig": {"limit": {"static": {"max_inflight": 10}}}
        }
    })
}

fn problems_with(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut doc = base();
    edit(&mut doc);
    check(&crd(), &doc)
}

fn assert_caught(edit: impl FnOnce(&mut Value), expected: &str) {
    let problems = problems_with(edit);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {problems:#?}"
    );
}

#[test]
fn each_kind_of_mistake_is_caught_with_its_place() {
    assert!(
        problems_with(|_| {}).is_empty(),
        "{:#?}",
        problems_with(|_| {})
    );
    // The schema.
    assert_caught(
        |d| d["spec"]["phase"] = json!("EARLY"),
        ".spec.phase: \"EARLY\" is not one of",
    );
    assert_caught(
        |d| d["spec"]["failStrategy"] = json!("FAIL_SOMETIMES"),
        ".spec.failStrategy",
    );
    assert_caught(
        |d| d["spec"]["sha256"] = json!("xyz"),
        ".spec.sha256: 'xyz' does not match",
    );
    assert_caught(
        |d| d["spec"]["priority"] = json!("high"),
        ".spec.priority: expected integer",
    );
    assert_caught(
        |d| d["spec"]["colour"] = json!(1),
        ".spec.colour: unknown field",
    );
    assert_caught(
        |d| {
            d["spec"].as_object_mut().expect("spec").remove("url");
        },
        ".spec: missing required field 'url'",
    );
    // The CEL rules.
    assert_caught(
        |d| d["spec"]["targetRefs"] = json!([{"kind": "Gateway", "name": "gw"}]),
        "only one of targetRefs or selector can be set",
    );
    assert_caught(
        |d| d["spec"]["url"] = json!("ftp://x/y.wasm"),
        "url must have schema one of",
    );
    assert_caught(
        |d| {
            d["spec"].as_object_mut().expect("spec").remove("selector");
            d["spec"]["targetRefs"] =
                json!([{"kind": "Gateway", "name": "gw", "namespace": "other"}]);
        },
        "cross namespace referencing",
    );
    assert_caught(
        |d| d["spec"]["selector"]["matchLabels"]["app"] = json!("check*"),
        "wildcard not allowed",
    );
    assert_caught(
        |d| {
            d["spec"]["vmConfig"] =
                json!({"env": [{"name": "A", "valueFrom": "HOST", "value": "x"}]})
        },
        "value may only be set when valueFrom is INLINE",
    );
    // Sluice's rules: pinned by digest, and the filter accepts the config.
    assert_caught(
        |d| d["spec"]["url"] = json!("oci://r.example/sluice:latest"),
        "is not pinned by digest",
    );
    assert_caught(
        |d| d["spec"]["pluginConfig"]["limit"]["static"]["max_inflight"] = json!(0),
        "sluice_throttle refuses it: at 'limit.static.max_inflight': 0 is outside [1, 1000000]",
    );
    assert_caught(
        |d| {
            d["spec"]["pluginName"] = json!("sluice_router");
        },
        "sluice_router refuses it: at '.': missing field `clusters`",
    );
    assert_caught(
        |d| d["kind"] = json!("EnvoyFilter"),
        ".kind: expected WasmPlugin",
    );
    assert_caught(
        |d| d["metadata"]["name"] = json!("Bad_Name"),
        ".metadata.name",
    );
}
