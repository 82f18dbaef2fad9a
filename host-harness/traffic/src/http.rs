//! HTTP syntax checks for what configuration and traces put into requests.
//!
//! The harness hands these strings to filters as header maps; a name with a
//! space or a value with a newline would never reach a filter through Envoy,
//! so replaying one would test something that cannot happen. The grammar is
//! RFC 9110 (HTTP Semantics): tokens (section 5.6.2) for methods and field
//! names, field values without control characters (section 5.5).

/// `tchar` of RFC 9110 section 5.6.2: visible ASCII except delimiters.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// A header name, lower-cased (HTTP/2 and Envoy use lower case).
pub(crate) fn header_name(name: &str) -> Result<String, String> {
    if name.starts_with(':') {
        return Err(format!(
            "'{name}' is a pseudo-header; set `method`, `path` or `authority` instead"
        ));
    }
    if !is_token(name) {
        return Err(format!(
            "header name {} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
            crate::error::shown(name)
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A header value: no control characters other than horizontal tab.
pub(crate) fn header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "header value {} contains a control character",
            crate::error::shown(&value.escape_debug().to_string())
        ));
    }
    Ok(())
}

/// A request method: a token.
pub(crate) fn method(m: &str) -> Result<(), String> {
    if is_token(m) {
        Ok(())
    } else {
        Err(format!(
            "method {} is not an HTTP token",
            crate::error::shown(m)
        ))
    }
}

/// A request target (`/path?query`, `*`, or an absolute URI): non-empty, no
/// whitespace or control characters.
pub(crate) fn path(p: &str) -> Result<(), String> {
    if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!(
            "path {} must be non-empty without spaces or control characters",
            crate::error::shown(&p.escape_debug().to_string())
        ))
    } else {
        Ok(())
    }
}

/// An `:authority` (host and optional port): non-empty, no whitespace,
/// control characters or `/`.
pub(crate) fn authority(a: &str) -> Result<(), String> {
    if a.is_empty()
        || a.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Err(format!(
            "authority {} must be a host[:port] without spaces or '/'",
            crate::error::shown(&a.escape_debug().to_string())
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_lower_cased_tokens() {
        assert_eq!(
            header_name("X-Sluice-Priority").unwrap(),
            "x-sluice-priority"
        );
        assert!(header_name("x priority").is_err());
        assert!(header_name("").is_err());
        assert!(header_name("x:y").is_err());
        assert!(header_name(":path").unwrap_err().contains("pseudo-header"));
    }

    #[test]
    fn values_methods_paths_and_authorities() {
        assert!(header_value("a b\tc").is_ok());
        assert!(header_value("a\r\nx-injected: 1").is_err());
        assert!(method("PURGE").is_ok() && method("GE T").is_err() && method("").is_err());
        assert!(path("/a?b=c").is_ok() && path("*").is_ok());
        assert!(path("").is_err() && path("/a b").is_err());
        assert!(
            authority("a.b:8080").is_ok() && authority("a/b").is_err() && authority("").is_err()
        );
    }
}
