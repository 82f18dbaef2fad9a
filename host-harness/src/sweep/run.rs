//! Running a sweep: every cell's scenario (and its baseline first), its
//! checks judged, cells spread over threads.

use super::expr::{Value, Vars};
use super::spec::{derive, fill, resolve_checks, Check, Derived, SweepSpec};
use crate::replay::{replay_text, ReplayOptions};
use crate::vm::Runtime;
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// One check's outcome in one run of a cell.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutcome {
    /// `baseline` or `main`.
    pub run: &'static str,
    pub id: String,
    /// The assertion as the report writes it.
    pub text: String,
    pub measured: f64,
    /// `None` for a measurement that decides nothing.
    pub threshold: Option<f64>,
    pub passed: bool,
}

/// One cell: its axis values and what its runs showed.
#[derive(Clone, Debug, Serialize)]
pub struct CellOutcome {
    pub index: usize,
    /// Axis values, in axis order, as the template receives them.
    pub axes: Vec<(String, String)>,
    pub checks: Vec<CheckOutcome>,
    /// A cell whose scenario could not run (bad template value, refused
    /// filter configuration) fails with this.
    pub error: Option<String>,
    pub wall_seconds: f64,
}

impl CellOutcome {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }

    /// The ids of the checks that failed, `run.id`.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}.{}", c.run, c.id))
            .collect();
        if let Some(e) = &self.error {
            out.push(format!("error: {e}"));
        }
        out
    }

    /// A measured value by `run.id`.
    pub fn measured(&self, run: &str, id: &str) -> Option<f64> {
        self.checks
            .iter()
            .find(|c| c.run == run && c.id == id)
            .map(|c| c.measured)
    }
}

/// A whole sweep's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct SweepOutcome {
    pub name: String,
    pub description: String,
    pub axes: Vec<String>,
    pub cells: Vec<CellOutcome>,
    pub wall_seconds: f64,
}

impl SweepOutcome {
    pub fn failed(&self) -> Vec<&CellOutcome> {
        self.cells.iter().filter(|c| !c.passed()).collect()
    }
}

