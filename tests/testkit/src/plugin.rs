//! Edits to one wasm plugin's `PluginConfig` in a bootstrap: its failure
//! policy and the module it loads.

use crate::bootstrap::Bootstrap;
use anyhow::{bail, Result};
use serde_yaml::{Mapping, Value};
use std::path::Path;

/// Applies `f` to every `PluginConfig` whose `name` is `plugin`; fails if
/// there is none.
pub fn edit(
    bootstrap: Bootstrap,
    plugin: &str,
    mut f: impl FnMut(&mut Mapping),
) -> Result<Bootstrap> {
    let mut found = 0;
    let b = bootstrap.edit(|doc| {
        visit(doc, &mut |m| {
            let is_plugin = m.get("name").and_then(Value::as_str) == Some(plugin)
                && m.contains_key("vm_config");
            if is_plugin {
                f(m);
                found += 1;
            }
        })
    });
    if found == 0 {
        bail!("no wasm plugin named {plugin}");
    }
    Ok(b)
}

/// Sets `failure_policy` (`FAIL_OPEN`, `FAIL_CLOSED`, `FAIL_RELOAD`).
pub fn failure_policy(bootstrap: Bootstrap, plugin: &str, policy: &str) -> Result<Bootstrap> {
    edit(bootstrap, plugin, |m| {
        m.insert("failure_policy".into(), policy.into());
    })
}

/// Loads the module at `path` instead (`vm_config.code.local.filename`).
pub fn module(bootstrap: Bootstrap, plugin: &str, path: &Path) -> Result<Bootstrap> {
    let file = Value::from(path.to_string_lossy().into_owned());
    edit(bootstrap, plugin, |m| {
        let local = m
            .get_mut("vm_config")
            .and_then(|v| v.get_mut("code"))
            .and_then(|c| c.get_mut("local"))
            .and_then(Value::as_mapping_mut);
        if let Some(local) = local {
            local.insert("filename".into(), file.clone());
        }
    })
}

fn visit(v: &mut Value, f: &mut impl FnMut(&mut Mapping)) {
    match v {
        Value::Mapping(m) => {
            f(m);
            m.iter_mut().for_each(|(_, c)| visit(c, f));
        }
        Value::Sequence(s) => s.iter_mut().for_each(|c| visit(c, f)),
        Value::Tagged(t) => visit(&mut t.value, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
static_resources:
  listeners:
  - name: l
    filter_chains:
    - filters:
      - typed_config:
          config:
            name: sluice_throttle
            failure_policy: FAIL_OPEN
            vm_config: {code: {local: {filename: a.wasm}}}
"#;

    #[test]
    fn sets_the_failure_policy_and_the_module_of_the_named_plugin() {
        let b = Bootstrap::from_yaml(DOC)
            .and_then(|b| failure_policy(b, "sluice_throttle", "FAIL_RELOAD"))
            .and_then(|b| module(b, "sluice_throttle", Path::new("/x/trap.wasm")))
            .expect("edits");
        let y = b.to_yaml().expect("yaml");
        assert!(y.contains("failure_policy: FAIL_RELOAD"), "{y}");
        assert!(y.contains("filename: /x/trap.wasm"), "{y}");
        assert!(failure_policy(b, "nope", "FAIL_OPEN").is_err());
    }
}
