//! Stage 3: draw a [`LayoutDoc`] over a frame into a canvas [`Image`].
//!
//! The compositor knows nothing of templates or YAML: it reads the resolved layout, fonts and
//! images from the [`Env`], and draws layers in order. Drawing is deterministic: the same frame
//! and layout give the same pixels.

pub(crate) mod gpu;
mod qr;
mod text;

pub use crate::av::error::GpuError;
pub use text::TARGET_CONTRAST;

use crate::env::Env;
use crate::layout::doc::{Fit, Layer, LayoutDoc, Rect, TextLayer};
use crate::pixels::{Image, PixelError};
use std::path::PathBuf;

/// Why compositing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompositeError {
    /// A font or image named by the layout could not be loaded.
    #[error("{}: {message}", path.display())]
    Asset {
        /// The asset.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An OpenCV operation failed.
    #[error(transparent)]
    Pixels(#[from] PixelError),
    /// The QR data could not be encoded.
    #[error("cannot encode QR code: {0}")]
    Qr(String),
    /// The GPU compositor failed (CUDA's or nvJPEG's words).
    #[error("GPU compositor: {0}")]
    Gpu(#[from] crate::av::error::GpuError),
}

/// What `auto` text colour chose, and the contrast it reached (measured on the pixels).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TextContrast {
    /// The text layer's id.
    pub id: Option<String>,
    /// The colour chosen.
    pub color: crate::color::Rgba,
    /// WCAG contrast against the worst tenth of the pixels under the text.
    pub contrast: f64,
    /// Opacity of the scrim added behind the text (0 when none was needed).
    pub scrim_alpha: f32,
}

/// What compositing decided from the frame.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CompositeReport {
    /// Colours chosen for `auto` text (and, when measuring, every text's contrast).
    pub contrast: Vec<TextContrast>,
    /// Faces found (with `faces: true`), in canvas pixels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<Rect>,
    /// Text layers moved to an alternative placement to keep off a face.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved_off_faces: Vec<String>,
    /// Where each text layer was drawn (id, or "text"; box after moving off faces).
    #[serde(skip)]
    pub text_boxes: Vec<(String, Rect)>,
}

/// Draws `doc` over `frame` and returns the canvas.
///
/// # Errors
/// [`CompositeError`] when an asset cannot be loaded or OpenCV fails.
pub fn composite(frame: &Image, doc: &LayoutDoc, env: &Env) -> Result<Image, CompositeError> {
    composite_with_report(frame, doc, env, false).map(|(canvas, _)| canvas)
}

/// As [`composite`], also reporting what was decided from the frame: `auto` text colours and
/// their contrast (with `measure_all`, every text layer's contrast, for `coverforge check`),
/// faces, and text moved off them.
///
/// # Errors
/// As [`composite`].
pub fn composite_with_report(
    frame: &Image,
    doc: &LayoutDoc,
    env: &Env,
    measure_all: bool,
) -> Result<(Image, CompositeReport), CompositeError> {
    let faces = faces_in(frame, None, doc, env)?;
    let (mut canvas, faces) = background(frame, doc, &faces)?;
    let report = draw_layers(&mut canvas, &doc.layers, &faces, env, measure_all)?;
    Ok((canvas, report))
}

/// As [`composite_with_report`], taking the frame: a frame already fitted to the canvas (see
/// [`crate::keyframe::FitTo`]) becomes the canvas itself, with no copy.
///
/// # Errors
/// As [`composite`].
/// `known_faces` are the frame's faces when they were found with the keyframe (see
/// [`crate::keyframe::Extracted::faces`]); `None` finds them here if the layout asks for faces.
pub fn composite_frame(
    frame: Image,
    known_faces: Option<&[Rect]>,
    doc: &LayoutDoc,
    env: &Env,
    measure_all: bool,
) -> Result<(Image, CompositeReport), CompositeError> {
    let faces = faces_in(&frame, known_faces, doc, env)?;
    let fit = fitting(frame.width(), frame.height(), doc, &faces);
    let already_fitted = fit.fill.is_none()
        && fit.crop == frame.bounds()
        && fit.dst == Rect::new(0, 0, frame.width(), frame.height());
    let (mut canvas, faces) = if already_fitted {
        let faces = fit.map_faces(&faces);
        (frame, faces)
    } else {
        background(&frame, doc, &faces)?
    };
    let report = draw_layers(&mut canvas, &doc.layers, &faces, env, measure_all)?;
    Ok((canvas, report))
}