/// Runs the sweep at `path` on `jobs` threads; `on_cell` sees each cell as
/// it finishes (for progress lines).
pub fn run(
    path: &Path,
    runtime: &Runtime,
    jobs: usize,
    on_cell: impl Fn(&CellOutcome, usize) + Sync,
) -> Result<SweepOutcome> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading sweep {}", path.display()))?;
    let spec = SweepSpec::parse(&text, &path.display().to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    let template_path = base.join(&spec.scenario);
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("{}: scenario {}", path.display(), template_path.display()))?;
    let cells = spec.cells()?;
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<CellOutcome>> = Mutex::new(Vec::with_capacity(cells.len()));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(vars) = cells.get(i) else {
                    break;
                };
                let outcome = run_cell(&spec, &template, &template_path, runtime, i, vars);
                on_cell(&outcome, cells.len());
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(outcome);
            });
        }
    });
    let mut cells = results.into_inner().unwrap_or_else(|e| e.into_inner());
    cells.sort_by_key(|c| c.index);
    Ok(SweepOutcome {
        name: spec.name.clone(),
        description: spec.description.clone(),
        axes: spec.axes.iter().map(|a| a.name.clone()).collect(),
        cells,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_cell(
    spec: &SweepSpec,
    template: &str,
    template_path: &Path,
    runtime: &Runtime,
    index: usize,
    axes: &Vars,
) -> CellOutcome {
    let started = Instant::now();
    let mut checks = Vec::new();
    let error = run_cell_checks(spec, template, template_path, runtime, axes, &mut checks)
        .err()
        .map(|e| format!("{e:#}"));
    CellOutcome {
        index,
        axes: spec
            .axes
            .iter()
            .map(|a| (a.name.clone(), axes[&a.name].render()))
            .collect(),
        checks,
        error,
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

fn run_cell_checks(
    spec: &SweepSpec,
    template: &str,
    template_path: &Path,
    runtime: &Runtime,
    axes: &Vars,
    out: &mut Vec<CheckOutcome>,
) -> Result<()> {
    let mut vars = axes.clone();
    if let Some(b) = &spec.baseline {
        let mut bvars = axes.clone();
        derive(
            &mut bvars,
            &with_overrides(&spec.derive, &b.set),
            "baseline",
        )?;
        let checks = resolve_checks(&b.checks, &bvars, "baseline.checks")?;
        let outcomes = run_scenario(
            template,
            template_path,
            runtime,
            &bvars,
            &checks,
            "baseline",
        )?;
        for o in &outcomes {
            vars.insert(format!("baseline_{}", o.id), Value::Num(o.measured));
        }
        out.extend(outcomes);
    }
    derive(&mut vars, &spec.derive, "derive")?;
    let checks = resolve_checks(&spec.checks, &vars, "checks")?;
    out.extend(run_scenario(
        template,
        template_path,
        runtime,
        &vars,
        &checks,
        "main",
    )?);
    Ok(())
}

/// `derived` with the expressions of `set` in place of same-named ones
/// (and any others of `set` at the end), so values derived from an
/// overridden one follow it.
fn with_overrides(derived: &[Derived], set: &[Derived]) -> Vec<Derived> {
    let mut out: Vec<Derived> = derived
        .iter()
        .map(|d| set.iter().find(|s| s.name == d.name).unwrap_or(d).clone())
        .collect();
    out.extend(
        set.iter()
            .filter(|s| !derived.iter().any(|d| d.name == s.name))
            .cloned(),
    );
    out
}

/// The template filled with `vars` and `checks` as its assertions, run.
fn run_scenario(
    template: &str,
    template_path: &Path,
    runtime: &Runtime,
    vars: &Vars,
    checks: &[Check],
    run: &'static str,
) -> Result<Vec<CheckOutcome>> {
    let text = scenario_text(template, vars, checks)?;
    let replay = replay_text(&text, template_path, runtime, &ReplayOptions::default())
        .with_context(|| format!("{run} run"))?;
    let outcomes = &replay.report.assertions;
    if outcomes.len() != checks.len() {
        bail!(
            "{run} run: {} assertion outcomes for {} checks",
            outcomes.len(),
            checks.len()
        );
    }
    Ok(checks
        .iter()
        .zip(outcomes)
        .map(|(c, o)| CheckOutcome {
            run,
            id: c.id.clone(),
            text: if c.bounded {
                o.text.clone()
            } else {
                without_bound(&o.text)
            },
            measured: o.measured,
            threshold: c.bounded.then_some(o.threshold),
            passed: !c.bounded || o.passed,
        })
        .collect())
}

/// A measurement's assertion text without the placeholder bound it was
/// given (`latency_p99 <= 1.8e308 after 5s` reads `latency_p99 after 5s`).
fn without_bound(text: &str) -> String {
    let Some(at) = text.find(" <= ") else {
        return text.to_string();
    };
    let rest = &text[at + 4..];
    let number_end = rest.find(' ').unwrap_or(rest.len());
    format!("{}{}", &text[..at], &rest[number_end..])
}

/// The scenario text of one run: the filled template with the checks as
/// its `assertions`.
pub fn scenario_text(template: &str, vars: &Vars, checks: &[Check]) -> Result<String> {
    let filled = fill(template, vars);
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&filled).map_err(|e| anyhow!("the filled template: {e}"))?;
    let map = doc
        .as_mapping_mut()
        .ok_or_else(|| anyhow!("the template is not a mapping"))?;
    if map.contains_key("assertions") {
        bail!("the template has assertions: a sweep writes them from its checks");
    }
    let assertions: Vec<serde_yaml::Value> = checks.iter().map(|c| c.assertion.clone()).collect();
    map.insert("assertions".into(), serde_yaml::Value::Sequence(assertions));
    Ok(serde_yaml::to_string(&doc)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measurement_reads_without_its_placeholder_bound() {
        let big = format!("latency_p99 <= {} after 5s", f64::MAX);
        assert_eq!(without_bound(&big), "latency_p99 after 5s");
        assert_eq!(
            without_bound(&format!("latency_p99 <= {}", f64::MAX)),
            "latency_p99"
        );
        assert_eq!(without_bound("shed_fraction"), "shed_fraction");
    }

    #[test]
    fn overrides_replace_in_place_so_later_values_follow() {
        let d = |n: &str, e: &str| Derived {
            name: n.into(),
            expr: e.into(),
        };
        let merged = with_overrides(
            &[
                d("capacity", "100"),
                d("rps", "3 * capacity"),
                d("crit", "0.2 * rps"),
            ],
            &[d("rps", "0.5 * capacity"), d("extra", "1")],
        );
        let exprs: Vec<&str> = merged.iter().map(|d| d.expr.as_str()).collect();
        assert_eq!(exprs, ["100", "0.5 * capacity", "0.2 * rps", "1"]);
    }

    #[test]
    fn the_scenario_gets_the_checks_as_assertions_and_refuses_its_own() {
        let vars: Vars = [("rps".to_string(), Value::Num(10.0))]
            .into_iter()
            .collect();
        let mut a = serde_yaml::Mapping::new();
        a.insert("expect".into(), "goodput_rps".into());
        a.insert("at_least".into(), 5.0.into());
        let check = Check {
            id: "g".into(),
            assertion: serde_yaml::Value::Mapping(a),
            bounded: true,
        };
        let text = scenario_text(
            "name: x\nrate: ${rps}\n",
            &vars,
            std::slice::from_ref(&check),
        )
        .unwrap();
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["rate"], serde_yaml::Value::from(10));
        assert_eq!(
            v["assertions"][0]["expect"],
            serde_yaml::Value::from("goodput_rps")
        );
        let e = scenario_text("name: x\nassertions: []\n", &vars, &[check]).unwrap_err();
        assert!(e.to_string().contains("a sweep writes them"), "{e}");
    }
}
