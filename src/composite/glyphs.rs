//! Rasterised glyphs, cached across covers: the same font, size, glyph and sub-pixel offset is
//! rasterised once per process. A batch with a shared template re-uses most of its glyphs.
//!
//! Horizontal positions are quantised to quarter pixels (four cache entries per glyph at most);
//! baselines are whole pixels. The error (< 1/8 px) is invisible; the cache hit rate is not.

use crate::fonts::FontHandle;
use ab_glyph::{point, Font, GlyphId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sub-pixel steps per pixel.
const STEPS: f32 = 4.0;

/// A glyph's coverage, placed relative to its pen position.
#[derive(Debug)]
pub struct GlyphBitmap {
    /// Left edge relative to the whole-pixel pen x.
    pub left: i32,
    /// Top edge relative to the baseline.
    pub top: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major coverage, 0–255.
    pub coverage: Vec<u8>,
}

type Key = (String, u32, u16, u8);

/// The process-wide glyph cache (lives in [`crate::Env`]).
#[derive(Default)]
pub struct GlyphCache {
    map: Mutex<HashMap<Key, Arc<GlyphBitmap>>>,
}

impl GlyphCache {
    /// The bitmap of `id` in `font` at em size `size`, with the pen at fractional x `frac`
    /// (0 ≤ frac < 1). `None` for glyphs without an outline (spaces).
    pub fn get(&self, font: &FontHandle, size: f32, id: GlyphId, frac: f32) -> Option<Arc<GlyphBitmap>> {
        let step = ((frac * STEPS).floor() as u8).min(STEPS as u8 - 1);
        let key = (font.name.clone(), size.to_bits(), id.0, step);
        if let Some(g) = self.map.lock().expect("glyph cache poisoned").get(&key) {
            return Some(g.clone());
        }
        let glyph = id.with_scale_and_position(font.scale(size), point(step as f32 / STEPS, 0.0));
        let outline = font.font.outline_glyph(glyph)?;
        let b = outline.px_bounds();
        let (w, h) = (b.width() as u32, b.height() as u32);
        let mut coverage = vec![0u8; (w * h) as usize];
        outline.draw(|x, y, c| {
            if x < w && y < h {
                coverage[(y * w + x) as usize] = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
        let bitmap = Arc::new(GlyphBitmap {
            left: b.min.x as i32,
            top: b.min.y as i32,
            width: w,
            height: h,
            coverage,
        });
        self.map.lock().expect("glyph cache poisoned").insert(key, bitmap.clone());
        Some(bitmap)
    }
}
