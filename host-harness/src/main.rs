//! `sluice`: the command line of the host harness.

use anyhow::Result;
use clap::{Parser, Subcommand};
use sluice_harness::replay::{replay, ReplayOptions};
use sluice_harness::vm::{Runtime, RuntimeOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "Sluice host harness for proxy-wasm filters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a proxy-wasm module and list its imports and exports.
    Inspect {
        /// Path to a .wasm module.
        module: PathBuf,
    },
    /// Write a filter module as an OCI image layout Istio can pull (the
    /// Wasm artifact variant); print the digests to pin.
    Package {
        /// Path to the .wasm module.
        module: PathBuf,
        /// Directory of the OCI layout (created).
        #[arg(long)]
        out: PathBuf,
        /// Tag of the image in the layout's index.
        #[arg(long, default_value = "latest")]
        tag: String,
        /// Root ids the module serves (repeat for several).
        #[arg(long = "root-id", required = true)]
        root_ids: Vec<String>,
    },
    /// Check Istio WasmPlugin files against the CRD's schema and rules and
    /// the Sluice filters' configuration types; exit 1 on any problem.
    CheckIstio {
        /// WasmPlugin YAML files (one or more documents each).
        files: Vec<PathBuf>,
        /// The WasmPlugin CRD (default: deploy/schemas/wasmplugin-crd.yaml).
        #[arg(long, default_value = "deploy/schemas/wasmplugin-crd.yaml")]
        crd: PathBuf,
    },
    /// A staged rollout: write each stage's WasmPlugin, or judge a stage
    /// from its pods' Envoy stats.
    Rollout {
        #[command(subcommand)]
        action: RolloutAction,
    },
    /// Replay a scenario in virtual time; print a summary, write JSON and
    /// HTML reports, and exit non-zero if an SLO assertion fails.
    Replay {
        /// Scenario file (YAML or JSON).
        scenario: PathBuf,
        /// Directory for report.json and report.html
        /// (default: reports/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compare the golden summary with this file (SLUICE_BLESS=1 or
        /// --bless rewrites it).
        #[arg(long)]
        golden: Option<PathBuf>,
        #[arg(long)]
        bless: bool,
        /// Print guest log lines as they happen.
        #[arg(long)]
        echo_logs: bool,
        /// Write every request's exchange (upstream request headers,
        /// response status, headers, body) as JSON lines to this file.
        #[arg(long)]
        exchanges: Option<PathBuf>,
        /// Directory for compiled modules (default: target/sluice-cache under
        /// the current directory); "none" disables the cache.
        #[arg(long)]
        cache_dir: Option<String>,
    },
    /// Run a scenario template across a grid of workloads (a sweep file):
    /// print a table, write sweep.json and sweep.html, and exit 1 naming
    /// the cells that fail their checks.
    Sweep {
        /// Sweep file (YAML).
        sweep: PathBuf,
        /// Directory for sweep.json and sweep.html (default:
        /// reports/sweep-<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Cells run at once (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Directory for compiled modules, as for `replay`.
        #[arg(long)]
        cache_dir: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum RolloutAction {
    /// Write one WasmPlugin per stage of the plan (each checked like
    /// `check-istio`).
    Plan {
        /// The rollout plan (YAML).
        plan: PathBuf,
        /// Directory for the stage manifests.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "deploy/schemas/wasmplugin-crd.yaml")]
        crd: PathBuf,
    },
    /// Say go or no-go for a stage from Envoy stats (`/stats` or
    /// `/stats/prometheus` text); exit 0 for go, 1 for no-go.
    Gate {
        plan: PathBuf,
        /// The stage being judged (as `rollout plan` names it).
        #[arg(long)]
        stage: String,
        /// Stats scraped from the stage's pods.
        #[arg(long)]
        stats: PathBuf,
    },
}

fn rollout(action: RolloutAction) -> Result<ExitCode> {
    use sluice_deploy::rollout::{gate, Plan, Samples};
    match action {
        RolloutAction::Plan { plan, out, crd } => {
            let plan = Plan::parse(&std::fs::read_to_string(&plan)?)?;
            let crd = sluice_deploy::wasmplugin::Crd::load(&crd)?;
            for f in plan.write(&crd, &out)? {
                println!("{}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        RolloutAction::Gate { plan, stage, stats } => {
            let plan = Plan::parse(&std::fs::read_to_string(&plan)?)?;
            let stage = plan.stage(&stage)?;
            let samples = Samples::parse(&std::fs::read_to_string(&stats)?);
            let verdict = gate(&plan, &stage, &samples);
            for r in &verdict.reasons {
                println!("{r}");
            }
            println!(
                "{}: {}",
                stage.name,
                if verdict.go { "GO" } else { "NO-GO" }
            );
            Ok(if verdict.go {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn cache_dir(arg: Option<String>) -> Option<PathBuf> {
    match arg.as_deref() {
        Some("none") => None,
        Some(d) => Some(PathBuf::from(d)),
        None => Some(PathBuf::from("target/sluice-cache")),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Package {
            module,
            out,
            tag,
            root_ids,
        } => {
            let bytes = std::fs::read(&module)?;
            let ids: Vec<&str> = root_ids.iter().map(String::as_str).collect();
            let w = sluice_deploy::oci::write(&out, &bytes, &tag, &ids)?;
            println!("OCI layout: {} (tag {tag})", out.display());
            println!("manifest digest: {}", w.manifest_digest);
            println!(
                "module sha256:   {}",
                w.module_digest.trim_start_matches("sha256:")
            );
            println!(
                "pin it: url: oci://<registry>/<repository>@{}",
                w.manifest_digest
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollout { action } => rollout(action),
        Command::CheckIstio { files, crd } => {
            let crd = sluice_deploy::wasmplugin::Crd::load(&crd)?;
            let mut failed = false;
            for f in &files {
                for (i, problem) in sluice_deploy::wasmplugin::check_file(&crd, f)? {
                    println!("{}#{i}{problem}", f.display());
                    failed = true;
                }
            }
            if !failed {
                println!("{} file(s): no problems", files.len());
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Inspect { module } => {
            print!("{}", sluice_harness::inspect::inspect(&module)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep {
            sweep,
            out,
            jobs,
            cache_dir: cache,
        } => {
            let runtime = Runtime::new(&RuntimeOptions {
                cache_dir: cache_dir(cache),
            })?;
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            let done = std::sync::atomic::AtomicUsize::new(0);
            let outcome = sluice_harness::sweep::run(&sweep, &runtime, jobs, |cell, total| {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let verdict = if cell.passed() {
                    "pass".to_string()
                } else {
                    format!("FAIL {}", cell.failures().join(", "))
                };
                let axes: Vec<String> = cell.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                eprintln!(
                    "[{n}/{total}] cell {} [{}] {verdict} ({:.1} s)",
                    cell.index,
                    axes.join(" "),
                    cell.wall_seconds
                );
            })?;
            print!("{}", sluice_harness::sweep::render::terminal(&outcome));
            let out = out.unwrap_or_else(|| {
                PathBuf::from("reports").join(format!("sweep-{}", outcome.name))
            });
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("sweep.json"), serde_json::to_vec_pretty(&outcome)?)?;
            std::fs::write(
                out.join("sweep.html"),
                sluice_harness::sweep::render::html(&outcome),
            )?;
            println!("HTML: {}", out.join("sweep.html").display());
            println!("JSON: {}", out.join("sweep.json").display());
            Ok(if outcome.failed().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Replay {
            scenario,
            out,
            golden,
            bless,
            echo_logs,
            exchanges,
            cache_dir: cache,
        } => {
            let runtime = Runtime::new(&RuntimeOptions {
                cache_dir: cache_dir(cache),
            })?;
            let name = sluice_harness::scenario::load::parse(
                &std::fs::read_to_string(&scenario)?,
                &scenario.display().to_string(),
            )?
            .name;
            let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&name));
            let r = replay(
                &scenario,
                &runtime,
                &ReplayOptions {
                    out_dir: Some(out),
                    progress: true,
                    echo_logs,
                    exchanges_out: exchanges,
                    keep_exchanges: false,
                },
            )?;
            print!("{}", sluice_report::terminal::render(&r.report));
            if let Some(h) = &r.html {
                println!("HTML report: {}", h.display());
            }
            if let Some(j) = &r.json {
                println!("JSON report: {}", j.display());
            }
            let mut ok = r.report.passed();
            if let Some(g) = golden {
                use sluice_report::golden::{check, GoldenOutcome};
                let summary = sluice_report::golden::summary(&r.report);
                match check(
                    &g,
                    &summary,
                    bless || sluice_report::golden::bless_requested(),
                )? {
                    GoldenOutcome::Matched => println!("golden summary matches {}", g.display()),
                    GoldenOutcome::Blessed => println!("golden summary written to {}", g.display()),
                    GoldenOutcome::Missing => {
                        println!(
                            "golden summary {} is missing (run with --bless)",
                            g.display()
                        );
                        ok = false;
                    }
                    GoldenOutcome::Mismatch { diff } => {
                        println!("golden summary differs from {}:\n{diff}", g.display());
                        ok = false;
                    }
                }
            }
            for a in r.report.assertions.iter().filter(|a| !a.passed) {
                eprintln!("assertion failed: {} (measured {})", a.text, a.measured);
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
