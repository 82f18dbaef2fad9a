//! An Envoy whose listeners come from a file (file-based LDS), so a test can
//! push new listener configurations to a running Envoy the way a control
//! plane would, and see whether Envoy accepts or rejects each one.
//!
//! The bootstrap's static listeners move into `lds/listeners.yaml`, a
//! `DiscoveryResponse`, and `dynamic_resources.lds_config` points at it with
//! `watched_directory`. Envoy reloads the file when an entry is moved into the
//! watched directory, so every push writes a staging file beside it and
//! renames it into place: Envoy never reads a half-written file.

use crate::bootstrap::Bootstrap;
use crate::envoy::{Envoy, Options};
use crate::stats::Stats;
use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LISTENER_TYPE: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";

/// How long Envoy may take to apply or refuse a push (a new VM compiles the
/// module with V8).
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Envoy with file-based LDS; derefs to [`Envoy`].
#[derive(Debug)]
pub struct LdsEnvoy {
    envoy: Envoy,
    dir: tempfile::TempDir,
    version: Cell<u64>,
    /// Bound port of each listener, by name, so pushed listeners keep the
    /// address the test is sending to.
    ports: BTreeMap<String, u16>,
}

/// What Envoy did with a push, from `listener_manager.lds.*` counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    Accepted,
    Rejected,
}

impl std::ops::Deref for LdsEnvoy {
    type Target = Envoy;
    fn deref(&self) -> &Envoy {
        &self.envoy
    }
}

/// Takes the static listeners out of `bootstrap`.
fn take_listeners(bootstrap: Bootstrap) -> (Bootstrap, Vec<Value>) {
    let mut listeners = Vec::new();
    let rest = bootstrap.edit(|doc| {
        if let Some(sr) = doc
            .get_mut("static_resources")
            .and_then(Value::as_mapping_mut)
        {
            if let Some(Value::Sequence(ls)) = sr.remove("listeners") {
                listeners = ls;
            }
        }
    });
    (rest, listeners)
}

fn listener_name(l: &Value) -> Option<&str> {
    l.get("name").and_then(Value::as_str)
}

impl LdsEnvoy {
    /// Starts Envoy with `bootstrap` (already rewritten for the test), its
    /// static listeners delivered by file-based LDS instead.
    pub fn start(bootstrap: Bootstrap, opts: Options) -> Result<LdsEnvoy> {
        let dir = tempfile::Builder::new().prefix("sluice-lds-").tempdir()?;
        std::fs::create_dir(dir.path().join("lds"))?;
        std::fs::create_dir(dir.path().join("staging"))?;
        let (rest, listeners) = take_listeners(bootstrap);
        if listeners.is_empty() {
            bail!("the bootstrap has no static listeners to deliver by LDS");
        }
        write_atomically(dir.path(), &discovery_response("1", &listeners)?)?;
        let watched = dir.path().join("lds");
        let lds_config = serde_yaml::to_value(serde_json::json!({
            "resource_api_version": "V3",
            "path_config_source": {
                "path": watched.join("listeners.yaml"),
                "watched_directory": {"path": watched},
            },
        }))?;
        let node = serde_yaml::to_value(
            serde_json::json!({"id": "sluice-test", "cluster": "sluice-test"}),
        )?;
        let bootstrap = rest.edit(|doc| {
            if let Some(m) = doc.as_mapping_mut() {
                m.insert("node".into(), node);
                let mut dynamic = serde_yaml::Mapping::new();
                dynamic.insert("lds_config".into(), lds_config);
                m.insert("dynamic_resources".into(), Value::Mapping(dynamic));
            }
        });
        let envoy = Envoy::start(&bootstrap, opts)?;
        let mut ports = BTreeMap::new();
        for name in listeners.iter().filter_map(listener_name) {
            let addr = wait_for_listener(&envoy, name)?;
            ports.insert(name.to_string(), addr.port());
        }
        Ok(LdsEnvoy {
            envoy,
            dir,
            version: Cell::new(1),
            ports,
        })
    }

