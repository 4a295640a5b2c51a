//! Text measurement and line breaking (no pixels: advances and kerning only).
//!
//! Break rules: a line may break between any two CJK characters and at spaces; Latin words and
//! numbers are never split unless a single word is wider than the box, and a number keeps the
//! CJK character after it (its unit: `3分钟` never breaks after the `3`). Closing punctuation
//! (`，。、！？」）…` and friends) sticks to the character before it and opening punctuation to
//! the one after, so no line starts with a closing mark or ends with an opening one. An explicit
//! newline always breaks. When the text needs more than `max_lines`, the last kept line ends
//! with `…`, shortened until it fits.

use crate::fonts::FontHandle;
use ab_glyph::{Font, ScaleFont};

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

/// Characters that must not start a line.
fn is_closing(c: char) -> bool {
    "，。、；：！？）」』】》〉〕｝”’…·,.;:!?)]}%\u{E001}".contains(c)
}

/// Characters that must not end a line.
fn is_opening(c: char) -> bool {
    "（「『【《〈〔｛“‘([{\u{E000}".contains(c)
}

/// Ideographs, kana, hangul and full-width forms: each is its own breakable unit.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF
        | 0x20000..=0x2FA1F)
}

/// Characters that take no room: highlight markers, emoji variation selectors, joiners.
pub fn is_invisible(c: char) -> bool {
    matches!(c, HIGHLIGHT_START | HIGHLIGHT_END | '\u{FE0E}' | '\u{FE0F}' | '\u{200D}')
}

/// The font of a fallback chain that has `c` (index into the chain) and its glyph; the first
/// font (with glyph 0, the "missing" box) when none has it.
pub fn pick_font(chain: &[ab_glyph::PxScaleFont<&ab_glyph::FontArc>], c: char) -> (usize, ab_glyph::GlyphId) {
    chain
        .iter()
        .enumerate()
        .map(|(i, f)| (i, f.glyph_id(c)))
        .find(|(_, id)| id.0 != 0)
        .unwrap_or((0, ab_glyph::GlyphId(0)))
}

/// Measures advance widths with kerning and letter spacing at one size, over a font fallback
/// chain: each character comes from the first font that has it.
pub struct Measurer<'a> {
    fonts: Vec<ab_glyph::PxScaleFont<&'a ab_glyph::FontArc>>,
    spacing: f32,
}

impl<'a> Measurer<'a> {
    /// A measurer for the `chain` (first font first) at em size `size` px, adding `spacing` px
    /// between characters.
    pub fn new(chain: &'a [std::sync::Arc<FontHandle>], size: f32, spacing: f32) -> Self {
        Measurer { fonts: chain.iter().map(|f| f.font.as_scaled(f.scale(size))).collect(), spacing }
    }

    /// Advance width of `s` in pixels (highlight markers and selectors have no width).
    pub fn width(&self, s: &str) -> f32 {
        let mut w = 0.0;
        let mut prev: Option<(usize, ab_glyph::GlyphId)> = None;
        for c in s.chars().filter(|&c| !is_invisible(c)) {
            let (fi, id) = pick_font(&self.fonts, c);
            let font = &self.fonts[fi];
            if let Some((pf, p)) = prev {
                w += self.spacing + if pf == fi { font.kern(p, id) } else { 0.0 };
            }
            w += font.h_advance(id);
            prev = Some((fi, id));
        }
        w
    }

