//! `proxy_define_metric`, `proxy_increment_metric`, `proxy_record_metric`,
//! `proxy_get_metric`. Ids are per VM; the stat behind an id is shared by
//! name across VMs (see [`crate::host::metrics`]).

use super::memory::{read_string, write_u32, write_u64, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, NOT_FOUND};
use crate::host::metrics::MetricKind;
use crate::host::state::HostState;
use wasmtime::Linker;

fn global(s: &HostState, id: u32) -> Result<usize, HostError> {
    s.metric_ids
        .get(id as usize)
        .copied()
        .ok_or(HostError::Status(NOT_FOUND))
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: HostCaller<'_>, kind: u32, np: u32, ns: u32, ip: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let kind = MetricKind::from_abi(kind).ok_or(HostError::Status(BAD_ARGUMENT))?;
                let name = read_string(&mut c, np, ns)?;
                let s = c.data_mut();
                let index = s.lock_metrics().define(kind, &name);
                let id = match s.metric_ids.iter().position(|&g| g == index) {
                    Some(id) => id,
                    None => {
                        s.metric_ids.push(index);
                        s.metric_ids.len() - 1
                    }
                };
                write_u32(&mut c, ip, id as u32)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |c: HostCaller<'_>, id: u32, offset: i64| -> wasmtime::Result<u32> {
            finish((|| {
                let s = c.data();
                let g = global(s, id)?;
                s.lock_metrics()
                    .increment(g, offset)
                    .map_err(|_| HostError::Status(BAD_ARGUMENT))
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |c: HostCaller<'_>, id: u32, value: u64| -> wasmtime::Result<u32> {
            finish((|| {
                let s = c.data();
                let g = global(s, id)?;
                s.lock_metrics()
                    .record(g, value)
                    .map_err(|_| HostError::Status(BAD_ARGUMENT))
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: HostCaller<'_>, id: u32, rp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let s = c.data();
                let g = global(s, id)?;
                let v = s
                    .lock_metrics()
                    .get(g)
                    .map_err(|_| HostError::Status(BAD_ARGUMENT))?;
                write_u64(&mut c, rp, v)
            })())
        },
    )?;
    Ok(())
}
