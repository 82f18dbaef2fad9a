//! The main job: build the filters, replay the bundled overload scenario
//! in the host harness, and point to the reports.

use crate::run::{run as sh, sluice, step};
use crate::wasm;
use anyhow::Result;

/// The scenario the main job replays.
pub const SCENARIO: &str = "tests/scenarios/throttle-overload.yaml";

pub fn run() -> Result<()> {
    wasm::build()?;
    step(&format!(
        "replay {SCENARIO} in the host harness (60 s of virtual time)"
    ));
    // The scenario's assertions decide the exit status: a failing SLO fails
    // the job, as in CI.
    sh(sluice().args(["replay", SCENARIO, "--out", "reports/throttle-overload"]))?;
    eprintln!("\nopen reports/throttle-overload/report.html for the plots");
    Ok(())
}
