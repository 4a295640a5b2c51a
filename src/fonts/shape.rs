//! Shaping: a line of text to positioned glyphs, the way a browser sets it.
//!
//! - Bidi (UAX #9, `unicode-bidi`): a line's runs are laid out in visual order, so Arabic and
//!   Hebrew read right to left and embedded Latin or numbers stay left to right.
//! - Font fallback per grapheme cluster: the first font of the chain that has every character
//!   of the cluster, except that emoji sequences (ZWJ families, flags, skin tones, keycaps, a
//!   VS16) go to a colour font first. A cluster is never split across fonts, so a sequence is
//!   drawn whole or not at all.
//! - Shaping (`rustybuzz`, HarfBuzz's algorithm in Rust) per run of one font, script and
//!   direction: Arabic joining, Indic and Thai reordering and marks, ligatures, kerning, emoji
//!   ligatures from the colour font's GSUB.
//!
//! Results are in ems (multiply by the em size in pixels): shaping does not depend on the size,
//! so a title is shaped once however many sizes fit-to-box tries. Shaped lines are cached per
//! process (keyed by the fonts' names and the text).

use super::FontHandle;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};
use unicode_segmentation::UnicodeSegmentation;

/// One glyph placed on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    /// Index of the font in the chain.
    pub font: usize,
    /// Glyph id in that font (0 = missing).
    pub id: u16,
    /// Pen x in ems from the line's left edge (letter spacing not included).
    pub x: f32,
    /// Offset from the baseline in ems, up positive (marks above a base).
    pub y: f32,
    /// Horizontal advance in ems.
    pub advance: f32,
    /// Byte offset in the line of the cluster this glyph draws.
    pub cluster: usize,
}

/// A shaped line: glyphs left to right as drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShapedLine {
    /// Glyphs in visual order.
    pub glyphs: Vec<Glyph>,
    /// Total advance in ems (without letter spacing).
    pub width: f32,
    /// Grapheme clusters in logical order: byte range and advance in ems (what line breaking
    /// measures; a ligature's advance counts for its first cluster).
    pub clusters: Vec<(Range<usize>, f32)>,
    /// Whether letter spacing may go between clusters: not in cursive scripts (Arabic,
    /// Syriac, N'Ko, Mongolian), where spacing would break the joins.
    pub spaceable: Vec<bool>,
}

impl ShapedLine {
    /// Width in pixels at em size `size` with `spacing` px between spaceable clusters.
    pub fn width_px(&self, size: f32, spacing: f32) -> f32 {
        let gaps = self.spaceable.iter().skip(1).filter(|s| **s).count();
        self.width * size + spacing * gaps as f32
    }
}

/// Whether `c` can make its cluster an emoji sequence ([`is_emoji_sequence`]): emoji and flag
/// letters, VS16, the zero-width joiner, the keycap mark, skin tones, tags. A text without any
/// has no cluster a colour font is preferred for.
pub fn may_ask_for_colour(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0xFE0F | 0x200D | 0x20E3 | 0xE0020..=0xE007F)
}

/// Marks that ask for emoji presentation or build an emoji sequence.
fn is_emoji_sequence(cluster: &str) -> bool {
    let mut chars = cluster.chars();
    let first = chars.next().map_or(0, |c| c as u32);
    (0x1F1E6..=0x1F1FF).contains(&first) // regional indicators: flags
        || cluster.chars().any(|c| {
            matches!(c as u32, 0xFE0F | 0x200D | 0x20E3 | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
        })
        || (0x1F000..=0x1FAFF).contains(&first)
}

/// Characters that need no glyph of their own: joiners, variation selectors, tags.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFE00..=0xFE0F | 0xE0000..=0xE0FFF)
}

/// Parsed faces of a chain (rustybuzz borrows the font bytes the handles own).
struct Faces<'a> {
    faces: Vec<Option<&'a rustybuzz::Face<'a>>>,
    colour: Vec<bool>,
}

impl<'a> Faces<'a> {
    fn new(chain: &'a [Arc<FontHandle>]) -> Self {
        let faces: Vec<_> = chain.iter().map(|f| f.shaping_face()).collect();
        let colour = faces
            .iter()
            .map(|f| {
                f.as_ref().is_some_and(|f| {
                    let t = f.tables();
                    t.cbdt.is_some() || t.sbix.is_some() || t.colr.is_some()
                })
            })
            .collect();
        Faces { faces, colour }
    }

    fn has(&self, font: usize, c: char) -> bool {
        is_default_ignorable(c)
            || self.faces[font].as_ref().is_some_and(|f| f.glyph_index(c).is_some_and(|g| g.0 != 0))
    }

    /// The font for a grapheme cluster (the first font when none has it: it shapes to glyph 0,
    /// which the layout reports as missing).
    fn pick(&self, cluster: &str) -> usize {
        let has_all = |i: usize| cluster.chars().all(|c| self.has(i, c));
        let n = self.faces.len();
        if is_emoji_sequence(cluster) {
            if let Some(i) = (0..n).find(|&i| self.colour[i] && has_all(i)) {
                return i;
            }
        }
        (0..n).find(|&i| has_all(i)).unwrap_or(0)
    }
}

/// Scripts whose letters join: no letter spacing inside their words.
fn is_cursive(script: unicode_script::Script) -> bool {
    use unicode_script::Script as S;
    matches!(script, S::Arabic | S::Syriac | S::Nko | S::Mongolian | S::Mandaic | S::Adlam)
}

