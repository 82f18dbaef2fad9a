//! The HTML report: one self-contained file.
//!
//! A report is read from CI artifacts, attached to issues, opened offline; so
//! it is a single HTML5 file with inline CSS and inline SVG charts, and it
//! neither runs scripts nor fetches anything (fonts, stylesheets, images).
//! Every piece of text taken from the report is escaped with [`escape`].
//!
//! Page order: header with the verdict, assertions (failing first), totals,
//! upstream clusters, charts, final metric values, VM events, run facts.

mod charts;
mod escape;
mod header;
mod svg;
mod tables;
mod ticks;

#[cfg(test)]
mod tests;

pub use escape::escape;

use crate::format;
use crate::model::Report;

/// Inline stylesheet; kept in its own file so it can be read and edited as CSS.
const STYLE: &str = include_str!("html/style.css");

/// The report as a complete HTML document.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    put!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sluice report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&report.scenario.name)
    );
    let sections: [fn(&mut String, &Report); 8] = [
        header::header,
        tables::assertions,
        tables::totals,
        tables::upstream,
        figures,
        tables::metrics,
        tables::vm_events,
        footer,
    ];
    for section in sections {
        section(&mut out, report);
        // One line per section keeps the source readable and diffable.
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn figures(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="charts"><h2>Over time</h2>"#);
    let figures = charts::figures(report);
    if figures.is_empty() {
        out.push_str("<p>No intervals were recorded.</p></section>");
        return;
    }
    out.push_str(r#"<div class="charts">"#);
    for f in figures {
        put!(
            out,
            "<figure><figcaption>{}</figcaption>{}</figure>\n",
            escape(&f.caption),
            svg::render(&f.chart)
        );
    }
    out.push_str("</div></section>");
}

fn footer(out: &mut String, report: &Report) {
    let run = &report.run;
    put!(
        out,
        "<footer>Replayed in {} s of wall-clock time: {} simulated requests, {}\u{d7} faster \
         than real time. sluice-harness {}.</footer>\n",
        format::sig(run.wall_seconds, 3),
        run.simulated_requests,
        format::sig(run.speedup, 3),
        escape(if run.harness_version.is_empty() {
            "(version unknown)"
        } else {
            &run.harness_version
        })
    );
}
