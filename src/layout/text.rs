//! Text measurement and line breaking (no pixels: shaped advances only).
//!
//! Lines break where [`breaks`] says a designer would (words kept whole, punctuation and
//! kinsoku rules, no line of one character, full or balanced lines). An explicit newline always
//! breaks. When the text needs more than `max_lines`, the last kept line takes what fits of the
//! rest and ends with `…`.

use super::breaks;
use crate::fonts::shape::{self, ShapedLine};
use crate::fonts::FontHandle;
use std::sync::Arc;

const ELLIPSIS: &str = "…";

/// Zero-width markers around highlighted text while it is wrapped (private-use code points
/// that never occur in titles: [`parse_markup`] removes any that do).
pub const HIGHLIGHT_START: char = '\u{E000}';
/// End of a highlighted run.
pub const HIGHLIGHT_END: char = '\u{E001}';

/// Turns title markup into marked text: `**word**` highlights `word` (the asterisks go);
/// `【word】` highlights the brackets and the word, as short-video covers do.
pub fn parse_markup(text: &str) -> String {
    let clean: String = text.chars().filter(|&c| c != HIGHLIGHT_START && c != HIGHLIGHT_END).collect();
    let mut out = String::with_capacity(clean.len() + 8);
    let mut rest = clean.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                out.push(HIGHLIGHT_START);
                out.push_str(&after[..end]);
                out.push(HIGHLIGHT_END);
                rest = &after[end + 2..];
                continue;
            }
        }
        if rest.starts_with('【') {
            if let Some(end) = rest.find('】') {
                out.push(HIGHLIGHT_START);
                out.push_str(&rest[..end + '】'.len_utf8()]);
                out.push(HIGHLIGHT_END);
                rest = &rest[end + '】'.len_utf8()..];
                continue;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Removes the markers from a wrapped line and returns it with its highlighted character
/// ranges (`[start, end)` in chars). `open` carries a run that continues from the line before.
pub fn split_highlights(line: &str, open: &mut bool) -> (String, Vec<[usize; 2]>) {
    let mut text = String::with_capacity(line.len());
    let mut ranges = Vec::new();
    let mut start = if *open { Some(0) } else { None };
    let mut n = 0;
    for c in line.chars() {
        match c {
            HIGHLIGHT_START => start = start.or(Some(n)),
            HIGHLIGHT_END => {
                if let Some(s) = start.take() {
                    if n > s {
                        ranges.push([s, n]);
                    }
                }
            }
            _ => {
                text.push(c);
                n += 1;
            }
        }
    }
    *open = start.is_some();
    if let Some(s) = start {
        if n > s {
            ranges.push([s, n]);
        }
    }
    (text, ranges)
}

/// `s` without highlight markers.
pub fn strip_markers(s: &str) -> String {
    s.chars().filter(|&c| c != HIGHLIGHT_START && c != HIGHLIGHT_END).collect()
}

/// Measures shaped text (see [`crate::fonts::shape`]) at one size over a font fallback chain,
/// with letter spacing between characters.
pub struct Measurer<'a> {
    chain: &'a [Arc<FontHandle>],
    size: f32,
    spacing: f32,
    /// Set for vertical text: lengths run down a column (see [`upright_in_column`]); whether
    /// Latin letters stand upright too.
    vertical: Option<bool>,
}

/// Whether a cluster stands upright in a vertical column (CJK, kana, hangul, full-width forms,
/// emoji; Latin and digits too with `latin_upright`), or is turned a quarter clockwise with
/// the run it belongs to (Latin words, as in Chinese and Japanese vertical setting).
pub fn upright_in_column(cluster: &str, latin_upright: bool) -> bool {
    latin_upright
        || cluster.chars().any(|c| breaks::is_cjk(c) || c as u32 >= 0x1F000 || "\u{3000}…‥—".contains(c))
}

impl<'a> Measurer<'a> {
    /// A measurer for the `chain` (first font first) at em size `size` px, adding `spacing` px
    /// between characters.
    pub fn new(chain: &'a [Arc<FontHandle>], size: f32, spacing: f32) -> Self {
        Measurer { chain, size, spacing, vertical: None }
    }

    /// A measurer of vertical columns: upright clusters advance one em, turned runs their
    /// horizontal width.
    pub fn vertical(chain: &'a [Arc<FontHandle>], size: f32, spacing: f32, latin_upright: bool) -> Self {
        Measurer { chain, size, spacing, vertical: Some(latin_upright) }
    }

    /// Each cluster's advance in px along the line (or column).
    fn advances(&self, text: &str, shaped: &ShapedLine) -> Vec<f32> {
        shaped
            .clusters
            .iter()
            .map(|(r, a)| match self.vertical {
                Some(latin_upright) if upright_in_column(&text[r.clone()], latin_upright) => self.size,
                _ => a * self.size,
            })
            .collect()
    }

    /// The line `s` shaped (highlight markers removed).
    pub fn shape(&self, s: &str) -> Arc<ShapedLine> {
        shape::shape(self.chain, &strip_markers(s))
    }

    /// Advance width of `s` in pixels (highlight markers have no width); for vertical text,
    /// the length of its column.
    pub fn width(&self, s: &str) -> f32 {
        let s = strip_markers(s);
        let shaped = shape::shape(self.chain, &s);
        if self.vertical.is_none() {
            return shaped.width_px(self.size, self.spacing);
        }
        let gaps = shaped.clusters.len().saturating_sub(1) as f32;
        self.advances(&s, &shaped).iter().sum::<f32>() + gaps * self.spacing
    }

    /// Which fonts of the chain `s` uses (indices, sorted).
    pub fn fonts_used(&self, s: &str) -> Vec<usize> {
        let mut used: Vec<usize> = Vec::new();
        for p in strip_markers(s).split('\n') {
            used.extend(shape::shape(self.chain, p).glyphs.iter().map(|g| g.font));
        }
        used.sort_unstable();
        used.dedup();
        used
    }

    /// Characters of `s` that no font of the chain has a glyph for.
    pub fn missing(&self, s: &str) -> Vec<char> {
        let mut v: Vec<char> = Vec::new();
        for p in strip_markers(s).split('\n') {
            let shaped = shape::shape(self.chain, p);
            for (range, _) in &shaped.clusters {
                let missing = shaped.glyphs.iter().any(|g| g.id == 0 && range.contains(&g.cluster));
                if missing {
                    v.extend(p[range.clone()].chars().filter(|&c| {
                        !c.is_whitespace() && !c.is_control() && !shape::is_default_ignorable(c)
                    }));
                }
            }
        }
        v.dedup();
        v
    }

    /// `paragraph` (no markers, no newline) as clusters with widths and break classes.
    fn paragraph<'t>(&self, paragraph: &'t str) -> breaks::Paragraph<'t> {
        let shaped = shape::shape(self.chain, paragraph);
        let ranges: Vec<_> = shaped.clusters.iter().map(|(r, _)| r.clone()).collect();
        let spaced =
            if self.vertical.is_some() { vec![true; ranges.len()] } else { shaped.spaceable.clone() };
        let classes = breaks::classes(paragraph);
        // Both are the paragraph's grapheme clusters (unicode-segmentation, extended).
        debug_assert_eq!(classes.len(), ranges.len());
        breaks::Paragraph::new(
            ranges.iter().map(|r| &paragraph[r.clone()]).collect(),
            &self.advances(paragraph, &shaped),
            &spaced,
            self.spacing,
            classes,
        )
    }
}

