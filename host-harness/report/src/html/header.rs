//! The top of the page: what ran, and whether it met its assertions.
//!
//! The verdict comes first and names the failing assertions, because that is
//! what someone opening the report from a red CI job is looking for.

use super::escape::escape;
use crate::format;
use crate::model::Report;

pub(super) fn header(out: &mut String, report: &Report) {
    let s = &report.scenario;
    out.push_str("<header>");
    put!(out, "<h1>Sluice replay: {}</h1>", escape(&s.name));
    if !s.description.is_empty() {
        put!(
            out,
            r#"<p class="description">{}</p>"#,
            escape(&s.description)
        );
    }
    put!(
        out,
        r#"<dl class="facts"><dt>seed</dt><dd>{}</dd><dt>virtual duration</dt><dd>{} s</dd><dt>interval</dt><dd>{} s</dd><dt>workers</dt><dd>{}</dd><dt>classes</dt><dd>{}</dd></dl>"#,
        s.seed,
        format::number(s.duration_s),
        format::number(s.interval_s),
        s.workers,
        escape(&report.class_names().join(", "))
    );
    modules(out, report);
    verdict(out, report);
    out.push_str("</header>");
}

fn modules(out: &mut String, report: &Report) {
    let modules = &report.scenario.modules;
    if modules.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"modules\"><thead><tr><th>plugin</th><th>module</th><th>sha256</th>\
         <th class=\"num\">size</th></tr></thead><tbody>",
    );
    for m in modules {
        // 12 hex digits tell builds apart at a glance; the full hash is in
        // the cell's tooltip and in the JSON report.
        let short: String = m.sha256.chars().take(12).collect();
        put!(
            out,
            r#"<tr><td>{}</td><td class="path">{}</td><td class="hash" title="{}">{}</td><td class="num">{}</td></tr>"#,
            escape(&m.name),
            escape(&m.path),
            escape(&m.sha256),
            escape(&short),
            size(m.size_bytes)
        );
    }
    out.push_str("</tbody></table>");
}

fn verdict(out: &mut String, report: &Report) {
    let total = report.assertions.len();
    let failed = report.failed_count();
    if total == 0 {
        out.push_str(r#"<div class="verdict none"><strong>No assertions</strong></div>"#);
        return;
    }
    if failed == 0 {
        let all = if total == 1 {
            "The assertion passed".to_string()
        } else {
            format!("All {total} assertions passed")
        };
        put!(
            out,
            r#"<div class="verdict pass"><strong>PASS</strong> {all}</div>"#
        );
        return;
    }
    put!(
        out,
        r#"<div class="verdict fail"><strong>FAIL</strong> {failed} of {total} assertions failed<ul>"#
    );
    for a in report.assertions.iter().filter(|a| !a.passed) {
        put!(
            out,
            "<li><code>{}</code>: measured {}, threshold {}</li>",
            escape(&a.text),
            format::sig(a.measured, 4),
            format::number(a.threshold)
        );
    }
    out.push_str("</ul></div>");
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(180 * 1024), "180.0 KiB");
        assert_eq!(size(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
