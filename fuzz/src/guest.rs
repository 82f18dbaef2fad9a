//! A guest that makes the host calls its plugin configuration describes.
//!
//! The fuzz target hands the fuzzer's bytes to the guest as its plugin
//! configuration. `on_configure` copies them into the guest's memory (the
//! *program*) and every callback then interprets the next *segment* of it:
//! a sequence of host calls with their arguments, up to a yield byte. The
//! guest's allocator runs a segment too (two deep at most), so host calls
//! are also made from inside a host call that is handing the guest a
//! buffer: the re-entrant case.
//!
//! Program encoding, byte by byte (reading past the end gives zeros):
//!
//! | op | meaning |
//! |---|---|
//! | `0xFF` | yield: end of this callback's segment |
//! | `0xFE` | trap (`unreachable`) |
//! | `0xFD n` | `memory.grow(n)` |
//! | `0xFC m w:u32` | allocator mode: `m` odd returns `w` whatever the size, even bump-allocates |
//! | other `op` | call import `op % IMPORTS.len()`, each argument encoded as below |
//!
//! An i32 argument starts with a tag byte; `tag % 4`: 0 the next byte as a
//! small number (map and buffer types, ids), 1 `SCRATCH + u16 % SCRATCH_LEN`
//! (a pointer that is probably valid), 2 a raw u32 (wild), 3 the u32 stored
//! at such a scratch pointer (an id, token or address a previous call
//! wrote). An i64 argument is 8 raw bytes.
//!
//! Memory (two 64 KiB pages): scratch `0..0x4000`, program
//! `0x4000..0x8000`, heap `0x8000..0x20000`.

use std::fmt::Write as _;