    /// Which fonts of the chain `s` uses (indices, sorted).
    pub fn fonts_used(&self, s: &str) -> Vec<usize> {
        let mut used: Vec<usize> =
            s.chars().filter(|&c| !is_invisible(c)).map(|c| pick_font(&self.fonts, c).0).collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    /// Characters of `s` that the font has no glyph for.
    pub fn missing(&self, s: &str) -> Vec<char> {
        let mut v: Vec<char> = s
            .chars()
            .filter(|&c| !is_invisible(c))
            .filter(|&c| !c.is_whitespace() && !c.is_control() && pick_font(&self.fonts, c).1 .0 == 0)
            .collect();
        v.dedup();
        v
    }
}

/// Splits a paragraph into unbreakable units; spaces are their own units.
fn units(paragraph: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut glue_next = false; // the previous unit ended with opening punctuation
    let flush = |word: &mut String, out: &mut Vec<String>, glue: &mut bool| {
        if !word.is_empty() {
            if *glue {
                out.last_mut().expect("glue implies a unit").push_str(word);
                *glue = false;
            } else {
                out.push(std::mem::take(word));
            }
            word.clear();
        }
    };
    for c in paragraph.chars() {
        if c == ' ' || c == '\t' {
            flush(&mut word, &mut out, &mut glue_next);
            glue_next = false; // a space after opening punctuation is a break opportunity
            out.push(" ".into());
        } else if is_closing(c) {
            // Stick to what came before (the current word, or the previous unit).
            if !word.is_empty() {
                word.push(c);
            } else if let Some(last) = out.last_mut().filter(|l| *l != " ") {
                last.push(c);
            } else {
                word.push(c);
            }
        } else if is_cjk(c) && word.ends_with(|l: char| l.is_ascii_digit()) {
            // A number keeps the character after it, its unit: 3分钟 never breaks after the 3.
            word.push(c);
            flush(&mut word, &mut out, &mut glue_next);
        } else if is_cjk(c) || is_opening(c) {
            flush(&mut word, &mut out, &mut glue_next);
            word.push(c);
            let opening = is_opening(c);
            flush(&mut word, &mut out, &mut glue_next);
            glue_next = opening;
        } else {
            if !word.is_empty() && word.chars().last().is_some_and(|l| is_cjk(l) || is_closing(l)) {
                flush(&mut word, &mut out, &mut glue_next);
            }
            word.push(c);
        }
    }
    flush(&mut word, &mut out, &mut glue_next);
    out
}

/// The result of wrapping: lines and whether text was cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapped {
    /// Lines with their widths in pixels.
    pub lines: Vec<(String, f32)>,
    /// Whether an ellipsis replaced the end of the text.
    pub truncated: bool,
}

/// Wraps `text` into lines at most `max_width` px wide and at most `max_lines` lines.
pub fn wrap(text: &str, m: &Measurer<'_>, max_width: f32, max_lines: usize) -> Wrapped {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for unit in units(paragraph) {
            let candidate = format!("{line}{unit}");
            if m.width(candidate.trim_end()) <= max_width || line.trim().is_empty() && unit == " " {
                line = candidate;
                continue;
            }
            if unit == " " {
                continue; // a space at a break is dropped
            }
            if !line.trim().is_empty() {
                lines.push(line.trim_end().to_string());
            }
            line = String::new();
            if m.width(&unit) <= max_width {
                line = unit;
            } else {
                // A word wider than the box: split it by characters.
                for c in unit.chars() {
                    let candidate = format!("{line}{c}");
                    if m.width(&candidate) > max_width && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = candidate;
                    }
                }
            }
        }
        lines.push(line.trim().to_string());
    }
    while lines.len() > 1 && lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let max_lines = max_lines.max(1);
    let truncated = lines.len() > max_lines;
    if truncated {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("at least one line");
        let mut chars: Vec<char> = last.trim_end().chars().collect();
        loop {
            let s: String = chars.iter().collect::<String>() + ELLIPSIS;
            if m.width(&s) <= max_width || chars.is_empty() {
                *last = s;
                break;
            }
            chars.pop();
            while chars.last().is_some_and(|c| c.is_whitespace()) {
                chars.pop();
            }
        }
    }
    Wrapped {
        lines: lines
            .into_iter()
            .map(|l| {
                let w = m.width(&l);
                (l, w)
            })
            .collect(),
        truncated,
    }
}

/// Wraps like [`wrap`], then narrows the width as far as the line count allows, so the lines
/// come out of similar width (two balanced lines instead of a long one and a short one).
pub fn wrap_balanced(text: &str, m: &Measurer<'_>, max_width: f32, max_lines: usize) -> Wrapped {
    let full = wrap(text, m, max_width, max_lines);
    let n = full.lines.len();
    if n < 2 || full.truncated {
        return full;
    }
    let (mut lo, mut hi) = (max_width / n as f32, max_width);
    let mut best = full;
    for _ in 0..12 {
        let mid = (lo + hi) / 2.0;
        let w = wrap(text, m, mid, max_lines);
        if w.lines.len() == n && !w.truncated {
            hi = mid;
            best = w;
        } else {
            lo = mid;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_words_and_punctuation_together() {
        assert_eq!(units("红烧肉，好吃！"), vec!["红", "烧", "肉，", "好", "吃！"]);
        assert_eq!(units("Hello world"), vec!["Hello", " ", "world"]);
        assert_eq!(units("学会iPhone 15拍照"), vec!["学", "会", "iPhone", " ", "15拍", "照"]);
        assert_eq!(units("3分钟学会"), vec!["3分", "钟", "学", "会"]);
        assert_eq!(units("5kg，100%"), vec!["5kg，", "100%"]);
        assert_eq!(units("「爆款」来了"), vec!["「爆", "款」", "来", "了"]);
        assert_eq!(units("{% if"), vec!["{%", " ", "if"]);
        // Highlight markers never become break opportunities on their own.
        assert_eq!(units("学\u{E000}会\u{E001}了"), vec!["学", "\u{E000}会\u{E001}", "了"]);
    }

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
