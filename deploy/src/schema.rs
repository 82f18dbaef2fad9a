//! Validating a document against a CRD's `openAPIV3Schema`.
//!
//! Kubernetes CRDs use *structural* schemas: every node has a `type`, and
//! the keywords are a small subset of OpenAPI v3. This validator implements
//! that subset: `type` (object, array, string, integer, number, boolean),
//! `properties`, `required`, `additionalProperties` (a schema),
//! `x-kubernetes-preserve-unknown-fields`, `enum`, `items`, `maxItems`,
//! `minLength`, `maxLength`, `maxProperties`, `pattern`, `minimum`,
//! `maximum`, `format: int32` and `nullable`. Unknown fields are errors, as
//! the API server's strict field validation reports them. CEL rules
//! (`x-kubernetes-validations`) are not interpreted here; `wasmplugin`
//! implements the WasmPlugin CRD's rules as code.

use serde_json::Value;

/// Every problem found, each as `<path>: <problem>`, paths starting at
/// `base` (`.spec`; empty for the document itself).
pub fn validate(schema: &Value, doc: &Value, base: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, doc, base, &mut errors);
    errors
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, doc: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "." } else { path };
    if doc.is_null() {
        if schema["nullable"] != true {
            errors.push(format!("{at}: null is not allowed"));
        }
        return;
    }
    if let Some(want) = schema["type"].as_str() {
        let got = type_name(doc);
        let ok = got == want || (want == "number" && got == "integer");
        if !ok {
            errors.push(format!("{at}: expected {want}, found {got}"));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(doc) {
            errors.push(format!(
                "{at}: {doc} is not one of {}",
                Value::Array(options.clone())
            ));
        }
    }
    match doc {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            for key in schema["required"].as_array().into_iter().flatten() {
                if let Some(k) = key.as_str() {
                    if !map.contains_key(k) {
                        errors.push(format!("{at}: missing required field '{k}'"));
                    }
                }
            }
            if let Some(max) = schema["maxProperties"].as_u64() {
                if map.len() as u64 > max {
                    errors.push(format!("{at}: more than {max} properties"));
                }
            }
            let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
            for (k, v) in map {
                let child = format!("{path}.{k}");
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    check(s, v, &child, errors);
                } else if schema["additionalProperties"].is_object() {
                    check(&schema["additionalProperties"], v, &child, errors);
                } else if !preserve {
                    errors.push(format!("{child}: unknown field"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    errors.push(format!("{at}: more than {max} items"));
                }
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|m| len < m) {
                errors.push(format!("{at}: shorter than {}", schema["minLength"]));
            }
            if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
                errors.push(format!("{at}: longer than {}", schema["maxLength"]));
            }
            if let Some(p) = schema["pattern"].as_str() {
                match regex_lite::Regex::new(p) {
                    Ok(re) if !re.is_match(s) => {
                        errors.push(format!("{at}: '{s}' does not match {p}"));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        errors.push(format!("{at}: the schema's pattern {p} is invalid: {e}"))
                    }
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if schema["minimum"].as_f64().is_some_and(|m| x < m) {
                errors.push(format!("{at}: {n} is below {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|m| x > m) {
                errors.push(format!("{at}: {n} is above {}", schema["maximum"]));
            }
            if schema["format"] == "int32" && n.as_i64().is_none_or(|i| i32::try_from(i).is_err()) {
                errors.push(format!("{at}: {n} is not an int32"));
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_keyword_reports_its_problem_with_the_path() {
        let schema = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
            "n": {"type": "integer", "minimum": 1, "maximum": 5, "format": "int32"},
            "e": {"type": "string", "enum": ["X", "Y"]},
            "l": {"type": "array", "maxItems": 1, "items": {"type": "integer"}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "opt": {"type": "integer", "nullable": true}
        }});
        assert!(validate(
            &schema,
            &json!({"a": "ok", "free": {"x": [1]}, "opt": null, "m": {"k": "v"}}),
            ""
        )
        .is_empty());
        let errors = validate(
            &schema,
            &json!({"a": "TOOLONG", "n": 9, "e": "Z", "l": [1, "x"], "m": {"k": 1}, "zz": 1}),
            "",
        );
        for want in [
            ".a: longer than 3",
            ".a: 'TOOLONG' does not match",
            ".n: 9 is above 5",
            ".e: \"Z\" is not one of",
            ".l: more than 1 items",
            ".l[1]: expected integer, found string",
            ".m.k: expected string, found integer",
            ".zz: unknown field",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "{want} not in {errors:#?}"
            );
        }
        assert_eq!(
            validate(&schema, &json!({}), ""),
            vec![".: missing required field 'a'"]
        );
        assert_eq!(
            validate(&schema, &json!({}), ".spec"),
            vec![".spec: missing required field 'a'"]
        );
    }
}
