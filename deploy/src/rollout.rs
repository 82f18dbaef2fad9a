//! A staged rollout of one Sluice policy across a mesh, and the gate that
//! decides whether a stage may proceed.
//!
//! A plan names the plugin, the image pinned by digest, the policy (its
//! `pluginConfig`), a canary selector and the selector for everywhere. The
//! stages, each one `WasmPlugin` of the same name (applying the next stage
//! replaces the previous one), all pinned to the same digest:
//!
//! | stage | selector | decisions |
//! |---|---|---|
//! | `shadow-canary` | canary | computed and recorded, not enforced |
//! | `enforce-canary` | canary | enforced |
//! | `shadow-everywhere` | everywhere | recorded only (the canary too) |
//! | `enforce-<p>pct` (throttle, one per `enforce_percents` entry) | everywhere | enforced for p % of decisions |
//! | `enforce-everywhere` | everywhere | enforced |
//!
//! The gate reads the Envoy stats of the pods in the current stage, as
//! `/stats` text or `/stats/prometheus` text, and says go or no-go with one
//! reason per check: enough traffic to judge; no wasm VM failures (Envoy's
//! `wasm.<plugin>.vm_reload*` counters); the error rate, not counting the
//! throttle's own refusals, within budget; and for the throttle, that it
//! decided on most of the listener's requests (a VM that trapped under
//! FAIL_OPEN moves no Envoy stat; its worker's traffic passes the filter by)
//! and the share of critical requests the policy sheds (shadow stages:
//! would shed) within its bound, zero by default. Rolling back is applying the previous
//! stage's manifest, or deleting the resource.

use crate::wasmplugin::{check, Crd};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Thresholds of the gate.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRules {
    /// The HTTP connection manager's `stat_prefix` whose requests count.
    pub stat_prefix: String,
    pub min_requests: f64,
    pub max_error_rate: f64,
    pub max_vm_failures: f64,
    /// Bound on (would-be) shed critical requests / critical requests.
    pub max_critical_shed_rate: f64,
    /// Least share of the listener's completed requests the throttle must
    /// have decided on. A trap under FAIL_OPEN moves no Envoy stat: the
    /// failed worker's traffic just passes the filter by, which shows here.
    pub min_filter_coverage: f64,
}

/// A rollout plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub name: String,
    pub namespace: String,
    pub plugin: String,
    pub url: String,
    pub sha256: Option<String>,
    pub phase: String,
    pub priority: i64,
    pub fail_strategy: String,
    pub plugin_config: Value,
    pub canary: Value,
    pub everywhere: Value,
    pub enforce_percents: Vec<f64>,
    pub gate: GateRules,
}

/// One stage of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    pub canary_only: bool,
    pub shadow: bool,
    pub enforce_percent: f64,
}

fn field<'a>(doc: &'a Value, key: &str) -> Result<&'a Value> {
    doc.get(key)
        .ok_or_else(|| anyhow!("the plan has no `{key}`"))
}

fn text(doc: &Value, key: &str) -> Result<String> {
    field(doc, key)?
        .as_str()
        .map(String::from)
        .ok_or_else(|| anyhow!("`{key}` must be a string"))
}

