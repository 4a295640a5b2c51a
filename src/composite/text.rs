//! Text: cached glyph coverage composed into masks (one for the fill, one for highlighted
//! spans), an outline made by dilating the mask, a blurred copy for the drop shadow, all blended
//! onto the canvas. With `auto_color`, light or dark text is chosen from the pixels under the box
//! and a scrim is added when needed for a WCAG contrast of 4.5:1; the achieved ratio is reported.

use super::{CompositeError, TextContrast};
use crate::color::{self, Rgba};
use crate::env::Env;
use crate::layout::doc::{Rect, TextLayer};
use crate::pixels::{Image, Mask, TextMasks};
use ab_glyph::{Font, ScaleFont};

/// Dark text for `auto` (pure black looks harsh over photos).
const DARK: Rgba = Rgba::rgb(0x11, 0x11, 0x11);
/// The contrast below which text is reported as hard to read (WCAG AA for body text).
pub const TARGET_CONTRAST: f64 = 4.5;
/// The contrast `auto` aims for when it adds a scrim (WCAG AAA). Aiming just at 4.5:1 leaves
/// busy backgrounds (colour bars, foliage) visible enough through the scrim to break the glyph
/// shapes: OCR read such covers far worse than plain renders until the scrim aimed higher.
const SCRIM_CONTRAST: f64 = 7.0;

pub(super) fn draw(
    canvas: &mut Image,
    t: &TextLayer,
    env: &Env,
    measure: bool,
) -> Result<Option<TextContrast>, CompositeError> {
    if t.lines.is_empty() {
        return Ok(None);
    }
    let masks = masks_for(t, env)?;
    let pad = pad(t);
    let (x, y) = (t.bbox.x - pad, t.bbox.y - pad);
    let (color, report) = if t.auto_color {
        auto_color(canvas, t)?
    } else if measure {
        (t.color, Some(measure_fixed(canvas, t)))
    } else {
        (t.color, None)
    };
    if let Some(p) = t.pill {
        draw_pills(canvas, t, p);
    }
    if let (Some(g), Some(glow)) = (t.glow, &masks.glow) {
        canvas.blend_mask(glow, x, y, g.color);
    }
    if let (Some(s), Some(shadow)) = (t.shadow, &masks.shadow) {
        canvas.blend_mask(shadow, x + s.dx, y + s.dy, s.color);
    }
    for (s, outer) in t.strokes.iter().zip(&masks.outer).rev() {
        canvas.blend_mask(outer, x, y, s.color);
    }
    if let (Some(s), Some(outline)) = (t.stroke, &masks.outline) {
        canvas.blend_mask(outline, x, y, s.color);
    }
    match t.gradient {
        // Top of the text box to its bottom, whatever the padding above.
        Some([top, bottom]) => {
            let rows = t.bbox.height.max(2) as f32 - 1.0;
            let ramp = |row: usize| {
                let k = ((row as f32 - pad as f32) / rows).clamp(0.0, 1.0);
                let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * k).round() as u8;
                Rgba {
                    r: mix(top.r, bottom.r),
                    g: mix(top.g, bottom.g),
                    b: mix(top.b, bottom.b),
                    a: mix(top.a, bottom.a),
                }
            };
            canvas.blend_mask_rows(&masks.fill, x, y, &ramp);
        }
        None => canvas.blend_mask(&masks.fill, x, y, color),
    }
    if let (Some(a), Some(c)) = (&masks.accent, t.highlight) {
        canvas.blend_mask(a, x, y, c);
    }
    for (img, gx, gy) in &masks.colour_glyphs {
        canvas.draw_overlay(img, x + gx, y + gy, 1.0);
    }
    Ok(report)
}

/// `t`'s masks, drawn once for every cover whose text is set the same way (see [`masks_key`]).
/// The GPU compositor calls this ahead of drawing, while the GPU scales the frame.
pub(super) fn masks_for(t: &TextLayer, env: &Env) -> Result<std::sync::Arc<TextMasks>, CompositeError> {
    env.text_masks.get_or_make(masks_key(t), || {
        let masks = render_masks(t, env)?;
        let bytes = masks.bytes();
        Ok::<_, CompositeError>((masks, bytes))
    })
}