/// Every `env` import of the harness with its parameters (`i` i32, `l`
/// i64); each returns a status. A signature that differs from the host's
/// fails at link time, which the target reports at start-up.
pub const IMPORTS: &[(&str, &str)] = &[
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

pub const SCRATCH_LEN: u32 = 0x4000;
const PROGRAM: u32 = 0x4000;
const PROGRAM_MAX: u32 = 0x4000;
const HEAP: u32 = 0x8000;
const HEAP_END: u32 = 0x2_0000;
/// Where `on_configure` asks for the configuration's address and size.
const LOAD_PTR: u32 = 0x3FF0;
const LOAD_SIZE: u32 = 0x3FF4;
/// Plugin configuration buffer type.
const PLUGIN_CONFIGURATION: u32 = 7;

/// Callbacks: export name, signature, what it returns after its segment.
const CALLBACKS: &[(&str, &str, &str)] = &[
    ("proxy_on_context_create", "(param i32 i32)", ""),
    (
        "proxy_on_vm_start",
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
    (
        "proxy_on_response_body",
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
    ("proxy_on_grpc_receive", "(param i32 i32 i32)", ""),
    ("proxy_on_grpc_close", "(param i32 i32 i32)", ""),
    ("proxy_on_foreign_function", "(param i32 i32 i32)", ""),
];

fn params(signature: &str) -> String {
    if signature.is_empty() {
        return String::new();
    }
    let types: Vec<&str> = signature
        .chars()
        .map(|c| if c == 'l' { "i64" } else { "i32" })
        .collect();
    format!("(param {}) ", types.join(" "))
}

/// The guest's text (WAT).
pub fn wat() -> String {
    let mut w = String::from("(module\n");
    for (name, signature) in IMPORTS {
        let _ = writeln!(
            w,
            "  (import \"env\" \"{name}\" (func ${name} {}(result i32)))",
            params(signature)
        );
    }
    let _ = writeln!(
        w,
        r#"  (memory (export "memory") 2)
  (func (export "proxy_abi_version_0_2_1"))
  (global $pc (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (global $depth (mut i32) (i32.const 0))
  (global $heap (mut i32) (i32.const {HEAP}))
  (global $alloc_mode (mut i32) (i32.const 0))
  (global $alloc_wild (mut i32) (i32.const 0))
  (func $byte (result i32)
    (local $b i32)
    (if (i32.lt_u (global.get $pc) (global.get $len))
      (then (local.set $b (i32.load8_u (i32.add (i32.const {PROGRAM}) (global.get $pc))))))
    (global.set $pc (i32.add (global.get $pc) (i32.const 1)))
    (local.get $b))
  (func $u16 (result i32)
    (i32.or (call $byte) (i32.shl (call $byte) (i32.const 8))))
  (func $u32 (result i32)
    (i32.or (call $u16) (i32.shl (call $u16) (i32.const 16))))
  (func $u64 (result i64)
    (i64.or (i64.extend_i32_u (call $u32)) (i64.shl (i64.extend_i32_u (call $u32)) (i64.const 32))))
  (func $scratch (result i32)
    (i32.rem_u (call $u16) (i32.const {SCRATCH_LEN})))
  (func $arg (result i32)
    (local $tag i32)
    (local.set $tag (i32.and (call $byte) (i32.const 3)))
    (if (i32.eqz (local.get $tag)) (then (return (call $byte))))
    (if (i32.eq (local.get $tag) (i32.const 1)) (then (return (call $scratch))))
    (if (i32.eq (local.get $tag) (i32.const 2)) (then (return (call $u32))))
    (i32.load (i32.and (call $scratch) (i32.const {mask}))))
  (func $proxy_on_memory_allocate (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (if (i32.lt_u (global.get $depth) (i32.const 2))
      (then
        (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
        (call $run)
        (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))))
    (if (i32.and (global.get $alloc_mode) (i32.const 1))
      (then (return (global.get $alloc_wild))))
    (if (i32.gt_u (local.get $size) (i32.const {heap_len}))
      (then (return (i32.const 0))))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $size)) (i32.const {HEAP_END}))
      (then (global.set $heap (i32.const {HEAP}))))
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))"#,
        mask = SCRATCH_LEN - 4,
        heap_len = HEAP_END - HEAP,
    );
    // The interpreter: one block per import, dispatched with br_table.
    w.push_str("  (func $run\n    (local $op i32)\n    (loop $next\n");
    w.push_str("      (if (i32.ge_u (global.get $pc) (global.get $len)) (then (return)))\n");
    w.push_str("      (local.set $op (call $byte))\n");
    w.push_str("      (if (i32.eq (local.get $op) (i32.const 255)) (then (return)))\n");
    w.push_str("      (if (i32.eq (local.get $op) (i32.const 254)) (then (unreachable)))\n");
    w.push_str(
        "      (if (i32.eq (local.get $op) (i32.const 253))
        (then (drop (memory.grow (call $byte))) (br $next)))\n",
    );
    w.push_str(
        "      (if (i32.eq (local.get $op) (i32.const 252))
        (then (global.set $alloc_mode (call $byte)) (global.set $alloc_wild (call $u32)) (br $next)))\n",
    );
    let n = IMPORTS.len();
    for i in (0..n).rev() {
        let _ = writeln!(w, "      (block $b{i}");
    }
    let labels: Vec<String> = (0..n).map(|i| format!("$b{i}")).collect();
    let _ = writeln!(
        w,
        "      (br_table {} $b0 (i32.rem_u (local.get $op) (i32.const {n})))",
        labels.join(" ")
    );
    for (i, (name, signature)) in IMPORTS.iter().enumerate() {
        let args: String = signature
            .chars()
            .map(|c| {
                if c == 'l' {
                    " (call $u64)"
                } else {
                    " (call $arg)"
                }
            })
            .collect();
        // Statuses are dropped: the invariant is on the host's side.
        let _ = writeln!(
            w,
            "      ) ;; $b{i}\n      (drop (call ${name}{args})) (br $next)"
        );
    }
    w.push_str("    ))\n");
    // on_configure loads the program, then runs its first segment.
    let _ = writeln!(
        w,
        r#"  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (if (i32.eqz (call $proxy_get_buffer_bytes (i32.const {PLUGIN_CONFIGURATION}) (i32.const 0)
                   (local.get $size) (i32.const {LOAD_PTR}) (i32.const {LOAD_SIZE})))
      (then
        (global.set $len (i32.load (i32.const {LOAD_SIZE})))
        (if (i32.gt_u (global.get $len) (i32.const {PROGRAM_MAX}))
          (then (global.set $len (i32.const {PROGRAM_MAX}))))
        (memory.copy (i32.const {PROGRAM}) (i32.load (i32.const {LOAD_PTR})) (global.get $len))
        (global.set $pc (i32.const 0))))
    (call $run)
    (i32.const 1))"#
    );
    for (export, signature, ret) in CALLBACKS {
        let _ = writeln!(
            w,
            "  (func (export \"{export}\") {signature}\n    (call $run)\n    {ret})"
        );
    }
    w.push_str(")\n");
    w
}
