//! A sweep's outcome for people: a terminal table, and an HTML page with a
//! heatmap (the last axis across, the others down) and every cell's checks.

use super::expr::format_number;
use super::run::{CellOutcome, SweepOutcome};
use std::fmt::Write;

/// The checks shown as columns: every `run.id` in first-seen order.
fn columns(s: &SweepOutcome) -> Vec<(&'static str, String)> {
    let mut cols: Vec<(&'static str, String)> = Vec::new();
    for cell in &s.cells {
        for c in &cell.checks {
            if !cols.iter().any(|(r, id)| *r == c.run && *id == c.id) {
                cols.push((c.run, c.id.clone()));
            }
        }
    }
    cols
}

fn short(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e6 {
        format_number(v)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn cell_value(cell: &CellOutcome, run: &str, id: &str) -> String {
    match cell.checks.iter().find(|c| c.run == run && c.id == id) {
        Some(c) if c.passed => short(c.measured),
        Some(c) => format!("{}!", short(c.measured)),
        None => "-".to_string(),
    }
}

/// One line per cell: axis values, each check's measured value (`!` marks a
/// failed one), and the verdict; then the failing cells by name.
pub fn terminal(s: &SweepOutcome) -> String {
    let cols = columns(s);
    let mut header: Vec<String> = s.axes.clone();
    header.extend(cols.iter().map(|(r, id)| format!("{r}.{id}")));
    header.push("verdict".into());
    let mut rows: Vec<Vec<String>> = vec![header];
    for cell in &s.cells {
        let mut row: Vec<String> = cell.axes.iter().map(|(_, v)| v.clone()).collect();
        row.extend(cols.iter().map(|(r, id)| cell_value(cell, r, id)));
        row.push(if cell.passed() { "pass" } else { "FAIL" }.into());
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!("sweep {}: {} cells\n\n", s.name, s.cells.len());
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let failed = s.failed();
    let _ = writeln!(
        out,
        "\n{} of {} cells passed ({:.1} s wall)",
        s.cells.len() - failed.len(),
        s.cells.len(),
        s.wall_seconds
    );
    for cell in failed {
        let axes: Vec<String> = cell.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "  FAIL cell {} [{}]: {}",
            cell.index,
            axes.join(" "),
            cell.failures().join(", ")
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page.
pub fn html(s: &SweepOutcome) -> String {
    let cols = columns(s);
    let first_main = cols.iter().find(|(r, _)| *r == "main").cloned();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><meta charset=utf-8><title>sweep {name}</title>\
         <style>body{{font:14px sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}\
         .pass{{background:#c8efc8}}.fail{{background:#f5b7b1}}.info{{background:#eee}}</style>\
         <h1>sweep {name}</h1><p>{desc}</p><p>{passed} of {total} cells passed; {wall:.1} s wall.</p>",
        name = escape(&s.name),
        desc = escape(&s.description),
        passed = s.cells.len() - s.failed().len(),
        total = s.cells.len(),
        wall = s.wall_seconds
    );
    // Heatmap: the last axis across, the combinations of the others down.
    if let Some(last) = s.axes.last() {
        let across: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for c in &s.cells {
                let x = c.axes.last().map(|(_, v)| v.clone()).unwrap_or_default();
                if !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        };
        let shown = first_main
            .as_ref()
            .map_or(String::new(), |(r, id)| format!(" (tiles: {r}.{id})"));
        let _ = write!(
            out,
            "<h2>Heatmap{}</h2><table><tr><th>{}</th>",
            escape(&shown),
            escape(&s.axes[..s.axes.len() - 1].join(" / "))
        );
        for x in &across {
            let _ = write!(out, "<th>{}={}</th>", escape(last), escape(x));
        }
        out.push_str("</tr>");
        for row in s.cells.chunks(across.len().max(1)) {
            let label: Vec<String> = row[0].axes[..row[0].axes.len() - 1]
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = write!(out, "<tr><th>{}</th>", escape(&label.join(" ")));
            for cell in row {
                let class = if cell.passed() { "pass" } else { "fail" };
                let text = first_main
                    .as_ref()
                    .map_or(String::new(), |(r, id)| cell_value(cell, r, id));
                let title = cell.failures().join(", ");
                let _ = write!(
                    out,
                    "<td class={class} title=\"{}\">{}</td>",
                    escape(&title),
                    escape(&text)
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    // Every cell.
    out.push_str("<h2>Cells</h2><table><tr><th>#</th>");
    for a in &s.axes {
        let _ = write!(out, "<th>{}</th>", escape(a));
    }
    for (r, id) in &cols {
        let _ = write!(out, "<th>{}.{}</th>", r, escape(id));
    }
    out.push_str("</tr>");
    for cell in &s.cells {
        let _ = write!(out, "<tr><td>{}</td>", cell.index);
        for (_, v) in &cell.axes {
            let _ = write!(out, "<td>{}</td>", escape(v));
        }
        for (r, id) in &cols {
            let check = cell.checks.iter().find(|c| c.run == *r && c.id == *id);
            let (class, title) = match check {
                Some(c) if c.threshold.is_none() => ("info", c.text.clone()),
                Some(c) if c.passed => ("pass", c.text.clone()),
                Some(c) => ("fail", c.text.clone()),
                None => ("", "does not apply".to_string()),
            };
            let _ = write!(
                out,
                "<td class=\"{class}\" title=\"{}\">{}</td>",
                escape(&title),
                escape(&cell_value(cell, r, id))
            );
        }
        out.push_str("</tr>");
        if let Some(e) = &cell.error {
            let _ = write!(
                out,
                "<tr><td></td><td class=fail colspan={}>{}</td></tr>",
                s.axes.len() + cols.len(),
                escape(e)
            );
        }
    }
    out.push_str("</table>");
    out
}
