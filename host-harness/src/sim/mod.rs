//! The discrete-event simulation.
//!
//! Virtual time advances from event to event ([`events::EventQueue`], ordered
//! by time then by insertion), so a ten-minute overload replays in seconds
//! and identically for a seed. The world ([`world::World`]) holds, per
//! simulated Envoy worker, one VM per VM group (plugins that share module,
//! `vm_id` and VM configuration share a VM, as in Envoy) plus the main-thread
//! VMs; the streams in flight; the upstream clusters ([`upstream`]); and the
//! collector that turns what happens into a report ([`collector`]).
//!
//! A request's life follows Envoy's filter manager: request headers (and
//! body) through the chain in order, each filter able to continue, pause or
//! answer locally; the upstream; response headers (and body) through the
//! chain in reverse; then `on_log` for every filter and `on_done` /
//! `on_delete`.

mod chain;
pub mod collector;
pub mod config;
mod deferred;
pub mod events;
pub mod exchange;
mod fast_map;
mod sessions;
pub mod upstream;
mod vms;
pub mod world;

pub use config::SimConfig;
pub use world::World;
