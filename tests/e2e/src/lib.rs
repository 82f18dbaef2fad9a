//! End-to-end tests live in `tests/`; they need Envoy and the built filters
//! (`cargo xtask test` provides both). This library is empty.
