//! Stage 1a: probe a video in-process — what it is, how big, how it should be turned upright.

use crate::av::Source;
use crate::limits::Limits;
use std::path::Path;

pub use crate::model::MediaInfo;

pub use crate::av::error::ProbeError;

/// Probes `path`: container, codec, size, rotation, pixel aspect, duration.
///
/// # Errors
/// [`ProbeError`] naming the file when it is missing, empty, not media, has no video stream,
/// uses an unsupported codec or exceeds the input limits.
pub fn probe(path: &Path, limits: &Limits) -> Result<MediaInfo, ProbeError> {
    Ok(Source::open(path, limits, true, crate::model::HwAccel::None)?.info().clone())
}