/// Everything the masks of `t` depend on (not its position, colours or `auto` choices), hashed:
/// covers whose text is set the same way share one set of masks.
fn masks_key(t: &TextLayer) -> [u8; 32] {
    let shape = format!(
        "{:?}",
        (
            &t.lines,
            &t.font,
            &t.fallback,
            t.size,
            t.line_height,
            t.letter_spacing,
            (t.bbox.width, t.bbox.height),
            t.stroke.map(|s| s.width),
            t.strokes.iter().map(|s| s.width).collect::<Vec<_>>(),
            t.glow.map(|g| g.radius),
            t.shadow.map(|s| s.blur),
            t.highlight.is_some(),
        )
    );
    *blake3::hash(shape.as_bytes()).as_bytes()
}

/// Where glyphs are drawn: the fill mask, the highlight mask, the colour glyphs.
struct Pen<'a> {
    env: &'a Env,
    chain: &'a [std::sync::Arc<crate::fonts::FontHandle>],
    size: f32,
    fill: Mask,
    accent: Option<Mask>,
    /// Colour glyphs (emoji bitmaps), drawn over the text afterwards: (image, x, y).
    colour_glyphs: Vec<(std::sync::Arc<crate::pixels::Overlay>, i32, i32)>,
    /// The primary font's ascent and descent in px (descent negative).
    ascent: f32,
    descent: f32,
}

impl<'a> Pen<'a> {
    /// A pen with the same fonts and size over empty `width`×`height` masks.
    fn blank(&self, width: u32, height: u32) -> Pen<'a> {
        Pen {
            env: self.env,
            chain: self.chain,
            size: self.size,
            fill: Mask::new(width, height),
            accent: self.accent.as_ref().map(|_| Mask::new(width, height)),
            colour_glyphs: Vec::new(),
            ascent: self.ascent,
            descent: self.descent,
        }
    }

    /// Draws `text` shaped, its pen starting at `x` on `baseline`; `highlighted` tells whether
    /// the character at a byte offset of `text` is in a highlighted span.
    fn draw(
        &mut self,
        text: &str,
        x: f32,
        baseline: i32,
        spacing: f32,
        highlighted: &dyn Fn(usize) -> bool,
    ) -> Result<(), CompositeError> {
        let shaped = crate::fonts::shape::shape(self.chain, text);
        for (g, gx) in placed(&shaped, self.size, spacing) {
            let x = x + gx;
            let pen = x.floor();
            let id = ab_glyph::GlyphId(g.id);
            let y = baseline - (g.y * self.size).round() as i32;
            if let Some(bitmap) = self.env.glyphs.get(&self.chain[g.font], self.size, id, x - pen) {
                let target = match (&mut self.accent, highlighted(g.cluster)) {
                    (Some(a), true) => a,
                    _ => &mut self.fill,
                };
                target.max_blit(
                    &bitmap.coverage,
                    bitmap.width,
                    bitmap.height,
                    pen as i32 + bitmap.left,
                    y + bitmap.top,
                );
            } else if let Some(img) = self.env.glyphs.colour(&self.chain[g.font], self.size, id)? {
                // Centred on the text's glyph band, as emoji sit in a line of text.
                let band_top = baseline as f32 - self.ascent;
                let y = band_top + (self.ascent - self.descent - img.height() as f32) / 2.0;
                self.colour_glyphs.push((img, pen as i32, y.round() as i32));
            }
        }
        Ok(())
    }
}

