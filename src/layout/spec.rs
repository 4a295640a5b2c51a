//! What a template renders: the layout *specification* (YAML), before measurement and
//! anchoring. Unknown keys are errors. Numbers may be quoted, because every `{{ }}` value is
//! written as a quoted scalar (see [`crate::template`]).

use crate::color::Rgba;
use crate::layout::doc::{Align, Fit};
use serde::{Deserialize, Deserializer};

/// Keys a layer may have, for typo hints.
pub(crate) const LAYER_KEYS: &[&str] = &[
    "kind",
    "id",
    "anchor",
    "relative_to",
    "at",
    "dx",
    "dy",
    "width",
    "height",
    "text",
    "font",
    "size",
    "color",
    "line_height",
    "max_lines",
    "align",
    "shadow",
    "src",
    "opacity",
    "data",
    "quiet_zone",
    "dark",
    "light",
    "direction",
    "from",
    "to",
    "min_size",
    "letter_spacing",
    "stroke",
    "balance",
    "highlight",
    "alternatives",
    "fallback",
    "latin",
    "quad",
    "gradient",
    "strokes",
    "glow",
    "pill",
];

/// A corner of a perspective layer: a point `[x, y]` on the canvas, or an anchor point of the
/// canvas or an earlier layer (`{at: bottom-right, relative_to: title, dx, dy}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Corner {
    Point([Num; 2]),
    Placed(Placement),
}

/// Where a layer goes: its anchor point on a point of a reference box, plus offsets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Placement {
    pub anchor: Option<Anchor>,
    pub at: Option<Anchor>,
    pub relative_to: Option<String>,
    pub dx: Option<Num>,
    pub dy: Option<Num>,
}

/// A colour, or `auto` (text only: light or dark, whichever reads better on the frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Paint {
    Auto,
    Color(Rgba),
}

impl<'de> Deserialize<'de> for Paint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.eq_ignore_ascii_case("auto") {
            Ok(Paint::Auto)
        } else {
            s.parse()
                .map(Paint::Color)
                .map_err(|e: String| serde::de::Error::custom(format!("{e}, or `auto`")))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StrokeSpec {
    pub width: Option<Num>,
    pub color: Option<Rgba>,
}

/// A text fill running from one colour at the top of the text to another at its bottom.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextGradientSpec {
    pub from: Rgba,
    pub to: Rgba,
}

/// A soft light around the glyphs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GlowSpec {
    pub color: Option<Rgba>,
    pub radius: Option<Num>,
}

/// A rounded band behind each line, as wide as the line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PillSpec {
    pub color: Option<Rgba>,
    pub padding: Option<Num>,
    pub padding_y: Option<Num>,
    pub radius: Option<Num>,
}

/// A number that may also be written as a quoted numeral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) if n.is_finite() => Ok(Num(n)),
            Raw::N(n) => Err(serde::de::Error::custom(format!("{n} is not a finite number"))),
            Raw::S(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Num)
                .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a number"))),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub canvas: CanvasSpec,
    #[serde(default)]
    pub fit: Fit,
    /// Detect faces: keep them in the crop, and move text with `alternatives` off them.
    #[serde(default)]
    pub faces: bool,
    /// A platform profile whose UI areas text and QR codes are kept out of.
    pub platform: Option<String>,
    /// Extra no-go zones in pixels.
    #[serde(default)]
    pub safe_zones: Vec<crate::layout::safe_zones::Zone>,
    #[serde(default)]
    pub layers: Vec<LayerSpec>,
    /// Animated cover settings (clip length, codec, encoder, rate control).
    #[serde(default)]
    pub animated: Option<crate::model::clip::EncodeSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanvasSpec {
    pub width: Num,
    pub height: Num,
    pub background: Option<Rgba>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Text,
    Image,
    Qr,
    Gradient,
    Rect,
}

/// The nine points of a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Anchor {
    #[default]
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

impl Anchor {
    /// The point as fractions of width and height.
    pub fn fractions(self) -> (f64, f64) {
        match self {
            Anchor::TopLeft => (0.0, 0.0),
            Anchor::Top => (0.5, 0.0),
            Anchor::TopRight => (1.0, 0.0),
            Anchor::Left => (0.0, 0.5),
            Anchor::Center => (0.5, 0.5),
            Anchor::Right => (1.0, 0.5),
            Anchor::BottomLeft => (0.0, 1.0),
            Anchor::Bottom => (0.5, 1.0),
            Anchor::BottomRight => (1.0, 1.0),
        }
    }
}

/// How Latin letters and digits sit in a vertical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LatinInColumn {
    /// Turned a quarter clockwise, a word at a time.
    #[default]
    Rotated,
    /// One above the other.
    Upright,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    #[default]
    Vertical,
    Horizontal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShadowSpec {
    #[serde(default)]
    pub dx: Option<Num>,
    #[serde(default)]
    pub dy: Option<Num>,
    #[serde(default)]
    pub blur: Option<Num>,
    pub color: Option<Rgba>,
}

/// One layer as written; which keys are required depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayerSpec {
    pub kind: Kind,
    pub id: Option<String>,
    /// The layer's own point that is placed.
    pub anchor: Option<Anchor>,
    /// `canvas` (default) or the id of an earlier layer.
    pub relative_to: Option<String>,
    /// The point of the reference box it is placed at (default: same as `anchor`).
    pub at: Option<Anchor>,
    pub dx: Option<Num>,
    pub dy: Option<Num>,
    pub width: Option<Num>,
    pub height: Option<Num>,
    // text
    pub text: Option<String>,
    pub font: Option<String>,
    pub size: Option<Num>,
    /// Fit-to-box: the smallest size the text may shrink to (`size` is the largest).
    pub min_size: Option<Num>,
    pub letter_spacing: Option<Num>,
    pub stroke: Option<StrokeSpec>,
    /// Further outlines outside `stroke`, inner first.
    pub strokes: Option<Vec<StrokeSpec>>,
    pub gradient: Option<TextGradientSpec>,
    pub glow: Option<GlowSpec>,
    pub pill: Option<PillSpec>,
    /// Balanced lines (similar widths) instead of greedy filling.
    pub balance: Option<bool>,
    /// Accent colour for `**marked**` and `【bracketed】` spans.
    pub highlight: Option<Rgba>,
    /// Fonts tried in order for characters `font` lacks.
    pub fallback: Option<Vec<String>>,
    /// Other placements for a text layer, tried in order when a face is under it.
    pub alternatives: Option<Vec<Placement>>,
    pub color: Option<Paint>,
    pub line_height: Option<Num>,
    pub max_lines: Option<Num>,
    pub align: Option<Align>,
    pub shadow: Option<ShadowSpec>,
    // image
    pub src: Option<String>,
    pub opacity: Option<Num>,
    // qr
    pub data: Option<String>,
    pub quiet_zone: Option<Num>,
    pub dark: Option<Rgba>,
    pub light: Option<Rgba>,
    // gradient
    pub direction: Option<Direction>,
    /// Vertical text: Latin runs `rotated` (default) or `upright`.
    pub latin: Option<LatinInColumn>,
    /// An image's four corners (top-left, top-right, bottom-right, bottom-left): a
    /// perspective layer.
    pub quad: Option<Vec<Corner>>,
    pub from: Option<Rgba>,
    pub to: Option<Rgba>,
}
