//! Resolving one layer of each kind: a layer spec (numbers still as the template wrote them)
//! becomes a [`Layer`] in pixels, or a problem recorded against the template.

use super::doc::*;
use super::spec::{Corner, Direction, LatinInColumn, LayerSpec, Num, Paint};
use super::{limits, show, text, LayerResult, LayoutError, Resolver, DEFAULT_FALLBACK, DEFAULT_FONT};
use crate::color::Rgba;
use crate::fonts::FontHandle;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest shadow blur radius in pixels.
const MAX_BLUR: f64 = 200.0;

/// A number the template gave, or `default`.
fn num(n: Option<Num>, default: f64) -> f64 {
    n.map_or(default, |n| n.0)
}

/// Fit-to-box: the largest whole-pixel size in [min_size, max_size] that `attempt` says fits,
/// with what it made at that size; only when even `min_size` does not fit is it used anyway
/// (and the text is cut by an ellipsis).
fn largest_fitting<W>(min_size: f64, max_size: f64, attempt: impl Fn(f64) -> (W, bool)) -> (f64, W) {
    match attempt(max_size) {
        (w, true) => (max_size, w),
        (w, false) if min_size >= max_size => (max_size, w),
        _ => match attempt(min_size) {
            (w, false) => (min_size, w),
            (w, true) => {
                let (mut lo, mut hi, mut best) = (min_size.ceil(), max_size.floor(), (min_size, w));
                while hi - lo > 0.5 {
                    let mid = ((lo + hi) / 2.0).ceil();
                    match attempt(mid) {
                        (w, true) => {
                            best = (mid, w);
                            lo = mid;
                        }
                        _ => hi = mid - 1.0,
                    }
                }
                if lo > best.0 {
                    if let (w, true) = attempt(lo) {
                        best = (lo, w);
                    }
                }
                best
            }
        },
    }
}

/// The layer's `dx`/`dy` offset from its anchor.
fn offset(l: &LayerSpec) -> (f64, f64) {
    (num(l.dx, 0.0), num(l.dy, 0.0))
}

