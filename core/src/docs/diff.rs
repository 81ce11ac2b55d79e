//! Diffs of Markdown sources: a unified text diff for scripts, and rows for a side-by-side view in which an
//! edited line is shown once on each side with the words that changed marked.

use portolan_types::docs::{DiffRow, DiffSpan};
use similar::{ChangeTag, DiffOp, TextDiff};

/// Unchanged lines shown around each change.
pub const CONTEXT: usize = 3;

/// A unified line diff from `old` to `new`, with the two sides named in its header.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    TextDiff::from_lines(old, new).unified_diff().context_radius(CONTEXT).header(old_name, new_name).to_string()
}

/// Lines added and removed.
pub fn counts(old: &str, new: &str) -> (usize, usize) {
    let (mut added, mut removed) = (0, 0);
    for change in TextDiff::from_lines(old, new).iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

fn plain(text: &str) -> Vec<DiffSpan> {
    vec![DiffSpan { text: text.trim_end_matches(['\n', '\r']).to_owned(), changed: false }]
}

/// Appends text to a side, joining runs of the same kind; the whitespace around a changed run is not marked.
fn push_span(spans: &mut Vec<DiffSpan>, text: &str, changed: bool) {
    if changed {
        let core = text.trim();
        if core.is_empty() {
            return push_plain(spans, text, false);
        }
        let start = text.len() - text.trim_start().len();
        let end = start + core.len();
        push_plain(spans, &text[..start], false);
        push_plain(spans, core, true);
        push_plain(spans, &text[end..], false);
    } else {
        push_plain(spans, text, false);
    }
}

fn push_plain(spans: &mut Vec<DiffSpan>, text: &str, changed: bool) {
    if text.is_empty() {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.changed == changed => last.text.push_str(text),
        _ => spans.push(DiffSpan { text: text.to_owned(), changed }),
    }
}

/// The two sides of an edited line, with the words that differ marked.
fn words(old: &str, new: &str) -> (Vec<DiffSpan>, Vec<DiffSpan>) {
    let old = old.trim_end_matches(['\n', '\r']);
    let new = new.trim_end_matches(['\n', '\r']);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for change in TextDiff::from_words(old, new).iter_all_changes() {
        let text = change.value();
        match change.tag() {
            ChangeTag::Equal => {
                push_span(&mut left, text, false);
                push_span(&mut right, text, false);
            }
            ChangeTag::Delete => push_span(&mut left, text, true),
            ChangeTag::Insert => push_span(&mut right, text, true),
        }
    }
    (left, right)
}

fn row(
    kind: &str,
    old_line: Option<usize>,
    new_line: Option<usize>,
    old: Vec<DiffSpan>,
    new: Vec<DiffSpan>,
) -> DiffRow {
    let number = |n: Option<usize>| n.map(|n| u32::try_from(n + 1).unwrap_or(u32::MAX));
    DiffRow { kind: kind.to_owned(), old_line: number(old_line), new_line: number(new_line), old, new }
}

/// Side-by-side rows from `old` to `new`: each change with [`CONTEXT`] unchanged lines around it, a `skip` row
/// where unchanged lines are left out. Replaced lines are paired up (first with first) and their words compared;
/// the lines left over on either side are plain removals or additions. Equal texts give no rows.
pub fn rows(old: &str, new: &str) -> Vec<DiffRow> {
    let diff = TextDiff::from_lines(old, new);
    let (old_lines, new_lines) = (diff.old_slices(), diff.new_slices());
    let mut out = Vec::new();
    for (g, group) in diff.grouped_ops(CONTEXT).iter().enumerate() {
        if g > 0 || group.first().is_some_and(|op| op.old_range().start > 0 || op.new_range().start > 0) {
            out.push(row("skip", None, None, Vec::new(), Vec::new()));
        }
        for op in group {
            match *op {
                DiffOp::Equal { old_index, new_index, len } => {
                    for i in 0..len {
                        let text = plain(old_lines[old_index + i]);
                        out.push(row("same", Some(old_index + i), Some(new_index + i), text.clone(), text));
                    }
                }
                DiffOp::Delete { old_index, old_len, .. } => {
                    for (i, line) in old_lines.iter().enumerate().skip(old_index).take(old_len) {
                        out.push(row("removed", Some(i), None, plain(line), Vec::new()));
                    }
                }
                DiffOp::Insert { new_index, new_len, .. } => {
                    for (i, line) in new_lines.iter().enumerate().skip(new_index).take(new_len) {
                        out.push(row("added", None, Some(i), Vec::new(), plain(line)));
                    }
                }
                DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                    for k in 0..old_len.max(new_len) {
                        let (o, n) = (old_index + k, new_index + k);
                        if k < old_len && k < new_len {
                            let (left, right) = words(old_lines[o], new_lines[n]);
                            out.push(row("changed", Some(o), Some(n), left, right));
                        } else if k < old_len {
                            out.push(row("removed", Some(o), None, plain(old_lines[o]), Vec::new()));
                        } else {
                            out.push(row("added", None, Some(n), Vec::new(), plain(new_lines[n])));
                        }
                    }
                }
            }
        }
    }
    if let Some(last) = diff.grouped_ops(CONTEXT).last().and_then(|g| g.last())
        && (last.old_range().end < old_lines.len() || last.new_range().end < new_lines.len())
    {
        out.push(row("skip", None, None, Vec::new(), Vec::new()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[DiffSpan]) -> String {
        spans.iter().map(|s| s.text.as_str()).collect()
    }

    fn marked(spans: &[DiffSpan]) -> Vec<&str> {
        spans.iter().filter(|s| s.changed).map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn an_edited_line_sits_beside_its_old_self_with_the_changed_words_marked() {
        let rows =
            rows("# Restart\n\nRun the restart script on host a.\n", "# Restart\n\nRun the reboot script on host b.\n");
        let changed: Vec<&DiffRow> = rows.iter().filter(|r| r.kind == "changed").collect();
        assert_eq!(changed.len(), 1, "{rows:#?}");
        let r = changed[0];
        assert_eq!((r.old_line, r.new_line), (Some(3), Some(3)));
        assert_eq!(text(&r.old), "Run the restart script on host a.");
        assert_eq!(text(&r.new), "Run the reboot script on host b.");
        assert_eq!(marked(&r.old), vec!["restart", "a."]);
        assert_eq!(marked(&r.new), vec!["reboot", "b."]);
        // The unchanged lines around it are context.
        assert!(rows.iter().filter(|r| r.kind == "same").count() == 2);
    }

    #[test]
    fn additions_and_removals_have_one_side_and_line_numbers_of_their_own() {
        let rows = rows("a\nb\nc\n", "a\nc\nd\n");
        let kinds: Vec<(&str, Option<u32>, Option<u32>)> =
            rows.iter().map(|r| (r.kind.as_str(), r.old_line, r.new_line)).collect();
        assert_eq!(
            kinds,
            vec![
                ("same", Some(1), Some(1)),
                ("removed", Some(2), None),
                ("same", Some(3), Some(2)),
                ("added", None, Some(3))
            ]
        );
    }

    #[test]
    fn long_unchanged_stretches_are_skipped_and_equal_texts_have_no_rows() {
        let old: String = (1..=40).map(|n| format!("line {n}\n")).collect();
        let new = old.replace("line 2\n", "line two\n").replace("line 39\n", "line thirty-nine\n");
        let rows = rows(&old, &new);
        assert_eq!(rows.iter().filter(|r| r.kind == "changed").count(), 2);
        assert_eq!(rows.iter().filter(|r| r.kind == "skip").count(), 1, "{rows:#?}");
        assert!(rows.len() < 20);
        assert!(super::rows(&old, &old).is_empty());
        let edited_start = super::rows(&old, &old.replace("line 20\n", "x\n"));
        assert_eq!(edited_start.first().map(|r| r.kind.as_str()), Some("skip"));
        assert_eq!(edited_start.last().map(|r| r.kind.as_str()), Some("skip"));
    }

    #[test]
    fn counts_and_the_unified_diff_agree() {
        assert_eq!(counts("a\nb\n", "a\nc\nd\n"), (2, 1));
        let u = unified("one\ntwo\n", "one\n2\n", "base", "current");
        assert!(u.contains("-two\n") && u.contains("+2\n") && u.contains("--- base"), "{u}");
    }
}
