//! A module compiled once and pre-linked against the ABI.

use super::runtime::Runtime;
use crate::host::state::HostState;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::{InstancePre, Module};

/// A `.wasm` file ready to instantiate.
pub struct LoadedModule {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// The proxy-wasm ABI it declares: `0.2.0` or `0.2.1`.
    pub abi: String,
    pub module: Module,
    pub pre: InstancePre<HostState>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("path", &self.path)
            .field("abi", &self.abi)
            .finish()
    }
}

impl LoadedModule {
    /// Compiles (or loads from the cache) and links `path`. Fails with the
    /// file name and the reason if the module is not a proxy-wasm module of a
    /// supported ABI or imports something the host does not provide.
    pub fn load(runtime: &Runtime, path: &Path) -> Result<LoadedModule> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading wasm module {}", path.display()))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let module = Module::new(&runtime.engine, &bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {}", path.display()))?;
        let abi = module
            .exports()
            .filter_map(|e| e.name().strip_prefix("proxy_abi_version_"))
            .map(|v| v.replace('_', "."))
            .find(|v| v == "0.2.1" || v == "0.2.0");
        let Some(abi) = abi else {
            bail!(
                "{}: no supported proxy-wasm ABI export (proxy_abi_version_0_2_1 or _0_2_0)",
                path.display()
            );
        };
        let pre = runtime
            .linker
            .instantiate_pre(&module)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("linking {}", path.display()))?;
        Ok(LoadedModule {
            path: path.to_path_buf(),
            sha256,
            size: bytes.len() as u64,
            abi,
            module,
            pre,
        })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
