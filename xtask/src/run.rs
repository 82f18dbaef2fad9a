//! Running commands, with the command line shown.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub fn repo_root() -> PathBuf {
    sluice_testkit::paths::repo_root()
}

/// `cargo`, as invoked by `cargo xtask` (so the same toolchain).
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(repo_root());
    c
}

/// `cargo run` of the harness CLI (`sluice`); add its arguments.
pub fn sluice() -> Command {
    let mut c = cargo();
    c.args([
        "run",
        "--quiet",
        "-p",
        "sluice-harness",
        "--bin",
        "sluice",
        "--",
    ]);
    c
}

pub fn step(title: &str) {
    eprintln!("\n==> {title}");
}

/// Runs `cmd`, failing with its command line if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("    $ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", show(cmd)))?;
    if !status.success() {
        bail!("command failed ({status}): {}", show(cmd));
    }
    Ok(())
}

pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
