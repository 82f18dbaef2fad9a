//! Escaping for text placed in HTML (and inline SVG).
//!
//! Everything a report carries as text (scenario names and descriptions,
//! class, cluster and metric names, assertion text, guest trap messages)
//! comes from scenario files or guest modules, so it is escaped before it
//! reaches the page. The same escaping serves element content and quoted
//! attribute values, which is all the renderer produces.

/// `text` with `& < > " '` replaced by character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b>&"x"</b>'"#),
            "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;&#39;"
        );
    }

    #[test]
    fn leaves_plain_text_alone() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("sluice.throttle.limit"), "sluice.throttle.limit");
        assert_eq!(escape("größe ≥ 0.995"), "größe ≥ 0.995");
    }

    #[test]
    fn escapes_existing_references_again() {
        // Text is text: an `&amp;` in a name must show as `&amp;`.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
