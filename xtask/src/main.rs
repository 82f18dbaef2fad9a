//! `cargo xtask`: Sluice's project tasks. Each does its own set-up, so both
//! README commands work on a fresh machine.

mod bench_envoy;
mod demo;
mod demo_envoy;
mod fuzz;
mod run;
mod setup;
mod soak;
mod sweep;
mod test;
mod wasm;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Sluice project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Install what the project needs: the wasm32-wasip1 target and Envoy 1.40.
    Setup,
    /// Build the filters as wasm32-wasip1 modules and check their size.
    BuildWasm,
    /// The main job: build the filters, replay the bundled overload scenario
    /// in the host harness, and write its terminal, JSON and HTML reports.
    Demo,
    /// The throttle live in a real Envoy in front of an overloaded upstream.
    DemoEnvoy,
    /// Every test: formatting, lints (host and wasm), unit, harness and
    /// end-to-end tests against real Envoy.
    Test,
    /// Builds the fuzz targets in fuzz/ (cargo-fuzz) and runs each for a
    /// bounded time from its seed corpus; fails on any crash.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Both filters in a real Envoy under mixed traffic for a while, with
    /// Envoy's memory and stats sampled: no undecided 5xx, flat RSS, no
    /// leaked slot.
    Soak {
        /// Seconds of traffic.
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
    /// Builds the filters and runs a sweep file in the harness (default:
    /// the priority-admission sweep, tests/sweeps/priority.yaml); writes
    /// reports/sweep-<name>/ and fails if a cell fails.
    Sweep {
        /// The sweep file.
        #[arg(default_value = sweep::PRIORITY)]
        file: String,
    },
    /// Benchmarks against Envoy's own filters in the same run: data-plane
    /// overhead (wrk, oha) and overload quality; writes target/bench/envoy.md.
    BenchEnvoy {
        /// Runs of the overhead arms (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds per overhead measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds per overload arm (0 skips the overload benchmark).
        #[arg(long, default_value_t = 60)]
        overload_seconds: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::all().map(|_| ()),
        Task::BuildWasm => wasm::build().and_then(|_| wasm::build_trap_module().map(|_| ())),
        Task::Demo => demo::run(),
        Task::DemoEnvoy => demo_envoy::run(),
        Task::Test => test::run(),
        Task::Fuzz { seconds } => fuzz::run(seconds),
        Task::Soak { seconds } => soak::run(seconds),
        Task::Sweep { file } => sweep::run(&file),
        Task::BenchEnvoy {
            runs,
            seconds,
            overload_seconds,
        } => bench_envoy::run_all(bench_envoy::BenchOptions {
            runs,
            seconds,
            overload_seconds,
        }),
    }
}
