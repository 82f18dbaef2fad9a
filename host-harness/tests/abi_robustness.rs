//! The host never panics on what a guest passes it, and a guest that traps,
//! loops or runs out of memory is stopped and reported with the callback it
//! was in.
//!
//! Each area of the ABI gets a probe guest (see [`guest`]) that calls every
//! getter and setter of the area with pointers out of bounds, lengths of
//! `u32::MAX`, unknown types, ids and tokens, and non-UTF-8 names, then makes
//! a valid call: every call must answer a status, the valid call must still
//! work, and the VM must not fail.

#[macro_use]
#[path = "abi_robustness/guest.rs"]
mod guest;

use guest::Arg::{At, Param, I, L};
use guest::{
    header_map, published, s, spec, stream, Allocator, Guest, Probe, Run, BAD, CALL, CLUSTER,
    COUNTER, EDGE, HISTOGRAM, HUGE, MEMORY_END, OUT_PTR, OUT_SIZE, OUT_U64, OUT_WORD, QUEUE, VM_ID,
};
use sluice_harness::abi::status::{
    BAD_ARGUMENT, CAS_MISMATCH, EMPTY, INVALID_MEMORY_ACCESS as IMA, NOT_FOUND, OK, UNIMPLEMENTED,
};
use sluice_harness::host::metrics::MetricKind;
use sluice_harness::host::state::{CallResponse, Callback, Deferred};
use sluice_harness::host::stream::{Access, SharedStream};
use sluice_harness::vm::instance::Action;
use sluice_harness::vm::{FailureKind, Runtime, RuntimeOptions, Vm, VmFailure};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// Long enough for a probe callback on a loaded machine.
const PATIENT: Duration = Duration::from_secs(5);

fn headers_access() -> Access {
    Access {
        request_headers: true,
        ..Access::NONE
    }
}

/// A request through the probe VM: headers, body, log, end.
fn request(run: &mut Run, stream: &SharedStream) {
    let vm = &mut run.vm;
    let id = vm
        .create_http_context(0, stream.clone())
        .unwrap_or_else(|f| panic!("{f}"));
    vm.set_access(id, headers_access());
    vm.request_headers(id, 4, false)
        .unwrap_or_else(|f| panic!("{f}"));
    vm.set_access(
        id,
        Access {
            request_body: true,
            ..Access::NONE
        },
    );
    vm.request_body(id, 10, true)
        .unwrap_or_else(|f| panic!("{f}"));
    vm.set_access(id, Access::NONE);
    vm.log(id).unwrap_or_else(|f| panic!("{f}"));
    vm.end(id).unwrap_or_else(|f| panic!("{f}"));
    run.take_deferred();
}

/// Runs `guest` through its lifecycle, one request and `more`, then checks
/// every probe, and that the VM did not fail and still runs a callback.
fn run_probes(guest: &Guest, more: impl FnOnce(&mut Run)) -> (Run, SharedStream) {
    let mut run = Run::start(guest, spec(16 * MIB, PATIENT));
    let stream = stream();
    request(&mut run, &stream);
    more(&mut run);
    guest.check(&run.spec);
    assert_eq!(run.vm.failure(), None);
    run.vm.tick(1).expect("the VM still runs callbacks");
    (run, stream)
}

fn nothing_more(_: &mut Run) {}

