//! Rasterised glyphs, cached across covers: the same font, size, glyph and sub-pixel offset is
//! rasterised once per process (within a byte budget). A batch with a shared template re-uses
//! most of its glyphs.
//!
//! Horizontal positions are quantised to quarter pixels (four cache entries per glyph at most);
//! baselines are whole pixels. The error (< 1/8 px) is invisible; the cache hit rate is not.

use super::FontHandle;
use crate::files::Memo;
use crate::pixels::{Overlay, PixelError};
use ab_glyph::{point, Font, GlyphId};
use std::sync::Arc;

/// Largest colour-glyph bitmap a font may hold (emoji strikes are ~136 px).
const MAX_STRIKE_SIDE: u32 = 2048;

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

/// (font name, em size bits, glyph id, sub-pixel step).
type Key = (String, u32, u16, u8);
/// (font name, em size bits, glyph id).
type ColourKey = (String, u32, u16);

/// Bytes of rasterised glyphs kept, outlines and colour bitmaps each: a long-running worker
/// sees titles at every size, so the cache starts over at this bound rather than grow.
const GLYPH_BUDGET: usize = 32 << 20;

/// The process-wide glyph cache (lives in [`crate::Env`]).
pub struct GlyphCache {
    map: Memo<GlyphBitmap, Key>,
    /// Colour bitmaps (emoji), decoded and scaled to the em size; `None` for a glyph without.
    colour: Memo<Option<Arc<Overlay>>, ColourKey>,
}

impl Default for GlyphCache {
    fn default() -> Self {
        GlyphCache { map: Memo::new(GLYPH_BUDGET), colour: Memo::new(GLYPH_BUDGET) }
    }
}

impl GlyphCache {
    /// Forgets every rasterised glyph (after a font file changed).
    pub fn forget(&self) {
        self.map.clear();
        self.colour.clear();
    }
}

impl GlyphCache {
    /// The colour bitmap of `id` (fonts such as Noto Color Emoji have PNG strikes instead of
    /// outlines), scaled so its strike's em matches `size`; `None` when the glyph has none.
    ///
    /// # Errors
    /// When the embedded PNG cannot be decoded.
    pub fn colour(
        &self,
        font: &FontHandle,
        size: f32,
        id: GlyphId,
    ) -> Result<Option<Arc<Overlay>>, PixelError> {
        let key = (font.name.clone(), size.to_bits(), id.0);
        let image = self.colour.get_or_make(key, || {
            Ok(match font.font.glyph_raster_image2(id, size.ceil().min(u16::MAX as f32) as u16) {
                Some(raster) if matches!(raster.format, ab_glyph::GlyphImageFormat::Png) => {
                    let decoded = Overlay::decode(raster.data, MAX_STRIKE_SIDE)?;
                    let k = size / raster.pixels_per_em.max(1) as f32;
                    let w = ((decoded.width() as f32 * k).round() as u32).max(1);
                    let h = ((decoded.height() as f32 * k).round() as u32).max(1);
                    let resized = decoded.resized(w, h)?;
                    let bytes = (resized.width() * resized.height()) as usize * 4;
                    (Some(Arc::new(resized)), bytes)
                }
                _ => (None, 0),
            })
        })?;
        Ok((*image).clone())
    }

    /// The bitmap of `id` in `font` at em size `size`, with the pen at fractional x `frac`
    /// (0 ≤ frac < 1). `None` for glyphs without an outline (spaces).
    pub fn get(&self, font: &FontHandle, size: f32, id: GlyphId, frac: f32) -> Option<Arc<GlyphBitmap>> {
        let step = ((frac * STEPS).floor() as u8).min(STEPS as u8 - 1);
        let key = (font.name.clone(), size.to_bits(), id.0, step);
        self.map.get_or_make(key, || rasterise(font, size, id, step).ok_or(())).ok()
    }
}

/// The coverage of `id` at em size `size` with the pen `step` quarter pixels right of a whole
/// pixel, and its bytes; `None` for a glyph without an outline.
fn rasterise(font: &FontHandle, size: f32, id: GlyphId, step: u8) -> Option<(GlyphBitmap, usize)> {
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
    let bytes = coverage.len() + std::mem::size_of::<GlyphBitmap>();
    Some((GlyphBitmap { left: b.min.x as i32, top: b.min.y as i32, width: w, height: h, coverage }, bytes))
}
