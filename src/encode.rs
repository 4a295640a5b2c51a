//! Stage 4: encode a canvas as JPEG, PNG or WebP (chosen by the output extension). The bytes
//! are written by [`crate::files::write_atomic`], so a failure never leaves a half-written cover.

use crate::pixels::{Image, PixelError};
use std::path::{Path, PathBuf};

/// Still-image output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// JPEG (libjpeg-turbo), lossy, with quality.
    Jpeg,
    /// PNG, lossless.
    Png,
    /// WebP, lossy, with quality.
    Webp,
}

/// Why encoding or writing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output extension is not a supported format.
    #[error("{}: unsupported output format `{ext}` (use .jpg, .jpeg, .png or .webp)", path.display())]
    Format {
        /// The output path.
        path: PathBuf,
        /// Its extension.
        ext: String,
    },
    /// Quality outside 1–100.
    #[error("quality {0} is outside 1–100")]
    Quality(u8),
    /// The encoder failed.
    #[error("{}: {source}", path.display())]
    Encoder {
        /// The output path.
        path: PathBuf,
        /// OpenCV's failure.
        source: PixelError,
    },
    /// nvJPEG was asked for and could not be loaded or failed.
    #[error("{}: {message}", path.display())]
    Gpu {
        /// The output path.
        path: PathBuf,
        /// nvJPEG's or CUDA's reason.
        message: String,
    },
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
}

impl Format {
    /// The format for an output path, by extension (case-insensitive).
    ///
    /// # Errors
    /// [`EncodeError::Format`] for any other extension.
    pub fn from_path(path: &Path) -> Result<Self, EncodeError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" => Ok(Format::Jpeg),
            "png" => Ok(Format::Png),
            "webp" => Ok(Format::Webp),
            _ => Err(EncodeError::Format { path: path.to_owned(), ext }),
        }
    }
}

pub use crate::model::JpegEncoder;

/// Whether nvJPEG can be loaded here, and why not.
///
/// # Errors
/// The loader's reason (no CUDA runtime or nvJPEG library).
pub fn nvjpeg_available() -> Result<(), crate::av::error::GpuError> {
    crate::av::nvjpeg::available()
}

/// As [`encode`], with JPEG written by `jpeg`.
///
/// # Errors
/// As [`encode`]; with nvJPEG, why it could not be loaded or failed.
pub fn encode_with(
    canvas: &Image,
    format: Format,
    quality: u8,
    path: &Path,
    jpeg: JpegEncoder,
) -> Result<Vec<u8>, EncodeError> {
    if format != Format::Jpeg || jpeg != JpegEncoder::Nvjpeg {
        return encode(canvas, format, quality, path);
    }
    if !(1..=100).contains(&quality) {
        return Err(EncodeError::Quality(quality));
    }
    crate::av::nvjpeg::encode(canvas.bgr_bytes(), canvas.width(), canvas.height(), quality)
        .map_err(|e| EncodeError::Gpu { path: path.to_owned(), message: e.to_string() })
}

/// Encodes `canvas`; `quality` (1–100) applies to JPEG and WebP.
///
/// # Errors
/// [`EncodeError`] for a bad quality or an encoder failure.
pub fn encode(canvas: &Image, format: Format, quality: u8, path: &Path) -> Result<Vec<u8>, EncodeError> {
    if !(1..=100).contains(&quality) {
        return Err(EncodeError::Quality(quality));
    }
    let encoded = match format {
        // libjpeg-turbo reads the BGR canvas as it is (see `av::turbojpeg`).
        Format::Jpeg => jpeg(canvas, quality).map_err(|e| e.message),
        Format::Png => canvas.encode_png().map_err(|e| e.message),
        Format::Webp => {
            crate::av::webp::encode_bgr(canvas.bgr_bytes(), canvas.width(), canvas.height(), quality)
        }
    };
    encoded.map_err(|message| EncodeError::Encoder {
        path: path.to_owned(),
        source: PixelError { op: "encode", message },
    })
}

/// A JPEG of `image` (4:2:0, `quality` 1–100) by libjpeg-turbo: covers, proof-sheet and report
/// thumbnails.
///
/// # Errors
/// TurboJPEG's message.
pub fn jpeg(image: &Image, quality: u8) -> Result<Vec<u8>, PixelError> {
    crate::av::turbojpeg::encode_bgr(image.bgr_bytes(), image.width(), image.height(), quality)
        .map_err(|message| PixelError { op: "JPEG encode", message })
}