#[test]
fn header_map_calls_answer_a_status_for_any_argument() {
    let bad_map = [1u8, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 0, b'k', 0];
    let valid_map = header_map(&[("a", "b")]);
    let guest = Guest::new().probes(
        "proxy_on_request_headers",
        vec![
            probe!("key pointer out of bounds": proxy_get_header_map_value(I(0), I(BAD), I(4), I(OUT_PTR), I(OUT_SIZE)) => IMA),
            probe!("key length u32::MAX": proxy_get_header_map_value(I(0), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => IMA),
            probe!("key straddling the end": proxy_get_header_map_value(I(0), I(EDGE), I(4), I(OUT_PTR), I(OUT_SIZE)) => IMA),
            probe!("value pointer out of bounds": proxy_get_header_map_value(I(0), s("x-probe"), I(BAD), I(OUT_SIZE)) => IMA),
            probe!("size pointer out of bounds": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(BAD)) => IMA),
            probe!("size pointer straddling the end": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(EDGE)) => IMA),
            Probe::allocations("bad out-pointers allocate nothing", 0),
            probe!("map type 8": proxy_get_header_map_value(I(8), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("map type u32::MAX": proxy_get_header_map_value(I(HUGE), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("request trailers, not available": proxy_get_header_map_value(I(1), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("response headers, not yet": proxy_get_header_map_value(I(2), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("gRPC metadata, no call": proxy_get_header_map_value(I(4), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("call response headers, no call": proxy_get_header_map_value(I(6), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("absent header": proxy_get_header_map_value(I(0), s("x-absent"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("non-UTF-8 key": proxy_get_header_map_value(I(0), s(b"\xff\xfe\x00"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("empty key": proxy_get_header_map_value(I(0), s(""), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("valid, any case": proxy_get_header_map_value(I(0), s("X-Probe"), I(OUT_PTR), I(OUT_SIZE)) => OK),
            Probe::word_at("value size", OUT_SIZE, 3),
            Probe::allocations("one buffer handed out", 1),
            probe!("pairs: pointer out of bounds": proxy_get_header_map_pairs(I(0), I(BAD), I(OUT_SIZE)) => IMA),
            probe!("pairs: size pointer u32::MAX": proxy_get_header_map_pairs(I(0), I(OUT_PTR), I(HUGE)) => IMA),
            probe!("pairs: map type u32::MAX": proxy_get_header_map_pairs(I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("pairs: response trailers, not available": proxy_get_header_map_pairs(I(3), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("pairs: valid": proxy_get_header_map_pairs(I(0), I(OUT_PTR), I(OUT_SIZE)) => OK),
            probe!("size: pointer out of bounds": proxy_get_header_map_size(I(0), I(BAD)) => IMA),
            probe!("size: map type 9": proxy_get_header_map_size(I(9), I(OUT_WORD)) => BAD_ARGUMENT),
            probe!("size: valid": proxy_get_header_map_size(I(0), I(OUT_WORD)) => OK),
            probe!("add: key out of bounds": proxy_add_header_map_value(I(0), I(BAD), I(4), s("v")) => IMA),
            probe!("add: value length u32::MAX": proxy_add_header_map_value(I(0), s("x-new"), I(0), I(HUGE)) => IMA),
            probe!("add: map type 8": proxy_add_header_map_value(I(8), s("x-new"), s("v")) => BAD_ARGUMENT),
            probe!("add: call response headers are read-only": proxy_add_header_map_value(I(6), s("x-new"), s("v")) => BAD_ARGUMENT),
            probe!("add: request trailers, not available": proxy_add_header_map_value(I(1), s("x-new"), s("v")) => BAD_ARGUMENT),
            probe!("add: non-UTF-8 key and value": proxy_add_header_map_value(I(0), s(b"x-bin\xff"), s(b"\x00\xff")) => OK),
            probe!("replace: key out of bounds": proxy_replace_header_map_value(I(0), I(BAD), I(1), s("v")) => IMA),
            probe!("replace: value out of bounds": proxy_replace_header_map_value(I(0), s("x-probe"), I(BAD), I(1)) => IMA),
            probe!("replace: map type u32::MAX": proxy_replace_header_map_value(I(HUGE), s("x-probe"), s("v")) => BAD_ARGUMENT),
            probe!("replace: valid": proxy_replace_header_map_value(I(0), s("X-PROBE"), s("replaced")) => OK),
            probe!("remove: key out of bounds": proxy_remove_header_map_value(I(0), I(BAD), I(1)) => IMA),
            probe!("remove: key length u32::MAX": proxy_remove_header_map_value(I(0), I(0), I(HUGE)) => IMA),
            probe!("remove: call response trailers are read-only": proxy_remove_header_map_value(I(7), s("x")) => BAD_ARGUMENT),
            probe!("remove: absent header": proxy_remove_header_map_value(I(0), s("x-absent")) => OK),
            probe!("set pairs: out of bounds": proxy_set_header_map_pairs(I(0), I(BAD), I(8)) => IMA),
            probe!("set pairs: length u32::MAX": proxy_set_header_map_pairs(I(0), I(0), I(HUGE)) => IMA),
            probe!("set pairs: count without sizes": proxy_set_header_map_pairs(I(0), s([1u8, 0, 0, 0])) => BAD_ARGUMENT),
            probe!("set pairs: count u32::MAX": proxy_set_header_map_pairs(I(0), s([0xffu8; 12])) => BAD_ARGUMENT),
            probe!("set pairs: value past the end": proxy_set_header_map_pairs(I(0), s(bad_map)) => BAD_ARGUMENT),
            probe!("set pairs: map type u32::MAX": proxy_set_header_map_pairs(I(HUGE), s(&valid_map)) => BAD_ARGUMENT),
            probe!("set pairs: call response headers are read-only": proxy_set_header_map_pairs(I(6), s(&valid_map)) => BAD_ARGUMENT),
            probe!("a later valid call works": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => OK),
            Probe::word_at("the replaced value's size", OUT_SIZE, 8),
        ],
    );
    let (mut run, first) = run_probes(&guest, nothing_more);

    let d = first.lock();
    let has = |k: &[u8], v: &[u8]| d.request_headers.iter().any(|(hk, hv)| hk == k && hv == v);
    assert!(has(b"x-probe", b"replaced"), "{:?}", d.request_headers);
    assert!(has(b"x-bin\xff", b"\x00\xff"), "{:?}", d.request_headers);
    assert_eq!(d.request_headers.len(), 5, "{:?}", d.request_headers);
    assert!(d.request_headers_modified);
    drop(d);

    // A second request gets the same answers from the same VM.
    let key = b"results:proxy_on_request_headers";
    let cleared = run
        .spec
        .shared
        .lock()
        .expect("shared")
        .set(VM_ID, key, b"", 0);
    assert_eq!(cleared, Ok(()));
    request(&mut run, &stream());
    guest.check(&run.spec);
}

#[test]
fn buffer_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new()
        .probes(
            "proxy_on_vm_start",
            vec![
                probe!("VM configuration": proxy_get_buffer_status(I(6), I(OUT_SIZE), I(OUT_WORD)) => OK),
                Probe::word_at("its size", OUT_SIZE, 9),
                probe!("plugin configuration, not yet": proxy_get_buffer_status(I(7), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
            ],
        )
        .probes(
            "proxy_on_configure",
            vec![
                probe!("status: length pointer out of bounds": proxy_get_buffer_status(I(7), I(BAD), I(OUT_WORD)) => IMA),
                probe!("status: flags pointer out of bounds": proxy_get_buffer_status(I(7), I(OUT_SIZE), I(BAD)) => IMA),
                probe!("status: type 9": proxy_get_buffer_status(I(9), I(OUT_SIZE), I(OUT_WORD)) => BAD_ARGUMENT),
                probe!("status: type u32::MAX": proxy_get_buffer_status(I(HUGE), I(OUT_SIZE), I(OUT_WORD)) => BAD_ARGUMENT),
                probe!("status: VM configuration, not in on_configure": proxy_get_buffer_status(I(6), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: request body in a root context": proxy_get_buffer_status(I(0), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: response body in a root context": proxy_get_buffer_status(I(1), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: downstream data, not modelled": proxy_get_buffer_status(I(2), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: upstream data, not modelled": proxy_get_buffer_status(I(3), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: call response body, no call": proxy_get_buffer_status(I(4), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: gRPC buffer, no call": proxy_get_buffer_status(I(5), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("status: call data, not in a foreign function": proxy_get_buffer_status(I(8), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("bytes: pointer out of bounds": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(BAD), I(OUT_SIZE)) => IMA),
                probe!("bytes: size pointer out of bounds": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(OUT_PTR), I(BAD)) => IMA),
                probe!("bytes: size pointer straddling the end": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(OUT_PTR), I(EDGE)) => IMA),
                Probe::allocations("bad out-pointers allocate nothing", 0),
                probe!("bytes: type u32::MAX": proxy_get_buffer_bytes(I(HUGE), I(0), I(1), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
                probe!("bytes: everything": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("everything's size", OUT_SIZE, 14),
                // proxy-wasm-cpp-host adds start and length as 64-bit words:
                // a u32::MAX length from an offset is "up to the end".
                probe!("bytes: from offset 1, length u32::MAX": proxy_get_buffer_bytes(I(7), I(1), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("the rest's size", OUT_SIZE, 13),
                probe!("bytes: start u32::MAX": proxy_get_buffer_bytes(I(7), I(HUGE), I(1), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("nothing past the end", OUT_SIZE, 0),
                probe!("bytes: start and length u32::MAX": proxy_get_buffer_bytes(I(7), I(HUGE), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("set: configuration is read-only": proxy_set_buffer_bytes(I(7), I(0), I(0), s("x")) => UNIMPLEMENTED),
                probe!("set: type u32::MAX": proxy_set_buffer_bytes(I(HUGE), I(0), I(0), s("x")) => BAD_ARGUMENT),
                probe!("set: request body in a root context": proxy_set_buffer_bytes(I(0), I(0), I(0), s("x")) => NOT_FOUND),
                probe!("set: VM configuration, not in on_configure": proxy_set_buffer_bytes(I(6), I(0), I(0), s("x")) => NOT_FOUND),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![
                probe!("request body, not in on_request_headers": proxy_get_buffer_status(I(0), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("bytes of it": proxy_get_buffer_bytes(I(0), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("setting it": proxy_set_buffer_bytes(I(0), I(0), I(0), s("x")) => NOT_FOUND),
            ],
        )
        .probes(
            "proxy_on_request_body",
            vec![
                probe!("status": proxy_get_buffer_status(I(0), I(OUT_SIZE), I(OUT_WORD)) => OK),
                Probe::word_at("body size", OUT_SIZE, 10),
                probe!("response body, not available": proxy_get_buffer_status(I(1), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
                probe!("bytes from 6, length u32::MAX": proxy_get_buffer_bytes(I(0), I(6), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("their size", OUT_SIZE, 4),
                probe!("bytes past the end": proxy_get_buffer_bytes(I(0), I(100), I(5), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("nothing", OUT_SIZE, 0),
                probe!("set: data out of bounds": proxy_set_buffer_bytes(I(0), I(0), I(0), I(BAD), I(4)) => IMA),
                probe!("set: data length u32::MAX": proxy_set_buffer_bytes(I(0), I(0), I(0), I(0), I(HUGE)) => IMA),
                probe!("set: type 9": proxy_set_buffer_bytes(I(9), I(0), I(0), s("x")) => BAD_ARGUMENT),
                probe!("set: response body, not available": proxy_set_buffer_bytes(I(1), I(0), I(0), s("x")) => NOT_FOUND),
                probe!("set: start inside the body": proxy_set_buffer_bytes(I(0), I(3), I(1), s("x")) => BAD_ARGUMENT),
                probe!("set: replace with drain u32::MAX": proxy_set_buffer_bytes(I(0), I(0), I(HUGE), s("new ")) => OK),
                probe!("set: append at start u32::MAX": proxy_set_buffer_bytes(I(0), I(HUGE), I(0), s("tail")) => OK),
            ],
        );
    let (_run, stream) = run_probes(&guest, nothing_more);
    assert_eq!(stream.lock().request_body, b"new tail");
}

#[test]
fn property_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new()
        .probes(
            "proxy_on_configure",
            vec![
                probe!("path out of bounds": proxy_get_property(I(BAD), I(4), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("path length u32::MAX": proxy_get_property(I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("value pointer out of bounds": proxy_get_property(s("plugin_name"), I(BAD), I(OUT_SIZE)) => IMA),
                probe!("size pointer out of bounds": proxy_get_property(s("plugin_name"), I(OUT_PTR), I(BAD)) => IMA),
                Probe::allocations("bad out-pointers allocate nothing", 0),
                probe!("unknown path": proxy_get_property(s("no\0such\0thing"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("non-UTF-8 path": proxy_get_property(s(b"\xff\xfe"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("empty path": proxy_get_property(s(""), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("request property in a root context": proxy_get_property(s("request\0path"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("plugin name": proxy_get_property(s("plugin_name"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("its size", OUT_SIZE, 5),
                probe!("set: key out of bounds": proxy_set_property(I(BAD), I(4), s("v")) => IMA),
                probe!("set: value length u32::MAX": proxy_set_property(s("k"), I(0), I(HUGE)) => IMA),
                // Envoy's setProperty: no stream info (a root context) is NotFound.
                probe!("set: in a root context": proxy_set_property(s("my\0key"), s("v")) => NOT_FOUND),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![
                probe!("request path": proxy_get_property(s("request\0path"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("its size", OUT_SIZE, 6),
                probe!("with a trailing NUL": proxy_get_property(s("request\0path\0"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("non-UTF-8 segment": proxy_get_property(s(b"request\0\xff"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("plugin name from a stream": proxy_get_property(s("plugin_name"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("set: key out of bounds": proxy_set_property(I(BAD), I(4), s("v")) => IMA),
                probe!("set: value out of bounds": proxy_set_property(s("my\0key"), I(EDGE), I(4)) => IMA),
                probe!("set: non-UTF-8 key": proxy_set_property(s(b"my\0\xff"), s("v")) => OK),
                probe!("set: valid": proxy_set_property(s("my\0key"), s(b"\x00\xff")) => OK),
                probe!("get what was set": proxy_get_property(s("my\0key"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("its size", OUT_SIZE, 2),
            ],
        );
    let (_run, stream) = run_probes(&guest, nothing_more);
    let d = stream.lock();
    assert!(d
        .filter_state
        .iter()
        .any(|(k, v)| k == b"my.key" && v == b"\x00\xff"));
}

#[test]
fn shared_data_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new().probes(
        "proxy_on_configure",
        vec![
            probe!("set: valid": proxy_set_shared_data(s("k1"), s("v1"), I(0)) => OK),
            probe!("set: key out of bounds": proxy_set_shared_data(I(BAD), I(4), s("v"), I(0)) => IMA),
            probe!("set: value length u32::MAX": proxy_set_shared_data(s("k1"), I(0), I(HUGE), I(0)) => IMA),
            probe!("set: key straddling the end": proxy_set_shared_data(I(EDGE), I(4), s("v"), I(0)) => IMA),
            probe!("set: non-UTF-8 key": proxy_set_shared_data(s(b"\xff\x00\xfe"), s("bin"), I(0)) => OK),
            probe!("get: non-UTF-8 key": proxy_get_shared_data(s(b"\xff\x00\xfe"), I(OUT_PTR), I(OUT_SIZE), I(OUT_WORD)) => OK),
            Probe::word_at("its size", OUT_SIZE, 3),
            probe!("get: absent key": proxy_get_shared_data(s("absent"), I(OUT_PTR), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
            probe!("get: key out of bounds": proxy_get_shared_data(I(BAD), I(4), I(OUT_PTR), I(OUT_SIZE), I(OUT_WORD)) => IMA),
            probe!("get: value pointer out of bounds": proxy_get_shared_data(s("k1"), I(BAD), I(OUT_SIZE), I(OUT_WORD)) => IMA),
            probe!("get: CAS pointer out of bounds": proxy_get_shared_data(s("k1"), I(OUT_PTR), I(OUT_SIZE), I(BAD)) => IMA),
            probe!("set: CAS u32::MAX": proxy_set_shared_data(s("k1"), s("v2"), I(HUGE)) => CAS_MISMATCH),
            probe!("get: valid": proxy_get_shared_data(s("k1"), I(OUT_PTR), I(OUT_SIZE), I(OUT_WORD)) => OK),
            probe!("set: with that CAS": proxy_set_shared_data(s("k1"), s("v3"), At(OUT_WORD)) => OK),
            probe!("set: with that CAS again": proxy_set_shared_data(s("k1"), s("v4"), At(OUT_WORD)) => CAS_MISMATCH),
            probe!("set: new key, any CAS": proxy_set_shared_data(s("fresh"), s("v"), I(12_345)) => OK),
        ],
    );
    let (run, _) = run_probes(&guest, nothing_more);
    let shared = run.spec.shared.lock().expect("shared");
    assert_eq!(shared.get(VM_ID, b"k1").expect("k1").0, b"v3");
    assert_eq!(
        shared.get(VM_ID, b"\xff\x00\xfe").expect("binary key").0,
        b"bin"
    );
}

#[test]
fn shared_queue_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new()
        .probes(
            "_initialize",
            vec![probe!("register outside any context": proxy_register_shared_queue(s("q"), I(OUT_WORD)) => BAD_ARGUMENT)],
        )
        .probes(
            "proxy_on_configure",
            vec![
                probe!("register: valid": proxy_register_shared_queue(s("q"), I(QUEUE)) => OK),
                probe!("register: name out of bounds": proxy_register_shared_queue(I(BAD), I(1), I(OUT_WORD)) => IMA),
                probe!("register: name length u32::MAX": proxy_register_shared_queue(I(0), I(HUGE), I(OUT_WORD)) => IMA),
                probe!("register: token pointer out of bounds": proxy_register_shared_queue(s("q2"), I(BAD)) => IMA),
                probe!("resolve: own VM": proxy_resolve_shared_queue(s(""), s("q"), I(OUT_WORD)) => OK),
                Probe::word_at("the same token", OUT_WORD, 1),
                probe!("resolve: by VM id": proxy_resolve_shared_queue(s(VM_ID), s("q"), I(OUT_WORD)) => OK),
                probe!("resolve: absent queue": proxy_resolve_shared_queue(s(""), s("absent"), I(OUT_WORD)) => NOT_FOUND),
                probe!("resolve: non-UTF-8 VM id": proxy_resolve_shared_queue(s(b"\xff\xfe"), s("q"), I(OUT_WORD)) => NOT_FOUND),
                probe!("resolve: VM id out of bounds": proxy_resolve_shared_queue(I(BAD), I(4), s("q"), I(OUT_WORD)) => IMA),
                probe!("resolve: token pointer out of bounds": proxy_resolve_shared_queue(s(""), s("q"), I(BAD)) => IMA),
                probe!("enqueue: token 0": proxy_enqueue_shared_queue(I(0), s("x")) => NOT_FOUND),
                probe!("enqueue: token u32::MAX": proxy_enqueue_shared_queue(I(HUGE), s("x")) => NOT_FOUND),
                probe!("enqueue: data out of bounds": proxy_enqueue_shared_queue(At(QUEUE), I(BAD), I(1)) => IMA),
                probe!("dequeue: empty": proxy_dequeue_shared_queue(At(QUEUE), I(OUT_PTR), I(OUT_SIZE)) => EMPTY),
                probe!("dequeue: token u32::MAX": proxy_dequeue_shared_queue(I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("dequeue: token 0": proxy_dequeue_shared_queue(I(0), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("enqueue: valid": proxy_enqueue_shared_queue(At(QUEUE), s("item")) => OK),
                probe!("dequeue: valid": proxy_dequeue_shared_queue(At(QUEUE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("the item's size", OUT_SIZE, 4),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![probe!("register from a stream": proxy_register_shared_queue(s("q-stream"), I(OUT_WORD)) => OK)],
        );
    let (run, _) = run_probes(&guest, nothing_more);
    let ready = run
        .deferred
        .iter()
        .filter(|d| matches!(d, Deferred::QueueReady { token: 1, .. }))
        .count();
    assert_eq!(ready, 1, "{:?}", run.deferred);
}

#[test]
fn metric_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new().probes(
        "proxy_on_configure",
        vec![
            probe!("define: counter": proxy_define_metric(I(0), s("robust.counter"), I(COUNTER)) => OK),
            probe!("define: histogram": proxy_define_metric(I(2), s("robust.histogram"), I(HISTOGRAM)) => OK),
            probe!("define: kind 3": proxy_define_metric(I(3), s("x"), I(OUT_WORD)) => BAD_ARGUMENT),
            probe!("define: kind u32::MAX": proxy_define_metric(I(HUGE), s("x"), I(OUT_WORD)) => BAD_ARGUMENT),
            probe!("define: name out of bounds": proxy_define_metric(I(0), I(BAD), I(4), I(OUT_WORD)) => IMA),
            probe!("define: name length u32::MAX": proxy_define_metric(I(0), I(0), I(HUGE), I(OUT_WORD)) => IMA),
            probe!("define: id pointer out of bounds": proxy_define_metric(I(1), s("robust.gauge"), I(BAD)) => IMA),
            probe!("define: non-UTF-8 name": proxy_define_metric(I(1), s(b"robust.\xff\xfe"), I(OUT_WORD)) => OK),
            probe!("increment: id u32::MAX": proxy_increment_metric(I(HUGE), L(1)) => NOT_FOUND),
            probe!("increment: id 1000": proxy_increment_metric(I(1000), L(1)) => NOT_FOUND),
            probe!("record: id u32::MAX": proxy_record_metric(I(HUGE), L(1)) => NOT_FOUND),
            probe!("get: id u32::MAX": proxy_get_metric(I(HUGE), I(OUT_U64)) => NOT_FOUND),
            probe!("increment: counter by -1": proxy_increment_metric(At(COUNTER), L(-1)) => BAD_ARGUMENT),
            probe!("increment: histogram": proxy_increment_metric(At(HISTOGRAM), L(1)) => BAD_ARGUMENT),
            probe!("get: histogram": proxy_get_metric(At(HISTOGRAM), I(OUT_U64)) => BAD_ARGUMENT),
            probe!("get: pointer out of bounds": proxy_get_metric(At(COUNTER), I(BAD)) => IMA),
            probe!("get: pointer straddling the end": proxy_get_metric(At(COUNTER), I(MEMORY_END - 4)) => IMA),
            probe!("increment: i64::MAX": proxy_increment_metric(At(COUNTER), L(i64::MAX)) => OK),
            probe!("increment: i64::MAX again": proxy_increment_metric(At(COUNTER), L(i64::MAX)) => OK),
            probe!("record: u64::MAX on a counter": proxy_record_metric(At(COUNTER), L(-1)) => OK),
            probe!("record: u64::MAX on a histogram": proxy_record_metric(At(HISTOGRAM), L(-1)) => OK),
            probe!("record: u64::MAX on a histogram again": proxy_record_metric(At(HISTOGRAM), L(-1)) => OK),
            probe!("get: valid": proxy_get_metric(At(COUNTER), I(OUT_U64)) => OK),
        ],
    );
    let (run, _) = run_probes(&guest, nothing_more);
    let metrics = run.spec.metrics.lock().expect("metrics");
    assert_eq!(metrics.value_of("robust.counter"), Some(i64::MAX));
    let h = metrics
        .all()
        .iter()
        .find(|m| m.kind == MetricKind::Histogram)
        .expect("histogram");
    assert_eq!((h.samples, h.sum), (2, u64::MAX));
}

#[test]
fn outbound_call_calls_answer_a_status_for_any_argument() {
    let headers = header_map(&[(":method", "GET"), (":path", "/ping"), (":authority", "up")]);
    let no_authority = header_map(&[(":method", "GET"), (":path", "/ping")]);
    let h = || s(&headers);
    let guest = Guest::new()
        .probes(
            "proxy_on_configure",
            vec![
                probe!("http: token pointer out of bounds": proxy_http_call(s(CLUSTER), h(), s(""), s(""), I(1000), I(BAD)) => IMA),
                probe!("http: cluster out of bounds": proxy_http_call(I(BAD), I(8), h(), s(""), s(""), I(1000), I(CALL)) => IMA),
                probe!("http: headers length u32::MAX": proxy_http_call(s(CLUSTER), I(0), I(HUGE), s(""), s(""), I(1000), I(CALL)) => IMA),
                probe!("http: body length u32::MAX": proxy_http_call(s(CLUSTER), h(), I(0), I(HUGE), s(""), I(1000), I(CALL)) => IMA),
                probe!("http: trailers out of bounds": proxy_http_call(s(CLUSTER), h(), s(""), I(BAD), I(1), I(1000), I(CALL)) => IMA),
                probe!("http: unknown cluster": proxy_http_call(s("nope"), h(), s(""), s(""), I(1000), I(CALL)) => BAD_ARGUMENT),
                probe!("http: non-UTF-8 cluster": proxy_http_call(s(b"\xff\xfe"), h(), s(""), s(""), I(1000), I(CALL)) => BAD_ARGUMENT),
                probe!("http: headers not a map": proxy_http_call(s(CLUSTER), s([0xffu8; 9]), s(""), s(""), I(1000), I(CALL)) => BAD_ARGUMENT),
                probe!("http: no :authority": proxy_http_call(s(CLUSTER), s(&no_authority), s(""), s(""), I(1000), I(CALL)) => BAD_ARGUMENT),
                // Envoy takes the timeout as an int and refuses a negative one.
                probe!("http: timeout past i32::MAX": proxy_http_call(s(CLUSTER), h(), s(""), s(""), I(0x8000_0000), I(CALL)) => BAD_ARGUMENT),
                probe!("http: valid": proxy_http_call(s(CLUSTER), h(), s("body"), s(""), I(1000), I(CALL)) => OK),
                Probe::word_at("its token", CALL, 1),
                probe!("grpc: service out of bounds": proxy_grpc_call(I(BAD), I(4), s("svc"), s("m"), s(""), s(""), I(1000), I(OUT_WORD)) => IMA),
                probe!("grpc: unknown cluster": proxy_grpc_call(s("nope"), s("svc"), s("m"), s(""), s(""), I(1000), I(OUT_WORD)) => BAD_ARGUMENT),
                probe!("grpc: service not a GrpcService": proxy_grpc_call(s([0xffu8; 3]), s("svc"), s("m"), s(""), s(""), I(1000), I(OUT_WORD)) => BAD_ARGUMENT),
                probe!("grpc: token pointer out of bounds": proxy_grpc_call(s(CLUSTER), s("svc"), s("m"), s(""), s(""), I(1000), I(BAD)) => IMA),
                probe!("grpc stream: unknown cluster": proxy_grpc_stream(s("nope"), s("svc"), s("m"), s(""), I(OUT_WORD)) => BAD_ARGUMENT),
                probe!("grpc stream: service out of bounds": proxy_grpc_stream(I(BAD), I(1), s("svc"), s("m"), s(""), I(OUT_WORD)) => IMA),
                probe!("grpc send: token u32::MAX": proxy_grpc_send(I(HUGE), s("m"), I(0)) => BAD_ARGUMENT),
                probe!("grpc send: message out of bounds": proxy_grpc_send(At(CALL), I(BAD), I(4), I(0)) => IMA),
                probe!("grpc cancel: token u32::MAX": proxy_grpc_cancel(I(HUGE)) => NOT_FOUND),
                probe!("grpc close: token 0": proxy_grpc_close(I(0)) => NOT_FOUND),
                probe!("status: code pointer out of bounds": proxy_get_status(I(BAD), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("status: message pointer out of bounds": proxy_get_status(I(OUT_WORD), I(BAD), I(OUT_SIZE)) => IMA),
                probe!("status: valid": proxy_get_status(I(OUT_WORD), I(OUT_PTR), I(OUT_SIZE)) => OK),
            ],
        )
        .probes(
            "proxy_on_http_call_response",
            vec![
                probe!("response header": proxy_get_header_map_value(I(6), s(":status"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                Probe::word_at("its size", OUT_SIZE, 3),
                probe!("absent trailer": proxy_get_header_map_value(I(7), s(":status"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
                probe!("map type u32::MAX": proxy_get_header_map_value(I(HUGE), s(":status"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
                probe!("request headers in a root context": proxy_get_header_map_value(I(0), s(":path"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
                probe!("key out of bounds": proxy_get_header_map_value(I(6), I(BAD), I(4), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("pairs": proxy_get_header_map_pairs(I(6), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("pairs: pointer out of bounds": proxy_get_header_map_pairs(I(6), I(BAD), I(OUT_SIZE)) => IMA),
                probe!("size": proxy_get_header_map_size(I(6), I(OUT_WORD)) => OK),
                probe!("add: read-only": proxy_add_header_map_value(I(6), s("k"), s("v")) => BAD_ARGUMENT),
                probe!("replace: read-only": proxy_replace_header_map_value(I(7), s("k"), s("v")) => BAD_ARGUMENT),
                probe!("remove: read-only": proxy_remove_header_map_value(I(6), s(":status")) => BAD_ARGUMENT),
                probe!("set pairs: read-only": proxy_set_header_map_pairs(I(6), h()) => BAD_ARGUMENT),
                probe!("body status": proxy_get_buffer_status(I(4), I(OUT_SIZE), I(OUT_WORD)) => OK),
                Probe::word_at("body size", OUT_SIZE, 4),
                probe!("body status: pointer out of bounds": proxy_get_buffer_status(I(4), I(BAD), I(OUT_WORD)) => IMA),
                probe!("body bytes": proxy_get_buffer_bytes(I(4), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("body bytes: pointer out of bounds": proxy_get_buffer_bytes(I(4), I(0), I(4), I(BAD), I(OUT_SIZE)) => IMA),
                probe!("body: read-only": proxy_set_buffer_bytes(I(4), I(0), I(0), s("x")) => UNIMPLEMENTED),
                probe!("plugin configuration, not here": proxy_get_buffer_status(I(7), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
            ],
        );
    let deliver = |run: &mut Run| {
        let calls: Vec<_> = run
            .deferred
            .iter()
            .filter_map(|d| match d {
                Deferred::HttpCall(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 1, "only the valid call starts: {calls:?}");
        assert_eq!((calls[0].token, calls[0].cluster.as_str()), (1, CLUSTER));
        assert_eq!(calls[0].body, b"body");
        let response = CallResponse {
            headers: vec![(b":status".to_vec(), b"200".to_vec())],
            body: b"pong".to_vec(),
            trailers: Vec::new(),
        };
        run.vm
            .http_call_response(1, response.clone())
            .unwrap_or_else(|f| panic!("{f}"));
        // A token the guest never got, or one already answered, is ignored.
        run.vm
            .http_call_response(HUGE, response.clone())
            .expect("unknown token");
        run.vm
            .http_call_response(1, response)
            .expect("answered token");
    };
    run_probes(&guest, deliver);
}

#[test]
fn stream_and_context_calls_answer_a_status_for_any_argument() {
    let garbage = [0xffu8; 7];
    let guest = Guest::new()
        .probes(
            "proxy_on_configure",
            vec![
                probe!("continue in a root context": proxy_continue_stream(I(0)) => NOT_FOUND),
                probe!("close in a root context": proxy_close_stream(I(1)) => NOT_FOUND),
                probe!("0.2.0 continue request": proxy_continue_request() => NOT_FOUND),
                probe!("0.2.0 continue response": proxy_continue_response() => NOT_FOUND),
                probe!("0.2.0 clear route cache": proxy_clear_route_cache() => NOT_FOUND),
                probe!("local reply in a root context": proxy_send_local_response(I(403), s("d"), s("b"), s(""), I(0)) => NOT_FOUND),
                probe!("effective context u32::MAX": proxy_set_effective_context(I(HUGE)) => BAD_ARGUMENT),
                probe!("effective context 0": proxy_set_effective_context(I(0)) => BAD_ARGUMENT),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![
                probe!("continue: stream type 4": proxy_continue_stream(I(4)) => BAD_ARGUMENT),
                probe!("continue: stream type u32::MAX": proxy_continue_stream(I(HUGE)) => BAD_ARGUMENT),
                probe!("close: stream type u32::MAX": proxy_close_stream(I(HUGE)) => BAD_ARGUMENT),
                probe!("local reply: details out of bounds": proxy_send_local_response(I(403), I(BAD), I(4), s("b"), s(""), I(0)) => IMA),
                probe!("local reply: body length u32::MAX": proxy_send_local_response(I(403), s("d"), I(0), I(HUGE), s(""), I(0)) => IMA),
                probe!("local reply: headers out of bounds": proxy_send_local_response(I(403), s("d"), s("b"), I(BAD), I(8), I(0)) => IMA),
                probe!("local reply: non-UTF-8 details, headers not a map": proxy_send_local_response(I(403), s(b"\xff\xfe"), s("denied"), s(garbage), I(HUGE)) => OK),
                probe!("local reply: a second one": proxy_send_local_response(I(500), s("d"), s("b"), s(""), I(0)) => BAD_ARGUMENT),
                probe!("effective context u32::MAX": proxy_set_effective_context(I(HUGE)) => BAD_ARGUMENT),
                probe!("effective context: the root": proxy_set_effective_context(I(1)) => OK),
                probe!("the root has no request headers": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
                probe!("nor a stream to continue": proxy_continue_stream(I(0)) => NOT_FOUND),
                probe!("effective context: back to the stream": proxy_set_effective_context(Param(0)) => OK),
                probe!("its headers again": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("continue: valid": proxy_continue_stream(I(0)) => OK),
                probe!("0.2.0 continue request": proxy_continue_request() => OK),
                probe!("0.2.0 clear route cache": proxy_clear_route_cache() => OK),
                probe!("done": proxy_done() => OK),
            ],
        )
        .probes(
            "proxy_on_done",
            vec![probe!("no maps after the stream": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT)],
        );
    let (run, _) = run_probes(&guest, nothing_more);
    let replies: Vec<_> = run
        .deferred
        .iter()
        .filter_map(|d| match d {
            Deferred::LocalReply {
                status, details, ..
            } => Some((*status, details.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![(403, "\u{fffd}\u{fffd}".to_string())]);
}

#[test]
fn logging_time_and_foreign_function_calls_answer_a_status_for_any_argument() {
    let guest = Guest::new().probes(
        "proxy_on_configure",
        vec![
            probe!("log: valid": proxy_log(I(2), s("hello")) => OK),
            probe!("log: level 6": proxy_log(I(6), s("x")) => BAD_ARGUMENT),
            probe!("log: level u32::MAX": proxy_log(I(HUGE), s("x")) => BAD_ARGUMENT),
            probe!("log: message out of bounds": proxy_log(I(2), I(BAD), I(4)) => IMA),
            probe!("log: message length u32::MAX": proxy_log(I(2), I(0), I(HUGE)) => IMA),
            probe!("log: non-UTF-8 message": proxy_log(I(4), s(b"\xff\xfe not UTF-8")) => OK),
            probe!("log level: pointer out of bounds": proxy_get_log_level(I(BAD)) => IMA),
            probe!("log level: pointer straddling the end": proxy_get_log_level(I(EDGE)) => IMA),
            probe!("log level: valid": proxy_get_log_level(I(OUT_WORD)) => OK),
            probe!("time: pointer out of bounds": proxy_get_current_time_nanoseconds(I(BAD)) => IMA),
            probe!("time: pointer straddling the end": proxy_get_current_time_nanoseconds(I(MEMORY_END - 4)) => IMA),
            probe!("time: valid": proxy_get_current_time_nanoseconds(I(OUT_U64)) => OK),
            probe!("tick period u32::MAX": proxy_set_tick_period_milliseconds(I(HUGE)) => OK),
            probe!("tick period 0": proxy_set_tick_period_milliseconds(I(0)) => OK),
            probe!("foreign: unknown function": proxy_call_foreign_function(s("no_such_function"), s(""), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("foreign: non-UTF-8 name": proxy_call_foreign_function(s(b"\xff"), s(""), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("foreign: name out of bounds": proxy_call_foreign_function(I(BAD), I(4), s(""), I(OUT_PTR), I(OUT_SIZE)) => IMA),
            probe!("foreign: arguments out of bounds": proxy_call_foreign_function(s("clear_route_cache"), I(BAD), I(1), I(OUT_PTR), I(OUT_SIZE)) => IMA),
            probe!("foreign: result pointer out of bounds": proxy_call_foreign_function(s("clear_route_cache"), s(""), I(BAD), I(OUT_SIZE)) => IMA),
            probe!("foreign: valid": proxy_call_foreign_function(s("clear_route_cache"), s(""), I(OUT_PTR), I(OUT_SIZE)) => OK),
        ],
    );
    let (run, _) = run_probes(&guest, nothing_more);
    let log = run.spec.log.lock().expect("log");
    let messages: Vec<&str> = log.lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["hello", "\u{fffd}\u{fffd} not UTF-8"]);
}

#[test]
fn calls_outside_any_context_answer_a_status() {
    let headers = header_map(&[(":method", "GET"), (":path", "/"), (":authority", "up")]);
    let guest = Guest::new().probes(
        "_initialize",
        vec![
            probe!("log": proxy_log(I(2), s("init")) => OK),
            probe!("tick period": proxy_set_tick_period_milliseconds(I(100)) => BAD_ARGUMENT),
            probe!("http call": proxy_http_call(s(CLUSTER), s(&headers), s(""), s(""), I(1000), I(CALL)) => BAD_ARGUMENT),
            probe!("grpc stream": proxy_grpc_stream(s(CLUSTER), s("svc"), s("m"), s(""), I(OUT_WORD)) => BAD_ARGUMENT),
            probe!("request headers": proxy_get_header_map_value(I(0), s(":path"), I(OUT_PTR), I(OUT_SIZE)) => BAD_ARGUMENT),
            probe!("plugin configuration": proxy_get_buffer_status(I(7), I(OUT_SIZE), I(OUT_WORD)) => NOT_FOUND),
            probe!("plugin name": proxy_get_property(s("plugin_name"), I(OUT_PTR), I(OUT_SIZE)) => NOT_FOUND),
            probe!("VM id": proxy_get_property(s("plugin_vm_id"), I(OUT_PTR), I(OUT_SIZE)) => OK),
            probe!("define a metric": proxy_define_metric(I(0), s("init.counter"), I(OUT_WORD)) => OK),
            probe!("continue": proxy_continue_stream(I(0)) => NOT_FOUND),
            probe!("local reply": proxy_send_local_response(I(403), s("d"), s("b"), s(""), I(0)) => NOT_FOUND),
            probe!("set a property": proxy_set_property(s("k"), s("v")) => NOT_FOUND),
        ],
    );
    let (run, _) = run_probes(&guest, nothing_more);
    assert!(
        run.deferred
            .iter()
            .all(|d| !matches!(d, Deferred::HttpCall(_) | Deferred::TickPeriod { .. })),
        "{:?}",
        run.deferred
    );
}

#[test]
fn abi_0_2_0_names_answer_like_their_0_2_1_counterparts() {
    let guest = Guest::new()
        .abi("0_2_0")
        .probes(
            "proxy_on_configure",
            vec![
                probe!("continue request, root": proxy_continue_request() => NOT_FOUND),
                probe!("continue response, root": proxy_continue_response() => NOT_FOUND),
                probe!("clear route cache, root": proxy_clear_route_cache() => NOT_FOUND),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![
                probe!("continue request": proxy_continue_request() => OK),
                probe!("continue response": proxy_continue_response() => OK),
                probe!("clear route cache": proxy_clear_route_cache() => OK),
            ],
        );
    let runtime = Runtime::new(&RuntimeOptions::default()).expect("runtime");
    let module = guest::load(&runtime, &guest.wat()).expect("loads");
    assert_eq!(module.abi, "0.2.0");
    let (run, stream) = run_probes(&guest, nothing_more);
    assert!(stream.lock().request_headers_modified);
    assert!(run
        .deferred
        .iter()
        .any(|d| matches!(d, Deferred::Continue { stream: 1, .. })));
}

/// Probes whose buffers the host hands to the guest's allocator.
fn buffer_handing_probes() -> Guest {
    Guest::new()
        .probes(
            "proxy_on_configure",
            vec![
                probe!("configuration": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("property": proxy_get_property(s("plugin_name"), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("set shared data": proxy_set_shared_data(s("k"), s("value"), I(0)) => OK),
                probe!("get it back": proxy_get_shared_data(s("k"), I(OUT_PTR), I(OUT_SIZE), I(OUT_WORD)) => IMA),
                probe!("register a queue": proxy_register_shared_queue(s("q"), I(QUEUE)) => OK),
                probe!("enqueue": proxy_enqueue_shared_queue(At(QUEUE), s("item")) => OK),
                probe!("dequeue": proxy_dequeue_shared_queue(At(QUEUE), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                // An empty buffer needs no memory: any address will do.
                probe!("empty status message": proxy_get_status(I(OUT_WORD), I(OUT_PTR), I(OUT_SIZE)) => OK),
                probe!("calls that hand out nothing still work": proxy_get_buffer_status(I(7), I(OUT_SIZE), I(OUT_WORD)) => OK),
                probe!("and logging": proxy_log(I(2), s("still here")) => OK),
            ],
        )
        .probes(
            "proxy_on_request_headers",
            vec![
                probe!("header value": proxy_get_header_map_value(I(0), s("x-probe"), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("header pairs": proxy_get_header_map_pairs(I(0), I(OUT_PTR), I(OUT_SIZE)) => IMA),
                probe!("header map size": proxy_get_header_map_size(I(0), I(OUT_WORD)) => OK),
            ],
        )
        .probes(
            "proxy_on_request_body",
            vec![probe!("body": proxy_get_buffer_bytes(I(0), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => IMA)],
        )
}

#[test]
fn an_allocator_that_returns_a_bad_pointer_gets_a_status_not_a_panic() {
    for (what, address) in [
        ("far past the end", 0xFFFF_FF00),
        ("null", 0),
        ("straddling the end", EDGE),
    ] {
        let guest = buffer_handing_probes().allocator(Allocator::Fixed(address));
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| run_probes(&guest, nothing_more)));
        if let Err(panic) = run {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("");
            panic!("an allocator returning {what} ({address:#x}): {message}");
        }
    }
}

/// A probe VM whose guest does `wat` at the end of `export`.
fn failing(export: &'static str, wat: &'static str, limit: usize, deadline: Duration) -> Run {
    let guest = Guest::new().then(export, wat).probes(
        "proxy_on_tick",
        vec![probe!("ran": proxy_log(I(2), s("tick")) => OK)],
    );
    Run::start(&guest, spec(limit, deadline))
}

/// Asserts that `vm` failed with `kind` in `callback`, and stays failed
/// without entering the guest again.
fn assert_failed(
    what: &str,
    run: &mut Run,
    result: Result<impl std::fmt::Debug, VmFailure>,
    kind: FailureKind,
    callback: Callback,
) -> VmFailure {
    let failure = result.expect_err(what);
    assert_eq!(
        (failure.kind, failure.callback),
        (kind, callback),
        "{what}: {failure}"
    );
    let prefix = format!("{} in {}: ", kind.as_str(), callback.export_name());
    assert!(
        failure.to_string().starts_with(&prefix),
        "{what}: {failure}"
    );
    assert_eq!(run.vm.failure(), Some(&failure), "{what}");
    assert_eq!(
        run.vm.tick(1),
        Err(failure.clone()),
        "{what}: a failed VM answers with its failure"
    );
    assert_eq!(
        published(&run.spec, "proxy_on_tick"),
        None,
        "{what}: a failed VM is not entered again"
    );
    failure
}

fn request_headers(run: &mut Run) -> Result<Action, VmFailure> {
    let id = run
        .vm
        .create_http_context(0, stream())
        .unwrap_or_else(|f| panic!("{f}"));
    run.vm.set_access(id, headers_access());
    run.vm.request_headers(id, 4, false)
}

#[test]
fn a_guest_that_traps_in_on_request_headers_is_reported_with_that_callback() {
    for (what, wat, reason) in [
        ("unreachable", "unreachable", "unreachable"),
        (
            "load out of bounds",
            "(drop (i32.load (i32.const 0xFFFFFFF0)))",
            "out of bounds memory access",
        ),
        (
            "division by zero",
            "(drop (i32.div_u (i32.const 1) (i32.const 0)))",
            "divide by zero",
        ),
    ] {
        let mut run = failing("proxy_on_request_headers", wat, 16 * MIB, PATIENT);
        let result = request_headers(&mut run);
        let failure = assert_failed(
            what,
            &mut run,
            result,
            FailureKind::Trap,
            Callback::RequestHeaders,
        );
        assert!(
            failure.message.contains(reason),
            "{what}: {}",
            failure.message
        );
    }
}

#[test]
fn a_trap_in_initialize_or_on_configure_is_reported_with_that_callback() {
    let runtime = Runtime::new(&RuntimeOptions::default()).expect("runtime");
    let init = Guest::new().then("_initialize", "unreachable");
    let module = guest::load(&runtime, &init.wat()).expect("loads");
    let failure = Vm::new(&module, &spec(16 * MIB, PATIENT)).expect_err("must fail");
    assert_eq!(
        (failure.kind, failure.callback),
        (FailureKind::Trap, Callback::Initialize)
    );

    let configure = Guest::new().then("proxy_on_configure", "unreachable");
    let module = guest::load(&runtime, &configure.wat()).expect("loads");
    let mut vm = Vm::new(&module, &spec(16 * MIB, PATIENT)).expect("instantiates");
    let failure = vm.start_roots().expect_err("must fail");
    assert_eq!(
        (failure.kind, failure.callback),
        (FailureKind::Trap, Callback::Configure)
    );
}

#[test]
fn a_guest_that_loops_forever_in_on_tick_is_interrupted_and_reported() {
    let guest = Guest::new().then("proxy_on_tick", "(loop $forever (br $forever))");
    let mut run = Run::start(&guest, spec(16 * MIB, Duration::from_millis(100)));
    let started = Instant::now();
    let result = run.vm.tick(1);
    let took = started.elapsed();
    let failure = result.expect_err("must be interrupted");
    assert_eq!(
        (failure.kind, failure.callback),
        (FailureKind::Interrupted, Callback::Tick),
        "{failure}"
    );
    assert!(
        took < Duration::from_secs(10),
        "interrupted only after {took:?}"
    );
    assert_eq!(run.vm.failure(), Some(&failure));
    assert_eq!(run.vm.tick(1), Err(failure));
}

#[test]
fn an_allocator_that_traps_or_loops_is_reported_with_the_callback_it_served() {
    for (allocator, kind) in [
        ("unreachable", FailureKind::Trap),
        (
            "(loop $forever (br $forever)) (i32.const 0)",
            FailureKind::Interrupted,
        ),
    ] {
        let guest = Guest::new()
            .allocator(Allocator::Wat(allocator))
            .probes(
                "proxy_on_configure",
                vec![probe!("hand out the configuration": proxy_get_buffer_bytes(I(7), I(0), I(HUGE), I(OUT_PTR), I(OUT_SIZE)) => OK)],
            );
        let runtime = Runtime::new(&RuntimeOptions::default()).expect("runtime");
        let module = guest::load(&runtime, &guest.wat()).expect("loads");
        let mut vm =
            Vm::new(&module, &spec(16 * MIB, Duration::from_millis(100))).expect("instantiates");
        let failure = vm.start_roots().expect_err("must fail");
        assert_eq!(
            (failure.kind, failure.callback),
            (kind, Callback::Configure),
            "{failure}"
        );
    }
}

#[test]
fn a_guest_that_grows_memory_past_its_limit_is_reported_out_of_memory() {
    for (what, wat) in [
        (
            "one large growth",
            "(if (i32.eq (memory.grow (i32.const 64)) (i32.const -1)) (then unreachable))",
        ),
        (
            "a page at a time",
            "(loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable",
        ),
    ] {
        let mut run = failing("proxy_on_request_headers", wat, MIB, PATIENT);
        let result = request_headers(&mut run);
        assert!(run.vm.memory_bytes() <= MIB, "{what}: {} bytes", run.vm.memory_bytes());
        assert_failed(what, &mut run, result, FailureKind::OutOfMemory, Callback::RequestHeaders);
    }
}

#[test]
fn a_refused_growth_the_guest_survives_is_not_a_failure() {
    let guest = Guest::new()
        .then(
            "proxy_on_request_headers",
            "(drop (memory.grow (i32.const 64)))",
        )
        .probes(
            "proxy_on_tick",
            vec![probe!("ran": proxy_log(I(2), s("tick")) => OK)],
        );
    let mut run = Run::start(&guest, spec(MIB, PATIENT));
    request_headers(&mut run).expect("the guest copes");
    run.vm.tick(1).expect("the VM is usable");
    assert_eq!(run.vm.failure(), None);
    guest.check(&run.spec);
}

#[test]
fn a_trap_after_a_refused_growth_the_guest_survived_is_a_trap() {
    let guest = Guest::new()
        .then(
            "proxy_on_request_headers",
            "(drop (memory.grow (i32.const 64)))",
        )
        .then("proxy_on_tick", "unreachable");
    let mut run = Run::start(&guest, spec(MIB, PATIENT));
    request_headers(&mut run).expect("the guest copes");
    let failure = run.vm.tick(1).expect_err("must trap");
    assert_eq!(
        (failure.kind, failure.callback),
        (FailureKind::Trap, Callback::Tick),
        "{failure}"
    );
}

#[test]
fn a_module_the_host_cannot_run_is_refused_with_a_reason() {
    let runtime = Runtime::new(&RuntimeOptions::default()).expect("runtime");
    let memory_over_limit = Guest::new().memory_pages(32).wat();
    let module = guest::load(&runtime, &memory_over_limit).expect("loads");
    let failure = Vm::new(&module, &spec(MIB, PATIENT)).expect_err("memory over the limit");
    assert_eq!(failure.kind, FailureKind::Instantiate, "{failure}");

    let abi = r#"(func (export "proxy_abi_version_0_2_1"))"#;
    for (what, wat, reason) in [
        ("no ABI version", "(module (memory (export \"memory\") 1))".to_string(), "ABI"),
        (
            "an import the host lacks",
            format!("(module (import \"env\" \"proxy_nope\" (func)) (memory (export \"memory\") 1) {abi})"),
            "proxy_nope",
        ),
        (
            "an import with the wrong signature",
            format!("(module (import \"env\" \"proxy_log\" (func (param i32))) (memory (export \"memory\") 1) {abi})"),
            "proxy_log",
        ),
    ] {
        let err = guest::load(&runtime, &wat).expect_err(what);
        assert!(err.contains("sluice-abi-robustness-") && err.contains(reason), "{what}: {err}");
    }

    let alloc =
        r#"(func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))"#;
    for (what, wat, reason) in [
        ("no memory", format!("(module {abi} {alloc})"), "memory"),
        ("no allocator", format!("(module (memory (export \"memory\") 1) {abi})"), "malloc"),
        (
            "a callback with the wrong signature",
            format!(
                "(module (memory (export \"memory\") 1) {abi} {alloc} \
                 (func (export \"proxy_on_request_headers\") (param i32 i32) (result i32) (i32.const 0)))"
            ),
            "proxy_on_request_headers",
        ),
    ] {
        let module = guest::load(&runtime, &wat).expect(what);
        let failure = Vm::new(&module, &spec(MIB, PATIENT)).expect_err(what);
        assert_eq!(failure.kind, FailureKind::Instantiate, "{what}: {failure}");
        assert!(failure.message.contains(reason), "{what}: {failure}");
    }
}