/// Draws `t`'s glyphs into masks the size of its padded box (see [`TextMasks`]).
fn render_masks(t: &TextLayer, env: &Env) -> Result<TextMasks, CompositeError> {
    let load = |name: &str| {
        env.fonts
            .get(name)
            .map_err(|e| CompositeError::Asset { path: env.fonts.dir().join(name), message: e.to_string() })
    };
    let mut chain = vec![load(&t.font)?];
    for name in &t.fallback {
        chain.push(load(name)?);
    }
    let primary = chain[0].font.as_scaled(chain[0].scale(t.size));
    let pad = pad(t);
    let (mw, mh) = (t.bbox.width + 2 * pad as u32, t.bbox.height + 2 * pad as u32);
    let mut pen = Pen {
        env,
        chain: &chain,
        size: t.size,
        fill: Mask::new(mw, mh),
        accent: t.highlight.map(|_| Mask::new(mw, mh)),
        colour_glyphs: Vec::new(),
        ascent: primary.ascent(),
        descent: primary.descent(),
    };
    let glyph_height = pen.ascent - pen.descent;
    for (i, line) in t.lines.iter().enumerate() {
        // Highlight ranges count characters.
        let highlighted = |byte: usize| {
            let n = line.text[..byte].chars().count();
            line.highlights.iter().any(|r| (r[0]..r[1]).contains(&n))
        };
        if t.vertical {
            // Columns from the right; the glyph band centred on the column's middle.
            let centre = pad as f32 + t.bbox.width as f32 - (i as f32 + 0.5) * t.line_height;
            draw_column(&mut pen, t, &line.text, centre, pad as f32 + line.x as f32, &highlighted)?;
            continue;
        }
        // Centre the glyphs' ascent-descent band in the line box.
        let top = pad as f32 + i as f32 * t.line_height;
        let baseline = (top + (t.line_height - glyph_height) / 2.0 + pen.ascent).round() as i32;
        pen.draw(&line.text, pad as f32 + line.x as f32, baseline, t.letter_spacing, &highlighted)?;
    }
    let Pen { fill, accent, colour_glyphs, .. } = pen;
    // The whole text (fill and highlighted spans) shapes the outline and the shadow.
    let whole = match &accent {
        Some(a) => {
            let mut whole = fill.clone();
            whole.max_with(a);
            std::borrow::Cow::Owned(whole)
        }
        None => std::borrow::Cow::Borrowed(&fill),
    };
    let outline = match t.stroke {
        Some(s) if s.width > 0.0 => Some(whole.dilated(s.width)?),
        _ => None,
    };
    // Outer strokes, each grown from the one inside it.
    let mut outer: Vec<Mask> = Vec::new();
    for s in &t.strokes {
        let inside = outer.last().or(outline.as_ref()).unwrap_or(&whole);
        outer.push(if s.width > 0.0 { inside.dilated(s.width)? } else { inside.clone() });
    }
    let outermost = outer.last().or(outline.as_ref()).unwrap_or(&whole);
    let shadow = match t.shadow {
        Some(s) => Some(outermost.blurred(s.blur)?),
        None => None,
    };
    let glow = match t.glow {
        Some(g) => Some(outermost.dilated(g.radius / 3.0)?.blurred(g.radius)?),
        None => None,
    };
    drop(whole);
    Ok(TextMasks { fill, accent, outline, outer, glow, shadow, colour_glyphs })
}

/// The glyphs of a shaped line with their pen x in pixels at em size `size`, letter spacing
/// added between clusters (not inside one, nor in cursive scripts).
pub(crate) fn placed(
    shaped: &crate::fonts::shape::ShapedLine,
    size: f32,
    spacing: f32,
) -> impl Iterator<Item = (crate::fonts::shape::Glyph, f32)> + '_ {
    // Gaps before each cluster in visual order: count cluster changes left to right.
    let cluster_index =
        move |byte: usize| shaped.clusters.partition_point(|(r, _)| r.start <= byte).saturating_sub(1);
    let mut gaps = 0usize;
    let mut prev: Option<usize> = None;
    shaped.glyphs.iter().map(move |g| {
        let c = cluster_index(g.cluster);
        if prev.is_some_and(|p| p != c) && shaped.spaceable.get(c).copied().unwrap_or(true) {
            gaps += 1;
        }
        prev = Some(c);
        (*g, g.x * size + spacing * gaps as f32)
    })
}

