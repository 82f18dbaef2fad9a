//! `proxy_get_property`, `proxy_set_property`.
//!
//! Paths are NUL-separated segments (`source\0address`). Values are encoded
//! as Envoy encodes them: strings as their bytes, integers as 8-byte
//! little-endian, booleans as one byte. The properties Sluice and common
//! filters read are modelled; any other path is `NotFound`.

use super::memory::{copy_out, read, HostCaller};
use super::status::{finish, HostError, NOT_FOUND};
use crate::host::state::HostState;
use wasmtime::Linker;

fn int(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn port_of(addr: &str) -> Option<i64> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// The value at `path` for the active context, if modelled.
fn lookup(s: &HostState, path: &[&[u8]]) -> Option<Vec<u8>> {
    let root = s.active_root_index().and_then(|i| s.roots.get(i));
    let text: Vec<&str> = path
        .iter()
        .map(|p| std::str::from_utf8(p).unwrap_or(""))
        .collect();
    match text.as_slice() {
        ["plugin_name"] => return root.map(|r| r.name.clone().into_bytes()),
        ["plugin_root_id"] => return root.map(|r| r.root_id.clone().into_bytes()),
        ["plugin_vm_id"] => return Some(s.vm_id.clone().into_bytes()),
        _ => {}
    }
    let h = s.active_http()?;
    let d = h.stream.lock();
    let header = |name: &str| {
        d.request_headers
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.clone())
    };
    let joined = text.join(".");
    if let Some((_, v)) = d.filter_state.iter().find(|(k, _)| *k == joined.as_bytes()) {
        return Some(v.clone());
    }
    match text.as_slice() {
        ["request", "path"] => header(":path"),
        ["request", "url_path"] => header(":path").map(|p| {
            let end = p.iter().position(|&b| b == b'?').unwrap_or(p.len());
            p[..end].to_vec()
        }),
        ["request", "method"] => header(":method"),
        ["request", "host"] => header(":authority"),
        ["request", "scheme"] => Some(b"http".to_vec()),
        ["request", "protocol"] => Some(b"HTTP/1.1".to_vec()),
        ["request", "id"] => {
            header("x-request-id").or_else(|| Some(d.info.id.to_string().into_bytes()))
        }
        ["request", "time"] => Some(int(d.info.start_wall_nanos as i64)),
        ["source", "address"] => Some(d.info.source_address.clone().into_bytes()),
        ["source", "port"] => port_of(&d.info.source_address).map(int),
        ["destination", "address"] => Some(d.info.destination_address.clone().into_bytes()),
        ["destination", "port"] => port_of(&d.info.destination_address).map(int),
        ["connection", "mtls"] => Some(vec![u8::from(d.info.peer_principal.is_some())]),
        ["connection", "uri_san_peer_certificate"] => {
            d.info.peer_principal.clone().map(String::into_bytes)
        }
        ["connection", "requested_server_name"] => Some(Vec::new()),
        ["xds", "route_name"] => Some(d.info.route_name.clone().into_bytes()),
        ["xds", "cluster_name"] => Some(d.info.cluster_name.clone().into_bytes()),
        ["response", "code"] => d.response_code.map(|c| int(i64::from(c))),
        ["response", "code_details"] => Some(d.response_code_details.clone().into_bytes()),
        _ => None,
    }
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: HostCaller<'_>, pp: u32, ps: u32, vpp: u32, vsp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let raw = read(&mut c, pp, ps)?;
                let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
                let path: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
                let value = lookup(c.data(), &path).ok_or(HostError::Status(NOT_FOUND))?;
                copy_out(&mut c, &value, vpp, vsp)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: HostCaller<'_>, kp: u32, ks: u32, vp: u32, vs: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let key = read(&mut c, kp, ks)?;
                let value = read(&mut c, vp, vs)?;
                let key: Vec<u8> = key.split(|&b| b == 0).collect::<Vec<_>>().join(&b'.');
                // Envoy's setProperty: no stream info (a root context) is NotFound.
                let h = c.data().active_http().ok_or(HostError::Status(NOT_FOUND))?;
                let mut d = h.stream.lock();
                match d.filter_state.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = value,
                    None => d.filter_state.push((key, value)),
                }
                Ok(())
            })())
        },
    )?;
    Ok(())
}
