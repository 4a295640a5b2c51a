//! The resolved layout: the intermediate representation between templates and pixels
//! (like `usvg::Tree`). Absolute pixel boxes, resolved colours, wrapped text lines, resolved
//! asset paths. The compositor reads only this; it can be dumped, snapshot-tested and queued.

use crate::color::Rgba;
pub use crate::model::Rect;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A fully resolved cover layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutDoc {
    /// The template it came from.
    pub template: String,
    /// Output size and background colour.
    pub canvas: CanvasDef,
    /// How the video frame fills the canvas.
    pub fit: Fit,
    /// Detect faces in the frame: the crop keeps them, and text with alternatives avoids them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub faces: bool,
    /// Layers, drawn in order over the frame.
    pub layers: Vec<Layer>,
    /// Areas covered by the platform's UI, kept clear of text and QR codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safe_zones: Vec<crate::layout::safe_zones::Zone>,
    /// Problems worth a designer's look that did not stop the layout (see `coverforge check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Animated cover settings from the template (`animated:`), validated when used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<crate::model::clip::EncodeSettings>,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Text cut by an ellipsis (longer than the template allows).
    Truncated,
    /// Text shrank to its minimum size and still did not fit.
    BelowMinimum,
    /// A layer overlaps a platform safe zone and could not be moved clear.
    SafeZone,
    /// QR modules smaller than 4 px at the output size.
    QrModules,
    /// A QR quiet zone narrower than the standard 4 modules.
    QrQuietZone,
    /// Text contrast below WCAG 4.5:1 on the frame.
    Contrast,
    /// Text over a face in the frame, with no placement clear of it.
    Face,
}

/// One finding, located at the layer that has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Kind.
    pub kind: FindingKind,
    /// The layer (`layer 3 (`title`)`).
    pub layer: String,
    /// 1-based line of the layer in the rendered layout (`coverforge layout --raw`).
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Output size and the colour behind the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanvasDef {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Shown where the frame does not cover (with `fit: contain`).
    pub background: Rgba,
}

/// How the frame fills the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Fit {
    /// Scale to fill the canvas and centre-crop the overflow (no stretching, no bars).
    #[default]
    Cover,
    /// Scale to fit inside the canvas, centred, over the background colour.
    Contain,
}

/// One drawable layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Layer {
    /// Wrapped text with an optional shadow.
    Text(TextLayer),
    /// A picture with alpha (logo, watermark).
    Image(ImageLayer),
    /// A QR code.
    Qr(QrLayer),
    /// A linear gradient (scrim).
    Gradient(GradientLayer),
    /// A solid rectangle.
    Rect(RectLayer),
}

impl Layer {
    /// The layer moved by (dx, dy) (its box and, for text, its alternative placements).
    pub fn moved(&self, dx: i32, dy: i32) -> Layer {
        match self {
            Layer::Text(l) => Layer::Text(TextLayer {
                bbox: l.bbox.moved(dx, dy),
                alternatives: l.alternatives.iter().map(|b| b.moved(dx, dy)).collect(),
                ..l.clone()
            }),
            Layer::Image(l) => Layer::Image(ImageLayer {
                bbox: l.bbox.moved(dx, dy),
                quad: l.quad.map(|q| q.map(|[x, y]| [x + dx as f32, y + dy as f32])),
                ..l.clone()
            }),
            Layer::Qr(l) => Layer::Qr(QrLayer { bbox: l.bbox.moved(dx, dy), ..l.clone() }),
            Layer::Gradient(l) => Layer::Gradient(GradientLayer { bbox: l.bbox.moved(dx, dy), ..l.clone() }),
            Layer::Rect(l) => Layer::Rect(RectLayer { bbox: l.bbox.moved(dx, dy), ..l.clone() }),
        }
    }

    /// The layer's box.
    pub fn bbox(&self) -> Rect {
        match self {
            Layer::Text(l) => l.bbox,
            Layer::Image(l) => l.bbox,
            Layer::Qr(l) => l.bbox,
            Layer::Gradient(l) => l.bbox,
            Layer::Rect(l) => l.bbox,
        }
    }
}

/// Horizontal alignment of text lines in their box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// Flush left.
    #[default]
    Left,
    /// Centred.
    Center,
    /// Flush right.
    Right,
}

/// A drop shadow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    /// Horizontal offset in pixels.
    pub dx: i32,
    /// Vertical offset in pixels.
    pub dy: i32,
    /// Blur radius in pixels (0 = hard shadow).
    pub blur: f32,
    /// Colour; its alpha is the shadow's opacity.
    pub color: Rgba,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// An outline drawn under the glyph fill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stroke {
    /// Outline width in pixels.
    pub width: f32,
    /// Outline colour.
    pub color: Rgba,
}

