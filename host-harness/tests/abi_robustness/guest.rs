//! Probe guests written in WAT, and a VM to run them in.
//!
//! A probe guest exports the proxy-wasm lifecycle. In each callback that has
//! probes it makes the probes' host calls in order, keeps every returned
//! status in its memory, and publishes them as shared data under
//! `results:<export>`; [`Run::check`] reads them back from the `SharedStore`
//! the VM was given and compares them with the table, probe by probe, so a
//! failure names the probe. A callback may also end with raw WAT (a trap, a
//! loop, a memory growth).
//!
//! Guest memory (two 64 KiB pages):
//!
//! | address            | what                                                  |
//! |--------------------|-------------------------------------------------------|
//! | `OUT_PTR..OUT_U64` | where the host writes what a call returns             |
//! | `QUEUE..CALL`      | ids and tokens kept for later probes of one callback  |
//! | `DATA..RESULTS`    | the byte strings the probes pass                      |
//! | `RESULTS..`        | the statuses of the running callback, a u32 each      |
//! | `HEAP..`           | the bump allocator's heap (the second page)           |

use sluice_harness::abi::status;
use sluice_harness::host::clock::VirtualClock;
use sluice_harness::host::log::LogSink;
use sluice_harness::host::shared::VmKey;
use sluice_harness::host::state::Deferred;
use sluice_harness::host::stream::{SharedStream, StreamData};
use sluice_harness::vm::instance::RootSpec;
use sluice_harness::vm::{LoadedModule, Runtime, RuntimeOptions, Vm, VmSpec};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MEMORY_END: u32 = 2 * 65_536;
pub const OUT_PTR: u32 = 16;
pub const OUT_SIZE: u32 = 20;
/// A returned u32: CAS, metric id, queue token, log level, status code.
pub const OUT_WORD: u32 = 24;
pub const OUT_U64: u32 = 32;
pub const QUEUE: u32 = 40;
pub const COUNTER: u32 = 44;
pub const HISTOGRAM: u32 = 48;
pub const CALL: u32 = 52;
const DATA: u32 = 256;
const RESULTS: u32 = 8_192;
const RESULTS_END: u32 = 16_384;
const HEAP: u32 = 65_536;
/// Far past the end of memory.
pub const BAD: u32 = 0xFFFF_FF00;
/// A length (or id, or type) no guest has.
pub const HUGE: u32 = u32::MAX;
/// Two bytes before the end: a 4-byte write there straddles it.
pub const EDGE: u32 = MEMORY_END - 2;

/// The plugin configuration (`on_configure`) and VM configuration
/// (`on_vm_start`) every probe VM gets.
pub const PLUGIN_CONFIG: &[u8] = b"{\"probe\":true}";
pub const VM_CONFIG: &[u8] = b"vm-config";
pub const VM_ID: &str = "robustness";
pub const CLUSTER: &str = "upstream";

/// Every `env` function of the host, with its parameters (`i` i32, `l`
/// i64); each returns a status. A guest imports them all, so a signature
/// that differs from the host's fails the test at link time.
const IMPORTS: &[(&str, &str)] = &[
    ("proxy_log", "iii"),
    ("proxy_get_log_level", "i"),
    ("proxy_get_current_time_nanoseconds", "i"),
    ("proxy_set_tick_period_milliseconds", "i"),
    ("proxy_get_header_map_value", "iiiii"),
    ("proxy_get_header_map_pairs", "iii"),
    ("proxy_get_header_map_size", "ii"),
    ("proxy_add_header_map_value", "iiiii"),
    ("proxy_replace_header_map_value", "iiiii"),
    ("proxy_remove_header_map_value", "iii"),
    ("proxy_set_header_map_pairs", "iii"),
    ("proxy_get_buffer_bytes", "iiiii"),
    ("proxy_get_buffer_status", "iii"),
    ("proxy_set_buffer_bytes", "iiiii"),
    ("proxy_get_property", "iiii"),
    ("proxy_set_property", "iiii"),
    ("proxy_get_shared_data", "iiiii"),
    ("proxy_set_shared_data", "iiiii"),
    ("proxy_register_shared_queue", "iii"),
    ("proxy_resolve_shared_queue", "iiiii"),
    ("proxy_enqueue_shared_queue", "iii"),
    ("proxy_dequeue_shared_queue", "iii"),
    ("proxy_define_metric", "iiii"),
    ("proxy_increment_metric", "il"),
    ("proxy_record_metric", "il"),
    ("proxy_get_metric", "ii"),
    ("proxy_http_call", "iiiiiiiiii"),
    ("proxy_grpc_call", "iiiiiiiiiiii"),
    ("proxy_grpc_stream", "iiiiiiiii"),
    ("proxy_grpc_send", "iiii"),
    ("proxy_grpc_cancel", "i"),
    ("proxy_grpc_close", "i"),
    ("proxy_continue_stream", "i"),
    ("proxy_close_stream", "i"),
    ("proxy_continue_request", ""),
    ("proxy_continue_response", ""),
    ("proxy_clear_route_cache", ""),
    ("proxy_send_local_response", "iiiiiiii"),
    ("proxy_set_effective_context", "i"),
    ("proxy_done", ""),
    ("proxy_get_status", "iii"),
    ("proxy_call_foreign_function", "iiiiii"),
];

