//! A live demo in real Envoy: the throttle in front of an overloaded test
//! upstream, with load from this process and the stats Envoy shows.

use crate::run::step;
use crate::{setup, wasm};
use anyhow::{Context, Result};
use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{priority_mix, HttpClient};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::{Behaviour, Upstream};
use std::time::Duration;

pub fn run() -> Result<()> {
    let envoy_bin = setup::all()?;
    std::env::set_var("SLUICE_ENVOY", &envoy_bin);
    wasm::build()?;

    step("start a test upstream (capacity 4, 20 ms per request) and Envoy (2 workers)");
    let upstream = Upstream::start(
        "app",
        Behaviour {
            capacity: 4,
            service_ms: 20.0,
            ..Behaviour::default()
        },
    )?;
    let bootstrap = Bootstrap::load("throttle-inbound.yaml")?
        .for_test()?
        .cluster_endpoints("local_app", &[upstream.addr()])?;
    let envoy = Envoy::start(&bootstrap, Options::default()).context("starting Envoy")?;
    let url = format!("http://{}", envoy.listener("inbound")?);
    eprintln!(
        "    upstream {}  envoy {}  admin {}",
        upstream.addr(),
        url,
        envoy.admin()
    );

    step("3 s of load: 2 critical, 6 default, 6 sheddable clients (limit 10 in flight)");
    let client = HttpClient::new();
    let report = client.load(&url, Duration::from_secs(3), &priority_mix(2, 6, 6));
    println!(
        "\n{:<10} {:>8} {:>8} {:>8} {:>9}",
        "class", "sent", "200", "503", "success"
    );
    for (label, o) in &report.groups {
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>8.1}%",
            label,
            o.total(),
            o.status(200),
            o.status(503),
            o.success_rate() * 100.0
        );
    }

    step("a shed request, while 8 slow requests hold the default class's 8 slots");
    let slow: Vec<_> = (0..8)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "1500")]))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let shed = client.get(&url, &[("x-sluice-priority", "sheddable")])?;
    println!("\nHTTP {}", shed.status);
    for (k, v) in &shed.headers {
        println!("{k}: {v}");
    }
    println!("\n{}", shed.body.trim_end());
    for p in slow {
        p.wait()?;
    }

    step("Envoy stats (/stats?filter=sluice)");
    println!("{}", envoy.admin_get("/stats?filter=sluice")?.trim_end());
    Ok(())
}