/// The faces in `frame` (frame pixels) when the layout asks to keep text off them: `known`
/// when they came with the keyframe, else detected now.
///
/// # Errors
/// [`CompositeError::Asset`] naming the face model when it cannot be loaded.
pub(crate) fn faces_in(
    frame: &Image,
    known: Option<&[Rect]>,
    doc: &LayoutDoc,
    env: &Env,
) -> Result<Vec<Rect>, CompositeError> {
    if !doc.faces {
        return Ok(Vec::new());
    }
    if let Some(known) = known {
        return Ok(known.to_vec());
    }
    let model = env.face_model();
    frame.detect_faces(&model).map_err(|e| CompositeError::Asset { path: model, message: e.message })
}

/// Draws `layers` onto `canvas` (which already holds the fitted frame); `faces` are in canvas
/// pixels.
fn draw_layers(
    canvas: &mut Image,
    layers: &[Layer],
    faces: &[Rect],
    env: &Env,
    measure_all: bool,
) -> Result<CompositeReport, CompositeError> {
    let mut report = CompositeReport { faces: faces.to_vec(), ..Default::default() };
    let mut moves = OffFaces::new(faces);
    for layer in layers {
        match layer {
            Layer::Text(t) => {
                let placed = moves.place_noting(t, &mut report);
                report.contrast.extend(text::draw(canvas, &placed, env, measure_all)?);
            }
            Layer::Image(l) => draw_image(canvas, l, env)?,
            Layer::Qr(q) => qr::draw(canvas, q)?,
            Layer::Gradient(g) => {
                let b = g.bbox;
                canvas.fill_gradient(b, g.vertical, g.from, g.to);
            }
            Layer::Rect(r) => {
                let b = r.bbox;
                canvas.fill_rect(b, r.color);
            }
        }
    }
    Ok(report)
}

/// An image layer: scaled to its box, or warped onto its quadrilateral; its shadow first.
fn draw_image(
    canvas: &mut Image,
    l: &crate::layout::doc::ImageLayer,
    env: &Env,
) -> Result<(), CompositeError> {
    let asset = |e: crate::env::ImageError| CompositeError::Asset { path: l.src.clone(), message: e.message };
    let pixel =
        |e: crate::pixels::PixelError| CompositeError::Asset { path: l.src.clone(), message: e.to_string() };
    let pad = l.shadow.map_or(0, |s| (s.blur * 2.0).ceil() as i32);
    // What is drawn: the whole box for a scaled image (its size is cached across covers); for
    // a perspective layer only the part that can reach the canvas (its shadow included), so a
    // quad mostly off the canvas costs what it shows.
    let area = match l.quad {
        None => l.bbox,
        Some(_) => {
            let (sx, sy) = l.shadow.map_or((0, 0), |s| (s.dx.abs(), s.dy.abs()));
            let (gx, gy) = (pad + sx, pad + sy);
            let reach = Rect::new(-gx, -gy, canvas.width() + 2 * gx as u32, canvas.height() + 2 * gy as u32);
            match l.bbox.intersection(&reach) {
                Some(a) => a,
                None => return Ok(()),
            }
        }
    };
    let (w, h) = (area.width.max(1), area.height.max(1));
    let image = match l.quad {
        None => env.image_sized(&l.src, w, h).map_err(asset)?,
        Some(q) => {
            let corners = q.map(|[x, y]| [x - area.x as f32, y - area.y as f32]);
            std::sync::Arc::new(env.image(&l.src).map_err(asset)?.warped(corners, w, h).map_err(pixel)?)
        }
    };
    if let Some(s) = l.shadow {
        let pad = pad as u32;
        let mut alpha = crate::pixels::Mask::new(w + 2 * pad, h + 2 * pad);
        let a = image.alpha();
        alpha.max_blit(&a.data, a.width, a.height, pad as i32, pad as i32);
        let blurred = alpha.blurred(s.blur).map_err(pixel)?;
        let color = crate::color::Rgba { a: (s.color.a as f32 * l.opacity).round() as u8, ..s.color };
        canvas.blend_mask(&blurred, area.x - pad as i32 + s.dx, area.y - pad as i32 + s.dy, color);
    }
    canvas.draw_overlay(&image, area.x, area.y, l.opacity);
    Ok(())
}

