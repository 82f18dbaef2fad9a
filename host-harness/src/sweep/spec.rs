//! The sweep file: a scenario template, the axes of the grid, values
//! derived per cell, and the checks every cell must pass.
//!
//! ```yaml
//! name: priority
//! scenario: priority.template.yaml     # relative to this file
//! axes:                                 # the grid is their product
//!   - {name: servers, values: [4, 16]}
//!   - {name: distribution, values: [exponential, lognormal]}
//!   - {name: overload, values: [1.2, 3, 10]}
//! derive:                               # in order; each sees the ones before
//!   - {name: capacity, expr: "servers * 1000 / service_ms"}
//!   - {name: rps, expr: "overload * capacity"}
//! baseline:                             # optional: a run of the same cell first,
//!   set:                                # with these values replaced
//!     - {name: rps, expr: "0.5 * capacity"}
//!   checks:
//!     - {id: shed, expect: shed_fraction, at_most: 0.001}
//!     - {id: p99, expect: latency_p99}  # no bound: a measurement only
//! checks:                               # its measures are `baseline_<id>` here
//!   - {id: critical, expect: success_rate, class: critical, at_least: 0.995,
//!      when: "critical_share * overload <= 0.9"}
//!   - {id: p99, expect: latency_p99, at_most: "2 * baseline_p99"}
//! ```
//!
//! The template is a scenario whose text holds `${name}` for any axis or
//! derived value (other `${...}`, such as `${SLUICE_WASM_DIR:-...}`, are
//! left for the scenario loader) and no `assertions`: the sweep writes
//! them from its checks. A check is an assertion as scenarios write them
//! (`expect`, `class`, `after`, ...) with an `id`, bounds that may be
//! expressions, and an optional `when` (the check applies only where the
//! expression is non-zero).

use super::expr::{eval, Value, Vars};
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The scenario template, relative to the sweep file.
    pub scenario: String,
    pub axes: Vec<Axis>,
    #[serde(default)]
    pub derive: Vec<Derived>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
    pub checks: Vec<serde_yaml::Mapping>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    pub name: String,
    pub values: Vec<serde_yaml::Value>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    pub name: String,
    pub expr: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub set: Vec<Derived>,
    pub checks: Vec<serde_yaml::Mapping>,
}

/// A check resolved for one cell: an assertion with numeric bounds, or a
/// measurement alone (`bounded == false`).
#[derive(Clone, Debug)]
pub struct Check {
    pub id: String,
    pub assertion: serde_yaml::Value,
    pub bounded: bool,
}

impl SweepSpec {
    pub fn parse(text: &str, source: &str) -> Result<SweepSpec> {
        let spec: SweepSpec = serde_yaml::from_str(text).map_err(|e| anyhow!("{source}: {e}"))?;
        if spec.axes.is_empty() {
            bail!("{source}: axes: at least one axis");
        }
        for (i, a) in spec.axes.iter().enumerate() {
            if a.values.is_empty() {
                bail!("{source}: axes[{i}] ({}): no values", a.name);
            }
        }
        Ok(spec)
    }

    /// Every cell's axis values, in grid order (the last axis varies
    /// fastest).
    pub fn cells(&self) -> Result<Vec<Vars>> {
        let mut cells = vec![Vars::new()];
        for (i, axis) in self.axes.iter().enumerate() {
            let mut next = Vec::with_capacity(cells.len() * axis.values.len());
            for cell in &cells {
                for (j, v) in axis.values.iter().enumerate() {
                    let value = match v {
                        serde_yaml::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
                        serde_yaml::Value::String(s) => Value::Text(s.clone()),
                        other => bail!(
                            "axes[{i}].values[{j}] ({}): {other:?} is neither a number nor a word",
                            axis.name
                        ),
                    };
                    let mut c = cell.clone();
                    c.insert(axis.name.clone(), value);
                    next.push(c);
                }
            }
            cells = next;
        }
        Ok(cells)
    }
}

/// Adds each derived value to `vars`, in order.
pub fn derive(vars: &mut Vars, derived: &[Derived], place: &str) -> Result<()> {
    for (i, d) in derived.iter().enumerate() {
        let v = eval(&d.expr, vars).map_err(|e| anyhow!("{place}[{i}] ({}): {e}", d.name))?;
        vars.insert(d.name.clone(), Value::Num(v));
    }
    Ok(())
}

