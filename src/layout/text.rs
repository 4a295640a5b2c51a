//! Text measurement and line breaking (no pixels: advances and kerning only).
//!
//! Break rules: a line may break between any two CJK characters and at spaces; Latin words and
//! numbers are never split unless a single word is wider than the box. Closing punctuation
//! (`，。、！？」）…` and friends) sticks to the character before it and opening punctuation to
//! the one after, so no line starts with a closing mark or ends with an opening one. An explicit
//! newline always breaks. When the text needs more than `max_lines`, the last kept line ends
//! with `…`, shortened until it fits.

use crate::fonts::FontHandle;
use ab_glyph::{Font, ScaleFont};

const ELLIPSIS: &str = "…";

/// Characters that must not start a line.
fn is_closing(c: char) -> bool {
    "，。、；：！？）」』】》〉〕｝”’…·,.;:!?)]}%".contains(c)
}

/// Characters that must not end a line.
fn is_opening(c: char) -> bool {
    "（「『【《〈〔｛“‘([{".contains(c)
}

/// Ideographs, kana, hangul and full-width forms: each is its own breakable unit.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF
        | 0x20000..=0x2FA1F)
}

/// Measures advance widths with kerning at one size.
pub struct Measurer<'a> {
    font: ab_glyph::PxScaleFont<&'a ab_glyph::FontArc>,
}

impl<'a> Measurer<'a> {
    /// A measurer for `font` at em size `size` px.
    pub fn new(font: &'a FontHandle, size: f32) -> Self {
        Measurer { font: font.font.as_scaled(font.scale(size)) }
    }

    /// Advance width of `s` in pixels.
    pub fn width(&self, s: &str) -> f32 {
        let mut w = 0.0;
        let mut prev = None;
        for c in s.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                w += self.font.kern(p, id);
            }
            w += self.font.h_advance(id);
            prev = Some(id);
        }
        w
    }

    /// Characters of `s` that the font has no glyph for.
    pub fn missing(&self, s: &str) -> Vec<char> {
        let mut v: Vec<char> = s
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && self.font.glyph_id(*c).0 == 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_words_and_punctuation_together() {
        assert_eq!(units("红烧肉，好吃！"), vec!["红", "烧", "肉，", "好", "吃！"]);
        assert_eq!(units("Hello world"), vec!["Hello", " ", "world"]);
        assert_eq!(units("学会iPhone 15拍照"), vec!["学", "会", "iPhone", " ", "15", "拍", "照"]);
        assert_eq!(units("「爆款」来了"), vec!["「爆", "款」", "来", "了"]);
        assert_eq!(units("{% if"), vec!["{%", " ", "if"]);
    }
}