impl Plan {
    /// Reads a plan from YAML.
    pub fn parse(yaml: &str) -> Result<Plan> {
        let doc: Value = serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(yaml)?)?;
        let known = [
            "name",
            "namespace",
            "plugin",
            "url",
            "sha256",
            "phase",
            "priority",
            "failStrategy",
            "pluginConfig",
            "canary",
            "everywhere",
            "enforce_percents",
            "gate",
        ];
        if let Some(unknown) = doc
            .as_object()
            .ok_or_else(|| anyhow!("the plan must be a mapping"))?
            .keys()
            .find(|k| !known.contains(&k.as_str()))
        {
            bail!(
                "the plan has an unknown key `{unknown}` (known: {})",
                known.join(", ")
            );
        }
        let plugin = text(&doc, "plugin")?;
        if !["sluice_throttle", "sluice_router"].contains(&plugin.as_str()) {
            bail!("`plugin` must be sluice_throttle or sluice_router, not '{plugin}'");
        }
        let g = doc.get("gate").cloned().unwrap_or(json!({}));
        let num = |key: &str, default: f64| -> Result<f64> {
            match g.get(key) {
                None => Ok(default),
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| anyhow!("gate.{key} must be a number")),
            }
        };
        let mut enforce_percents = Vec::new();
        for p in doc
            .get("enforce_percents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = p
                .as_f64()
                .filter(|p| *p > 0.0 && *p < 100.0)
                .ok_or_else(|| anyhow!("enforce_percents: {p} must be a number in (0, 100)"))?;
            if enforce_percents.last().is_some_and(|last| p <= *last) {
                bail!(
                    "enforce_percents must rise: {p} follows {:?}",
                    enforce_percents.last()
                );
            }
            enforce_percents.push(p);
        }
        Ok(Plan {
            name: text(&doc, "name")?,
            namespace: text(&doc, "namespace")?,
            url: text(&doc, "url")?,
            sha256: doc.get("sha256").and_then(Value::as_str).map(String::from),
            phase: doc
                .get("phase")
                .and_then(Value::as_str)
                .unwrap_or("AUTHZ")
                .to_string(),
            priority: doc.get("priority").and_then(Value::as_i64).unwrap_or(10),
            fail_strategy: doc
                .get("failStrategy")
                .and_then(Value::as_str)
                .unwrap_or("FAIL_OPEN")
                .to_string(),
            plugin_config: field(&doc, "pluginConfig")?.clone(),
            canary: field(&doc, "canary")?.clone(),
            everywhere: field(&doc, "everywhere")?.clone(),
            enforce_percents,
            gate: GateRules {
                stat_prefix: g
                    .get("stat_prefix")
                    .and_then(Value::as_str)
                    .unwrap_or("inbound")
                    .to_string(),
                min_requests: num("min_requests", 100.0)?,
                max_error_rate: num("max_error_rate", 0.01)?,
                max_vm_failures: num("max_vm_failures", 0.0)?,
                max_critical_shed_rate: num("max_critical_shed_rate", 0.0)?,
                min_filter_coverage: num("min_filter_coverage", 0.9)?,
            },
            plugin,
        })
    }

    /// The stages, in order.
    pub fn stages(&self) -> Vec<Stage> {
        let stage = |name: String, canary_only, shadow, enforce_percent| Stage {
            name,
            canary_only,
            shadow,
            enforce_percent,
        };
        let mut out = vec![
            stage("shadow-canary".into(), true, true, 100.0),
            stage("enforce-canary".into(), true, false, 100.0),
            stage("shadow-everywhere".into(), false, true, 100.0),
        ];
        // Only the throttle can enforce a fraction of its decisions.
        if self.plugin == "sluice_throttle" {
            for p in &self.enforce_percents {
                out.push(stage(format!("enforce-{p}pct"), false, false, *p));
            }
        }
        out.push(stage("enforce-everywhere".into(), false, false, 100.0));
        out
    }

    pub fn stage(&self, name: &str) -> Result<Stage> {
        let stages = self.stages();
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        let known = names.join(", ");
        stages
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| anyhow!("no stage '{name}' in the plan (stages: {known})"))
    }

    /// The plugin configuration of a stage: the policy with its mode.
    pub fn stage_config(&self, stage: &Stage) -> Value {
        let mut config = self.plugin_config.clone();
        config["mode"] = json!(if stage.shadow { "shadow" } else { "enforce" });
        if self.plugin == "sluice_throttle" && !stage.shadow {
            config["enforce_percent"] = json!(stage.enforce_percent);
        }
        config
    }

    /// The stage's `WasmPlugin`.
    pub fn manifest(&self, stage: &Stage) -> Value {
        let selector = if stage.canary_only {
            &self.canary
        } else {
            &self.everywhere
        };
        let mut spec = json!({
            "selector": selector,
            "phase": self.phase,
            "priority": self.priority,
            "failStrategy": self.fail_strategy,
            "pluginName": self.plugin,
            "url": self.url,
            "pluginConfig": self.stage_config(stage),
        });
        if let Some(sha) = &self.sha256 {
            spec["sha256"] = json!(sha);
        }
        json!({
            "apiVersion": "extensions.istio.io/v1alpha1",
            "kind": "WasmPlugin",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"sluice.io/stage": stage.name},
            },
            "spec": spec,
        })
    }

    /// Writes one manifest per stage into `out` (`01-shadow-canary.yaml`,
    /// ...), refusing the plan if any manifest has a problem.
    pub fn write(&self, crd: &Crd, out: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut written = Vec::new();
        for (i, stage) in self.stages().iter().enumerate() {
            let manifest = self.manifest(stage);
            let problems = check(crd, &manifest);
            if !problems.is_empty() {
                bail!("stage {}: {}", stage.name, problems.join("; "));
            }
            let path = out.join(format!("{:02}-{}.yaml", i + 1, stage.name));
            let header = format!(
                "# Stage {} of {}: {} (plan {}). Apply with kubectl apply -f; roll back by\n# applying the previous stage's file.\n",
                i + 1,
                self.stages().len(),
                stage.name,
                self.name
            );
            std::fs::write(&path, header + &serde_yaml::to_string(&manifest)?)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Stats samples in Prometheus form: name, labels, value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    /// Parses Envoy's `/stats` text or `/stats/prometheus` text.
    pub fn parse(text: &str) -> Samples {
        if text.lines().any(|l| l.starts_with('#') || l.contains('{')) {
            Samples::prometheus(text)
        } else {
            Samples::envoy(text)
        }
    }

    fn prometheus(text: &str) -> Samples {
        let mut out = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let Some((head, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match head.split_once('{') {
                None => (head, BTreeMap::new()),
                Some((n, rest)) => {
                    let body = rest.trim_end_matches('}');
                    let labels = body
                        .split(',')
                        .filter_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            Some((k.to_string(), v.trim_matches('"').to_string()))
                        })
                        .collect();
                    (n, labels)
                }
            };
            out.push((name.to_string(), labels, value));
        }
        Samples(out)
    }

    /// `/stats` text, with the tags the gate needs extracted as Envoy's
    /// Prometheus output extracts them.
    fn envoy(text: &str) -> Samples {
        let mut out = Vec::new();
        for line in text.lines() {
            let Some((name, value)) = line.split_once(": ") else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let mut labels = BTreeMap::new();
            let name = if let Some(rest) = name.strip_prefix("wasmcustom.") {
                // sluice.<filter>.<stat>[.class.<c>|.cluster.<c>][.reason.<r>]
                let mut parts: Vec<&str> = rest.split('.').collect();
                for (tag, label) in [
                    ("reason", "sluice_reason"),
                    ("class", "sluice_class"),
                    ("cluster", "sluice_cluster"),
                ] {
                    if let Some(i) = parts.iter().rposition(|p| *p == tag) {
                        if i + 1 < parts.len() {
                            labels.insert(label.to_string(), parts[i + 1].to_string());
                            parts.drain(i..i + 2);
                        }
                    }
                }
                parts.join("_")
            } else if let Some(rest) = name.strip_prefix("http.") {
                let Some((prefix, stat)) = rest.split_once('.') else {
                    continue;
                };
                labels.insert("envoy_http_conn_manager_prefix".into(), prefix.into());
                match stat
                    .strip_prefix("downstream_rq_")
                    .and_then(|s| s.strip_suffix("xx"))
                {
                    Some(class) if class.len() == 1 => {
                        labels.insert("envoy_response_code_class".into(), class.into());
                        "envoy_http_downstream_rq_xx".to_string()
                    }
                    _ => format!("envoy_http_{stat}"),
                }
            } else if let Some(rest) = name.strip_prefix("wasm.") {
                format!("envoy_wasm_{}", rest.replace('.', "_"))
            } else {
                continue;
            };
            out.push((name, labels, value));
        }
        Samples(out)
    }

    /// The sum of the samples named `name` whose labels include `with`.
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && with
                        .iter()
                        .all(|(k, v)| labels.get(*k).is_some_and(|x| x == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    /// The sum of the samples whose name matches `pred`.
    fn sum_where(&self, pred: impl Fn(&str) -> bool) -> f64 {
        self.0
            .iter()
            .filter(|(n, _, _)| pred(n))
            .map(|(_, _, v)| v)
            .sum()
    }
}

/// The gate's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub go: bool,
    /// One line per check: `PASS`/`FAIL`, what was measured, the bound.
    pub reasons: Vec<String>,
}

/// Judges a stage from the stats of its pods.
pub fn gate(plan: &Plan, stage: &Stage, stats: &Samples) -> Verdict {
    let g = &plan.gate;
    let prefix = [("envoy_http_conn_manager_prefix", g.stat_prefix.as_str())];
    let completed = stats.sum("envoy_http_downstream_rq_completed", &prefix);
    let five = stats.sum(
        "envoy_http_downstream_rq_xx",
        &[prefix[0], ("envoy_response_code_class", "5")],
    );
    let mut reasons = Vec::new();
    let mut go = true;
    let mut judge = |ok: bool, what: String| {
        go &= ok;
        reasons.push(format!("{} {what}", if ok { "PASS" } else { "FAIL" }));
    };
    judge(
        completed >= g.min_requests,
        format!(
            "traffic: {completed} requests completed on '{}' (need at least {})",
            g.stat_prefix, g.min_requests
        ),
    );
    let failures = stats.sum_where(|n| {
        n.starts_with("envoy_wasm_")
            && (n.ends_with("_vm_reload") || n.ends_with("_vm_reload_failure"))
    });
    judge(
        failures <= g.max_vm_failures,
        format!(
            "wasm VM failures: {failures} (at most {})",
            g.max_vm_failures
        ),
    );
    let sheds = stats.sum("sluice_throttle_rq_shed", &[]);
    let errors = (five - sheds).max(0.0);
    let rate = if completed > 0.0 {
        errors / completed
    } else {
        0.0
    };
    judge(
        rate <= g.max_error_rate,
        format!(
            "error rate: {:.4} ({errors} 5xx not decided by Sluice of {completed}; at most {})",
            rate, g.max_error_rate
        ),
    );
    if plan.plugin == "sluice_throttle" {
        let decided = stats.sum("sluice_throttle_rq_admitted", &[])
            + sheds
            + stats.sum("sluice_throttle_rq_shadow_shed", &[]);
        let coverage = if completed > 0.0 {
            decided / completed
        } else {
            1.0
        };
        judge(
            coverage >= g.min_filter_coverage,
            format!(
                "filter coverage: the throttle decided on {decided} of {completed} requests \
                 ({coverage:.4}; at least {}; less means a VM failed open or the filter is not \
                 in the chain)",
                g.min_filter_coverage
            ),
        );
        let critical = [("sluice_class", "critical")];
        let admitted = stats.sum("sluice_throttle_rq_admitted", &critical);
        let shed = stats.sum("sluice_throttle_rq_shed", &critical);
        let shadow = stats.sum("sluice_throttle_rq_shadow_shed", &critical);
        let total = admitted + shed + shadow;
        let (counted, what) = if stage.shadow {
            (shadow, "would shed (shadow)")
        } else {
            (shed + shadow, "shed")
        };
        let share = if total > 0.0 { counted / total } else { 0.0 };
        judge(
            share <= g.max_critical_shed_rate,
            format!(
                "critical traffic {what}: {counted} of {total} ({share:.4}; at most {})",
                g.max_critical_shed_rate
            ),
        );
    }
    Verdict { go, reasons }
}

#[cfg(test)]
mod tests;
