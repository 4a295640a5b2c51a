//! Resource limits, checked before anything large is allocated (like image-rs `Limits`).
//!
//! Every stage that could be asked for a huge allocation by its input (a template that makes a
//! 100000-pixel canvas, an 16K video, a title of a million characters) checks the relevant limit
//! first and fails with [`LimitError`], which names the value and the limit.

use serde::{Deserialize, Serialize};

/// The limits one job runs under. [`Limits::default`] is what the CLI uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Limits {
    /// Largest canvas side in pixels (also bounds every box in a layout). Default 8192.
    pub max_canvas_side: u32,
    /// Largest input video width (8K UHD is 7680; DCI 8K is 8192), checked on the header and
    /// again on the decoded frame. Default 8192.
    pub max_input_width: u32,
    /// Largest input video height. Default 8192.
    pub max_input_height: u32,
    /// Most characters in the title (and in any one text layer). Default 500.
    pub max_text_chars: usize,
    /// Most layers in one layout. Default 64.
    pub max_layers: usize,
    /// Most bytes a template may render, and the largest value a template variable may hold;
    /// rendering stops as soon as either is exceeded. Default 256 KiB.
    pub max_template_output: usize,
    /// Largest metadata file (or `defaults.yaml`) in bytes. Default 1 MiB.
    pub max_metadata_bytes: u64,
    /// Largest template file in bytes. Default 1 MiB.
    pub max_template_bytes: u64,
    /// Largest batch manifest (CSV or JSON Lines) in bytes. Default 64 MiB.
    pub max_manifest_bytes: u64,
    /// Largest font file in bytes: a full CJK collection is 20–30 MB. Default 64 MiB.
    pub max_font_bytes: u64,
    /// Largest image layer file (watermark, logo) in bytes. Default 32 MiB.
    pub max_image_bytes: u64,
    /// Largest image layer source (watermark, logo) side in pixels, checked from the file's
    /// header before decoding. Default 8192.
    pub max_image_side: u32,
    /// Most pixels of text boxes one layout may ask to draw (each text layer's box with its
    /// shadow and stroke padding): bounds the memory of text rendering. Default 64 Mpx.
    pub max_text_pixels: u64,
    /// Most loop iterations one template render may run (all loops together, nested ones
    /// counted in full). Default 100 000.
    pub max_template_iterations: u64,
    /// Longest a template render may run, in seconds (checked at each loop and assignment).
    /// Default 5.
    pub max_template_seconds: f64,
    /// Longest one job may run, in seconds, from its start (`--deadline`). Checked between
    /// stages and inside FFmpeg's demuxing and I/O. Default 30.
    pub deadline_s: f64,
    /// Most A/B variants one metadata file may expand to (`--max-variants`). Default 10.
    pub max_variants: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_canvas_side: 8192,
            max_input_width: 8192,
            max_input_height: 8192,
            max_text_chars: 500,
            max_layers: 64,
            max_template_output: 256 * 1024,
            max_metadata_bytes: 1024 * 1024,
            max_template_bytes: 1024 * 1024,
            max_manifest_bytes: 64 * 1024 * 1024,
            max_font_bytes: 64 * 1024 * 1024,
            max_image_bytes: 32 * 1024 * 1024,
            max_image_side: 8192,
            max_text_pixels: 64 * 1024 * 1024,
            max_template_iterations: 100_000,
            max_template_seconds: 5.0,
            deadline_s: 30.0,
            max_variants: 10,
        }
    }
}

/// A value exceeded one of the [`Limits`].
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{what} {value} exceeds the limit of {limit}")]
pub struct LimitError {
    /// What was measured, e.g. "canvas width".
    pub what: String,
    /// The offending value, formatted.
    pub value: String,
    /// The limit, formatted.
    pub limit: String,
}

impl LimitError {
    /// Builds the error from anything displayable.
    pub fn new(what: impl Into<String>, value: impl ToString, limit: impl ToString) -> Self {
        LimitError { what: what.into(), value: value.to_string(), limit: limit.to_string() }
    }
}

/// Fails with a [`LimitError`] when `value > limit`.
///
/// # Errors
/// [`LimitError`] naming `what`, the value and the limit.
pub fn check<T: PartialOrd + ToString>(what: &str, value: T, limit: T) -> Result<(), LimitError> {
    if value > limit {
        Err(LimitError::new(what, value, limit))
    } else {
        Ok(())
    }
}
