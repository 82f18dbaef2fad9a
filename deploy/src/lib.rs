//! Deploying Sluice: packaging a filter as an OCI image Istio can pull, and
//! checking Istio `WasmPlugin` resources before they reach a cluster.
//!
//! - [`oci`]: writes and reads an OCI image layout holding one module as a
//!   Wasm artifact (config + content layer); every digest and size is
//!   checked on reading.
//! - [`schema`]: a structural OpenAPI v3 validator for CRD schemas (the
//!   subset Kubernetes uses for structural schemas).
//! - [`wasmplugin`]: a `WasmPlugin` checked against the CRD's schema, the
//!   CRD's CEL rules (written out as code), and the plugin's own
//!   configuration type.

pub mod oci;
pub mod rollout;
pub mod schema;
pub mod wasmplugin;
