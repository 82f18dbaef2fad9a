//! # sluice-core: the policy logic of Sluice, free of any host.
//!
//! Everything that decides something lives here; the proxy-wasm glue and the
//! host harness only feed it inputs and carry out its answers. Core concepts:
//!
//! - **Configuration** ([`config`]): the plugin JSON, parsed into raw types and
//!   validated into domain types. A bad configuration is refused whole with an
//!   error that names the field and the problem ([`config::ConfigError`]).
//! - **Priority classes** ([`priority`]): an ordered list of classes, most
//!   important first, each with a share of the concurrency limit it may use.
//! - **Requests** ([`request::RequestView`]): what the policy may ask of a
//!   request (headers, pseudo-headers). The glue answers from Envoy, tests from
//!   a map.
//! - **Shared stats** ([`shared`]): records kept in proxy-wasm shared data and
//!   updated with compare-and-swap. The store is a trait ([`shared::SharedKv`]),
//!   so the same update loop runs against Envoy, the harness and an in-memory
//!   store in unit tests.
//! - **Throttle** ([`throttle`]): classification plus the admission decision
//!   for one request.
//! - **Trust and tenants** ([`trust`], [`tenant`]): which sources may steer
//!   Sluice with headers, and the cap that keeps one tenant from taking all
//!   the admitted capacity.
//!
//! Time ([`time::Timestamp`]) and random draws ([`random`]) are arguments,
//! never read from the environment, so a decision is a pure function of its
//! inputs and the harness can replay traffic in virtual time.
#![forbid(unsafe_code)]
// A filter must never trap: no unwrap outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod config;
pub mod decision;
pub mod limit;
pub mod priority;
pub mod random;
pub mod request;
pub mod route;
pub mod rules;
pub mod shared;
pub mod tenant;
pub mod throttle;
pub mod time;
pub mod trust;
