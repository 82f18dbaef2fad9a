//! Generators and oracles shared by the fuzz targets in `fuzz_targets/`,
//! which stay thin: a target turns the fuzzer's bytes into an input here,
//! runs the code under test, and checks the invariants here.
//!
//! - [`request`]: a request (headers, properties) built from fuzzer bytes,
//!   with non-UTF-8 values, huge values and many headers, behind the core's
//!   `RequestView`.
//! - [`oracle`]: what every error must say.
//! - [`guest`]: a wasm guest that makes whatever host calls the fuzzer's
//!   bytes describe, for the harness's ABI boundary.
#![forbid(unsafe_code)]

pub mod guest;
pub mod oracle;
pub mod request;