/// The callbacks a probe guest exports: name, signature, value returned
/// (continue, or true).
const CALLBACKS: &[(&str, &str, &str)] = &[
    ("_initialize", "", ""),
    ("proxy_on_context_create", "(param i32 i32)", ""),
    (
        "proxy_on_vm_start",
        "(param i32 i32) (result i32)",
        "(i32.const 1)",
    ),
    (
        "proxy_on_configure",
        "(param i32 i32) (result i32)",
        "(i32.const 1)",
    ),
    ("proxy_on_tick", "(param i32)", ""),
    ("proxy_on_queue_ready", "(param i32 i32)", ""),
    (
        "proxy_on_request_headers",
        "(param i32 i32 i32) (result i32)",
        "(i32.const 0)",
    ),
    (
        "proxy_on_request_body",
        "(param i32 i32 i32) (result i32)",
        "(i32.const 0)",
    ),
    (
        "proxy_on_response_headers",
        "(param i32 i32 i32) (result i32)",
        "(i32.const 0)",
    ),
    ("proxy_on_log", "(param i32)", ""),
    ("proxy_on_done", "(param i32) (result i32)", "(i32.const 1)"),
    ("proxy_on_delete", "(param i32)", ""),
    (
        "proxy_on_http_call_response",
        "(param i32 i32 i32 i32 i32)",
        "",
    ),
];

/// An argument of a probed host call.
#[derive(Clone, Debug)]
pub enum Arg {
    /// An i32.
    I(u32),
    /// An i64.
    L(i64),
    /// Bytes placed in guest memory, passed as pointer and length.
    S(Vec<u8>),
    /// The i32 stored at an address: an id or token an earlier probe got.
    At(u32),
    /// The callback's own parameter `n` (its context id is 0).
    Param(u32),
}

/// Bytes in guest memory, passed as pointer and length.
pub fn s(bytes: impl AsRef<[u8]>) -> Arg {
    Arg::S(bytes.as_ref().to_vec())
}

#[derive(Clone, Debug)]
enum Expr {
    Call(&'static str, Vec<Arg>),
    Wat(String),
}

/// One host call (or guest-side reading) and what it must answer.
#[derive(Clone, Debug)]
pub struct Probe {
    what: String,
    expr: Expr,
    expect: u32,
}

impl Probe {
    pub fn call(what: &str, function: &'static str, args: Vec<Arg>, expect: u32) -> Probe {
        Probe {
            what: what.to_string(),
            expr: Expr::Call(function, args),
            expect,
        }
    }

    /// The u32 at `addr`: a size or id the previous probe wrote.
    pub fn word_at(what: &str, addr: u32, expect: u32) -> Probe {
        Probe {
            what: what.to_string(),
            expr: Expr::Wat(format!("(i32.load (i32.const {addr}))")),
            expect,
        }
    }