/// The overlays of a cover, frozen as decided on its chosen frame, for drawing over other frames
/// of the same video (animated covers): titles, logo and QR stay still while the video moves.
///
/// Decisions taken from the frame (`auto` text colour and scrim, text moved off faces, the
/// face-keeping crop) are made once, on the chosen frame, so nothing flickers. The overlays are
/// then drawn once over black and once over white: every layer is an "over" blend, so the two
/// give each pixel's coverage and premultiplied colour ([`crate::pixels::Plate`]), and each
/// frame costs one crop-and-scale and one blend instead of a full composite.
pub struct CoverPlate {
    doc: LayoutDoc,
    /// Faces in source-frame pixels (the crop follows them the same way on every frame).
    faces_in_frame: Vec<Rect>,
    plate: crate::pixels::Plate,
}

impl CoverPlate {
    /// Composites the cover on `frame` (as [`composite_with_report`]) and freezes its overlays.
    ///
    /// # Errors
    /// As [`composite`].
    pub fn new(
        frame: &Image,
        known_faces: Option<&[Rect]>,
        doc: &LayoutDoc,
        env: &Env,
    ) -> Result<(Image, CompositeReport, Self), CompositeError> {
        let faces_in_frame = faces_in(frame, known_faces, doc, env)?;
        let (mut canvas, faces) = background(frame, doc, &faces_in_frame)?;
        let report = draw_layers(&mut canvas, &doc.layers, &faces, env, false)?;
        let frozen = frozen_layers(doc, &faces, &report);
        let (w, h) = (doc.canvas.width, doc.canvas.height);
        let mut over_black = Image::filled(w, h, crate::color::Rgba::BLACK);
        let mut over_white = Image::filled(w, h, crate::color::Rgba::WHITE);
        draw_layers(&mut over_black, &frozen.layers, &[], env, false)?;
        draw_layers(&mut over_white, &frozen.layers, &[], env, false)?;
        let plate = crate::pixels::Plate::from_black_and_white(&over_black, &over_white);
        Ok((canvas, report, CoverPlate { doc: frozen, faces_in_frame, plate }))
    }

    /// The cover for another frame of the same video.
    ///
    /// # Errors
    /// When OpenCV fails to scale the frame.
    pub fn apply(&self, frame: &Image) -> Result<Image, CompositeError> {
        let (mut canvas, _) = background(frame, &self.doc, &self.faces_in_frame)?;
        canvas.apply_plate(&self.plate);
        Ok(canvas)
    }
}

