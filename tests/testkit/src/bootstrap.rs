//! Bootstraps from `envoy-configs/`, rewritten for one test run.
//!
//! The files in `envoy-configs/` are real, deployable configurations with
//! fixed ports. A test loads one and rewrites only what must differ on a
//! shared machine: every listener and the admin bind port 0 (Envoy picks a
//! free port; [`crate::envoy::Envoy::listener`] reads it back), clusters point
//! at the test's upstreams, `.wasm` paths point at the built modules, and the
//! plugin configuration may be replaced.

use crate::paths;
use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::{Mapping, Value};
use std::net::SocketAddr;
use std::path::Path;

/// A bootstrap being prepared for a test.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    doc: Value,
}

fn key(k: &str) -> Value {
    Value::String(k.to_string())
}

fn get_mut<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| v.get_mut(*k))
}

fn socket_address(v: &mut Value) -> Option<&mut Mapping> {
    get_mut(v, &["address", "socket_address"])?.as_mapping_mut()
}

impl Bootstrap {
    /// Loads `envoy-configs/<relative>`.
    pub fn load(relative: &str) -> Result<Bootstrap> {
        Self::from_file(&paths::envoy_config(relative))
    }

    pub fn from_file(path: &Path) -> Result<Bootstrap> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_yaml(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn from_yaml(text: &str) -> Result<Bootstrap> {
        Ok(Bootstrap {
            doc: serde_yaml::from_str(text)?,
        })
    }

    pub fn to_yaml(&self) -> Result<String> {
        Ok(serde_yaml::to_string(&self.doc)?)
    }

    /// Admin and every static listener on 127.0.0.1 port 0; `.wasm` files
    /// from [`paths::wasm_dir`].
    pub fn for_test(mut self) -> Result<Bootstrap> {
        if let Some(admin) = self.doc.get_mut("admin").and_then(socket_address) {
            admin.insert(key("address"), key("127.0.0.1"));
            admin.insert(key("port_value"), Value::from(0));
        }
        if let Some(listeners) = get_mut(&mut self.doc, &["static_resources", "listeners"])
            .and_then(Value::as_sequence_mut)
        {
            for l in listeners {
                if let Some(sa) = socket_address(l) {
                    sa.insert(key("address"), key("127.0.0.1"));
                    sa.insert(key("port_value"), Value::from(0));
                }
            }
        }
        let dir = paths::wasm_dir();
        visit_mut(&mut self.doc, &mut |v| {
            if let Some(file) = get_mut(v, &["local", "filename"]) {
                if let Some(name) = file
                    .as_str()
                    .filter(|f| f.ends_with(".wasm"))
                    .and_then(|f| Path::new(f).file_name())
                {
                    *file = Value::String(dir.join(name).to_string_lossy().into_owned());
                }
            }
        });
        Ok(self)
    }

    /// Points every endpoint of cluster `name` at `addrs` (one endpoint each).
    pub fn cluster_endpoints(mut self, name: &str, addrs: &[SocketAddr]) -> Result<Bootstrap> {
        let clusters = get_mut(&mut self.doc, &["static_resources", "clusters"])
            .and_then(Value::as_sequence_mut)
            .ok_or_else(|| anyhow!("no static_resources.clusters"))?;
        let cluster = clusters
            .iter_mut()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| anyhow!("no cluster named {name}"))?;
        let lb_endpoints: Vec<Value> = addrs
            .iter()
            .map(|a| {
                serde_yaml::from_str(&format!(
                    "endpoint: {{address: {{socket_address: {{address: '{}', port_value: {}}}}}}}",
                    a.ip(),
                    a.port()
                ))
            })
            .collect::<Result<_, _>>()?;
        let la = cluster
            .get_mut("load_assignment")
            .and_then(Value::as_mapping_mut)
            .ok_or_else(|| anyhow!("cluster {name} has no load_assignment"))?;
        let mut endpoints = Mapping::new();
        endpoints.insert(key("lb_endpoints"), Value::Sequence(lb_endpoints));
        la.insert(
            key("endpoints"),
            Value::Sequence(vec![Value::Mapping(endpoints)]),
        );
        Ok(self)
    }

    /// Replaces the plugin configuration (the `StringValue` JSON) of the wasm
    /// plugin whose `config.name` is `plugin`.
    pub fn plugin_config(mut self, plugin: &str, json: &str) -> Result<Bootstrap> {
        let mut found = 0;
        visit_mut(&mut self.doc, &mut |v| {
            let is_plugin = v.get("name").and_then(Value::as_str) == Some(plugin)
                && v.get("vm_config").is_some();
            if is_plugin {
                if let Some(value) = get_mut(v, &["configuration", "value"]) {
                    *value = Value::String(json.to_string());
                    found += 1;
                }
            }
        });
        if found == 0 {
            bail!("no wasm plugin named {plugin} with a configuration value");
        }
        Ok(self)
    }

    /// Applies an arbitrary edit to the document.
    pub fn edit(mut self, f: impl FnOnce(&mut Value)) -> Bootstrap {
        f(&mut self.doc);
        self
    }
}

/// Calls `f` on every node, parents before children.
fn visit_mut(v: &mut Value, f: &mut impl FnMut(&mut Value)) {
    f(v);
    match v {
        Value::Mapping(m) => m.iter_mut().for_each(|(_, c)| visit_mut(c, f)),
        Value::Sequence(s) => s.iter_mut().for_each(|c| visit_mut(c, f)),
        Value::Tagged(t) => visit_mut(&mut t.value, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
admin: {address: {socket_address: {address: 0.0.0.0, port_value: 9901}}}
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 10000}}
    filter_chains:
    - filters:
      - typed_config:
          config:
            name: sluice_throttle
            vm_config: {code: {local: {filename: target/wasm32-wasip1/wasm-release/sluice_throttle.wasm}}}
            configuration: {value: "{}"}
  clusters:
  - name: app
    load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: []}]}
"#;

    #[test]
    fn rewrites_ports_paths_endpoints_and_plugin_config() {
        let b = Bootstrap::from_yaml(DOC)
            .and_then(Bootstrap::for_test)
            .and_then(|b| b.cluster_endpoints("app", &["127.0.0.1:4242".parse().unwrap()]))
            .and_then(|b| b.plugin_config("sluice_throttle", r#"{"x":1}"#))
            .expect("rewrites");
        let y = b.to_yaml().expect("yaml");
        assert!(y.contains("port_value: 0"));
        assert!(!y.contains("10000") && !y.contains("9901"));
        assert!(y.contains("port_value: 4242"));
        assert!(y.contains(r#"{"x":1}"#));
        let wasm = paths::wasm_dir().join("sluice_throttle.wasm");
        assert!(y.contains(wasm.to_str().unwrap()));
        assert!(Bootstrap::from_yaml(DOC)
            .unwrap()
            .plugin_config("nope", "{}")
            .is_err());
    }
}
