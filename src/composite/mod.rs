//! Stage 3: draw a [`LayoutDoc`] over a frame into a canvas [`Image`].
//!
//! The compositor knows nothing of templates or YAML: it reads the resolved layout, fonts and
//! images from the [`Env`], and draws layers in order. Drawing is deterministic: the same frame
//! and layout give the same pixels.

pub mod glyphs;
mod qr;
mod text;

pub use text::TARGET_CONTRAST;

use crate::env::Env;
use crate::layout::doc::{Fit, Layer, LayoutDoc};
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
}

/// What `auto` text colour chose, and the contrast it reached (measured on the pixels).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// Draws `doc` over `frame` and returns the canvas.
///
/// # Errors
/// [`CompositeError`] when an asset cannot be loaded or OpenCV fails.
pub fn composite(frame: &Image, doc: &LayoutDoc, env: &Env) -> Result<Image, CompositeError> {
    composite_with_report(frame, doc, env, false).map(|(canvas, _)| canvas)
}

/// As [`composite`], also returning the decisions of `auto` text colours, and with
/// `measure_all`, the contrast of every other text layer too (for `coverforge check`).
///
/// # Errors
/// As [`composite`].
pub fn composite_with_report(
    frame: &Image,
    doc: &LayoutDoc,
    env: &Env,
    measure_all: bool,
) -> Result<(Image, Vec<TextContrast>), CompositeError> {
    let mut canvas = background(frame, doc)?;
    let mut contrasts = Vec::new();
    for layer in &doc.layers {
        match layer {
            Layer::Text(t) => contrasts.extend(text::draw(&mut canvas, t, env, measure_all)?),
            Layer::Image(l) => {
                let img = env
                    .image(&l.src)
                    .map_err(|message| CompositeError::Asset { path: l.src.clone(), message })?;
                let sized = img.resized(l.bbox.width.max(1), l.bbox.height.max(1))?;
                canvas.draw_overlay(&sized, l.bbox.x, l.bbox.y, l.opacity);
            }
            Layer::Qr(q) => qr::draw(&mut canvas, q)?,
            Layer::Gradient(g) => {
                let b = g.bbox;
                canvas.fill_gradient((b.x, b.y, b.width, b.height), g.vertical, g.from, g.to);
            }
            Layer::Rect(r) => {
                let b = r.bbox;
                canvas.fill_rect(b.x, b.y, b.width, b.height, r.color);
            }
        }
    }
    Ok((canvas, contrasts))
}

/// The frame fitted to the canvas. `cover` crops the source first and then scales only the
/// part that shows (about 3x cheaper than scaling the whole frame and cropping after).
fn background(frame: &Image, doc: &LayoutDoc) -> Result<Image, PixelError> {
    let (cw, ch) = (doc.canvas.width, doc.canvas.height);
    let (fw, fh) = (frame.width() as f64, frame.height() as f64);
    match doc.fit {
        Fit::Cover => {
            let scale = (cw as f64 / fw).max(ch as f64 / fh);
            let crop_w = ((cw as f64 / scale).round() as u32).clamp(1, frame.width());
            let crop_h = ((ch as f64 / scale).round() as u32).clamp(1, frame.height());
            let x = (frame.width() - crop_w) / 2;
            let y = (frame.height() - crop_h) / 2;
            frame.crop_resized((x, y, crop_w, crop_h), cw, ch)
        }
        Fit::Contain => {
            let scale = (cw as f64 / fw).min(ch as f64 / fh);
            let w = ((fw * scale).round() as u32).clamp(1, cw);
            let h = ((fh * scale).round() as u32).clamp(1, ch);
            let fitted = frame.crop_resized((0, 0, frame.width(), frame.height()), w, h)?;
            let mut canvas = Image::filled(cw, ch, doc.canvas.background);
            canvas.paste(&fitted, ((cw - w) / 2) as i32, ((ch - h) / 2) as i32);
            Ok(canvas)
        }
    }
}
