use super::*;
use proptest::prelude::*;

fn m(pattern: &str, text: &str) -> bool {
    Regex::new(pattern)
        .expect(pattern)
        .is_match(text.as_bytes())
}

#[test]
fn the_supported_syntax_matches_as_documented() {
    assert!(m(r"^/api/v[0-9]+/orders$", "/api/v12/orders"));
    assert!(!m(r"^/api/v[0-9]+/orders$", "/api/v/orders"));
    assert!(m(r"/users/\d{1,6}/cart", "/shop/users/42/cart?x"));
    assert!(!m(r"^/users/\d{1,6}$", "/users/1234567"));
    assert!(m(r"^/(?:img|css)/[^/]+\.(png|css)$", "/img/logo.png"));
    assert!(!m(r"^/(?:img|css)/[^/]+\.(png|css)$", "/img/a/logo.png"));
    assert!(m(r"^$", ""));
    assert!(m("a|", "zzz"), "an empty branch matches everywhere");
    assert!(m(r"^\w+-\s?x$", "ab_9- x"));
    assert!(m(r"[a\-z]", "-"));
    assert!(m(r"^.{3}$", "a\u{e9}"), "é is two bytes");
}

#[test]
fn unsupported_or_broken_patterns_are_refused_with_a_position() {
    for (p, why) in [
        ("(", "missing )"),
        ("a)", "unmatched )"),
        ("*a", "nothing to repeat"),
        ("a**", "nested repetition"),
        ("(?=a)", "only (?:...)"),
        (r"\1", "unsupported escape"),
        ("[a", "missing ]"),
        ("[z-a]", "bad range"),
        ("a{3,2}", "n <= m <= 100"),
        ("a{101}", "n <= m <= 100"),
        ("^*", "anchor cannot repeat"),
        ("[[:alpha:]]", "named classes"),
    ] {
        let e = Regex::new(p)
            .err()
            .unwrap_or_else(|| panic!("{p} was accepted"));
        assert!(e.contains(why) && e.starts_with("at byte"), "{p}: {e}");
    }
    let huge = "(a{100}){100}b";
    let e = Regex::new(huge)
        .err()
        .unwrap_or_else(|| panic!("{huge} was accepted"));
    assert!(e.contains("more than"), "{e}");
}

#[test]
fn matching_time_does_not_blow_up_on_a_pathological_pattern() {
    // Exponential for a backtracking engine; linear here.
    let re = Regex::new("^(a|a)*(a|a)*(a|a)*b$").expect("valid");
    let text = vec![b'a'; 5000];
    assert!(!re.is_match(&text));
}

/// Patterns from a small grammar, compared with regex-lite (a dev
/// dependency only) on ASCII text without newlines.
fn pattern() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        "[abc]".prop_map(String::from),
        Just(".".to_string()),
        Just(r"\d".to_string()),
        Just("[a-b]".to_string()),
        Just("[^a]".to_string()),
    ];
    let piece = (
        atom,
        prop_oneof![Just(""), Just("*"), Just("+"), Just("?"), Just("{1,2}")],
    )
        .prop_map(|(a, q)| format!("{a}{q}"));
    let seq = proptest::collection::vec(piece, 1..4).prop_map(|v| v.concat());
    let group = (
        seq.clone(),
        seq.clone(),
        prop_oneof![Just(""), Just("*"), Just("?")],
    )
        .prop_map(|(a, b, q)| format!("(?:{a}|{b}){q}"));
    (
        prop_oneof![Just(""), Just("^")],
        proptest::collection::vec(prop_oneof![seq, group], 1..3),
        prop_oneof![Just(""), Just("$")],
    )
        .prop_map(|(s, body, e)| format!("{s}{}{e}", body.concat()))
}

proptest! {
    #[test]
    fn agrees_with_regex_lite(p in pattern(), text in "[abc19 ]{0,12}") {
        let ours = Regex::new(&p).expect("grammar patterns compile");
        let oracle = regex_lite::Regex::new(&p).expect("oracle compiles");
        prop_assert_eq!(ours.is_match(text.as_bytes()), oracle.is_match(&text), "{} on {:?}", p, text);
    }
}

/// Found while writing the `regex` fuzz target (a timeout there): repeating
/// a group that compiles to
/// nothing (`()`, `(a{0})`) emitted it `n` times at every level, so nested
/// ones took 100^depth steps and configuring the router hung. Repeating
/// nothing is nothing: compiling is now linear in the pattern (before the
/// fix, this test did not finish).
#[test]
fn nested_repeats_of_an_empty_group_compile_at_once() {
    for p in [
        "(((((((){100}){100}){100}){100}){100}){100})",
        "((((((a{0}){100}){100}){100}){100}){100}){100}b",
    ] {
        let re = Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(re.is_match(b"b"), "{p}");
    }
    // `(?:){50,}` is not nothing (a loop): the size limit refuses it.
    let e = Regex::new("(((((((?:){50,}){100}){100}){100}){100}){100})")
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(e.contains("more than"), "{e}");
}
