//! A line diff for golden files, small enough to read in a CI log.
//!
//! Lines are matched by a longest common subsequence (the classic dynamic
//! programme, as in Hunt & McIlroy's `diff`, without their speed-ups):
//! golden summaries are a few dozen lines, so the quadratic table is tiny.
//! Only differing lines are printed, each with its line number in its own
//! file; within a changed block the expected lines come first.

/// Beyond this many table cells (about 16 MB), lines are compared by
/// position instead: the output is coarser but memory stays bounded.
const MAX_CELLS: usize = 4_000_000;
/// A wholly different file would flood the log; the rest is counted.
const MAX_LINES: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Same,
    /// Only in the expected text, at this index.
    Expected(usize),
    /// Only in the actual text, at this index.
    Actual(usize),
}

/// The lines that differ between `expected` and `actual`, formatted as
/// `- expected   N: line` and `+ actual     N: line`.
pub(super) fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let ops = if (a.len() + 1).saturating_mul(b.len() + 1) <= MAX_CELLS {
        lcs_ops(&a, &b)
    } else {
        positional_ops(&a, &b)
    };
    let mut lines = Vec::new();
    // Each block of changes between two common lines: expected, then actual.
    for block in ops.split(|op| *op == Op::Same) {
        for op in block {
            if let Op::Expected(i) = op {
                lines.push(format!("- expected {:>4}: {}", i + 1, a[*i]));
            }
        }
        for op in block {
            if let Op::Actual(j) = op {
                lines.push(format!("+ actual   {:>4}: {}", j + 1, b[*j]));
            }
        }
    }
    if lines.is_empty() {
        // Equal line by line: only a final newline or blank lines differ.
        return "(the files differ only in line breaks at the end)\n".to_string();
    }
    let hidden = lines.len().saturating_sub(MAX_LINES);
    lines.truncate(MAX_LINES);
    let mut out = lines.join("\n");
    out.push('\n');
    if hidden > 0 {
        out.push_str(&format!("... and {hidden} more differing lines\n"));
    }
    out
}

/// Edit operations from the LCS table of suffixes: `len[i][j]` is the length
/// of the longest common subsequence of `a[i..]` and `b[j..]`.
fn lcs_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut len = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i * width + j] = if a[i] == b[j] {
                len[(i + 1) * width + j + 1] + 1
            } else {
                len[(i + 1) * width + j].max(len[i * width + j + 1])
            };
        }
    }
    let mut ops = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if len[(i + 1) * width + j] >= len[i * width + j + 1] {
            ops.push(Op::Expected(i));
            i += 1;
        } else {
            ops.push(Op::Actual(j));
            j += 1;
        }
    }
    ops.extend((i..n).map(Op::Expected));
    ops.extend((j..m).map(Op::Actual));
    ops
}

/// Line k against line k; for inputs too large for the table.
fn positional_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let mut ops = Vec::new();
    for k in 0..a.len().max(b.len()) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => ops.push(Op::Same),
            (x, y) => {
                if x.is_some() {
                    ops.push(Op::Expected(k));
                }
                if y.is_some() {
                    ops.push(Op::Actual(k));
                }
                ops.push(Op::Same);
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_line_shows_both_sides_with_numbers() {
        let d = line_diff("a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(d, "- expected    2: b\n+ actual      2: B\n");
    }

    #[test]
    fn insertions_and_deletions_keep_their_own_numbers() {
        let d = line_diff("a\nb\nc\nd\n", "a\nc\nd\ne\n");
        assert_eq!(d, "- expected    2: b\n+ actual      4: e\n");
        let d = line_diff("", "x\n");
        assert_eq!(d, "+ actual      1: x\n");
    }

    #[test]
    fn a_changed_block_lists_expected_first() {
        let d = line_diff("k\n1\n2\nz\n", "k\nx\ny\nz\n");
        assert_eq!(
            d,
            "- expected    2: 1\n- expected    3: 2\n+ actual      2: x\n+ actual      3: y\n"
        );
    }

    #[test]
    fn trailing_newline_only() {
        assert!(line_diff("a\n", "a").contains("line breaks at the end"));
    }

    #[test]
    fn positional_fallback_and_cap() {
        let a: Vec<&str> = vec!["same", "x"];
        let b: Vec<&str> = vec!["same", "y", "z"];
        assert_eq!(
            positional_ops(&a, &b),
            vec![
                Op::Same,
                Op::Expected(1),
                Op::Actual(1),
                Op::Same,
                Op::Actual(2),
                Op::Same
            ]
        );
        let many_a: String = (0..300).map(|i| format!("a{i}\n")).collect();
        let many_b: String = (0..300).map(|i| format!("b{i}\n")).collect();
        let d = line_diff(&many_a, &many_b);
        assert_eq!(d.lines().count(), MAX_LINES + 1);
        assert!(d.ends_with("... and 400 more differing lines\n"));
    }
}
