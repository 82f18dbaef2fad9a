//! The trace importers (Sluice JSON lines, Envoy JSON access logs,
//! Common/Combined Log Format): any text is imported, sorted by arrival,
//! or refused with an error naming the trace and line. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_traffic::trace::{parse, TraceFormat, TraceSpec};
use std::collections::BTreeMap;

const NAME: &str = "fuzz.log";

fuzz_target!(|bytes: &[u8]| {
    let Some((&selector, rest)) = bytes.split_first() else {
        return;
    };
    let format = match selector % 3 {
        0 => TraceFormat::Jsonl,
        1 => TraceFormat::EnvoyJson,
        _ => TraceFormat::Clf,
    };
    let spec = TraceSpec {
        format,
        path: NAME.into(),
        // Mostly 1 (exact nanoseconds), sometimes scaled.
        speed: [1.0, 1.0, 2.0, 0.001][usize::from(selector / 3 % 4)],
        offset: None,
        headers: BTreeMap::new(),
        authority: None,
        fields: BTreeMap::new(),
    };
    // As `trace::load` reads a file: stray bytes are replaced.
    let text = String::from_utf8_lossy(rest);
    match parse(format, &text, NAME, &spec) {
        Err(e) => sluice_fuzz::oracle::trace_error(&e, NAME),
        Ok(requests) => {
            assert!(!requests.is_empty());
            assert!(
                requests.windows(2).all(|w| w[0].at <= w[1].at),
                "not sorted"
            );
            for r in &requests {
                assert_eq!(r.method, r.method.to_ascii_uppercase());
            }
        }
    }
});
