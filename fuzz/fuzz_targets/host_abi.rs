//! The harness's ABI boundary: a guest makes whatever host calls the
//! fuzzer's bytes describe (wild pointers and lengths, unknown types, ids
//! and tokens, calls from inside the host's own call into the guest's
//! allocator; see `sluice_fuzz::guest`), through a whole stream's
//! lifecycle. The host must answer each call with a status or trap the
//! guest, which the VM then reports as a failure with a message; the host
//! process never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_harness::host::clock::VirtualClock;
use sluice_harness::host::log::LogSink;
use sluice_harness::host::shared::VmKey;
use sluice_harness::host::state::{CallResponse, Deferred};
use sluice_harness::host::stream::{Access, SharedStream, StreamData};
use sluice_harness::vm::instance::RootSpec;
use sluice_harness::vm::{LoadedModule, Runtime, RuntimeOptions, Vm, VmSpec};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

struct Host {
    // Kept alive: its epoch thread interrupts guests that run too long.
    _runtime: Runtime,
    module: LoadedModule,
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let runtime = Runtime::new(&RuntimeOptions::default()).expect("wasmtime runtime");
        let bytes = wat::parse_str(sluice_fuzz::guest::wat()).expect("the guest's WAT");
        let path =
            std::env::temp_dir().join(format!("sluice-fuzz-host-abi-{}.wasm", std::process::id()));
        std::fs::write(&path, bytes).expect("writing the guest module");
        let module = LoadedModule::load(&runtime, &path).expect("the guest links against the host");
        let _ = std::fs::remove_file(&path);
        Host {
            _runtime: runtime,
            module,
        }
    })
}

fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    items
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn only(f: impl FnOnce(&mut Access)) -> Access {
    let mut a = Access::NONE;
    f(&mut a);
    a
}

fuzz_target!(|program: &[u8]| {
    let host = host();
    let spec = VmSpec {
        vm: VmKey {
            worker: Some(0),
            group: 0,
        },
        vm_id: "fuzz".into(),
        vm_configuration: Arc::from(&b"vm-config"[..]),
        roots: vec![RootSpec {
            plugin: 0,
            name: "fuzz".into(),
            root_id: "fuzz_root".into(),
            configuration: Arc::from(program),
        }],
        clock: VirtualClock::new(),
        shared: Arc::default(),
        metrics: Arc::default(),
        log: Arc::new(Mutex::new(LogSink::new(0, false, 16))),
        log_level: 0,
        // Short names, so that the fuzzer finds a cluster that exists.
        known_clusters: Arc::new(vec!["a".into(), "upstream".into()]),
        seed: 1,
        memory_limit_bytes: 4 << 20,
        callback_deadline: Duration::from_secs(2),
    };
    let mut vm = match Vm::new(&host.module, &spec) {
        Ok(vm) => vm,
        Err(f) => panic!("the guest no longer instantiates: {f}"),
    };
    let _ = vm.start_roots();
    let stream = SharedStream::new(StreamData {
        request_headers: pairs(&[(":method", "GET"), (":path", "/a"), ("a", "b")]),
        request_body: b"body".to_vec(),
        response_headers: pairs(&[(":status", "200"), ("a", "c")]),
        response_body: b"reply".to_vec(),
        ..StreamData::default()
    });
    if let Ok(id) = vm.create_http_context(0, stream) {
        vm.set_access(id, only(|a| a.request_headers = true));
        let _ = vm.request_headers(id, 3, false);
        vm.set_access(id, only(|a| a.request_body = true));
        let _ = vm.request_body(id, 4, true);
        vm.set_access(id, only(|a| a.response_headers = true));
        let _ = vm.response_headers(id, 2, false);
        vm.set_access(id, only(|a| a.response_body = true));
        let _ = vm.response_body(id, 5, true);
        let _ = vm.tick(1);
        for d in vm.take_deferred() {
            let _ = match d {
                Deferred::HttpCall(c) => vm.http_call_response(
                    c.token,
                    CallResponse {
                        headers: pairs(&[(":status", "200")]),
                        body: b"called".to_vec(),
                        trailers: pairs(&[("t", "1")]),
                    },
                ),
                Deferred::GrpcCall(c) => vm.grpc_response(c.token, 0, Vec::new(), b"m".to_vec()),
                Deferred::QueueReady { registrant, token } => {
                    vm.queue_ready(registrant.root_context_id, token)
                }
                _ => Ok(()),
            };
        }
        let _ = vm.log(id);
        let _ = vm.end(id);
        let _ = vm.tick(1);
    }
    if let Some(f) = vm.failure() {
        assert!(
            !f.message.trim().is_empty(),
            "a failure without a message: {f:?}"
        );
    }
});