/// A glow: the glyphs grown and blurred by `radius` px, in `color`, under the text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Glow {
    /// Blur radius in pixels.
    pub radius: f32,
    /// Colour (its alpha included).
    pub color: Rgba,
}

/// A rounded band behind each line, following the line's width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pill {
    /// Colour (its alpha included).
    pub color: Rgba,
    /// Room left and right of the line, px.
    pub padding_x: f32,
    /// Room above and below the glyph band, px.
    pub padding_y: f32,
    /// Corner radius, px (capped at half the band's height).
    pub radius: f32,
}

/// One laid-out line of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextLine {
    /// The characters on the line (an ellipsis included if cut).
    pub text: String,
    /// Offset of the line's left edge from the box's left edge (alignment).
    pub x: i32,
    /// Measured advance width in pixels.
    pub width: u32,
    /// Highlighted character ranges `[start, end)` drawn in the layer's highlight colour.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<[usize; 2]>,
}

/// A text layer, wrapped and measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextLayer {
    /// Layer id, if the template gave one.
    pub id: Option<String>,
    /// The box: width as given, height = lines × line height.
    pub bbox: Rect,
    /// Font name (file stem in `fonts/`).
    pub font: String,
    /// Em size in pixels.
    pub size: f32,
    /// Distance between baselines in pixels.
    pub line_height: f32,
    /// Text colour (the fallback when `auto_color` is set).
    pub color: Rgba,
    /// Choose light or dark text (and a scrim if needed) from the pixels under the box, for a
    /// WCAG contrast of at least 4.5:1.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_color: bool,
    /// Extra pixels between characters.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub letter_spacing: f32,
    /// Outline around the glyphs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stroke: Option<Stroke>,
    /// Further outlines outside `stroke`, inner first: each grows the one inside it by its width.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strokes: Vec<Stroke>,
    /// A fill from `color`'s place at the top of the text box to the second colour at its
    /// bottom: `[top, bottom]` (replaces `color`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient: Option<[Rgba; 2]>,
    /// A glow under the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glow: Option<Glow>,
    /// A band behind each line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pill: Option<Pill>,
    /// Colour of highlighted spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Rgba>,
    /// Fallback fonts the text actually uses (for characters `font` lacks, e.g. emoji).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<String>,
    /// Boxes the text may move to (in order) when a face is under `bbox`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Rect>,
    /// The layer this one is placed against (`relative_to`): when that text moves off a face,
    /// this one moves with it (a subtitle stays under its title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// Alignment.
    pub align: Align,
    /// Optional drop shadow.
    pub shadow: Option<Shadow>,
    /// Whether the text was cut to fit `max_lines` (an ellipsis ends the last line).
    pub truncated: bool,
    /// Vertical text: each line is a column, the first on the right, read top to bottom;
    /// `x` and `width` of a line run down its column.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vertical: bool,
    /// In vertical text, Latin letters stand upright instead of turning with their run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub latin_upright: bool,
    /// The lines.
    pub lines: Vec<TextLine>,
}

/// An image layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageLayer {
    /// Layer id.
    pub id: Option<String>,
    /// Where the image is drawn, at this size.
    pub bbox: Rect,
    /// The image file.
    pub src: PathBuf,
    /// Opacity 0–1, multiplied with the image's own alpha.
    pub opacity: f32,
    /// A perspective layer: the image's corners (top-left, top-right, bottom-right,
    /// bottom-left) on the canvas, inside `bbox`; the image is warped onto them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quad: Option<[[f32; 2]; 4]>,
    /// A drop shadow of the image's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
}

/// A QR code layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrLayer {
    /// Layer id.
    pub id: Option<String>,
    /// The square box; the symbol is drawn with whole-pixel modules, centred in it.
    pub bbox: Rect,
    /// The encoded text.
    pub data: String,
    /// Modules per side of the symbol (without quiet zone).
    pub modules: u32,
    /// Quiet zone in modules on each side.
    pub quiet_zone: u32,
    /// Module colour.
    pub dark: Rgba,
    /// Background and quiet-zone colour.
    pub light: Rgba,
}

/// A gradient layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientLayer {
    /// Layer id.
    pub id: Option<String>,
    /// The area.
    pub bbox: Rect,
    /// Top-to-bottom when true, left-to-right otherwise.
    pub vertical: bool,
    /// Start colour.
    pub from: Rgba,
    /// End colour.
    pub to: Rgba,
}

/// A rectangle layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectLayer {
    /// Layer id.
    pub id: Option<String>,
    /// The area.
    pub bbox: Rect,
    /// Fill colour (alpha blends).
    pub color: Rgba,
}