/// The vertical presentation form of a character (Unicode's forms for vertical text).
fn vertical_form(c: char) -> Option<char> {
    let pairs = [
        ('，', '︐'),
        ('、', '︑'),
        ('。', '︒'),
        ('：', '︓'),
        ('；', '︔'),
        ('！', '︕'),
        ('？', '︖'),
        ('〖', '︗'),
        ('〗', '︘'),
        ('…', '︙'),
        ('‥', '︰'),
        ('—', '︱'),
        ('–', '︲'),
        ('（', '︵'),
        ('）', '︶'),
        ('｛', '︷'),
        ('｝', '︸'),
        ('〔', '︹'),
        ('〕', '︺'),
        ('【', '︻'),
        ('】', '︼'),
        ('《', '︽'),
        ('》', '︾'),
        ('〈', '︿'),
        ('〉', '﹀'),
        ('「', '﹁'),
        ('」', '﹂'),
        ('『', '﹃'),
        ('』', '﹄'),
        ('［', '﹇'),
        ('］', '﹈'),
    ];
    pairs.iter().find(|(h, _)| *h == c).map(|(_, v)| *v)
}

/// How one piece of a column is set.
enum Piece {
    /// Upright, centred on the column, one em long; moved to the top right of its em box
    /// (commas and full stops without a vertical form).
    Upright { text: String, corner: bool },
    /// A run set horizontally and turned a quarter clockwise (Latin words; brackets and dashes
    /// the font has no vertical form for).
    Turned { text: String },
}

/// Splits a column's text into pieces: (byte offset in the line, piece).
fn column_pieces(text: &str, t: &TextLayer, has: &dyn Fn(char) -> bool) -> Vec<(usize, Piece)> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut pieces: Vec<(usize, Piece)> = Vec::new();
    for (at, g) in text.grapheme_indices(true) {
        let c = g.chars().next().unwrap_or(' ');
        let upright = crate::layout::text::upright_in_column(g, t.latin_upright);
        let piece = match vertical_form(c) {
            Some(v) if has(v) => Piece::Upright { text: v.to_string(), corner: false },
            Some(_) if "，、。．".contains(c) => Piece::Upright { text: g.to_string(), corner: true },
            Some(_) if "！？".contains(c) => Piece::Upright { text: g.to_string(), corner: false },
            Some(_) => Piece::Turned { text: g.to_string() },
            None if upright => Piece::Upright { text: g.to_string(), corner: false },
            None => Piece::Turned { text: g.to_string() },
        };
        match (pieces.last_mut(), piece) {
            // Latin runs turn as one.
            (Some((_, Piece::Turned { text: run })), Piece::Turned { text }) if !upright => {
                run.push_str(&text)
            }
            (_, piece) => pieces.push((at, piece)),
        }
    }
    pieces
}

/// Draws one column of vertical text, centred on `centre`, from `top` down.
fn draw_column(
    pen: &mut Pen<'_>,
    t: &TextLayer,
    text: &str,
    centre: f32,
    top: f32,
    highlighted: &dyn Fn(usize) -> bool,
) -> Result<(), CompositeError> {
    let size = t.size;
    let faces = &pen.chain;
    let has = |c: char| faces.iter().any(|f| f.font.glyph_id(c).0 != 0);
    let mut y = top;
    // The glyph band's middle sits this far above the baseline.
    let band_middle = (pen.ascent + pen.descent) / 2.0;
    for (at, piece) in column_pieces(text, t, &has) {
        let lit = |b: usize| highlighted(at + b);
        match piece {
            Piece::Upright { text: s, corner } => {
                let width = crate::fonts::shape::shape(pen.chain, &s).width * size;
                let (dx, dy) = if corner { (size * 0.5, -size * 0.5) } else { (0.0, 0.0) };
                let baseline = (y + size / 2.0 + band_middle + dy).round() as i32;
                pen.draw(&s, centre - width / 2.0 + dx, baseline, 0.0, &lit)?;
                y += size + t.letter_spacing;
            }
            Piece::Turned { text: s } => {
                let shaped = crate::fonts::shape::shape(pen.chain, &s);
                let length = shaped.width_px(size, t.letter_spacing);
                let band = (pen.ascent - pen.descent).ceil();
                let (w, h) = (length.ceil() as u32 + 2, band as u32 + 2);
                let mut run = pen.blank(w, h);
                run.draw(&s, 1.0, (1.0 + pen.ascent).round() as i32, t.letter_spacing, &lit)?;
                // A quarter turn clockwise: the run's top edge faces right, its start is up.
                let x = (centre - h as f32 / 2.0).round() as i32;
                let fill = run.fill.turned_clockwise();
                pen.fill.max_blit(&fill.data, fill.width, fill.height, x, y.round() as i32);
                if let (Some(a), Some(r)) = (&mut pen.accent, &run.accent) {
                    let r = r.turned_clockwise();
                    a.max_blit(&r.data, r.width, r.height, x, y.round() as i32);
                }
                y += length + t.letter_spacing;
            }
        }
    }
    Ok(())
}

