//! Header maps: get, add, replace, remove, get/set all pairs, size.
//!
//! Map types: 0 request headers, 1 request trailers, 2 response headers,
//! 3 response trailers, 4/5 gRPC initial/trailing metadata, 6/7 `http_call`
//! response headers/trailers. Keys are compared and stored lower-case, as
//! Envoy's `LowerCaseString` does. A map that is not available in the current
//! callback answers `BadArgument` (see [`crate::host::stream`]).

use super::memory::{copy_out, read, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, NOT_FOUND};
use crate::host::pairs::{self, Pairs};
use crate::host::state::HostState;
use wasmtime::Linker;

const MAX_MAP_TYPE: u32 = 7;

/// Runs `f` on map `map_type` of the active context, if it is available.
/// `f` gets the map and whether it may change it.
fn with_map<R>(
    s: &mut HostState,
    map_type: u32,
    write: bool,
    f: impl FnOnce(&mut Pairs) -> R,
) -> Result<R, HostError> {
    if map_type > MAX_MAP_TYPE {
        return Err(HostError::Status(BAD_ARGUMENT));
    }
    match map_type {
        0..=3 => {
            let h = s.active_http().ok_or(HostError::Status(BAD_ARGUMENT))?;
            let allowed = match map_type {
                0 => h.access.request_headers,
                1 => h.access.request_trailers,
                2 => h.access.response_headers,
                _ => h.access.response_trailers,
            };
            if !allowed {
                return Err(HostError::Status(BAD_ARGUMENT));
            }
            let stream = h.stream.clone();
            let mut d = stream.lock();
            if write && map_type == 0 {
                d.request_headers_modified = true;
            }
            let map = match map_type {
                0 => &mut d.request_headers,
                1 => &mut d.request_trailers,
                2 => &mut d.response_headers,
                _ => &mut d.response_trailers,
            };
            Ok(f(map))
        }
        _ => {
            if write {
                return Err(HostError::Status(BAD_ARGUMENT));
            }
            let resp = s
                .call_response
                .as_mut()
                .ok_or(HostError::Status(BAD_ARGUMENT))?;
            Ok(match map_type {
                4 | 6 => f(&mut resp.headers),
                _ => f(&mut resp.trailers),
            })
        }
    }
}

fn lower(key: &[u8]) -> Vec<u8> {
    key.to_ascii_lowercase()
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: HostCaller<'_>,
         t: u32,
         kp: u32,
         ks: u32,
         vpp: u32,
         vsp: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let key = lower(&read(&mut c, kp, ks)?);
                let value = with_map(c.data_mut(), t, false, |m| {
                    m.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
                })?
                .ok_or(HostError::Status(NOT_FOUND))?;
                copy_out(&mut c, &value, vpp, vsp)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: HostCaller<'_>, t: u32, pp: u32, sp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let bytes = with_map(c.data_mut(), t, false, |m| {
                    if m.is_empty() {
                        Vec::new()
                    } else {
                        pairs::serialize(m)
                    }
                })?;
                copy_out(&mut c, &bytes, pp, sp)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: HostCaller<'_>, t: u32, rp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let size = with_map(c.data_mut(), t, false, |m| {
                    m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                })?;
                write_u32(&mut c, rp, size as u32)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: HostCaller<'_>,
         t: u32,
         kp: u32,
         ks: u32,
         vp: u32,
         vs: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let key = lower(&read(&mut c, kp, ks)?);
                let value = read(&mut c, vp, vs)?;
                with_map(c.data_mut(), t, true, |m| m.push((key, value)))
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: HostCaller<'_>,
         t: u32,
         kp: u32,
         ks: u32,
         vp: u32,
         vs: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let key = lower(&read(&mut c, kp, ks)?);
                let value = read(&mut c, vp, vs)?;
                with_map(c.data_mut(), t, true, |m| {
                    match m.iter().position(|(k, _)| *k == key) {
                        Some(i) => {
                            m[i].1 = value;
                            let mut j = i + 1;
                            while j < m.len() {
                                if m[j].0 == key {
                                    m.remove(j);
                                } else {
                                    j += 1;
                                }
                            }
                        }
                        None => m.push((key, value)),
                    }
                })
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: HostCaller<'_>, t: u32, kp: u32, ks: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let key = lower(&read(&mut c, kp, ks)?);
                with_map(c.data_mut(), t, true, |m| m.retain(|(k, _)| *k != key))
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: HostCaller<'_>, t: u32, p: u32, sz: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let bytes = read(&mut c, p, sz)?;
                let new = pairs::deserialize(&bytes).ok_or(HostError::Status(BAD_ARGUMENT))?;
                let new: Pairs = new.into_iter().map(|(k, v)| (lower(&k), v)).collect();
                with_map(c.data_mut(), t, true, |m| *m = new)
            })())
        },
    )?;
    Ok(())
}
