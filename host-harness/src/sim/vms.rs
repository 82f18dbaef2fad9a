//! The VMs of a simulated Envoy: per VM group, one main-thread VM and one
//! per worker; created, started, failed and reloaded like Envoy's.

use super::config::SimConfig;
use crate::host::clock::VirtualClock;
use crate::host::log::LogSink;
use crate::host::metrics::MetricStore;
use crate::host::shared::{SharedStore, VmKey};
use crate::vm::instance::RootSpec;
use crate::vm::{LoadedModule, Vm, VmFailure, VmSpec};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Plugins that share a VM: same module, `vm_id` and VM configuration.
#[derive(Debug)]
pub(super) struct Group {
    pub module: Arc<LoadedModule>,
    pub vm_id: String,
    pub vm_configuration: Arc<[u8]>,
    /// Plugin indexes; a plugin's root index in the VM is its position here.
    pub plugins: Vec<usize>,
}

/// A VM and its history.
#[derive(Debug)]
pub(super) struct VmSlot {
    pub vm: Result<Vm, VmFailure>,
    /// Bumped on reload; contexts of an older generation are gone.
    pub generation: u32,
    pub last_reload: Duration,
}

impl VmSlot {
    pub fn live(&mut self) -> Option<&mut Vm> {
        match &mut self.vm {
            Ok(vm) if vm.failure().is_none() => Some(vm),
            _ => None,
        }
    }

    pub fn failure(&self) -> Option<VmFailure> {
        match &self.vm {
            Ok(vm) => vm.failure().cloned(),
            Err(f) => Some(f.clone()),
        }
    }
}

/// What every VM is made with.
#[derive(Clone, Debug)]
pub(super) struct Shared {
    pub clock: VirtualClock,
    pub shared: Arc<Mutex<SharedStore>>,
    pub metrics: Arc<Mutex<MetricStore>>,
    pub log: Arc<Mutex<LogSink>>,
    pub known_clusters: Arc<Vec<String>>,
}

#[derive(Debug)]
pub(super) struct Vms {
    pub groups: Vec<Group>,
    /// Per plugin: (group, root index within the group's VM).
    pub plugin_at: Vec<(usize, usize)>,
    pub main: Vec<VmSlot>,
    pub workers: Vec<Vec<VmSlot>>,
}

fn mix(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(21) ^ c.rotate_left(42);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Vms {
    pub fn group(config: &SimConfig) -> (Vec<Group>, Vec<(usize, usize)>) {
        let mut groups: Vec<Group> = Vec::new();
        let mut plugin_at = Vec::new();
        for (i, p) in config.plugins.iter().enumerate() {
            let found = groups.iter().position(|g| {
                g.module.sha256 == p.module.sha256
                    && g.vm_id == p.vm_id
                    && g.vm_configuration == p.vm_configuration
            });
            let g = match found {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        module: Arc::clone(&p.module),
                        vm_id: p.vm_id.clone(),
                        vm_configuration: Arc::clone(&p.vm_configuration),
                        plugins: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            plugin_at.push((g, groups[g].plugins.len()));
            groups[g].plugins.push(i);
        }
        (groups, plugin_at)
    }

    /// Creates and starts one VM (main thread first, as Envoy does).
    pub fn create(
        config: &SimConfig,
        shared: &Shared,
        groups: &[Group],
        key: VmKey,
        generation: u32,
    ) -> VmSlot {
        let g = &groups[key.group as usize];
        let spec = VmSpec {
            vm: key,
            vm_id: g.vm_id.clone(),
            vm_configuration: Arc::clone(&g.vm_configuration),
            roots: g
                .plugins
                .iter()
                .map(|&p| {
                    let pc = &config.plugins[p];
                    RootSpec {
                        plugin: p,
                        name: pc.name.clone(),
                        root_id: pc.root_id.clone(),
                        configuration: Arc::clone(&pc.configuration),
                    }
                })
                .collect(),
            clock: shared.clock.clone(),
            shared: Arc::clone(&shared.shared),
            metrics: Arc::clone(&shared.metrics),
            log: Arc::clone(&shared.log),
            log_level: config.vm.log_level,
            known_clusters: Arc::clone(&shared.known_clusters),
            seed: mix(
                config.seed,
                key.worker.map_or(u64::MAX, u64::from),
                u64::from(key.group),
                u64::from(generation),
            ),
            memory_limit_bytes: config.vm.memory_limit_bytes,
            callback_deadline: config.vm.callback_deadline,
        };
        let vm = Vm::new(&g.module, &spec).and_then(|mut vm| vm.start_roots().map(|()| vm));
        VmSlot {
            vm,
            generation,
            last_reload: shared.clock.now(),
        }
    }

    pub fn slot_mut(&mut self, key: VmKey) -> Option<&mut VmSlot> {
        match key.worker {
            None => self.main.get_mut(key.group as usize),
            Some(w) => self
                .workers
                .get_mut(w as usize)
                .and_then(|g| g.get_mut(key.group as usize)),
        }
    }
}