    /// How many times the host called the guest's allocator in this callback.
    pub fn allocations(what: &str, expect: u32) -> Probe {
        Probe {
            what: what.to_string(),
            expr: Expr::Wat("(global.get $allocations)".into()),
            expect,
        }
    }
}

/// `probe!("what": proxy_fn(args...) => STATUS)`.
macro_rules! probe {
    ($what:literal : $f:ident($($arg:expr),* $(,)?) => $expect:expr) => {
        $crate::guest::Probe::call($what, stringify!($f), vec![$($arg),*], $expect)
    };
}

fn status_name(v: u32) -> String {
    let name = match v {
        status::OK => "Ok",
        status::NOT_FOUND => "NotFound",
        status::BAD_ARGUMENT => "BadArgument",
        status::SERIALIZATION_FAILURE => "SerializationFailure",
        status::INVALID_MEMORY_ACCESS => "InvalidMemoryAccess",
        status::EMPTY => "Empty",
        status::CAS_MISMATCH => "CasMismatch",
        status::INTERNAL_FAILURE => "InternalFailure",
        status::UNIMPLEMENTED => "Unimplemented",
        _ => return v.to_string(),
    };
    format!("{name} ({v})")
}

/// The allocator a guest exports as `proxy_on_memory_allocate`.
#[derive(Clone, Copy, Debug)]
pub enum Allocator {
    /// Bump allocation over the second page; counts its calls.
    Bump,
    /// Returns this address whatever the size.
    Fixed(u32),
    /// Any WAT body `(param $size i32) (result i32)`.
    Wat(&'static str),
}

/// A probe guest: probes and trailing WAT per callback.
#[derive(Clone, Debug)]
pub struct Guest {
    abi: &'static str,
    allocator: Allocator,
    probes: BTreeMap<&'static str, Vec<Probe>>,
    tails: BTreeMap<&'static str, &'static str>,
    memory_pages: u32,
}

impl Guest {
    pub fn new() -> Guest {
        Guest {
            abi: "0_2_1",
            allocator: Allocator::Bump,
            probes: BTreeMap::new(),
            tails: BTreeMap::new(),
            memory_pages: MEMORY_END / 65_536,
        }
    }

    pub fn abi(mut self, abi: &'static str) -> Guest {
        self.abi = abi;
        self
    }

    pub fn allocator(mut self, allocator: Allocator) -> Guest {
        self.allocator = allocator;
        self
    }

    pub fn memory_pages(mut self, pages: u32) -> Guest {
        self.memory_pages = pages;
        self
    }

    /// Probes run by callback `export`.
    pub fn probes(mut self, export: &'static str, probes: Vec<Probe>) -> Guest {
        assert!(
            CALLBACKS.iter().any(|c| c.0 == export),
            "no callback {export}"
        );
        self.probes.entry(export).or_default().extend(probes);
        self
    }

    /// WAT run by `export` after its probes, before it returns.
    pub fn then(mut self, export: &'static str, wat: &'static str) -> Guest {
        assert!(
            CALLBACKS.iter().any(|c| c.0 == export),
            "no callback {export}"
        );
        self.tails.insert(export, wat);
        self
    }

