//! A small line chart drawn as inline SVG.
//!
//! The report must open from a CI artifact or a mail attachment with nothing
//! else around it, so charts are plain SVG elements written as text: no
//! script, no external stylesheet or font. Styling that is the same for
//! every chart (fonts, grid colour) lives in the page's CSS under `.chart`;
//! what differs per line (colour, dashes) is written on the element.
//!
//! Points whose x or y is not finite are not drawn and break the line, so a
//! caller marks "no data in this interval" with `f64::NAN`.

use super::escape::escape;
use super::ticks::Axis;

/// One line of a chart.
#[derive(Clone, Debug)]
pub(super) struct Line {
    pub label: String,
    /// A CSS colour.
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct LineChart {
    /// The chart's accessible name (SVG `<title>`).
    pub title: String,
    pub x_title: String,
    /// Includes the unit, e.g. `requests / s`.
    pub y_title: String,
    /// A range the x axis covers even where no line has points, so that
    /// charts of one run share their time axis.
    pub x_span: Option<(f64, f64)>,
    pub lines: Vec<Line>,
}

const WIDTH: f64 = 720.0;
const PLOT_HEIGHT: f64 = 190.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 18.0;
const BOTTOM: f64 = 44.0;
const LEGEND_ROW: f64 = 18.0;
/// Rough advance of one legend character at the CSS font size (12 px); only
/// used to lay legend entries out in rows.
const CHAR_WIDTH: f64 = 6.8;

/// Renders `chart` as one `<svg>` element.
pub(super) fn render(chart: &LineChart) -> String {
    let legend = legend_layout(&chart.lines);
    let top = 10.0 + legend.rows as f64 * LEGEND_ROW;
    let height = top + PLOT_HEIGHT + BOTTOM;
    let plot_width = WIDTH - LEFT - RIGHT;

    let (x_axis, y_axis, has_data) = axes(chart);
    let sx = |x: f64| LEFT + x_axis.fraction(x) * plot_width;
    let sy = |y: f64| top + PLOT_HEIGHT - y_axis.fraction(y) * PLOT_HEIGHT;

    let mut out = String::new();
    put!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img">"#
    );
    put!(out, "<title>{}</title>", escape(&chart.title));

    // Grid and tick labels.
    for y in y_axis.ticks() {
        let py = sy(y);
        put!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT + plot_width,
            LEFT - 6.0,
            py + 4.0,
            y_axis.label(y)
        );
    }
    let bottom = top + PLOT_HEIGHT;
    for x in x_axis.ticks() {
        let px = sx(x);
        put!(
            out,
            r#"<line class="axis" x1="{px:.1}" x2="{px:.1}" y1="{bottom:.1}" y2="{:.1}"/><text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 4.0,
            bottom + 16.0,
            x_axis.label(x)
        );
    }
    put!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{top:.1}" y2="{bottom:.1}"/><line class="axis" x1="{LEFT}" x2="{:.1}" y1="{bottom:.1}" y2="{bottom:.1}"/>"#,
        LEFT + plot_width
    );

    // Axis titles.
    put!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_width / 2.0,
        height - 8.0,
        escape(&chart.x_title)
    );
    let mid_y = top + PLOT_HEIGHT / 2.0;
    put!(
        out,
        r#"<text class="axis-title" x="14" y="{mid_y:.1}" text-anchor="middle" transform="rotate(-90 14 {mid_y:.1})">{}</text>"#,
        escape(&chart.y_title)
    );

    if !has_data {
        put!(
            out,
            r#"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">no data</text>"#,
            LEFT + plot_width / 2.0,
            mid_y
        );
    }

    for line in &chart.lines {
        draw_line(&mut out, line, &sx, &sy);
    }
    draw_legend(&mut out, &chart.lines, &legend);
    out.push_str("</svg>");
    out
}

/// The axes for the chart's finite points; `false` when there are none.
/// The y axis always includes zero: rates, latencies and counts start there,
/// and a floating baseline would exaggerate small changes.
fn axes(chart: &LineChart) -> (Axis, Axis, bool) {
    let finite = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let mut xs: Option<(f64, f64)> = chart
        .x_span
        .filter(|(a, b)| a.is_finite() && b.is_finite() && b > a);
    let (mut y_lo, mut y_hi, mut has_data) = (0.0f64, 0.0f64, false);
    for &(x, y) in finite {
        has_data = true;
        xs = Some(match xs {
            Some((lo, hi)) => (lo.min(x), hi.max(x)),
            None => (x, x),
        });
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    }
    let (x_lo, x_hi) = match xs {
        Some((lo, hi)) if hi > lo => (lo, hi),
        // One x value: centre it.
        Some((x, _)) => (x - 0.5, x + 0.5),
        None => (0.0, 1.0),
    };
    (
        Axis::loose(x_lo, x_hi, 10),
        Axis::loose(y_lo, y_hi, 5),
        has_data,
    )
}