/// The script of each cluster, with Common and Inherited characters (spaces, digits,
/// punctuation, marks) taking the script of the cluster before them (or after, at the start).
fn cluster_scripts(clusters: &[(usize, &str)]) -> Vec<unicode_script::Script> {
    use unicode_script::{Script, UnicodeScript};
    let own: Vec<Script> = clusters
        .iter()
        .map(|(_, g)| {
            g.chars()
                .map(|c| c.script())
                .find(|s| !matches!(s, Script::Common | Script::Inherited))
                .unwrap_or(Script::Common)
        })
        .collect();
    let mut out = own.clone();
    let mut last = own.iter().copied().find(|s| *s != Script::Common).unwrap_or(Script::Common);
    for s in out.iter_mut() {
        if *s == Script::Common {
            *s = last;
        } else {
            last = *s;
        }
    }
    out
}

type CacheKey = (Vec<String>, String);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<ShapedLine>>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<ShapedLine>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Forgets shaped lines (after a font file changed).
pub fn forget() {
    cache().lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Shapes one line (no newlines) over the fallback `chain`; cached.
pub fn shape(chain: &[Arc<FontHandle>], text: &str) -> Arc<ShapedLine> {
    let key = (chain.iter().map(|f| f.name.clone()).collect::<Vec<_>>(), text.to_owned());
    if let Some(s) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return s.clone();
    }
    let shaped = Arc::new(shape_uncached(chain, text));
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() > 8192 {
        c.clear(); // titles of a batch repeat; a bound beats an eviction policy here
    }
    c.insert(key, shaped.clone());
    shaped
}

fn shape_uncached(chain: &[Arc<FontHandle>], text: &str) -> ShapedLine {
    let faces = Faces::new(chain);
    let graphemes: Vec<(usize, &str)> = text.grapheme_indices(true).collect();
    let fonts: Vec<usize> = graphemes.iter().map(|(_, g)| faces.pick(g)).collect();
    let scripts = cluster_scripts(&graphemes);
    // Visual runs of one direction (the whole line when it has no right-to-left text).
    let bidi = unicode_bidi::BidiInfo::new(text, None);
    let runs: Vec<(Range<usize>, bool)> = match bidi.paragraphs.first() {
        Some(para) if bidi.has_rtl() => {
            let (levels, runs) = bidi.visual_runs(para, para.range.clone());
            runs.into_iter().map(|r| (r.clone(), levels[r.start].is_rtl())).collect()
        }
        _ => vec![(0..text.len(), false)],
    };
    let mut glyphs = Vec::new();
    let mut advance_of = vec![0f32; graphemes.len()];
    let grapheme_at = |byte: usize| graphemes.partition_point(|(s, _)| *s <= byte).saturating_sub(1);
    let mut x = 0f32;
    for (range, rtl) in runs {
        // Split the bidi run where the font or the script changes.
        let first = grapheme_at(range.start);
        let mut pieces: Vec<(Range<usize>, usize, unicode_script::Script)> = Vec::new();
        for gi in first..graphemes.len() {
            let (start, g) = graphemes[gi];
            if start >= range.end {
                break;
            }
            let end = start + g.len();
            match pieces.last_mut() {
                Some((r, f, s)) if *f == fonts[gi] && *s == scripts[gi] => r.end = end,
                _ => pieces.push((start..end, fonts[gi], scripts[gi])),
            }
        }
        if rtl {
            pieces.reverse();
        }
        for (piece, font, script) in pieces {
            let Some(face) = faces.faces[font] else { continue };
            let upem = face.units_per_em() as f32;
            let mut buffer = rustybuzz::UnicodeBuffer::new();
            buffer.push_str(&text[piece.clone()]);
            buffer.set_direction(if rtl {
                rustybuzz::Direction::RightToLeft
            } else {
                rustybuzz::Direction::LeftToRight
            });
            let tag = rustybuzz::ttf_parser::Tag::from_bytes_lossy(script.short_name().as_bytes());
            if let Some(s) = rustybuzz::Script::from_iso15924_tag(tag) {
                buffer.set_script(s);
            }
            buffer.guess_segment_properties();
            let out = rustybuzz::shape(face, &[], buffer);
            for (info, pos) in out.glyph_infos().iter().zip(out.glyph_positions()) {
                let cluster = piece.start + info.cluster as usize;
                let advance = pos.x_advance as f32 / upem;
                glyphs.push(Glyph {
                    font,
                    id: info.glyph_id as u16,
                    x: x + pos.x_offset as f32 / upem,
                    y: pos.y_offset as f32 / upem,
                    advance,
                    cluster,
                });
                advance_of[grapheme_at(cluster)] += advance;
                x += advance;
            }
        }
    }
    let clusters = graphemes.iter().zip(&advance_of).map(|((s, g), a)| (*s..*s + g.len(), *a)).collect();
    let spaceable = scripts.iter().map(|s| !is_cursive(*s)).collect();
    ShapedLine { glyphs, width: x, clusters, spaceable }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_sequences_and_scripts() {
        assert!(is_emoji_sequence("👨\u{200D}👩\u{200D}👧"));
        assert!(is_emoji_sequence("🇨🇳"));
        assert!(is_emoji_sequence("1\u{FE0F}\u{20E3}"));
        assert!(!is_emoji_sequence("a"));
        let g: Vec<(usize, &str)> = "ab 中文 x".grapheme_indices(true).collect();
        let s = cluster_scripts(&g);
        assert_eq!(s[2], unicode_script::Script::Latin, "a space takes the script before it");
        assert_eq!(
            (s[3], s[5], s[6]),
            (unicode_script::Script::Han, unicode_script::Script::Han, unicode_script::Script::Latin)
        );
    }
}
