//! Checking an Istio `WasmPlugin` resource before it reaches a cluster.
//!
//! Three layers, each reporting every problem with its path:
//! 1. the CRD's OpenAPI schema ([`crate::schema`]);
//! 2. the CRD's CEL rules (`x-kubernetes-validations`), which a schema
//!    validator cannot check, written out as code: at most one of
//!    `selector`, `targetRef`, `targetRefs`; the `url` scheme is one of
//!    `http`, `https`, `oci`, `file` (or none); no cross-namespace target
//!    references; no wildcards or empty keys in `matchLabels`; an `env`
//!    value only when `valueFrom` is not `HOST`;
//! 3. Sluice's own rules: a Sluice plugin (`pluginName` `sluice_throttle`
//!    or `sluice_router`) is pinned by digest (`oci://…@sha256:<64 hex>`),
//!    and its `pluginConfig` is accepted by that filter's configuration
//!    type, the same code the filter runs in Envoy.
//!
//! The schema is the CRD shipped with Istio (`deploy/schemas/`, a copy of
//! the one this project was given; a test keeps them equal).

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use sluice_core::config::{RouterConfig, ThrottleConfig};
use std::path::Path;

/// The CRD's schema of `spec`.
#[derive(Clone, Debug)]
pub struct Crd {
    spec: Value,
    version: String,
}

impl Crd {
    /// Reads a WasmPlugin CRD and takes the schema of its served version.
    pub fn load(path: &Path) -> Result<Crd> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: Value = serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text)?)?;
        let version = doc["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["served"] == true && v["storage"] == true)
            .or_else(|| doc["spec"]["versions"].get(0))
            .ok_or_else(|| anyhow!("{}: no versions in the CRD", path.display()))?;
        Ok(Crd {
            spec: version["schema"]["openAPIV3Schema"]["properties"]["spec"].clone(),
            version: version["name"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// Every problem with one `WasmPlugin` document.
pub fn check(crd: &Crd, doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let api = format!("extensions.istio.io/{}", crd.version);
    if doc["apiVersion"] != api.as_str() {
        problems.push(format!(".apiVersion: expected {api}"));
    }
    if doc["kind"] != "WasmPlugin" {
        problems.push(".kind: expected WasmPlugin".to_string());
    }
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let dns_label = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !dns_label {
        problems.push(format!(
            ".metadata.name: '{name}' is not a DNS subdomain name"
        ));
    }
    let spec = &doc["spec"];
    problems.extend(crate::schema::validate(&crd.spec, spec, ".spec"));
    cel_rules(spec, &mut problems);
    sluice_rules(spec, &mut problems);
    problems
}

fn cel_rules(spec: &Value, problems: &mut Vec<String>) {
    let targets = ["selector", "targetRef", "targetRefs"]
        .iter()
        .filter(|k| spec.get(**k).is_some())
        .count();
    if targets > 1 {
        problems.push(".spec: only one of targetRefs or selector can be set".to_string());
    }
    if let Some(url) = spec["url"].as_str() {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        if !["", "http", "https", "oci", "file"].contains(&scheme) {
            problems.push(format!(
                ".spec.url: url must have schema one of [http, https, file, oci], not '{scheme}'"
            ));
        }
    }
    let refs = spec["targetRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec.get("targetRef"));
    for r in refs {
        if r["namespace"].as_str().is_some_and(|n| !n.is_empty()) {
            problems.push(
                ".spec.targetRefs: cross namespace referencing is not currently supported"
                    .to_string(),
            );
        }
    }
    if let Some(labels) = spec["selector"]["matchLabels"].as_object() {
        for (k, v) in labels {
            if k.is_empty() || k.contains('*') {
                problems.push(format!(
                    ".spec.selector.matchLabels: key '{k}' must be non-empty and without wildcards"
                ));
            }
            if v.as_str().is_some_and(|v| v.contains('*')) {
                problems.push(format!(
                    ".spec.selector.matchLabels.{k}: wildcard not allowed in label value match"
                ));
            }
        }
    }
    for (i, e) in spec["vmConfig"]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if e["valueFrom"] == "HOST" && e.get("value").is_some() {
            problems.push(format!(
                ".spec.vmConfig.env[{i}]: value may only be set when valueFrom is INLINE"
            ));
        }
    }
}

fn sluice_rules(spec: &Value, problems: &mut Vec<String>) {
    let plugin = spec["pluginName"].as_str().unwrap_or_default();
    let parse: fn(&[u8]) -> Option<String> = match plugin {
        "sluice_throttle" => |b| ThrottleConfig::from_json(b).err().map(|e| e.to_string()),
        "sluice_router" => |b| RouterConfig::from_json(b).err().map(|e| e.to_string()),
        _ => return,
    };
    let url = spec["url"].as_str().unwrap_or_default();
    let pinned = url.starts_with("oci://")
        && url.rsplit_once("@sha256:").is_some_and(|(_, h)| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    if !pinned {
        problems.push(format!(
            ".spec.url: '{url}' is not pinned by digest (oci://<image>@sha256:<64 hex>)"
        ));
    }
    let config = serde_json::to_vec(&spec["pluginConfig"]).unwrap_or_default();
    if let Some(e) = parse(&config) {
        problems.push(format!(".spec.pluginConfig: {plugin} refuses it: {e}"));
    }
}

/// Every problem in every document of a YAML file, with the document's
/// index.
pub fn check_file(crd: &Crd, path: &Path) -> Result<Vec<(usize, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let yaml = serde_yaml::Value::deserialize(doc)
            .with_context(|| format!("{}: document {i} is not YAML", path.display()))?;
        let json: Value = serde_json::to_value(yaml)?;
        out.extend(check(crd, &json).into_iter().map(|p| (i, p)));
    }
    Ok(out)
}