    pub fn wat(&self) -> String {
        let mut data: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut next = DATA;
        let mut place = |bytes: &[u8]| -> u32 {
            if let Some((addr, _)) = data.iter().find(|(_, b)| b == bytes) {
                return *addr;
            }
            let addr = next;
            next += (bytes.len() as u32 + 8) & !7;
            assert!(next <= RESULTS, "probe strings overflow the data area");
            data.push((addr, bytes.to_vec()));
            addr
        };
        let mut w = String::from("(module\n");
        for (name, params) in IMPORTS {
            let params: Vec<&str> = params
                .chars()
                .map(|c| if c == 'l' { "i64" } else { "i32" })
                .collect();
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("(param {}) ", params.join(" "))
            };
            let _ = writeln!(
                w,
                "  (import \"env\" \"{name}\" (func ${name} {params}(result i32)))"
            );
        }
        let _ = writeln!(w, "  (memory (export \"memory\") {})", self.memory_pages);
        let _ = writeln!(w, "  (global $heap (mut i32) (i32.const {HEAP}))");
        w.push_str("  (global $allocations (mut i32) (i32.const 0))\n");
        w.push_str("  (global $count (mut i32) (i32.const 0))\n");
        let _ = writeln!(w, "  (func (export \"proxy_abi_version_{}\"))", self.abi);
        let allocator = match self.allocator {
            Allocator::Bump => "(global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))"
                .to_string(),
            Allocator::Fixed(addr) => format!("(i32.const {addr})"),
            Allocator::Wat(body) => body.to_string(),
        };
        let _ = writeln!(
            w,
            "  (func $proxy_on_memory_allocate (export \"proxy_on_memory_allocate\") \
             (param $size i32) (result i32)
    (global.set $allocations (i32.add (global.get $allocations) (i32.const 1)))
    {allocator})"
        );
        let _ = writeln!(
            w,
            "  (func $record (param $status i32)
    (i32.store (i32.add (i32.const {RESULTS}) (i32.shl (global.get $count) (i32.const 2)))
               (local.get $status))
    (global.set $count (i32.add (global.get $count) (i32.const 1))))"
        );
        w.push_str(
            "  (func $publish (param $key i32) (param $len i32)
    (drop (call $proxy_set_shared_data (local.get $key) (local.get $len)\n",
        );
        let _ = writeln!(
            w,
            "      (i32.const {RESULTS}) (i32.shl (global.get $count) (i32.const 2)) (i32.const 0))))"
        );
        for (export, signature, ret) in CALLBACKS {
            let _ = writeln!(w, "  (func ${export} (export \"{export}\") {signature}");
            if let Some(probes) = self.probes.get(export) {
                assert!(
                    RESULTS + 4 * probes.len() as u32 <= RESULTS_END,
                    "too many probes in {export}"
                );
                w.push_str("    (global.set $count (i32.const 0))\n");
                w.push_str("    (global.set $allocations (i32.const 0))\n");
                for p in probes {
                    let _ = writeln!(w, "    (call $record {})", render(p, &mut place));
                }
                let key = place(format!("results:{export}").as_bytes());
                let len = "results:".len() + export.len();
                let _ = writeln!(w, "    (call $publish (i32.const {key}) (i32.const {len}))");
            }
            if let Some(tail) = self.tails.get(export) {
                let _ = writeln!(w, "    {tail}");
            }
            let _ = writeln!(w, "    {ret})");
        }
        for (addr, bytes) in &data {
            let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            let _ = writeln!(w, "  (data (i32.const {addr}) \"{escaped}\")");
        }
        w.push_str(")\n");
        w
    }

    /// Checks what every probed callback published against its probes.
    /// Panics naming each probe that answered otherwise.
    pub fn check(&self, spec: &VmSpec) {
        for export in self.probes.keys() {
            self.check_callback(spec, export);
        }
    }

    pub fn check_callback(&self, spec: &VmSpec, export: &str) {
        let probes = &self.probes[export];
        let got = published(spec, export)
            .unwrap_or_else(|| panic!("{export} ran no probes (or could not publish them)"));
        assert_eq!(
            got.len(),
            probes.len(),
            "{export}: {} results for {} probes",
            got.len(),
            probes.len()
        );
        let wrong: Vec<String> = probes
            .iter()
            .zip(&got)
            .filter(|(p, got)| p.expect != **got)
            .map(|(p, &got)| {
                let (want, got) = match p.expr {
                    Expr::Call(..) => (status_name(p.expect), status_name(got)),
                    Expr::Wat(_) => (p.expect.to_string(), got.to_string()),
                };
                format!("  {}: expected {want}, got {got}", p.what)
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{export}: {} of {} probes answered otherwise:\n{}",
            wrong.len(),
            probes.len(),
            wrong.join("\n")
        );
    }
}

fn render(p: &Probe, place: &mut impl FnMut(&[u8]) -> u32) -> String {
    let (function, args) = match &p.expr {
        Expr::Wat(wat) => return wat.clone(),
        Expr::Call(f, args) => (f, args),
    };
    let params = IMPORTS
        .iter()
        .find(|(name, _)| name == function)
        .unwrap_or_else(|| panic!("{}: the host has no {function}", p.what))
        .1;
    let mut out = format!("(call ${function}");
    let mut types = String::new();
    for a in args {
        match a {
            Arg::I(v) => {
                let _ = write!(out, " (i32.const {v})");
                types.push('i');
            }
            Arg::L(v) => {
                let _ = write!(out, " (i64.const {v})");
                types.push('l');
            }
            Arg::S(bytes) => {
                let _ = write!(
                    out,
                    " (i32.const {}) (i32.const {})",
                    place(bytes),
                    bytes.len()
                );
                types.push_str("ii");
            }
            Arg::At(addr) => {
                let _ = write!(out, " (i32.load (i32.const {addr}))");
                types.push('i');
            }
            Arg::Param(n) => {
                let _ = write!(out, " (local.get {n})");
                types.push('i');
            }
        }
    }
    assert_eq!(types, params, "{}: arguments do not fit {function}", p.what);
    out.push(')');
    out
}

/// The statuses `export` published, if it ran its probes.
pub fn published(spec: &VmSpec, export: &str) -> Option<Vec<u32>> {
    let shared = spec.shared.lock().unwrap_or_else(|e| e.into_inner());
    let (bytes, _) = shared
        .get(&spec.vm_id, format!("results:{export}").as_bytes())
        .ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// A proxy-wasm header map in its serialized form.
pub fn header_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    sluice_harness::host::pairs::serialize(&pairs)
}

/// The spec of a probe VM: one plugin ("probe"), one known cluster.
pub fn spec(memory_limit_bytes: usize, callback_deadline: Duration) -> VmSpec {
    VmSpec {
        vm: VmKey {
            worker: Some(0),
            group: 0,
        },
        vm_id: VM_ID.into(),
        vm_configuration: Arc::from(VM_CONFIG),
        roots: vec![RootSpec {
            plugin: 0,
            name: "probe".into(),
            root_id: "probe_root".into(),
            configuration: Arc::from(PLUGIN_CONFIG),
        }],
        clock: VirtualClock::new(),
        shared: Arc::default(),
        metrics: Arc::default(),
        log: Arc::new(Mutex::new(LogSink::new(0, false, 100))),
        log_level: 1,
        known_clusters: Arc::new(vec![CLUSTER.into()]),
        seed: 7,
        memory_limit_bytes,
        callback_deadline,
    }
}

/// Compiles `wat` and loads it by path, as the harness loads filters.
/// The error is the harness's message with its causes.
pub fn load(runtime: &Runtime, wat: &str) -> Result<LoadedModule, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let bytes = wat::parse_str(wat).unwrap_or_else(|e| panic!("guest WAT: {e}\n{wat}"));
    let path = std::env::temp_dir().join(format!(
        "sluice-abi-robustness-{}-{}.wasm",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).expect("writing the guest module");
    let module = LoadedModule::load(runtime, &path).map_err(|e| format!("{e:#}"));
    let _ = std::fs::remove_file(&path);
    module
}

/// A request whose headers the probes read.
pub fn stream() -> SharedStream {
    let headers = [
        (":method", "GET"),
        (":path", "/probe"),
        (":authority", "example.com"),
        ("x-probe", "yes"),
    ];
    SharedStream::new(StreamData {
        request_headers: headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        request_body: b"hello body".to_vec(),
        ..StreamData::default()
    })
}

/// A probe VM after its roots started.
#[derive(Debug)]
pub struct Run {
    pub spec: VmSpec,
    pub vm: Vm,
    /// Effects the guest asked for so far.
    pub deferred: Vec<Deferred>,
    /// Kept for its epoch ticker, which interrupts guests; dropped last.
    _runtime: Runtime,
}

impl Run {
    /// Instantiates `guest` and starts its root context; panics with the
    /// failure if either fails.
    pub fn start(guest: &Guest, spec: VmSpec) -> Run {
        let runtime = Runtime::new(&RuntimeOptions::default()).expect("runtime");
        let module = load(&runtime, &guest.wat()).expect("the guest loads");
        let mut vm = Vm::new(&module, &spec).unwrap_or_else(|f| panic!("instantiating: {f}"));
        vm.start_roots()
            .unwrap_or_else(|f| panic!("starting roots: {f}"));
        let deferred = vm.take_deferred();
        Run {
            spec,
            vm,
            deferred,
            _runtime: runtime,
        }
    }

    pub fn take_deferred(&mut self) {
        let more = self.vm.take_deferred();
        self.deferred.extend(more);
    }
}

impl Default for Guest {
    fn default() -> Self {
        Guest::new()
    }
}
