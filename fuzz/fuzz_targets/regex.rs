//! The router's own regex engine: any pattern compiles or is refused with
//! the byte position and the problem; any text matches or not, in time
//! linear in its length. For patterns in the syntax both engines share, the
//! answer agrees with regex-lite's (a differential oracle).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sluice_core::route::regex::Regex;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    pattern: &'a str,
    text: &'a [u8],
}

/// Bytes whose meaning is the same in both engines (no classes, whose set
/// operations and nesting regex-lite reads differently; no escapes but the
/// ASCII classes).
fn shared_syntax(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric()
            || b".*+?|()^${},-/_ ".contains(&c)
            || (c == b'\\' && b.get(i + 1).is_some_and(|n| b"dwsDWS".contains(n)))
    })
}

fuzz_target!(|input: Input<'_>| {
    match Regex::new(input.pattern) {
        Err(e) => {
            assert!(
                e.starts_with("at byte ") || e.starts_with("the pattern compiles to more than"),
                "an error without a place: {e:?}"
            );
        }
        Ok(re) => {
            let ours = re.is_match(input.text);
            if shared_syntax(input.pattern) && input.text.is_ascii() {
                if let (Ok(theirs), Ok(text)) = (
                    regex_lite::Regex::new(&format!("(?s:{})", input.pattern)),
                    std::str::from_utf8(input.text),
                ) {
                    assert_eq!(
                        ours,
                        theirs.is_match(text),
                        "pattern {:?} on {text:?}",
                        input.pattern
                    );
                }
            }
        }
    }
});
