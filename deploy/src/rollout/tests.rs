use super::*;

const PLAN: &str = r#"
name: sluice-throttle
namespace: shop
plugin: sluice_throttle
url: oci://registry.example.com/sluice/throttle@sha256:ac60f2cfdf2541b8cf3b033405948fa1d9826b02e184b32481e4380b912d359e
sha256: 1954ad3d8c6ceff3c7139ce2838ced28fe47795d93660e281cbbc2eb74b50d2f
pluginConfig:
  limit: {static: {max_inflight: 100}}
canary: {matchLabels: {app: checkout, track: canary}}
everywhere: {matchLabels: {app: checkout}}
enforce_percents: [10, 50]
gate: {min_requests: 10, max_error_rate: 0.05}
"#;

fn crd() -> Crd {
    Crd::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/wasmplugin-crd.yaml"))
        .expect("CRD")
}

#[test]
fn a_throttle_plan_has_seven_stages_all_valid_and_pinned_to_one_digest() {
    let plan = Plan::parse(PLAN).expect("plan");
    let names: Vec<String> = plan.stages().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "shadow-canary",
            "enforce-canary",
            "shadow-everywhere",
            "enforce-10pct",
            "enforce-50pct",
            "enforce-everywhere"
        ]
    );
    let dir = std::env::temp_dir().join(format!("sluice-rollout-{}", std::process::id()));
    let files = plan
        .write(&crd(), &dir)
        .expect("every stage is a valid WasmPlugin");
    assert_eq!(files.len(), 6);
    let first = plan.manifest(&plan.stages()[0]);
    assert_eq!(first["spec"]["pluginConfig"]["mode"], "shadow");
    assert_eq!(first["spec"]["selector"]["matchLabels"]["track"], "canary");
    let ten = plan.manifest(&plan.stage("enforce-10pct").expect("stage"));
    assert_eq!(ten["spec"]["pluginConfig"]["enforce_percent"], 10.0);
    assert!(ten["spec"]["selector"]["matchLabels"]
        .get("track")
        .is_none());
    for s in plan.stages() {
        assert_eq!(plan.manifest(&s)["spec"]["url"], plan.url);
    }
}

#[test]
fn a_router_plan_skips_percent_stages_and_bad_plans_are_refused() {
    let router = PLAN
        .replace("plugin: sluice_throttle", "plugin: sluice_router")
        .replace(
            "  limit: {static: {max_inflight: 100}}",
            "  clusters: {a: {}}\n  default: {to: a}",
        );
    let plan = Plan::parse(&router).expect("plan");
    assert_eq!(plan.stages().len(), 4);
    assert!(
        Plan::parse(&PLAN.replace("enforce_percents: [10, 50]", "enforce_percents: [50, 10]"))
            .is_err()
    );
    assert!(Plan::parse(&PLAN.replace("plugin: sluice_throttle", "plugin: other")).is_err());
    let e = Plan::parse(&format!("{PLAN}colour: red\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown key `colour`"), "{e}");
    let bad_policy = PLAN.replace("max_inflight: 100", "max_inflight: 0");
    let e = Plan::parse(&bad_policy)
        .expect("parses")
        .write(&crd(), &std::env::temp_dir())
        .unwrap_err();
    assert!(e.to_string().contains("max_inflight"), "{e}");
}

const ENVOY_STATS: &str = "\
http.inbound.downstream_rq_completed: 200
http.inbound.downstream_rq_5xx: 3
http.admin.downstream_rq_completed: 9
wasm.sluice_throttle.vm_reload: 0
wasmcustom.sluice.throttle.rq_admitted.class.critical: 50
wasmcustom.sluice.throttle.rq_admitted.class.default: 117
wasmcustom.sluice.throttle.rq_shadow_shed.class.critical.reason.concurrency_limit: 2
wasmcustom.sluice.throttle.rq_shadow_shed.class.sheddable.reason.concurrency_limit: 30
wasmcustom.sluice.throttle.rq_shed.class.sheddable.reason.concurrency_limit: 1
cluster.x.upstream_rq_time: P0(nan,1) P25(nan,2)
";

const PROMETHEUS: &str = r#"# TYPE envoy_http_downstream_rq_completed counter
envoy_http_downstream_rq_completed{envoy_http_conn_manager_prefix="inbound"} 200
envoy_http_downstream_rq_xx{envoy_response_code_class="5",envoy_http_conn_manager_prefix="inbound"} 3
envoy_http_downstream_rq_completed{envoy_http_conn_manager_prefix="admin"} 9
envoy_wasm_sluice_throttle_vm_reload{} 0
sluice_throttle_rq_admitted{sluice_class="critical"} 50
sluice_throttle_rq_admitted{sluice_class="default"} 117
sluice_throttle_rq_shadow_shed{sluice_class="critical",sluice_reason="concurrency_limit"} 2
sluice_throttle_rq_shadow_shed{sluice_class="sheddable",sluice_reason="concurrency_limit"} 30
sluice_throttle_rq_shed{sluice_class="sheddable",sluice_reason="concurrency_limit"} 1
"#;

#[test]
fn both_stats_formats_read_the_same_and_the_gate_gives_its_reasons() {
    let plan = Plan::parse(PLAN).expect("plan");
    let shadow = plan.stage("shadow-canary").expect("stage");
    for text in [ENVOY_STATS, PROMETHEUS] {
        let s = Samples::parse(text);
        assert_eq!(
            s.sum(
                "envoy_http_downstream_rq_completed",
                &[("envoy_http_conn_manager_prefix", "inbound")]
            ),
            200.0
        );
        assert_eq!(
            s.sum(
                "sluice_throttle_rq_shadow_shed",
                &[("sluice_class", "critical")]
            ),
            2.0
        );
        let v = gate(&plan, &shadow, &s);
        assert!(!v.go, "critical would be shed: {v:?}");
        assert!(
            v.reasons
                .iter()
                .any(|r| r.starts_with("FAIL critical traffic would shed (shadow): 2 of 52")),
            "{v:?}"
        );
        // 3 5xx, 1 of them Sluice's own shed: 2 / 200 = 1 %, within 5 %.
        assert!(
            v.reasons
                .iter()
                .any(|r| r.starts_with("PASS error rate: 0.0100")),
            "{v:?}"
        );
    }
    let healthy = ENVOY_STATS.replace(
        "rq_shadow_shed.class.critical.reason.concurrency_limit: 2",
        "rq_shadow_shed.class.critical.reason.concurrency_limit: 0",
    );
    let v = gate(&plan, &shadow, &Samples::parse(&healthy));
    assert!(v.go, "{v:?}");
    let failing = healthy.replace("vm_reload: 0", "vm_reload: 1");
    assert!(!gate(&plan, &shadow, &Samples::parse(&failing)).go);
    // One worker's VM trapped under FAIL_OPEN: Envoy counts nothing, but
    // the throttle decided on only 81 of the 200 requests.
    let failed_open = healthy.replace(
        "rq_admitted.class.default: 117",
        "rq_admitted.class.default: 0",
    );
    let v = gate(&plan, &shadow, &Samples::parse(&failed_open));
    assert!(!v.go, "{v:?}");
    assert!(
        v.reasons
            .iter()
            .any(|r| r.starts_with("FAIL filter coverage: the throttle decided on 81 of 200")),
        "{v:?}"
    );
    let quiet = healthy.replace("downstream_rq_completed: 200", "downstream_rq_completed: 3");
    let v = gate(&plan, &shadow, &Samples::parse(&quiet));
    assert!(!v.go && v.reasons[0].starts_with("FAIL traffic"), "{v:?}");
}
