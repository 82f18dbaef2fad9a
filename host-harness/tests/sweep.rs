//! `sluice sweep` end to end on a sweep whose verdicts are known
//! (`tests/sweep/static.yaml`): the failing cell is named with the checks
//! it failed, baseline measures reach the main run's bounds, and a check
//! whose `when` is false does not apply.

use sluice_harness::sweep::{self, render};
use sluice_harness::vm::{Runtime, RuntimeOptions};
use sluice_testkit::paths::{repo_root, wasm_module};

#[test]
fn a_sweep_names_its_failing_cells_and_uses_each_cells_baseline() {
    wasm_module("sluice_throttle").expect("built module (run `cargo xtask build-wasm`)");
    let runtime = Runtime::new(&RuntimeOptions {
        cache_dir: Some(repo_root().join("target/sluice-cache")),
    })
    .expect("wasmtime engine");
    let path = repo_root().join("host-harness/tests/sweep/static.yaml");
    let outcome = sweep::run(&path, &runtime, 2, |_, _| {}).expect("sweep runs");
    let text = render::terminal(&outcome);
    eprintln!("{text}");
    assert_eq!(outcome.cells.len(), 2, "{text}");
    let (tight, roomy) = (&outcome.cells[0], &outcome.cells[1]);
    assert_eq!(tight.axes, [("limit".to_string(), "2".to_string())]);
    assert_eq!(
        tight.failures(),
        ["baseline.shed", "main.goodput"],
        "limit 2: {text}"
    );
    assert!(roomy.passed(), "limit 16: {text}");
    assert!(
        text.contains("FAIL cell 0 [limit=2]: baseline.shed, main.goodput"),
        "{text}"
    );
    for cell in &outcome.cells {
        let base = cell.measured("baseline", "p99").expect("baseline p99");
        let p99 = cell
            .checks
            .iter()
            .find(|c| c.run == "main" && c.id == "p99")
            .expect("main p99");
        assert_eq!(
            p99.threshold,
            Some(1000.0 * base),
            "the bound uses this cell's baseline"
        );
        assert!(
            !cell.checks.iter().any(|c| c.id == "never"),
            "a check whose `when` is false does not apply"
        );
    }
    // Constant 20 ms service at half load: the baseline p99 is the service
    // time (and a little queueing in bursts).
    let base = roomy.measured("baseline", "p99").expect("baseline p99");
    assert!((20.0..40.0).contains(&base), "{base}");
    let html = render::html(&outcome);
    assert!(
        html.contains("<td class=fail") && html.contains("<td class=pass"),
        "heatmap tiles"
    );
}
