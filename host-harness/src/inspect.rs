//! `sluice inspect`: what a module imports and exports, and which proxy-wasm
//! ABI it declares.

use anyhow::{Context, Result};
use std::fmt;
use std::path::Path;
use wasmtime::{Engine, ExternType, Module};

/// A module's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `(module, name, kind)` of each import.
    pub imports: Vec<(String, String, String)>,
    /// `(name, kind)` of each export.
    pub exports: Vec<(String, String)>,
}

impl Interface {
    /// The proxy-wasm ABI versions the module declares through
    /// `proxy_abi_version_*` exports.
    pub fn abi_versions(&self) -> Vec<String> {
        self.exports
            .iter()
            .filter_map(|(n, _)| n.strip_prefix("proxy_abi_version_"))
            .map(|v| v.replace('_', "."))
            .collect()
    }

    pub fn exports_fn(&self, name: &str) -> bool {
        self.exports.iter().any(|(n, k)| n == name && k == "func")
    }
}

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "func",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}

/// Compiles `path` and reads its interface.
pub fn interface(path: &Path) -> Result<Interface> {
    let engine = Engine::default();
    let module = Module::from_file(&engine, path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("loading wasm module {}", path.display()))?;
    Ok(Interface {
        imports: module
            .imports()
            .map(|i| {
                (
                    i.module().to_string(),
                    i.name().to_string(),
                    kind(&i.ty()).to_string(),
                )
            })
            .collect(),
        exports: module
            .exports()
            .map(|e| (e.name().to_string(), kind(&e.ty()).to_string()))
            .collect(),
    })
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abi = self.abi_versions();
        writeln!(
            f,
            "proxy-wasm ABI: {}",
            if abi.is_empty() {
                "none declared".to_string()
            } else {
                abi.join(", ")
            }
        )?;
        writeln!(f, "imports ({}):", self.imports.len())?;
        for (module, name, kind) in &self.imports {
            writeln!(f, "  {module}.{name} ({kind})")?;
        }
        writeln!(f, "exports ({}):", self.exports.len())?;
        for (name, kind) in &self.exports {
            writeln!(f, "  {name} ({kind})")?;
        }
        Ok(())
    }
}

/// The text `sluice inspect` prints.
pub fn inspect(path: &Path) -> Result<String> {
    Ok(interface(path)?.to_string())
}