    /// Replaces the listeners with those of `bootstrap` (rewritten for the
    /// test; each listener keeps the port its name is bound to) and waits
    /// until Envoy has rejected the new file, or accepted it and started
    /// draining what it replaces.
    pub fn push(&self, bootstrap: &Bootstrap) -> Result<Push> {
        let (_, mut listeners) = take_listeners(bootstrap.clone());
        for l in &mut listeners {
            let port = listener_name(l).and_then(|n| self.ports.get(n)).copied();
            if let (Some(port), Some(sa)) = (
                port,
                l.get_mut("address")
                    .and_then(|a| a.get_mut("socket_address"))
                    .and_then(Value::as_mapping_mut),
            ) {
                sa.insert("port_value".into(), Value::from(port));
            }
        }
        let stats = self.envoy.stats()?;
        let before = lds_counts(&stats);
        let draining_before = draining(&stats);
        let version = self.version.get() + 1;
        self.version.set(version);
        write_atomically(
            self.dir.path(),
            &discovery_response(&version.to_string(), &listeners)?,
        )?;
        let deadline = Instant::now() + PUSH_TIMEOUT;
        loop {
            let (success, rejected) = self.lds_counts()?;
            if rejected > before.1 {
                return Ok(Push::Rejected);
            }
            if success > before.0 {
                self.wait_applied(version, draining_before, deadline)?;
                return Ok(Push::Accepted);
            }
            if Instant::now() > deadline {
                bail!(
                    "envoy neither accepted nor rejected LDS version {version} within {PUSH_TIMEOUT:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until an accepted update has replaced the old listeners on the
    /// workers. `update_success` counts when Envoy accepts the resources;
    /// the new listener then warms, is added to every worker, and only then
    /// is the old one (or its old filter chains, for an in-place update)
    /// drained. Until then a new connection may still get the old
    /// configuration.
    fn wait_applied(&self, version: u64, draining_before: u64, deadline: Instant) -> Result<()> {
        loop {
            let s = self.envoy.stats()?;
            let warming = s.value("listener_manager.total_listeners_warming");
            if warming == 0 && draining(&s) > draining_before {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "LDS version {version} was accepted but the old listener did not start draining within {PUSH_TIMEOUT:?} ({warming} warming)"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `listener_manager.lds.update_success` and `update_rejected`.
    pub fn lds_counts(&self) -> Result<(u64, u64)> {
        Ok(lds_counts(&self.envoy.stats()?))
    }
}

fn lds_counts(s: &Stats) -> (u64, u64) {
    (
        s.value("listener_manager.lds.update_success"),
        s.value("listener_manager.lds.update_rejected"),
    )
}

/// Listeners and filter chains draining, from the gauges of `s`. A test
/// that pushes must run Envoy with a drain time longer than a few polls
/// (`Options::drain_time_s`), or the drain may be over before it is seen.
fn draining(s: &Stats) -> u64 {
    s.value("listener_manager.total_listeners_draining")
        + s.value("listener_manager.total_filter_chains_draining")
}

fn wait_for_listener(envoy: &Envoy, name: &str) -> Result<std::net::SocketAddr> {
    let deadline = Instant::now() + PUSH_TIMEOUT;
    loop {
        match envoy.listener(name) {
            Ok(addr) if addr.port() != 0 => return Ok(addr),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(addr) => bail!("listener {name} bound to {addr}"),
            Err(e) => return Err(e).context(format!("listener {name} from LDS")),
        }
    }
}

fn discovery_response(version: &str, listeners: &[Value]) -> Result<String> {
    let resources: Vec<Value> = listeners
        .iter()
        .map(|l| {
            let mut m = l
                .as_mapping()
                .cloned()
                .ok_or_else(|| anyhow!("a listener is not a mapping"))?;
            m.insert("@type".into(), LISTENER_TYPE.into());
            Ok(Value::Mapping(m))
        })
        .collect::<Result<_>>()?;
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("version_info".into(), version.into());
    doc.insert("resources".into(), Value::Sequence(resources));
    Ok(serde_yaml::to_string(&doc)?)
}

/// Writes `text` to a staging file and renames it to `lds/listeners.yaml`.
fn write_atomically(dir: &Path, text: &str) -> Result<PathBuf> {
    let staging = dir.join("staging/listeners.yaml");
    let target = dir.join("lds/listeners.yaml");
    std::fs::write(&staging, text)?;
    std::fs::rename(&staging, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_static_listeners_into_a_discovery_response() {
        let b = Bootstrap::from_yaml(
            "static_resources:\n  listeners: [{name: a}, {name: b}]\n  clusters: []\n",
        )
        .expect("yaml");
        let (rest, listeners) = take_listeners(b);
        assert_eq!(listeners.len(), 2);
        assert!(!rest.to_yaml().expect("yaml").contains("listeners"));
        let text = discovery_response("7", &listeners).expect("response");
        let v: Value = serde_yaml::from_str(&text).expect("parses");
        assert_eq!(v["version_info"], Value::from("7"));
        assert_eq!(v["resources"][1]["name"], Value::from("b"));
        assert_eq!(v["resources"][0]["@type"], Value::from(LISTENER_TYPE));
    }
}