/// Room around a text box for overhanging glyphs, the outline and the blurred shadow.
fn pad(t: &TextLayer) -> i32 {
    let blur = t.shadow.map_or(0.0, |s| s.blur).max(t.glow.map_or(0.0, |g| g.radius * 1.4));
    let stroke = t.stroke.map_or(0.0, |s| s.width) + t.strokes.iter().map(|s| s.width).sum::<f32>();
    (t.size * 0.5 + blur * 2.0 + stroke).ceil() as i32
}

/// Each line's band (`pill`): the line's width plus padding, the glyph band's height plus
/// padding, on the canvas (for vertical text, the column's).
fn pill_rects(t: &TextLayer, p: crate::layout::doc::Pill) -> Vec<(f32, f32, f32, f32)> {
    let half = t.size * 0.6 + p.padding_y;
    t.lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.width > 0)
        .map(|(i, l)| {
            let along = t.bbox.x as f32 + l.x as f32 - p.padding_x;
            let length = l.width as f32 + 2.0 * p.padding_x;
            if t.vertical {
                let centre = t.bbox.x as f32 + t.bbox.width as f32 - (i as f32 + 0.5) * t.line_height;
                (centre - half, t.bbox.y as f32 + l.x as f32 - p.padding_x, 2.0 * half, length)
            } else {
                let centre = t.bbox.y as f32 + (i as f32 + 0.5) * t.line_height;
                (along, centre - half, length, 2.0 * half)
            }
        })
        .collect()
}

/// Draws the band behind each line.
fn draw_pills(canvas: &mut Image, t: &TextLayer, p: crate::layout::doc::Pill) {
    for (x, y, w, h) in pill_rects(t, p) {
        let mask = Mask::rounded_rect(w.round(), h.round(), p.radius);
        canvas.blend_mask(&mask, x.round() as i32, y.round() as i32, p.color);
    }
}

/// Every pixel drawing `t` may touch: the padded box, the shadow's offset copy of it, and the
/// `auto` scrim area.
pub(super) fn extent(t: &TextLayer) -> Rect {
    let p = pad(t);
    let (dx, dy) = t.shadow.map_or((0, 0), |s| (s.dx, s.dy));
    let grow = 2 * p as u32;
    let padded = Rect::new(t.bbox.x - p, t.bbox.y - p, t.bbox.width + grow, t.bbox.height + grow);
    let mut area = padded.union(&padded.moved(dx, dy)).union(&text_area(t));
    if let Some(pill) = t.pill {
        for (x, y, w, h) in pill_rects(t, pill) {
            let r = Rect::new(x.floor() as i32, y.floor() as i32, w.ceil() as u32 + 1, h.ceil() as u32 + 1);
            area = area.union(&r);
        }
    }
    area
}

/// The contrast of a fixed text colour against the worst tenth of the pixels under it (the
/// darkest or the brightest tenth, whichever is closer to the text).
fn measure_fixed(canvas: &Image, t: &TextLayer) -> TextContrast {
    let (lo, hi) = canvas.luminance_percentiles(text_area(t), 0.10, 0.90);
    let l = color::luminance(t.color);
    let ratio = color::contrast(l, lo).min(color::contrast(l, hi));
    TextContrast {
        id: t.id.clone(),
        color: t.color,
        contrast: (ratio * 100.0).round() / 100.0,
        scrim_alpha: 0.0,
    }
}