impl Resolver<'_> {
    /// `value` when it lies in `lo..=hi`; otherwise a problem naming the layer and the key.
    fn within(
        &mut self,
        name: &str,
        key: &str,
        value: f64,
        lo: f64,
        hi: f64,
    ) -> Result<f64, Option<LayoutError>> {
        if (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(self.problem(format!("{name}: {key} {} is outside {}–{}", show(value), show(lo), show(hi))))
        }
    }

    /// Adds a text layer's drawing area (its box padded for glyph overhang, shadow and blur) to
    /// the layout's text budget, which bounds the memory text rendering takes.
    fn count_text_pixels(
        &mut self,
        name: &str,
        bbox: Rect,
        size: f64,
        shadow: Option<&Shadow>,
    ) -> Result<(), Option<LayoutError>> {
        let pad = size + shadow.map_or(0.0, |s| 2.0 * s.blur as f64 + s.dx.abs().max(s.dy.abs()) as f64);
        let area = (bbox.width as f64 + 2.0 * pad) * (bbox.height as f64 + 2.0 * pad);
        self.text_pixels += area as u64;
        let limit = self.env.limits.max_text_pixels;
        if self.text_pixels > limit {
            return Err(Some(LayoutError::Limit {
                file: self.file.clone(),
                source: limits::LimitError::new(
                    format!("{name}: text drawing area (pixels, all text layers)"),
                    self.text_pixels,
                    limit,
                ),
            }));
        }
        Ok(())
    }

    /// The fallback chain: the layer's font, then its `fallback` fonts, by default the colour
    /// emoji font when the fonts folder has it.
    fn font_chain(
        &mut self,
        name: &str,
        l: &LayerSpec,
        font: Arc<FontHandle>,
    ) -> Result<Vec<Arc<FontHandle>>, Option<LayoutError>> {
        let fallback_names: Vec<String> = match &l.fallback {
            Some(list) => list.clone(),
            // The default (colour emoji, 10 MB) only when the text could use it: a character the
            // layer's font lacks, or one that can make an emoji sequence. Loading it cost ~20 ms
            // of a single render's ~250.
            None if !needs_fallback(&font, l.text.as_deref().unwrap_or("")) => Vec::new(),
            None => DEFAULT_FALLBACK
                .iter()
                .filter(|f| self.env.fonts.path(f).is_ok())
                .map(|f| f.to_string())
                .collect(),
        };
        let mut chain = vec![font];
        for f in &fallback_names {
            chain.push(self.env.fonts.get(f).map_err(|m| self.problem(format!("{name}: fallback {m}")))?);
        }
        Ok(chain)
    }

    /// A text layer: fonts and fallbacks checked, wrapped and fitted to its box, placed clear of
    /// the safe zones, with the places it may move to off faces.
    pub(super) fn text_layer(&mut self, name: &str, l: &LayerSpec) -> LayerResult {
        let cw = self.canvas.width as f64;
        let (dx, dy) = offset(l);
        let id = l.id.clone();
        let Some(text) = &l.text else {
            return Err(self.problem(format!("{name}: a text layer needs `text`")));
        };
        let n = text.chars().count();
        if n > self.env.limits.max_text_chars {
            return Err(Some(LayoutError::Limit {
                file: self.file.clone(),
                source: limits::LimitError::new(
                    format!("{name} text length"),
                    n,
                    self.env.limits.max_text_chars,
                ),
            }));
        }
        let font_name = l.font.clone().unwrap_or_else(|| DEFAULT_FONT.to_string());
        let font = self.env.fonts.get(&font_name).map_err(|m| self.problem(format!("{name}: {m}")))?;
        let max_size = num(l.size, 48.0);
        let min_size = num(l.min_size, max_size);
        for (key, v) in [("size", max_size), ("min_size", min_size)] {
            if !(4.0..=1000.0).contains(&v) {
                return Err(self.problem(format!("{name}: {key} {} is outside 4–1000 px", show(v))));
            }
        }
        if min_size > max_size {
            return Err(self.problem(format!("{name}: min_size {min_size} is larger than size {max_size}")));
        }
        let line_factor = self.within(name, "line_height", num(l.line_height, 1.25), 0.5, 5.0)?;
        let spacing =
            self.within(name, "letter_spacing", num(l.letter_spacing, 0.0), -max_size, 4.0 * max_size)?
                as f32;
        let max_lines = self.within(name, "max_lines", num(l.max_lines, 2.0), 1.0, 100.0)? as usize;
        let vertical = l.direction == Some(Direction::Vertical);
        let latin_upright = l.latin == Some(LatinInColumn::Upright);
        // Horizontal text: lines as long as the box is wide, as many as its height holds.
        // Vertical text: columns as long as the box is high, as many as its width holds.
        let ch = self.canvas.height as f64;
        let (box_w, box_h) = if vertical {
            (num(l.height, (ch - 2.0 * dy.abs()).max(1.0)).max(1.0), l.width.map(|n| n.0))
        } else {
            (num(l.width, (cw - 2.0 * dx.abs()).max(1.0)).max(1.0), l.height.map(|n| n.0))
        };
        self.check_size(name, box_w, box_h.unwrap_or(0.0))?;
        let marked = text::parse_markup(text);
        let chain = self.font_chain(name, l, font)?;
        let missing = text::Measurer::new(&chain, max_size as f32, spacing).missing(&marked);
        if !missing.is_empty() {
            let list: String = missing.iter().collect();
            let fonts: Vec<&str> = chain.iter().map(|f| f.name.as_str()).collect();
            return Err(
                self.problem(format!("{name}: no font of `{}` has glyphs for `{list}`", fonts.join(", ")))
            );
        }
        let balance = l.balance.unwrap_or(false);
        // Wraps at one size; "fits" means no ellipsis and, with a box height, no overflow.
        let measurer = |size: f64| {
            if vertical {
                text::Measurer::vertical(&chain, size as f32, spacing, latin_upright)
            } else {
                text::Measurer::new(&chain, size as f32, spacing)
            }
        };
        let attempt = |size: f64| {
            let m = measurer(size);
            let w = if marked.trim().is_empty() {
                text::Wrapped { lines: vec![], truncated: false }
            } else if balance {
                text::wrap_balanced(&marked, &m, box_w as f32, max_lines)
            } else {
                text::wrap(&marked, &m, box_w as f32, max_lines)
            };
            let fits = !w.truncated && box_h.is_none_or(|h| w.lines.len() as f64 * line_factor * size <= h);
            (w, fits)
        };
        let (size, wrapped) = largest_fitting(min_size, max_size, attempt);
        let line_height = (line_factor * size) as f32;
        let align = l.align.unwrap_or_default();
        let mut open = false;
        let lines: Vec<TextLine> = wrapped
            .lines
            .into_iter()
            .map(|(t, w)| {
                let slack = (box_w - w as f64).max(0.0);
                let x = match align {
                    Align::Left => 0.0,
                    Align::Center => slack / 2.0,
                    Align::Right => slack,
                };
                let (text, highlights) = text::split_highlights(&t, &mut open);
                TextLine { text, x: x.round() as i32, width: w.ceil() as u32, highlights }
            })
            .collect();
        let h = (lines.len() as f32 * line_height).ceil() as f64;
        let (w, h) = if vertical { (h, box_w) } else { (box_w, h) };
        let bbox = self.place(name, l, w, h, dx, dy)?;
        let bbox = self.keep_clear(name, bbox);
        // Other places the text may take when the frame has a face where `bbox` is.
        let mut alternatives = Vec::new();
        for alt in l.alternatives.iter().flatten() {
            let (adx, ady) = (num(alt.dx, 0.0), num(alt.dy, 0.0));
            let b = self.place_at(name, alt, w, h, adx, ady)?;
            alternatives.push(self.keep_clear(name, b));
        }
        if wrapped.truncated {
            let (kind, message) = if min_size < max_size {
                (
                    FindingKind::BelowMinimum,
                    format!("shrank to its minimum size {min_size} px and was still cut by an ellipsis after {max_lines} line(s)"),
                )
            } else {
                (FindingKind::Truncated, format!("text is longer than the template allows: cut by an ellipsis after {max_lines} line(s)"))
            };
            self.finding(kind, name, message);
        }
        let shadow = self.shadow(name, l)?;
        self.count_text_pixels(name, bbox, size, shadow.as_ref())?;
        let stroke = l.stroke.as_ref().map(|s| Stroke {
            width: num(s.width, 3.0).clamp(0.0, 64.0) as f32,
            color: s.color.unwrap_or(Rgba::BLACK),
        });
        let TextEffects { strokes, gradient, glow, pill } = self.text_effects(name, l)?;
        let (color, auto_color) = match l.color {
            None => (Rgba::WHITE, false),
            Some(Paint::Color(c)) => (c, false),
            Some(Paint::Auto) => (Rgba::WHITE, true),
        };
        Ok(Some(Layer::Text(TextLayer {
            id,
            bbox,
            font: font_name,
            size: size as f32,
            line_height,
            color,
            auto_color,
            letter_spacing: spacing,
            stroke,
            strokes,
            gradient,
            glow,
            pill,
            highlight: l.highlight,
            fallback: {
                let used = text::Measurer::new(&chain, size as f32, spacing).fonts_used(&marked);
                used.into_iter().filter(|&i| i > 0).map(|i| chain[i].name.clone()).collect()
            },
            alternatives,
            follows: l.relative_to.clone().filter(|r| r != "canvas"),
            align,
            shadow,
            truncated: wrapped.truncated,
            vertical,
            latin_upright: vertical && latin_upright,
            lines,
        })))
    }

    /// A text layer's effects, checked: outer strokes, gradient fill, glow, line bands.
    fn text_effects(&mut self, name: &str, l: &LayerSpec) -> Result<TextEffects, Option<LayoutError>> {
        let mut strokes = Vec::new();
        let list = l.strokes.as_deref().unwrap_or_default();
        if list.len() > 4 {
            return Err(self.problem(format!("{name}: {} strokes (at most 4)", list.len())));
        }
        for s in list {
            let width = self.within(name, "strokes width", num(s.width, 3.0), 0.0, 64.0)? as f32;
            strokes.push(Stroke { width, color: s.color.unwrap_or(Rgba::BLACK) });
        }
        let gradient = l.gradient.as_ref().map(|g| [g.from, g.to]);
        let glow = match &l.glow {
            None => None,
            Some(g) => Some(Glow {
                radius: self.within(name, "glow radius", num(g.radius, 12.0), 0.0, MAX_BLUR)? as f32,
                color: g.color.unwrap_or(Rgba { a: 200, ..Rgba::WHITE }),
            }),
        };
        let pill = match &l.pill {
            None => None,
            Some(p) => {
                let padding_x = self.within(name, "pill padding", num(p.padding, 16.0), 0.0, 1000.0)? as f32;
                Some(Pill {
                    color: p.color.unwrap_or(Rgba { a: 200, ..Rgba::BLACK }),
                    padding_x,
                    padding_y: self.within(name, "pill padding_y", num(p.padding_y, 6.0), 0.0, 1000.0)?
                        as f32,
                    radius: self.within(name, "pill radius", num(p.radius, 999.0), 0.0, 10000.0)? as f32,
                })
            }
        };
        Ok(TextEffects { strokes, gradient, glow, pill })
    }

    /// The layer's drop shadow, checked.
    fn shadow(&mut self, name: &str, l: &LayerSpec) -> Result<Option<Shadow>, Option<LayoutError>> {
        let Some(s) = &l.shadow else { return Ok(None) };
        let far = self.env.limits.max_canvas_side as f64;
        Ok(Some(Shadow {
            dx: self.within(name, "shadow dx", num(s.dx, 0.0), -far, far)?.round() as i32,
            dy: self.within(name, "shadow dy", num(s.dy, 4.0), -far, far)?.round() as i32,
            blur: self.within(name, "shadow blur", num(s.blur, 8.0), 0.0, MAX_BLUR)? as f32,
            color: s.color.unwrap_or(Rgba { a: 160, ..Rgba::BLACK }),
        }))
    }

    /// A perspective layer's corners on the canvas, checked: four of them, within reach of the
    /// canvas, making a convex quadrilateral of some area (in the order top-left, top-right,
    /// bottom-right, bottom-left, clockwise on screen).
    fn quad(&mut self, name: &str, corners: &[Corner]) -> Result<[[f32; 2]; 4], Option<LayoutError>> {
        if corners.len() != 4 {
            return Err(self.problem(format!(
                "{name}: quad needs 4 corners (top-left, top-right, bottom-right, bottom-left), not {}",
                corners.len()
            )));
        }
        let far = 4.0 * self.env.limits.max_canvas_side as f64;
        let mut points = [[0f32; 2]; 4];
        for (k, c) in corners.iter().enumerate() {
            let (x, y) = match c {
                Corner::Point([x, y]) => (x.0, y.0),
                Corner::Placed(p) => {
                    let (dx, dy) = (p.dx.map_or(0.0, |n| n.0), p.dy.map_or(0.0, |n| n.0));
                    let at = super::spec::Placement {
                        anchor: p.at,
                        at: p.at,
                        relative_to: p.relative_to.clone(),
                        dx: None,
                        dy: None,
                    };
                    let r = self.place_at(name, &at, 0.0, 0.0, dx, dy)?;
                    (r.x as f64, r.y as f64)
                }
            };
            for (key, v) in [("x", x), ("y", y)] {
                if !v.is_finite() || !(-far..=far).contains(&v) {
                    return Err(self.problem(format!(
                        "{name}: quad corner {} {key} {} is outside ±{far} px",
                        k + 1,
                        show(v)
                    )));
                }
            }
            points[k] = [x as f32, y as f32];
        }
        // Convex and clockwise (y down): every turn the same way, and some area.
        let cross = |a: [f32; 2], b: [f32; 2], c: [f32; 2]| {
            ((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])) as f64
        };
        let turns: Vec<f64> =
            (0..4).map(|k| cross(points[k], points[(k + 1) % 4], points[(k + 2) % 4])).collect();
        let area: f64 = (0..4)
            .map(|k| (points[k][0] * points[(k + 1) % 4][1] - points[(k + 1) % 4][0] * points[k][1]) as f64)
            .sum::<f64>()
            / 2.0;
        if !turns.iter().all(|t| *t > 0.0) || area < 4.0 {
            return Err(self.problem(format!(
                "{name}: quad corners {points:?} do not make a convex four-sided shape in the order top-left, top-right, bottom-right, bottom-left"
            )));
        }
        Ok(points)
    }

    /// An image layer (a watermark or logo), scaled to the size asked; nothing when `src` is empty.
    pub(super) fn image_layer(&mut self, name: &str, l: &LayerSpec) -> LayerResult {
        let (dx, dy) = offset(l);
        let id = l.id.clone();
        let Some(src) = l.src.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None); // e.g. `src: {{ watermark }}` with no watermark
        };
        let path =
            if Path::new(src).is_absolute() { PathBuf::from(src) } else { self.template_dir.join(src) };
        let mut also = vec![self.template_dir.as_path()];
        also.extend(self.meta_dir.as_deref());
        if let Err(m) = self.env.roots.check(&path, &also) {
            return Err(self.problem(format!("{name}: image {m}")));
        }
        let img = self.env.image(&path).map_err(|e| {
            let message = format!("{name}: {}", e.message);
            if e.limit {
                self.problems.push(crate::model::Diagnostic::limit(self.file, message));
                None
            } else {
                self.problem(message)
            }
        })?;
        let opacity = num(l.opacity, 1.0);
        if !(0.0..=1.0).contains(&opacity) {
            return Err(self.problem(format!("{name}: opacity {opacity} is outside 0–1")));
        }
        let shadow = self.shadow(name, l)?;
        if let Some(corners) = &l.quad {
            // A perspective layer: its box is the corners' bounding box.
            let q = self.quad(name, corners)?;
            let (x0, y0) = (
                q.iter().map(|p| p[0]).fold(f32::MAX, f32::min),
                q.iter().map(|p| p[1]).fold(f32::MAX, f32::min),
            );
            let (x1, y1) = (
                q.iter().map(|p| p[0]).fold(f32::MIN, f32::max),
                q.iter().map(|p| p[1]).fold(f32::MIN, f32::max),
            );
            let (bx, by) = (x0.floor(), y0.floor());
            let (w, h) = ((x1.ceil() - bx).max(1.0) as f64, (y1.ceil() - by).max(1.0) as f64);
            self.check_size(name, w, h)?;
            let bbox = Rect::new(bx as i32, by as i32, w as u32, h as u32);
            // The image was read above only to check it; the warp reads it when drawing.
            drop(img);
            return Ok(Some(Layer::Image(ImageLayer {
                id,
                bbox,
                src: path,
                opacity: opacity as f32,
                quad: Some(q),
                shadow,
            })));
        }
        let (iw, ih) = (img.width() as f64, img.height() as f64);
        let (w, h) = match (l.width.map(|n| n.0), l.height.map(|n| n.0)) {
            (Some(w), Some(h)) => (w, h),
            (Some(w), None) => (w, w * ih / iw),
            (None, Some(h)) => (h * iw / ih, h),
            (None, None) => (iw, ih),
        };
        self.check_size(name, w, h)?;
        let bbox = self.place(name, l, w, h, dx, dy)?;
        Ok(Some(Layer::Image(ImageLayer {
            id,
            bbox,
            src: path,
            opacity: opacity as f32,
            quad: None,
            shadow,
        })))
    }

    /// A QR code with its quiet zone, clear of the safe zones; nothing when `data` is empty.
    pub(super) fn qr_layer(&mut self, name: &str, l: &LayerSpec) -> LayerResult {
        let (dx, dy) = offset(l);
        let id = l.id.clone();
        let Some(data) = l.data.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None); // e.g. `data: {{ link }}` with no link
        };
        let code = super::qr_code(data)
            .map_err(|e| self.problem(format!("{name}: cannot encode `{data}` as a QR code: {e}")))?;
        let modules = code.size as u32;
        let quiet = num(l.quiet_zone, 4.0);
        if !(2.0..=16.0).contains(&quiet) {
            return Err(self
                .problem(format!("{name}: quiet_zone {quiet} is outside 2–16 modules (4 is the standard)")));
        }
        let quiet = quiet as u32;
        let size = num(l.width.or(l.height), 240.0);
        let needed = (modules + 2 * quiet) as f64;
        if size < needed {
            return Err(self.problem(format!(
                "{name}: a {size} px QR code cannot draw {modules}+{}x2 modules of at least 1 px (needs {needed} px)",
                quiet
            )));
        }
        let bbox = self.place(name, l, size, size, dx, dy)?;
        let bbox = self.keep_clear(name, bbox);
        let module_px = (size as u32) / (modules + 2 * quiet);
        if module_px < 4 {
            self.finding(
                FindingKind::QrModules,
                name,
                format!("QR modules are {module_px} px at the output size ({modules} modules in {size} px); phones read 4 px and up reliably"),
            );
        }
        if quiet < 4 {
            self.finding(
                FindingKind::QrQuietZone,
                name,
                format!("QR quiet zone is {quiet} modules; the standard is 4"),
            );
        }
        Ok(Some(Layer::Qr(QrLayer {
            id,
            bbox,
            data: data.to_string(),
            modules,
            quiet_zone: quiet,
            dark: l.dark.unwrap_or(Rgba::BLACK),
            light: l.light.unwrap_or(Rgba::WHITE),
        })))
    }

    /// A gradient scrim, the whole canvas by default.
    pub(super) fn gradient_layer(&mut self, name: &str, l: &LayerSpec) -> LayerResult {
        let cw = self.canvas.width as f64;
        let ch = self.canvas.height as f64;
        let (dx, dy) = offset(l);
        let id = l.id.clone();
        let (Some(from), Some(to)) = (l.from, l.to) else {
            return Err(self.problem(format!("{name}: a gradient needs `from` and `to` colours")));
        };
        let (w, h) = (num(l.width, cw), num(l.height, ch));
        self.check_size(name, w, h)?;
        let bbox = self.place(name, l, w, h, dx, dy)?;
        let vertical = l.direction.unwrap_or_default() == Direction::Vertical;
        Ok(Some(Layer::Gradient(GradientLayer { id, bbox, vertical, from, to })))
    }

    /// A flat rectangle, the whole canvas by default.
    pub(super) fn rect_layer(&mut self, name: &str, l: &LayerSpec) -> LayerResult {
        let cw = self.canvas.width as f64;
        let ch = self.canvas.height as f64;
        let (dx, dy) = offset(l);
        let id = l.id.clone();
        let color = match l.color {
            Some(Paint::Color(c)) => c,
            Some(Paint::Auto) => return Err(self.problem(format!("{name}: a rect colour cannot be `auto`"))),
            None => return Err(self.problem(format!("{name}: a rect needs `color`"))),
        };
        let (w, h) = (num(l.width, cw), num(l.height, ch));
        self.check_size(name, w, h)?;
        let bbox = self.place(name, l, w, h, dx, dy)?;
        Ok(Some(Layer::Rect(RectLayer { id, bbox, color })))
    }
}

/// A text layer's effects, as checked (see `TextLayer`).
struct TextEffects {
    strokes: Vec<Stroke>,
    gradient: Option<[Rgba; 2]>,
    glow: Option<Glow>,
    pill: Option<Pill>,
}

/// Whether shaping `text` could pick a font after `font`: a character `font` lacks, or one that
/// can make an emoji sequence (which goes to a colour font first; `fonts::shape`).
fn needs_fallback(font: &FontHandle, text: &str) -> bool {
    use crate::fonts::shape::{is_default_ignorable, may_ask_for_colour};
    // The same test of a glyph as shaping's.
    let face = font.shaping_face();
    let has = |c: char| face.is_some_and(|f| f.glyph_index(c).is_some_and(|g| g.0 != 0));
    text.chars().any(|c| may_ask_for_colour(c) || !(is_default_ignorable(c) || has(c)))
}
