//! The OCI layout `sluice package` writes is read back the way Istio's
//! fetcher reads it, with every digest and size checked, and yields the
//! module byte for byte.

use sluice_deploy::oci;
use sluice_testkit::paths;
use std::path::PathBuf;

fn module() -> Vec<u8> {
    let path = paths::wasm_dir().join("sluice_throttle.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build the filters first: cargo xtask build-wasm)",
            path.display()
        )
    })
}

fn layout(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-oci-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_packaged_module_reads_back_byte_identical_with_every_digest_checked() {
    let bytes = module();
    let dir = layout("roundtrip");
    let w = oci::write(&dir, &bytes, "0.1.0", &["sluice_throttle"]).expect("write");
    assert_eq!(w.module_digest, oci::digest(&bytes));
    let image = oci::read(&dir).expect("read");
    assert_eq!(image.module, bytes, "module differs after the round trip");
    assert_eq!(image.tag, "0.1.0");
    assert_eq!(image.root_ids, ["sluice_throttle"]);
    assert_eq!(image.manifest_digest, w.manifest_digest);
    // Every file under blobs/ is named by its own digest.
    for entry in std::fs::read_dir(dir.join("blobs/sha256")).expect("blobs") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let content = std::fs::read(&path).expect("blob");
        assert_eq!(oci::digest(&content), format!("sha256:{name}"));
    }
    // Writing the same module again gives the same digests (reproducible).
    let again = oci::write(&layout("again"), &bytes, "0.1.0", &["sluice_throttle"]).expect("write");
    assert_eq!(again, w);
}

#[test]
fn a_tampered_or_truncated_blob_is_refused_naming_it() {
    let bytes = module();
    let dir = layout("tamper");
    let w = oci::write(&dir, &bytes, "t", &["sluice_throttle"]).expect("write");
    let blob = dir
        .join("blobs/sha256")
        .join(w.module_digest.trim_start_matches("sha256:"));
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&blob, &changed).expect("tamper");
    let e = format!("{:#}", oci::read(&dir).expect_err("tampered"));
    assert!(e.contains("layer: the blob's digest is"), "{e}");
    std::fs::write(&blob, &bytes[..10]).expect("truncate");
    let e = format!("{:#}", oci::read(&dir).expect_err("truncated"));
    assert!(e.contains("layer: the descriptor says"), "{e}");
    assert!(oci::write(&layout("notwasm"), b"hello", "t", &["x"]).is_err());
}
