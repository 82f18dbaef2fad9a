//! `cargo xtask fuzz`: builds the fuzz targets in `fuzz/` (cargo-fuzz,
//! libFuzzer) and runs each for a bounded time from its seed corpus,
//! failing on any crash, panic, hang or out-of-memory.
//!
//! Stable Rust is enough: with `--sanitizer none` cargo-fuzz needs no
//! nightly flag (the targets are safe Rust; what they look for is panics,
//! hangs and unbounded allocation, not memory errors). cargo-fuzz itself is
//! installed with `cargo install` when missing.
//!
//! New inputs found during a run go to `fuzz/target/corpus/<target>` (not
//! kept); the seed corpus `fuzz/corpus/<target>` is only read. A crash is
//! saved under `fuzz/artifacts/<target>/`, and the failure message says how
//! to replay it.

use crate::run::{cargo, run as sh, step};
use anyhow::{Context, Result};
use std::process::{Command, Stdio};

/// Every target in `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &[
    "throttle_config",
    "router_config",
    "classify_route",
    "regex",
    "traces",
    "host_abi",
];

/// One input running longer than this is a hang.
const TIMEOUT_S: u64 = 10;

fn cargo_fuzz_installed() -> bool {
    cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn fuzz() -> Command {
    let mut c = cargo();
    c.args(["fuzz"]);
    c
}

/// The build options of every `cargo fuzz build` and `run` (the same for
/// both, or `run` would rebuild): no sanitizer (safe Rust; stable
/// toolchain), and 16 codegen units instead of cargo-fuzz's release default
/// of one, which makes the instrumented build of wasmtime (for the ABI
/// target) several times faster for somewhat slower runs.
const BUILD_OPTIONS: &[&str] = &[
    "--fuzz-dir",
    "fuzz",
    "--sanitizer",
    "none",
    "--codegen-units",
    "16",
];

pub fn run(seconds: u64) -> Result<()> {
    step("fuzz: cargo-fuzz");
    if !cargo_fuzz_installed() {
        sh(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }

    step("fuzz: build the targets");
    sh(fuzz().arg("build").args(BUILD_OPTIONS))?;

    let root = crate::run::repo_root();
    for target in TARGETS {
        step(&format!("fuzz: {target} for {seconds} s"));
        let found = root.join("fuzz/target/corpus").join(target);
        std::fs::create_dir_all(&found).with_context(|| format!("creating {}", found.display()))?;
        let seeds = root.join("fuzz/corpus").join(target);
        let mut c = fuzz();
        c.arg("run").args(BUILD_OPTIONS).arg(target);
        c.arg(&found);
        if seeds.is_dir() {
            c.arg(&seeds);
        }
        c.args([
            "--",
            &format!("-max_total_time={seconds}"),
            &format!("-timeout={TIMEOUT_S}"),
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
        ]);
        sh(&mut c).with_context(|| {
            format!(
                "fuzz target {target} failed; the input is under fuzz/artifacts/{target}/ \
                 (replay: cargo fuzz run --sanitizer none {target} <that file>)"
            )
        })?;
    }
    eprintln!("\nfuzzing found nothing in {} targets", TARGETS.len());
    Ok(())
}