fn draw_line(out: &mut String, line: &Line, sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64) {
    let dash = if line.dashed {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let color = line.color;
    for run in line
        .points
        .split(|(x, y)| !(x.is_finite() && y.is_finite()))
        .filter(|run| !run.is_empty())
    {
        if let [(x, y)] = run {
            // A lone point has no segment to draw; show it as a dot.
            put!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                sx(*x),
                sy(*y)
            );
            continue;
        }
        out.push_str(r#"<polyline points=""#);
        for (i, (x, y)) in run.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            put!(out, "{sep}{:.1},{:.1}", sx(*x), sy(*y));
        }
        put!(
            out,
            r#"" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round"{dash}/>"#
        );
    }
}

/// Where each legend entry goes: rows of entries across the top.
struct Legend {
    rows: usize,
    /// (x, row) per line.
    at: Vec<(f64, usize)>,
}

fn legend_layout(lines: &[Line]) -> Legend {
    let (mut x, mut row) = (LEFT, 0usize);
    let mut at = Vec::with_capacity(lines.len());
    for line in lines {
        let w = 30.0 + line.label.chars().count() as f64 * CHAR_WIDTH;
        if x > LEFT && x + w > WIDTH - RIGHT {
            x = LEFT;
            row += 1;
        }
        at.push((x, row));
        x += w;
    }
    Legend {
        rows: if lines.is_empty() { 0 } else { row + 1 },
        at,
    }
}

fn draw_legend(out: &mut String, lines: &[Line], legend: &Legend) {
    for (line, &(x, row)) in lines.iter().zip(&legend.at) {
        let y = 14.0 + row as f64 * LEGEND_ROW;
        let dash = if line.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        put!(
            out,
            r#"<line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2.5"{dash}/><text class="legend" x="{:.1}" y="{y:.1}">{}</text>"#,
            x + 18.0,
            y - 4.0,
            y - 4.0,
            line.color,
            x + 23.0,
            escape(&line.label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>) -> LineChart {
        LineChart {
            title: "t".into(),
            x_title: "virtual time (s)".into(),
            y_title: "requests / s".into(),
            x_span: None,
            lines: vec![Line {
                label: "offered".into(),
                color: "#000",
                dashed: false,
                points,
            }],
        }
    }

    #[test]
    fn draws_a_polyline_with_ticks_and_titles() {
        let svg = render(&chart(vec![(0.0, 0.0), (1.0, 40.0), (2.0, 90.0)]));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains(">100</text>"), "{svg}");
        assert!(svg.contains(">requests / s</text>"));
        assert!(svg.contains(">virtual time (s)</text>"));
        assert!(svg.contains(">offered</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn non_finite_points_break_the_line() {
        let svg = render(&chart(vec![
            (0.0, 1.0),
            (1.0, 2.0),
            (2.0, f64::NAN),
            (3.0, 2.0),
            (4.0, f64::INFINITY),
            (f64::NEG_INFINITY, 3.0),
            (5.0, 1.0),
            (6.0, 1.0),
        ]));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn degenerate_inputs_render() {
        for points in [vec![], vec![(3.0, 7.0)], vec![(0.0, 0.0), (1.0, 0.0)]] {
            let svg = render(&chart(points));
            assert!(svg.ends_with("</svg>"));
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
        assert!(render(&chart(vec![])).contains(">no data</text>"));
        let mut no_lines = chart(vec![]);
        no_lines.lines.clear();
        assert!(render(&no_lines).contains(">no data</text>"));
    }

    #[test]
    fn text_is_escaped() {
        let mut c = chart(vec![(0.0, 1.0)]);
        c.title = "<t>".into();
        c.lines[0].label = "a&b".into();
        let svg = render(&c);
        assert!(svg.contains("<title>&lt;t&gt;</title>"));
        assert!(svg.contains(">a&amp;b</text>"));
    }

    #[test]
    fn long_legends_wrap() {
        let mut c = chart(vec![]);
        c.lines = (0..12)
            .map(|i| Line {
                label: format!("sluice.throttle.some_metric_{i}"),
                color: "#000",
                dashed: i % 2 == 0,
                points: vec![(0.0, i as f64)],
            })
            .collect();
        let layout = legend_layout(&c.lines);
        assert!(layout.rows > 1);
        assert!(layout.at.iter().zip(&c.lines).all(|(&(x, _), l)| x >= LEFT
            && (x + 30.0 + l.label.len() as f64 * CHAR_WIDTH <= WIDTH - RIGHT || x == LEFT)));
    }
}