/// The scrim `auto` drew behind `t` (what [`auto_color`] chose, as a rectangle layer).
pub(super) fn scrim_rect(t: &TextLayer, chosen: &TextContrast) -> crate::layout::doc::RectLayer {
    let area = text_area(t);
    let dark_text = chosen.color == DARK;
    let scrim = if dark_text { Rgba::WHITE } else { Rgba::BLACK };
    crate::layout::doc::RectLayer {
        id: t.id.as_ref().map(|id| format!("{id}-scrim")),
        bbox: area,
        color: Rgba { a: (chosen.scrim_alpha * 255.0).round() as u8, ..scrim },
    }
}

/// The area a text layer's legibility depends on: its lines' extent plus a margin (a scrim
/// drawn there hugs the text rather than the whole box).
fn text_area(t: &TextLayer) -> Rect {
    let b = t.bbox;
    let margin = (t.size * 0.3).round() as i32;
    if t.vertical {
        return Rect::new(
            b.x - margin,
            b.y - margin,
            b.width + 2 * margin as u32,
            b.height + 2 * margin as u32,
        );
    }
    let left = t.lines.iter().map(|l| l.x).min().unwrap_or(0);
    let right = t.lines.iter().map(|l| l.x + l.width as i32).max().unwrap_or(b.width as i32);
    Rect::new(
        b.x + left - margin,
        b.y - margin,
        (right - left + 2 * margin).max(0) as u32,
        b.height + 2 * margin as u32,
    )
}

/// Picks light or dark text for the pixels under the box, adds a scrim when even the better one
/// falls short of [`TARGET_CONTRAST`], and reports the contrast reached.
///
/// The contrast is taken against the worst pixels, not the average: the brightest 10 % under
/// light text, the darkest 10 % under dark text.
fn auto_color(canvas: &mut Image, t: &TextLayer) -> Result<(Rgba, Option<TextContrast>), CompositeError> {
    let area = text_area(t);
    // Statistics on every 3rd pixel of every 3rd row: the same percentiles at a ninth of the cost.
    let region = canvas.sampled_region(area, 3);
    let (dark_bg, light_bg) = region.luminance_percentiles(region.bounds(), 0.10, 0.90);
    let light_ratio = color::contrast(color::luminance(Rgba::WHITE), light_bg);
    let dark_ratio = color::contrast(color::luminance(DARK), dark_bg);
    let light = light_ratio >= dark_ratio;
    let (text, scrim) = if light { (Rgba::WHITE, Rgba::BLACK) } else { (DARK, Rgba::WHITE) };
    let text_lum = color::luminance(text);
    // When the better colour falls short, add a scrim, raised in steps on a copy of the area
    // until it reaches SCRIM_CONTRAST (not just the 4.5:1 minimum: see there).
    let mut alpha = 0u8;
    let mut ratio = if light { light_ratio } else { dark_ratio };
    if ratio < TARGET_CONTRAST {
        // The lightest of the scrims 24, 48 … 240 that reaches SCRIM_CONTRAST (else 240). The
        // contrast only grows with the scrim's opacity (every pixel moves towards the scrim
        // colour), so a binary search finds the same step as trying them in turn, in 4 tries
        // instead of up to 10.
        let mut tried = [None; 11];
        let mut at = |k: usize| -> f64 {
            *tried[k].get_or_insert_with(|| {
                // The region as it would be under that scrim, measured without drawing it.
                let under = Rgba { a: 24 * k as u8, ..scrim };
                let (lo, hi) = region.luminance_percentiles_under(region.bounds(), 0.10, 0.90, under);
                color::contrast(text_lum, if light { hi } else { lo })
            })
        };
        let (mut lo, mut hi, mut first) = (1usize, 10usize, 10usize);
        while lo <= hi {
            let mid = (lo + hi) / 2;
            if at(mid) >= SCRIM_CONTRAST {
                first = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        alpha = 24 * first as u8;
        ratio = at(first);
    }
    if alpha > 0 {
        canvas.fill_rect(area, Rgba { a: alpha, ..scrim });
    }
    let report = TextContrast {
        id: t.id.clone(),
        color: text,
        contrast: (ratio * 100.0).round() / 100.0,
        scrim_alpha: alpha as f32 / 255.0,
    };
    Ok((text, Some(report)))
}
