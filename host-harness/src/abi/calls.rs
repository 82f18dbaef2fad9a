//! Outbound calls: `proxy_http_call`, `proxy_grpc_call`, `proxy_grpc_stream`,
//! `proxy_grpc_send`, `proxy_grpc_cancel`, `proxy_grpc_close`.
//!
//! Calls are made on behalf of the calling context's root context (as in
//! proxy-wasm-cpp-host); the response is delivered to that root context
//! later, in virtual time, by the simulation from the scenario's scripted
//! targets. A call to a cluster the scenario does not declare is
//! `BadArgument`, as Envoy answers for an unknown cluster.

use super::memory::{read, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, NOT_FOUND};
use crate::host::pairs::{self, Pairs};
use crate::host::state::{Deferred, HostState, OutboundCall};
use std::time::Duration;
use wasmtime::Linker;

fn has(headers: &Pairs, name: &[u8]) -> bool {
    headers.iter().any(|(k, _)| k == name)
}

/// The cluster named by a gRPC `service` argument: either a cluster name, or
/// a serialized `envoy.config.core.v3.GrpcService` whose `envoy_grpc`
/// (field 1) holds `cluster_name` (field 1).
fn grpc_cluster(service: &[u8], known: &[String]) -> Option<String> {
    if let Ok(name) = std::str::from_utf8(service) {
        if known.iter().any(|k| k == name) {
            return Some(name.to_string());
        }
    }
    let envoy_grpc = proto_field(service, 1)?;
    let cluster = proto_field(envoy_grpc, 1)?;
    String::from_utf8(cluster.to_vec()).ok()
}

/// The first length-delimited field `number` of a protobuf message.
fn proto_field(mut msg: &[u8], number: u64) -> Option<&[u8]> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    while !msg.is_empty() {
        let tag = varint(&mut msg)?;
        match tag & 7 {
            0 => {
                varint(&mut msg)?;
            }
            1 => msg = msg.get(8..)?,
            5 => msg = msg.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut msg)?).ok()?;
                let (field, rest) = (msg.get(..len)?, msg.get(len..)?);
                if tag >> 3 == number {
                    return Some(field);
                }
                msg = rest;
            }
            _ => return None,
        }
    }
    None
}

