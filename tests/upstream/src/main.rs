//! `sluice-test-upstream`: run the test upstream as a process.

use anyhow::Result;
use clap::Parser;
use sluice_test_upstream::{Behaviour, Upstream};
use std::io::Write;

#[derive(Parser, Debug)]
#[command(about = "A capacity-limited HTTP upstream for Sluice's tests and benchmarks")]
struct Args {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Name reported in `x-upstream-name`.
    #[arg(long, default_value = "upstream")]
    name: String,
    /// Requests served at once; the rest queue (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    capacity: usize,
    /// Mean service time in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    service_ms: f64,
    /// Service time spread, as a fraction of the mean.
    #[arg(long, default_value_t = 0.0)]
    jitter: f64,
    /// Fraction of requests answered with 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Most requests that may wait; past it, 503 at once.
    #[arg(long)]
    queue_limit: Option<usize>,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let up = Upstream::start_on(
        a.listen,
        &a.name,
        Behaviour {
            capacity: a.capacity,
            service_ms: a.service_ms,
            jitter: a.jitter,
            error_rate: a.error_rate,
            queue_limit: a.queue_limit,
        },
    )?;
    println!("listening on {}", up.addr());
    std::io::stdout().flush()?;
    up.wait();
    Ok(())
}