/// `doc` with the decisions made on one frame written in: text at its face-free placement,
/// `auto` colours fixed, and their scrims as rectangles; no face detection left to do.
fn frozen_layers(doc: &LayoutDoc, faces: &[Rect], report: &CompositeReport) -> LayoutDoc {
    let mut chosen = report.contrast.iter();
    let mut layers = Vec::with_capacity(doc.layers.len());
    let mut moves = OffFaces::new(faces);
    for layer in &doc.layers {
        match layer {
            Layer::Text(t) => {
                let mut t = moves.place(t);
                if t.auto_color {
                    if let Some(c) = chosen.next() {
                        if c.scrim_alpha > 0.0 {
                            layers.push(Layer::Rect(text::scrim_rect(&t, c)));
                        }
                        t.color = c.color;
                    }
                    t.auto_color = false;
                }
                layers.push(Layer::Text(t));
            }
            other => layers.push(other.clone()),
        }
    }
    LayoutDoc { faces: false, layers, ..doc.clone() }
}

/// Places text layers, in drawing order, off the faces.
struct OffFaces<'a> {
    faces: &'a [Rect],
    /// How far each moved layer (by id) went, for the layers that follow it.
    moved: std::collections::HashMap<String, (i32, i32)>,
}

impl<'a> OffFaces<'a> {
    fn new(faces: &'a [Rect]) -> Self {
        OffFaces { faces, moved: Default::default() }
    }

    /// The text layer moved as far as the layer it follows moved, if that one did; else at
    /// its first placement (its own, then its alternatives) clear of every face; when none is
    /// clear (a close-up), the one covering the least face.
    fn place(&mut self, t: &TextLayer) -> TextLayer {
        let covered =
            |b: &Rect| -> u64 { self.faces.iter().filter_map(|f| b.intersection(f)).map(|r| r.area()).sum() };
        let led = t.follows.as_ref().and_then(|id| self.moved.get(id)).copied();
        let bbox = match led {
            Some((dx, dy)) => t.bbox.moved(dx, dy),
            None if self.faces.is_empty() || covered(&t.bbox) == 0 => t.bbox,
            // min_by_key keeps the first of equals: the layer's own placement, then its order.
            None => {
                std::iter::once(&t.bbox).chain(&t.alternatives).copied().min_by_key(covered).unwrap_or(t.bbox)
            }
        };
        if bbox == t.bbox {
            return t.clone();
        }
        if let Some(id) = &t.id {
            self.moved.insert(id.clone(), (bbox.x - t.bbox.x, bbox.y - t.bbox.y));
        }
        TextLayer { bbox, ..t.clone() }
    }

    /// As [`OffFaces::place`], noting in `report` where the layer went and whether it moved.
    fn place_noting(&mut self, t: &TextLayer, report: &mut CompositeReport) -> TextLayer {
        let placed = self.place(t);
        let id = t.id.clone().unwrap_or_else(|| "text".into());
        if placed.bbox != t.bbox {
            report.moved_off_faces.push(id.clone());
        }
        report.text_boxes.push((id, placed.bbox));
        placed
    }
}

/// Where the frame goes on the canvas: the part of the frame shown, the canvas rectangle it is
/// scaled into, the background colour around it (`contain`), and the frame → canvas mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fitting {
    /// The part of the frame shown (frame pixels).
    crop: Rect,
    /// Where it is scaled to (canvas pixels).
    dst: Rect,
    /// The canvas colour around the frame, when the frame does not cover it.
    fill: Option<crate::color::Rgba>,
    /// Frame pixel shown at the canvas origin, and canvas pixels per frame pixel.
    origin: (f64, f64),
    scale: f64,
}

