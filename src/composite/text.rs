//! Text: glyph outlines rasterised by ab_glyph into an anti-aliased coverage mask, a blurred copy
//! of the mask for the drop shadow, both blended onto the canvas.

use super::CompositeError;
use crate::env::Env;
use crate::layout::doc::TextLayer;
use crate::pixels::{Image, Mask};
use ab_glyph::{point, Font, ScaleFont};

pub(super) fn draw(canvas: &mut Image, t: &TextLayer, env: &Env) -> Result<(), CompositeError> {
    if t.lines.is_empty() {
        return Ok(());
    }
    let font = env
        .fonts
        .get(&t.font)
        .map_err(|message| CompositeError::Asset { path: env.fonts.dir().join(&t.font), message })?;
    let scale = font.scale(t.size);
    let scaled = font.font.as_scaled(scale);
    // Room around the box for overhanging glyphs and the blurred shadow.
    let blur = t.shadow.map_or(0.0, |s| s.blur);
    let pad = (t.size * 0.5 + blur * 2.0).ceil() as i32;
    let mut mask = Mask::new(t.bbox.width + 2 * pad as u32, t.bbox.height + 2 * pad as u32);
    let glyph_height = scaled.ascent() - scaled.descent();
    for (i, line) in t.lines.iter().enumerate() {
        // Centre the glyphs' ascent-descent band in the line box.
        let top = pad as f32 + i as f32 * t.line_height;
        let baseline = top + (t.line_height - glyph_height) / 2.0 + scaled.ascent();
        let mut x = pad as f32 + line.x as f32;
        let mut prev = None;
        for c in line.text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(x, baseline));
            x += scaled.h_advance(id);
            prev = Some(id);
            let Some(outline) = font.font.outline_glyph(glyph) else { continue };
            let bounds = outline.px_bounds();
            let (w, h) = (mask.width as i32, mask.height as i32);
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i32 + gx as i32;
                let py = bounds.min.y as i32 + gy as i32;
                if px >= 0 && py >= 0 && px < w && py < h {
                    let v = &mut mask.data[(py * w + px) as usize];
                    *v = (*v).max((coverage.clamp(0.0, 1.0) * 255.0).round() as u8);
                }
            });
        }
    }
    let (x, y) = (t.bbox.x - pad, t.bbox.y - pad);
    if let Some(s) = t.shadow {
        let soft = mask.blurred(s.blur)?;
        canvas.blend_mask(&soft, x + s.dx, y + s.dy, s.color);
    }
    canvas.blend_mask(&mask, x, y, t.color);
    Ok(())
}