fn start_call(
    s: &mut HostState,
    cluster: String,
    headers: Pairs,
    body: Vec<u8>,
    timeout_ms: u32,
    grpc: bool,
) -> Result<u32, HostError> {
    let root = s
        .active_root_index()
        .and_then(|i| s.roots.get(i))
        .map(|r| r.context_id)
        .ok_or(HostError::Status(BAD_ARGUMENT))?;
    s.next_token += 1;
    let token = s.next_token;
    s.outbound.insert(token, root);
    let call = OutboundCall {
        token,
        root_context_id: root,
        cluster,
        headers,
        body,
        timeout: Duration::from_millis(u64::from(timeout_ms)),
    };
    s.deferred.push(if grpc {
        Deferred::GrpcCall(call)
    } else {
        Deferred::HttpCall(call)
    });
    Ok(token)
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: HostCaller<'_>,
         up: u32,
         us: u32,
         hp: u32,
         hs: u32,
         bp: u32,
         bs: u32,
         tp: u32,
         ts: u32,
         timeout_ms: u32,
         token_ptr: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let cluster = String::from_utf8_lossy(&read(&mut c, up, us)?).into_owned();
                let headers = read(&mut c, hp, hs)?;
                let body = read(&mut c, bp, bs)?;
                read(&mut c, tp, ts)?;
                // Verify the token pointer before starting anything.
                write_u32(&mut c, token_ptr, 0)?;
                let headers = pairs::deserialize(&headers).unwrap_or_default();
                let s = c.data_mut();
                let required = [&b":method"[..], b":path", b":authority"];
                // Envoy takes the timeout as an int and refuses a negative one.
                if i32::try_from(timeout_ms).is_err()
                    || !s.known_clusters.contains(&cluster)
                    || !required.iter().all(|h| has(&headers, h))
                {
                    s.refused("proxy_http_call");
                    return Err(HostError::Status(BAD_ARGUMENT));
                }
                let token = start_call(s, cluster, headers, body, timeout_ms, false)?;
                write_u32(&mut c, token_ptr, token)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: HostCaller<'_>,
         sp: u32,
         ss: u32,
         np: u32,
         ns: u32,
         mp: u32,
         ms: u32,
         hp: u32,
         hs: u32,
         bp: u32,
         bs: u32,
         timeout_ms: u32,
         token_ptr: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let service = read(&mut c, sp, ss)?;
                let service_name = read(&mut c, np, ns)?;
                let method = read(&mut c, mp, ms)?;
                let metadata = pairs::deserialize(&read(&mut c, hp, hs)?).unwrap_or_default();
                let body = read(&mut c, bp, bs)?;
                write_u32(&mut c, token_ptr, 0)?;
                let s = c.data_mut();
                let Some(cluster) = grpc_cluster(&service, &s.known_clusters)
                    .filter(|k| s.known_clusters.contains(k))
                else {
                    s.refused("proxy_grpc_call");
                    return Err(HostError::Status(BAD_ARGUMENT));
                };
                let mut headers = metadata;
                let mut path = b"/".to_vec();
                path.extend_from_slice(&service_name);
                path.push(b'/');
                path.extend_from_slice(&method);
                headers.push((b":path".to_vec(), path));
                let token = start_call(s, cluster, headers, body, timeout_ms, true)?;
                write_u32(&mut c, token_ptr, token)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: HostCaller<'_>,
         sp: u32,
         ss: u32,
         np: u32,
         ns: u32,
         mp: u32,
         ms: u32,
         hp: u32,
         hs: u32,
         token_ptr: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let service = read(&mut c, sp, ss)?;
                read(&mut c, np, ns)?;
                read(&mut c, mp, ms)?;
                read(&mut c, hp, hs)?;
                write_u32(&mut c, token_ptr, 0)?;
                let s = c.data_mut();
                if grpc_cluster(&service, &s.known_clusters).is_none() {
                    s.refused("proxy_grpc_stream");
                    return Err(HostError::Status(BAD_ARGUMENT));
                }
                // Streams are opened and accept messages; the scripted
                // targets answer unary calls only, so a stream stays open
                // until the guest closes or cancels it.
                let root = s
                    .active_root_index()
                    .and_then(|i| s.roots.get(i))
                    .map(|r| r.context_id)
                    .ok_or(HostError::Status(BAD_ARGUMENT))?;
                s.next_token += 1;
                let token = s.next_token;
                s.outbound.insert(token, root);
                write_u32(&mut c, token_ptr, token)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut c: HostCaller<'_>, token: u32, mp: u32, ms: u32, _end: u32| -> wasmtime::Result<u32> {
            finish((|| {
                read(&mut c, mp, ms)?;
                if c.data().outbound.contains_key(&token) {
                    Ok(())
                } else {
                    Err(HostError::Status(BAD_ARGUMENT))
                }
            })())
        },
    )?;
    for name in ["proxy_grpc_cancel", "proxy_grpc_close"] {
        linker.func_wrap(
            "env",
            name,
            |mut c: HostCaller<'_>, token: u32| -> wasmtime::Result<u32> {
                finish(match c.data_mut().outbound.remove(&token) {
                    Some(_) => Ok(()),
                    None => Err(HostError::Status(NOT_FOUND)),
                })
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_service_proto_names_its_cluster() {
        // GrpcService { envoy_grpc: EnvoyGrpc { cluster_name: "auth" } }
        let inner = [0x0a, 4, b'a', b'u', b't', b'h'];
        let mut outer = vec![0x0a, inner.len() as u8];
        outer.extend_from_slice(&inner);
        assert_eq!(grpc_cluster(&outer, &[]), Some("auth".into()));
        assert_eq!(grpc_cluster(b"auth", &["auth".into()]), Some("auth".into()));
        assert_eq!(grpc_cluster(&[0xff, 0xff, 0xff], &[]), None);
    }
}