/// How a `frame_w` x `frame_h` frame fits the canvas. `cover` crops the source first and scales
/// only the part that shows (about 3x cheaper than scaling the whole frame and cropping after);
/// the crop is centred, or moved just enough to keep the faces (frame pixels) in.
fn fitting(frame_w: u32, frame_h: u32, doc: &LayoutDoc, faces: &[Rect]) -> Fitting {
    let (cw, ch) = (doc.canvas.width, doc.canvas.height);
    let (fw, fh) = (frame_w as f64, frame_h as f64);
    match doc.fit {
        Fit::Cover => {
            let (crop, scale) = cover_crop_keeping((frame_w, frame_h), (cw, ch), faces);
            Fitting {
                crop,
                dst: Rect::new(0, 0, cw, ch),
                fill: None,
                origin: (crop.x as f64, crop.y as f64),
                scale,
            }
        }
        Fit::Contain => {
            let scale = (cw as f64 / fw).min(ch as f64 / fh);
            let w = ((fw * scale).round() as u32).clamp(1, cw);
            let h = ((fh * scale).round() as u32).clamp(1, ch);
            let (ox, oy) = ((cw - w) / 2, (ch - h) / 2);
            Fitting {
                crop: Rect::new(0, 0, frame_w, frame_h),
                dst: Rect::new(ox as i32, oy as i32, w, h),
                fill: Some(doc.canvas.background),
                origin: (-(ox as f64) / scale, -(oy as f64) / scale),
                scale,
            }
        }
    }
}

impl Fitting {
    /// Faces found in the frame, in canvas pixels.
    fn map_faces(&self, faces: &[Rect]) -> Vec<Rect> {
        faces_on_canvas(faces, self.origin, self.scale)
    }
}

/// Faces in frame pixels, in the pixels of a canvas showing the frame from `origin` (a frame
/// point) at `scale` canvas pixels per frame pixel.
pub(crate) fn faces_on_canvas(faces: &[Rect], (x, y): (f64, f64), scale: f64) -> Vec<Rect> {
    faces
        .iter()
        .map(|f| Rect {
            x: ((f.x as f64 - x) * scale).round() as i32,
            y: ((f.y as f64 - y) * scale).round() as i32,
            width: (f.width as f64 * scale).round() as u32,
            height: (f.height as f64 * scale).round() as u32,
        })
        .collect()
}

/// The frame fitted to the canvas, and the faces mapped into canvas pixels.
fn background(frame: &Image, doc: &LayoutDoc, faces: &[Rect]) -> Result<(Image, Vec<Rect>), PixelError> {
    let fit = fitting(frame.width(), frame.height(), doc, faces);
    let dst = fit.dst;
    let canvas = match fit.fill {
        None => frame.crop_resized(fit.crop, dst.width, dst.height)?,
        Some(color) => {
            let fitted = frame.crop_resized(fit.crop, dst.width, dst.height)?;
            let mut canvas = Image::filled(doc.canvas.width, doc.canvas.height, color);
            canvas.paste(&fitted, dst.x, dst.y);
            canvas
        }
    };
    Ok((canvas, fit.map_faces(faces)))
}

/// The part of a `frame`-sized picture a `fit: cover` canvas shows (and canvas pixels per frame
/// pixel): centred, or moved just enough to keep the faces (frame pixels) in.
pub(crate) fn cover_crop_keeping(frame: (u32, u32), canvas: (u32, u32), faces: &[Rect]) -> (Rect, f64) {
    let (centred, scale) = Rect::cover_crop(frame, canvas);
    let x = keep_in_view(centred.x as u32, centred.width, frame.0, faces.iter().map(|f| (f.x, f.width)));
    let y = keep_in_view(centred.y as u32, centred.height, frame.1, faces.iter().map(|f| (f.y, f.height)));
    (Rect::new(x as i32, y as i32, centred.width, centred.height), scale)
}

/// The start of a `len`-long window on a `total`-long axis: `centred` unless that leaves part of
/// a face (start, length) outside; then the window is centred on the faces, within the frame.
fn keep_in_view(centred: u32, len: u32, total: u32, faces: impl Iterator<Item = (i32, u32)>) -> u32 {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for (start, size) in faces {
        lo = lo.min(start as i64);
        hi = hi.max(start as i64 + size as i64);
    }
    if lo > hi || (lo >= centred as i64 && hi <= (centred + len) as i64) {
        return centred;
    }
    let start = (lo + hi) / 2 - len as i64 / 2;
    start.clamp(0, (total - len) as i64) as u32
}
