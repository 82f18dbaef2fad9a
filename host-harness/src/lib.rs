//! # sluice-harness
//!
//! A wasmtime host of the proxy-wasm ABI. It loads filters by path (it never
//! links a filter crate) and, in later modules, replays traffic against them
//! in virtual time.

pub mod inspect;
