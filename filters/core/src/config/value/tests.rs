use super::*;

fn ok(text: &str) -> Value {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    parse(text.as_bytes()).expect_err(text)
}

#[test]
fn values_of_every_kind_parse() {
    assert_eq!(ok(" null "), Value::Null);
    assert_eq!(ok("true"), Value::Bool(true));
    assert_eq!(ok("false"), Value::Bool(false));
    assert_eq!(ok("[]"), Value::Array(vec![]));
    assert_eq!(ok("{}"), Value::Object(Map::new()));
    let v = ok(r#"{"b": [1, -2, 0.5, "x"], "a": {"c": null}}"#);
    let Value::Object(map) = &v else {
        panic!("{v:?}")
    };
    // Members come out in key order.
    assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(
        map["b"],
        Value::Array(vec![
            Value::Number(Number::Unsigned(1)),
            Value::Number(Number::Negative(-2)),
            Value::Number(Number::Float(0.5)),
            Value::String("x".into()),
        ])
    );
}

#[test]
fn numbers_are_classified_as_serde_json_does() {
    let n = |t: &str| match ok(t) {
        Value::Number(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(n("0"), Number::Unsigned(0));
    assert_eq!(n("18446744073709551615"), Number::Unsigned(u64::MAX));
    assert_eq!(
        n("18446744073709551616"),
        Number::Float(18446744073709551616.0)
    );
    assert_eq!(n("-9223372036854775808"), Number::Negative(i64::MIN));
    assert_eq!(n("1.0"), Number::Float(1.0));
    assert_eq!(n("2e3"), Number::Float(2000.0));
    assert_eq!(n("-1.5E-2"), Number::Float(-0.015));
    assert!(n("2.5").is_f64() && n("-3").is_i64() && !n("3").is_i64());
    assert_eq!(ok("7").as_u64(), Some(7));
    assert_eq!(ok("-7").as_u64(), None);
    assert_eq!(ok("-7").as_f64(), Some(-7.0));
    assert_eq!(ok("\"7\"").as_f64(), None);
    for bad in ["01", "-", "1.", ".5", "1e", "+1", "1e+", "--1", "0x10"] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad}");
    }
    assert!(err("1e400").starts_with("number out of range"));
}

#[test]
fn strings_decode_escapes_and_check_utf8() {
    assert_eq!(
        ok(r#""a\"b\\c\/d\b\f\n\r\t""#).as_str(),
        Some("a\"b\\c/d\u{8}\u{c}\n\r\t")
    );
    assert_eq!(ok(r#""\u00e9\u20AC""#).as_str(), Some("é€"));
    assert_eq!(ok(r#""\ud83d\ude00""#).as_str(), Some("😀"));
    assert_eq!(ok("\"héllo\"").as_str(), Some("héllo"));
    assert!(err(r#""\ud83d""#).starts_with("unpaired surrogate"));
    assert!(err(r#""\ude00""#).starts_with("unpaired surrogate"));
    assert!(err(r#""\x""#).starts_with("invalid escape"));
    assert!(err(r#""\u12g4""#).starts_with("invalid \\u escape"));
    assert!(err(r#""\u+123""#).starts_with("invalid \\u escape"));
    assert!(err("\"a\nb\"").starts_with("control character"));
    assert!(parse(b"\"\xff\"").unwrap_err().starts_with("invalid UTF-8"));
    assert!(err("\"abc").starts_with("EOF while parsing a string"));
}

#[test]
fn errors_say_what_and_where() {
    assert_eq!(
        err("{} x"),
        "trailing data after the JSON object at line 1 column 4"
    );
    assert_eq!(err("{\n  \"a\": }"), "expected value at line 2 column 8");
    assert_eq!(
        err("{\"a\":"),
        "EOF while parsing a value at line 1 column 6"
    );
    assert_eq!(err("{\"a\" 1}"), "expected `:` at line 1 column 6");
    assert_eq!(
        err("{\"a\": 1 \"b\": 2}"),
        "expected `,` or `}` at line 1 column 9"
    );
    assert_eq!(err("[1 2]"), "expected `,` or `]` at line 1 column 4");
    assert_eq!(err("{1: 2}"), "key must be a string at line 1 column 2");
    assert_eq!(err("[1,"), "EOF while parsing a value at line 1 column 4");
    assert_eq!(err("nul"), "expected value at line 1 column 1");
    assert_eq!(err(""), "EOF while parsing a value at line 1 column 1");
}

#[test]
fn the_last_of_duplicate_keys_is_kept() {
    let v = ok(r#"{"a": 1, "a": 2}"#);
    let Value::Object(map) = v else { panic!() };
    assert_eq!(map.len(), 1);
    assert_eq!(map["a"].as_u64(), Some(2));
}

#[test]
fn nesting_is_bounded_and_deep_input_is_refused_not_overflowed() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(parse(deep(MAX_DEPTH).as_bytes()).is_ok());
    assert!(err(&deep(MAX_DEPTH + 1)).starts_with("recursion limit exceeded"));
    assert!(err(&"[".repeat(100_000)).starts_with("recursion limit exceeded"));
}

proptest::proptest! {
    /// Whatever the bytes, the parser answers without panicking.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = parse(&bytes);
    }

    /// Documents that serde_json writes come back as the same values.
    #[test]
    fn serde_json_output_round_trips(
        keys in proptest::collection::vec("[a-z\\u{e9}\"\\\\]{0,6}", 0..5),
        ints in proptest::collection::vec(proptest::num::i64::ANY, 0..5),
        floats in proptest::collection::vec(-1e6f64..1e6, 0..5),
    ) {
        let mut doc = serde_json::Map::new();
        for (i, k) in keys.iter().enumerate() {
            doc.insert(k.clone(), serde_json::json!([ints.get(i), floats.get(i), k]));
        }
        let text = serde_json::to_string(&serde_json::Value::Object(doc.clone())).unwrap();
        let ours = parse(text.as_bytes()).unwrap();
        let Value::Object(map) = ours else { panic!() };
        proptest::prop_assert_eq!(map.len(), doc.len());
        for (k, v) in &doc {
            let serde_json::Value::Array(items) = v else { panic!() };
            let Value::Array(got) = &map[k] else { panic!() };
            proptest::prop_assert_eq!(got[0].as_f64(), items[0].as_f64());
            proptest::prop_assert_eq!(got[1].as_f64(), items[1].as_f64());
            proptest::prop_assert_eq!(got[2].as_str(), items[2].as_str());
        }
    }
}
