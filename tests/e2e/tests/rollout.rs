//! The rollout gate judged from stats scraped from a real Envoy running
//! each stage's configuration (`envoy-configs/rollout/`), in both the
//! `/stats` and the Prometheus format.

mod throttle;

use sluice_deploy::rollout::{gate, Plan, Samples, Verdict};
use sluice_testkit::client::HttpClient;
use sluice_testkit::envoy::Envoy;
use sluice_testkit::{paths, Upstream};
use std::time::Duration;
use throttle::{start, wait_until};

fn plan() -> Plan {
    let path = paths::repo_root().join("envoy-configs/rollout/checkout-throttle.plan.yaml");
    Plan::parse(&std::fs::read_to_string(path).expect("plan")).expect("valid plan")
}

/// The verdicts from both formats, which must agree.
fn judge(plan: &Plan, stage: &str, envoy: &Envoy) -> Verdict {
    let stage = plan.stage(stage).expect("stage");
    let text = gate(
        plan,
        &stage,
        &Samples::parse(&envoy.admin_get("/stats").expect("stats")),
    );
    let prom = gate(
        plan,
        &stage,
        &Samples::parse(&envoy.prometheus().expect("prometheus")),
    );
    assert_eq!(text.go, prom.go, "formats disagree:\n{text:?}\n{prom:?}");
    assert_eq!(text.reasons, prom.reasons);
    text
}

#[test]
fn every_stage_of_a_healthy_rollout_is_a_go() {
    let plan = plan();
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let client = HttpClient::new();
    for stage in plan.stages() {
        let config = serde_json::to_string(&plan.stage_config(&stage)).expect("json");
        let (envoy, url) = start(&upstream, &config);
        for i in 0..120 {
            let class = ["critical", "default", "sheddable"][i % 3];
            let r = client
                .get(&url, &[("x-sluice-priority", class)])
                .expect("request");
            assert_eq!(r.status, 200, "{}: {r:?}", stage.name);
        }
        let v = judge(&plan, &stage.name, &envoy);
        assert!(v.go, "{}: {v:#?}", stage.name);
    }
}

/// In the shadow stage, a policy that would shed critical traffic is a
/// no-go, with the reason; so is a stage with too little traffic.
#[test]
fn a_policy_that_would_shed_critical_traffic_stops_the_rollout() {
    let mut plan = plan();
    plan.plugin_config["limit"] = serde_json::json!({"static": {"max_inflight": 2}});
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let stage = plan.stage("shadow-canary").expect("stage");
    let config = serde_json::to_string(&plan.stage_config(&stage)).expect("json");
    let (envoy, url) = start(&upstream, &config);
    let client = HttpClient::new();
    let quiet = judge(&plan, "shadow-canary", &envoy);
    assert!(
        !quiet.go && quiet.reasons[0].starts_with("FAIL traffic"),
        "{quiet:#?}"
    );
    let held: Vec<_> = (0..2)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "1500")]))
        .collect();
    wait_until("2 requests upstream", Duration::from_secs(10), || {
        upstream.stats().in_service >= 2
    });
    for _ in 0..100 {
        let r = client
            .get(&url, &[("x-sluice-priority", "critical")])
            .expect("critical");
        assert_eq!(r.status, 200, "shadow mode forwards");
    }
    for h in held {
        h.wait().expect("held");
    }
    let v = judge(&plan, "shadow-canary", &envoy);
    assert!(!v.go, "{v:#?}");
    assert!(
        v.reasons
            .iter()
            .any(|r| r.starts_with("FAIL critical traffic would shed (shadow): 100 of 100")),
        "{v:#?}"
    );
}