/// The result of wrapping: lines and whether text was cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapped {
    /// Lines with their widths in pixels.
    pub lines: Vec<(String, f32)>,
    /// Whether an ellipsis replaced the end of the text.
    pub truncated: bool,
}

/// Wraps `text` (with highlight markers) into lines at most `max_width` px wide and at most
/// `max_lines` lines, filling each line but the last (see [`breaks`] for the rules).
pub fn wrap(text: &str, m: &Measurer<'_>, max_width: f32, max_lines: usize) -> Wrapped {
    set(text, m, max_width, max_lines, breaks::Shape::Full)
}

/// Wraps like [`wrap`], with lines of similar width (two balanced lines instead of a long one
/// and a short one).
pub fn wrap_balanced(text: &str, m: &Measurer<'_>, max_width: f32, max_lines: usize) -> Wrapped {
    set(text, m, max_width, max_lines, breaks::Shape::Balanced)
}

fn set(marked: &str, m: &Measurer<'_>, max_width: f32, max_lines: usize, shape: breaks::Shape) -> Wrapped {
    let max_lines = max_lines.max(1);
    let clean = strip_markers(marked);
    // Lines as byte ranges of `clean`, ends trimmed of spaces. When the text needs more lines
    // than it may have, lines are filled as far as they go instead (the most text before the
    // ellipsis).
    let mut offset = 0;
    let paragraphs: Vec<(usize, &str, breaks::Paragraph<'_>)> = clean
        .split('\n')
        .map(|text| {
            let at = offset;
            offset += text.len() + 1;
            (at, text, m.paragraph(text))
        })
        .collect();
    let mut chosen = Vec::new();
    for (_, _, p) in &paragraphs {
        match breaks::choose(p, max_width, max_lines, shape) {
            Some(starts) => chosen.push(starts),
            None => break,
        }
    }
    let needed: usize = chosen.iter().map(|s| s.len() + 1).sum();
    let mut truncated = chosen.len() < paragraphs.len() || needed > max_lines;
    if truncated {
        chosen = paragraphs.iter().map(|(_, _, p)| breaks::greedy(p, max_width, max_lines)).collect();
        truncated = greedy_overflows(&paragraphs, max_width, max_lines);
    }
    let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
    // Each line's paragraph and first cluster.
    let mut sources: Vec<(usize, usize)> = Vec::new();
    for (pi, ((offset, paragraph, p), starts)) in paragraphs.iter().zip(chosen).enumerate() {
        let mut bounds: Vec<usize> = vec![0];
        bounds.extend(starts);
        bounds.push(p.clusters.len());
        let byte = |k: usize| if k < p.clusters.len() { m_start(p, k) } else { paragraph.len() };
        for w in bounds.windows(2) {
            let (a, b) = (byte(w[0]), byte(w[1]));
            let line = &paragraph[a..b];
            let lead = line.len() - line.trim_start().len();
            let trail = line.len() - line.trim_end().len();
            let (a, b) = (a + lead, (b - trail).max(a + lead));
            lines.push(offset + a..offset + b);
            sources.push((pi, w[0]));
        }
        if lines.len() > max_lines {
            break;
        }
    }
    while lines.len() > 1 && lines.last().is_some_and(|r| r.is_empty()) {
        lines.pop();
    }
    if lines.len() > max_lines {
        truncated = true;
        lines.truncate(max_lines);
    }
    if truncated {
        // The last line takes what fits of the rest of its paragraph, then the ellipsis.
        let (pi, first) = sources[lines.len() - 1];
        let (offset, paragraph, p) = &paragraphs[pi];
        let room = max_width - m.width(ELLIPSIS) - m.spacing;
        let mut end = first;
        while end < p.clusters.len() && p.width(first, end + 1) <= room {
            end += 1;
        }
        let cut = &paragraph[m_start(p, first)..m_start(p, end)];
        let last = lines.last_mut().expect("at least one line");
        last.end = (offset + m_start(p, first) + cut.trim_end().len()).max(last.start);
    }
    let mut texts = restore_markers(marked, &lines);
    if truncated {
        texts.last_mut().expect("at least one line").push_str(ELLIPSIS);
    }
    Wrapped {
        lines: texts
            .into_iter()
            .map(|l| {
                let w = m.width(&l);
                (l, w)
            })
            .collect(),
        truncated,
    }
}

/// Whether filling lines greedily needs more than `max_lines` lines.
fn greedy_overflows(
    paragraphs: &[(usize, &str, breaks::Paragraph<'_>)],
    max_width: f32,
    max_lines: usize,
) -> bool {
    let lines: usize =
        paragraphs.iter().map(|(_, _, p)| breaks::greedy(p, max_width, usize::MAX).len() + 1).sum();
    lines > max_lines
}

/// Byte offset of cluster `k` of a paragraph.
fn m_start(p: &breaks::Paragraph<'_>, k: usize) -> usize {
    let k = k.min(p.clusters.len());
    p.clusters[..k].iter().map(|c| c.len()).sum()
}

/// The `lines` (byte ranges of `marked` without its markers) with the markers put back: an
/// opening marker goes with the text after it, a closing one with the text before it; markers
/// in text cut off by an ellipsis go.
fn restore_markers(marked: &str, lines: &[std::ops::Range<usize>]) -> Vec<String> {
    let mut out = vec![String::new(); lines.len()];
    let mut clean_at = 0;
    for c in marked.chars() {
        let k = match c {
            HIGHLIGHT_START => {
                lines.iter().position(|r| clean_at < r.end || (clean_at == r.start && r.is_empty()))
            }
            HIGHLIGHT_END => lines.iter().rposition(|r| r.start < clean_at),
            _ => {
                let k = lines.iter().position(|r| r.contains(&clean_at));
                clean_at += c.len_utf8();
                k
            }
        };
        if let Some(k) = k {
            out[k].push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_marks_and_splits_highlights() {
        let marked = parse_markup("【爆款】三分钟 **红烧肉**");
        assert_eq!(marked, "\u{E000}【爆款】\u{E001}三分钟 \u{E000}红烧肉\u{E001}");
        let mut open = false;
        let (text, ranges) = split_highlights(&marked, &mut open);
        assert_eq!(text, "【爆款】三分钟 红烧肉");
        assert_eq!(ranges, vec![[0, 4], [8, 11]]);
        // A run broken across lines continues on the next one.
        let (a, ra) = split_highlights("前\u{E000}红烧", &mut open);
        let (b, rb) = split_highlights("肉\u{E001}后", &mut open);
        assert_eq!((a.as_str(), ra, b.as_str(), rb), ("前红烧", vec![[1, 3]], "肉后", vec![[0, 1]]));
        // Unclosed markup stays literal.
        assert_eq!(parse_markup("**not closed"), "**not closed");
    }
}
