//! An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`)
//! holding one Wasm module in the *oci* variant of the Wasm image
//! specification (solo-io/wasm `spec/spec.md`), which Istio's image fetcher
//! recognises by its config media type:
//!
//! | blob | media type |
//! |---|---|
//! | config | `application/vnd.module.wasm.config.v1+json`: `{"type": "envoy_proxy", "abi_version": …, "config": {"root_ids": […]}}` |
//! | the one layer | `application/vnd.module.wasm.content.layer.v1+wasm`: the module bytes, titled `plugin.wasm` |
//! | manifest | `application/vnd.oci.image.manifest.v1+json` |
//!
//! `index.json` lists the manifest under its tag
//! (`org.opencontainers.image.ref.name`). The manifest's digest is what a
//! `WasmPlugin` pins: `url: oci://<registry>/<repo>@sha256:<hex>`. Pushing
//! the layout to a registry (for example `oras cp --from-oci-layout` or
//! `skopeo copy oci:<dir>:<tag> docker://…`) keeps every digest.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.module.wasm.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn descriptor(media_type: &str, bytes: &[u8], title: Option<&str>) -> Value {
    let mut d = json!({"mediaType": media_type, "digest": digest(bytes), "size": bytes.len()});
    if let Some(t) = title {
        d["annotations"] = json!({"org.opencontainers.image.title": t});
    }
    d
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Result<()> {
    let d = digest(bytes);
    let hex = d.trim_start_matches("sha256:");
    let path = dir.join("blobs/sha256").join(hex);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// What [`write`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` of the manifest: pin this in `url: oci://…@<digest>`.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the module: a `WasmPlugin`'s `sha256` field.
    pub module_digest: String,
}

/// Writes `module` as a Wasm image into the OCI layout at `dir` (created
/// if needed), tagged `tag`, declaring `root_ids`.
pub fn write(dir: &Path, module: &[u8], tag: &str, root_ids: &[&str]) -> Result<Written> {
    if !module.starts_with(b"\0asm") {
        bail!("the module does not start with the wasm magic number");
    }
    std::fs::create_dir_all(dir.join("blobs/sha256"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let config = serde_json::to_vec(&json!({
        "type": "envoy_proxy",
        "abi_version": "proxy_abi_version_0_2_1",
        "config": {"root_ids": root_ids},
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor(CONFIG_MEDIA_TYPE, &config, Some("runtime-config.json")),
        "layers": [descriptor(LAYER_MEDIA_TYPE, module, Some("plugin.wasm"))],
    }))?;
    let mut manifest_descriptor = descriptor(MANIFEST_MEDIA_TYPE, &manifest, None);
    manifest_descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [manifest_descriptor],
    }))?;
    for blob in [&config, module, &manifest] {
        write_blob(dir, blob)?;
    }
    std::fs::write(
        dir.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )?;
    std::fs::write(dir.join("index.json"), index)?;
    Ok(Written {
        manifest_digest: digest(&manifest),
        module_digest: digest(module),
    })
}

/// Reads the blob a descriptor points to, checking its size and digest.
fn read_blob(dir: &Path, descriptor: &Value, what: &str) -> Result<Vec<u8>> {
    let d = descriptor["digest"]
        .as_str()
        .ok_or_else(|| anyhow!("{what}: the descriptor has no digest"))?;
    let hex = d
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| anyhow!("{what}: '{d}' is not a sha256 digest"))?;
    let path = dir.join("blobs/sha256").join(hex);
    let bytes =
        std::fs::read(&path).with_context(|| format!("{what}: reading {}", path.display()))?;
    let size = descriptor["size"].as_u64();
    if size != Some(bytes.len() as u64) {
        bail!(
            "{what}: the descriptor says {size:?} bytes, the blob has {}",
            bytes.len()
        );
    }
    if digest(&bytes) != d {
        bail!(
            "{what}: the blob's digest is {}, the descriptor says {d}",
            digest(&bytes)
        );
    }
    Ok(bytes)
}

/// What [`read`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub tag: String,
    pub manifest_digest: String,
    pub root_ids: Vec<String>,
    pub module: Vec<u8>,
}

/// Reads the layout at `dir` as Istio's fetcher would, checking the layout
/// version, every digest and size, and the media types.
pub fn read(dir: &Path) -> Result<Image> {
    let layout: Value = serde_json::from_slice(&std::fs::read(dir.join("oci-layout"))?)
        .context("oci-layout is not JSON")?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        bail!(
            "oci-layout: unsupported imageLayoutVersion {}",
            layout["imageLayoutVersion"]
        );
    }
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)
        .context("index.json is not JSON")?;
    let [m] = index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        bail!("index.json: expected exactly one manifest");
    };
    let tag = m["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let manifest_bytes = read_blob(dir, m, "manifest")?;
    let manifest: Value =
        serde_json::from_slice(&manifest_bytes).context("the manifest is not JSON")?;
    if manifest["config"]["mediaType"] != CONFIG_MEDIA_TYPE {
        bail!(
            "manifest: config media type {} is not {CONFIG_MEDIA_TYPE}",
            manifest["config"]["mediaType"]
        );
    }
    let config: Value = serde_json::from_slice(&read_blob(dir, &manifest["config"], "config")?)
        .context("the config is not JSON")?;
    let [layer] = manifest["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        bail!("manifest: expected exactly one layer");
    };
    if layer["mediaType"] != LAYER_MEDIA_TYPE {
        bail!(
            "manifest: layer media type {} is not {LAYER_MEDIA_TYPE}",
            layer["mediaType"]
        );
    }
    let module = read_blob(dir, layer, "layer")?;
    let root_ids = config["config"]["root_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(Image {
        tag,
        manifest_digest: digest(&manifest_bytes),
        root_ids,
        module,
    })
}
