//! `sluice`: the command line of the host harness.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "Sluice host harness for proxy-wasm filters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a proxy-wasm module and list its imports and exports.
    Inspect {
        /// Path to a .wasm module.
        module: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { module } => {
            let report = sluice_harness::inspect::inspect(&module)?;
            print!("{report}");
            Ok(())
        }
    }
}
