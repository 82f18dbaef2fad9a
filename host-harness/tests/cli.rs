//! `sluice replay` as a CI gate: exit codes and messages.

use sluice_testkit::paths::{repo_root, wasm_module};
use std::path::PathBuf;
use std::process::Command;

fn scenario(name: &str, body: &str) -> PathBuf {
    let module =
        wasm_module("sluice_throttle").expect("built module (run `cargo xtask build-wasm`)");
    let path = std::env::temp_dir().join(format!("sluice-cli-{}-{name}.yaml", std::process::id()));
    let text = body.replace("MODULE", &module.display().to_string());
    std::fs::write(&path, text).expect("write scenario");
    path
}

const SMALL: &str = r#"
name: cli-small
seed: 1
duration: 5s
workers: 2
filters:
  - name: sluice_throttle
    module: MODULE
    configuration: {limit: {static: {max_inflight: 10}}}
route: {cluster: app}
upstreams:
  app: {servers: 4, service: {mean: 20ms}}
traffic:
  - generator: {rate: {constant: {rps: 400}}}
assertions:
  - {expect: success_rate, at_least: 0.99}
"#;

fn sluice(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_failing_slo_assertion_exits_1_and_names_the_assertion() {
    // 400 rps against a capacity of 4 / 20 ms = 200 rps: about half is shed.
    let path = scenario("fail", SMALL);
    let out = std::env::temp_dir().join(format!("sluice-cli-out-{}", std::process::id()));
    let (code, stdout, stderr) = sluice(&[
        "replay",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("assertion failed: success_rate >= 0.99"),
        "{stderr}"
    );
    assert!(stdout.contains("FAIL"), "{stdout}");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(report["assertions"][0]["passed"], false);
    assert!(
        report["assertions"][0]["measured"]
            .as_f64()
            .expect("measured")
            < 0.99
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("<svg"), "the HTML report has plots");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_passing_scenario_exits_0_and_writes_the_exchanges() {
    let path = scenario("pass", &SMALL.replace("at_least: 0.99", "at_least: 0.3"));
    let out = std::env::temp_dir().join(format!("sluice-cli-pass-{}", std::process::id()));
    let exchanges = out.join("exchanges.jsonl");
    let (code, stdout, stderr) = sluice(&[
        "replay",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--exchanges",
        exchanges.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&exchanges)
        .expect("exchanges file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(lines.len() > 1000, "{} exchanges", lines.len());
    let shed: Vec<_> = lines.iter().filter(|e| e["status"] == 503).collect();
    assert!(!shed.is_empty(), "overload sheds some requests");
    for e in shed {
        assert!(
            e["upstream_request_headers"].is_null(),
            "a shed request never went upstream: {e}"
        );
        let headers = e["response_headers"].as_array().expect("headers");
        assert!(
            headers
                .iter()
                .any(|h| h[0] == "x-sluice-shed-reason" && h[1] == "concurrency_limit"),
            "{e}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_bad_scenario_exits_2_and_names_the_field() {
    let path = scenario("bad", &SMALL.replace("servers: 4", "servers: four"));
    let (code, _, stderr) = sluice(&["replay", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("upstreams.app.servers"), "{stderr}");
    let _ = std::fs::remove_file(&path);

    let path = scenario(
        "bad-config",
        &SMALL.replace("max_inflight: 10", "max_inflight: -3"),
    );
    let (code, _, stderr) = sluice(&["replay", path.to_str().unwrap()]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("max_inflight"),
        "the filter's refusal reaches the user: {stderr}"
    );
    let _ = std::fs::remove_file(&path);
}

/// `sluice package`, `check-istio` and `rollout plan|gate` as an operator
/// runs them: exit codes and what they print.
#[test]
fn deploy_commands_package_check_plan_and_gate() {
    let tmp = std::env::temp_dir().join(format!("sluice-cli-deploy-{}", std::process::id()));
    let module = wasm_module("sluice_throttle").expect("built module");
    let layout = tmp.join("oci");
    let (code, out, err) = sluice(&[
        "package",
        &module.display().to_string(),
        "--out",
        &layout.display().to_string(),
        "--root-id",
        "sluice_throttle",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("manifest digest: sha256:"), "{out}");
    assert!(layout.join("oci-layout").exists());

    let stages = tmp.join("stages");
    let plan = "envoy-configs/rollout/checkout-throttle.plan.yaml";
    let (code, out, err) = sluice(&[
        "rollout",
        "plan",
        plan,
        "--out",
        &stages.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 6, "{out}");
    let files: Vec<String> = out.lines().map(String::from).collect();
    let mut args = vec!["check-istio"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = sluice(&args);
    assert_eq!(code, 0, "{out}{err}");

    let broken = tmp.join("broken.yaml");
    let text = std::fs::read_to_string(&files[0]).expect("stage file");
    std::fs::write(&broken, text.replace("phase: AUTHZ", "phase: LATE")).expect("write");
    let (code, out, _) = sluice(&["check-istio", &broken.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(".spec.phase"), "{out}");

    let stats = tmp.join("stats.txt");
    std::fs::write(
        &stats,
        "http.inbound.downstream_rq_completed: 500\nhttp.inbound.downstream_rq_5xx: 0\n\
         wasmcustom.sluice.throttle.rq_admitted.class.critical: 90\n\
         wasmcustom.sluice.throttle.rq_shadow_shed.class.critical.reason.concurrency_limit: 10\n",
    )
    .expect("write");
    let (code, out, _) = sluice(&[
        "rollout",
        "gate",
        plan,
        "--stage",
        "shadow-canary",
        "--stats",
        &stats.display().to_string(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL critical traffic would shed (shadow): 10 of 100"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("shadow-canary: NO-GO"), "{out}");
    let (code, out, _) = sluice(&[
        "rollout",
        "gate",
        plan,
        "--stage",
        "no-such",
        "--stats",
        &stats.display().to_string(),
    ]);
    assert_eq!(code, 2, "{out}");
}