/// Resolves `checks` for a cell: `when` decides whether each applies, and
/// bound expressions become numbers.
pub fn resolve_checks(
    checks: &[serde_yaml::Mapping],
    vars: &Vars,
    place: &str,
) -> Result<Vec<Check>> {
    let mut out = Vec::new();
    for (i, raw) in checks.iter().enumerate() {
        let here = format!("{place}[{i}]");
        let mut m = raw.clone();
        let id = match m.remove("id") {
            Some(serde_yaml::Value::String(s)) => s,
            _ => bail!("{here}: needs an 'id' (a word)"),
        };
        if let Some(when) = m.remove("when") {
            let text = when
                .as_str()
                .ok_or_else(|| anyhow!("{here} ({id}): 'when' must be an expression"))?;
            if eval(text, vars).map_err(|e| anyhow!("{here} ({id}).when: {e}"))? == 0.0 {
                continue;
            }
        }
        let mut bounded = false;
        for key in ["at_least", "at_most"] {
            let Some(bound) = m.get_mut(key) else {
                continue;
            };
            bounded = true;
            if let Some(text) = bound.as_str() {
                let n = eval(text, vars).map_err(|e| anyhow!("{here} ({id}).{key}: {e}"))?;
                *bound = serde_yaml::Value::from(n);
            }
        }
        if !bounded {
            // A measurement: the assertion type wants a bound; this one
            // never decides anything.
            m.insert("at_most".into(), serde_yaml::Value::from(f64::MAX));
        }
        out.push(Check {
            id,
            assertion: serde_yaml::Value::Mapping(m),
            bounded,
        });
    }
    Ok(out)
}

/// The template with every `${name}` that names a value in `vars` replaced.
pub fn fill(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if vars.contains_key(&after[..end]) => {
                out.push_str(&vars[&after[..end]].render());
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEP: &str = r#"
name: t
scenario: t.yaml
axes:
  - {name: servers, values: [4, 8]}
  - {name: dist, values: [exponential, lognormal]}
derive:
  - {name: capacity, expr: "servers * 100"}
checks:
  - {id: critical, expect: success_rate, class: critical, at_least: 0.995, when: "servers > 4"}
  - {id: goodput, expect: goodput_rps, at_least: "0.9 * capacity"}
  - {id: p99, expect: latency_p99}
"#;

    #[test]
    fn cells_are_the_product_of_the_axes_last_fastest() {
        let s = SweepSpec::parse(SWEEP, "t").unwrap();
        let cells = s.cells().unwrap();
        let shown: Vec<String> = cells
            .iter()
            .map(|c| format!("{}/{}", c["servers"].render(), c["dist"].render()))
            .collect();
        assert_eq!(
            shown,
            [
                "4/exponential",
                "4/lognormal",
                "8/exponential",
                "8/lognormal"
            ]
        );
    }

    #[test]
    fn checks_resolve_per_cell() {
        let s = SweepSpec::parse(SWEEP, "t").unwrap();
        let mut vars = s.cells().unwrap().remove(0);
        derive(&mut vars, &s.derive, "derive").unwrap();
        let checks = resolve_checks(&s.checks, &vars, "checks").unwrap();
        let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["goodput", "p99"],
            "critical applies only above 4 servers"
        );
        assert_eq!(
            checks[0].assertion["at_least"],
            serde_yaml::Value::from(360.0)
        );
        assert!(checks[0].bounded && !checks[1].bounded);
    }

    #[test]
    fn fill_replaces_known_names_and_keeps_the_rest() {
        let vars: Vars = [("rps".to_string(), Value::Num(2400.0))]
            .into_iter()
            .collect();
        assert_eq!(
            fill("rate: ${rps} module: ${SLUICE_WASM_DIR:-x}/m ${rps", &vars),
            "rate: 2400 module: ${SLUICE_WASM_DIR:-x}/m ${rps"
        );
    }

    #[test]
    fn bad_sweeps_are_refused_with_the_place() {
        let e =
            SweepSpec::parse("name: t\nscenario: x\naxes: []\nchecks: []\n", "f.yaml").unwrap_err();
        assert!(e.to_string().contains("f.yaml: axes"), "{e}");
        let s = SweepSpec::parse(SWEEP, "t").unwrap();
        let vars = s.cells().unwrap().remove(0);
        let e = derive(
            &mut vars.clone(),
            &[Derived {
                name: "x".into(),
                expr: "nodes * 2".into(),
            }],
            "derive",
        )
        .unwrap_err();
        assert!(e.to_string().contains("derive[0] (x): 'nodes'"), "{e}");
        let mut no_id = serde_yaml::Mapping::new();
        no_id.insert("expect".into(), "success_rate".into());
        let e = resolve_checks(&[no_id], &vars, "checks").unwrap_err();
        assert!(e.to_string().contains("checks[0]: needs an 'id'"), "{e}");
    }
}
