//! `sluice inspect` on the built throttle module.

use sluice_harness::inspect::interface;
use sluice_testkit::paths::wasm_module;

#[test]
fn throttle_module_declares_abi_0_2_1_and_the_lifecycle_exports() {
    let module = wasm_module("sluice_throttle").expect("built module");
    let i = interface(&module).expect("module loads");
    assert_eq!(i.abi_versions(), vec!["0.2.1".to_string()]);
    for f in [
        "_initialize",
        "proxy_on_memory_allocate",
        "proxy_on_context_create",
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_request_headers",
        "proxy_on_tick",
        "proxy_on_log",
        "proxy_on_done",
        "proxy_on_delete",
    ] {
        assert!(i.exports_fn(f), "{f} not exported");
    }
    assert!(i
        .imports
        .iter()
        .any(|(m, n, _)| m == "env" && n == "proxy_set_shared_data"));
    assert!(i
        .imports
        .iter()
        .all(|(m, _, _)| m == "env" || m == "wasi_snapshot_preview1"));
}

#[test]
fn a_file_that_is_not_wasm_is_an_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("sluice-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bogus = dir.join("bogus.wasm");
    std::fs::write(&bogus, b"not wasm").expect("write");
    let err = interface(&bogus).expect_err("must fail");
    assert!(format!("{err:#}").contains("bogus.wasm"), "{err:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
