//! Stage 1a: probe a video in-process — what it is, how big, how it should be turned upright.

use crate::av::Source;
use crate::limits::{LimitError, Limits};
use crate::pixels::QuarterTurn;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the rest of the pipeline needs to know about a video.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MediaInfo {
    /// The file probed.
    pub path: PathBuf,
    /// Container format as FFmpeg names it (e.g. `mov,mp4,m4a,3gp,3g2,mj2`).
    pub container: String,
    /// Video codec (e.g. `h264`).
    pub codec: String,
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Sample (pixel) aspect ratio, `1:1` for square pixels.
    pub sample_aspect_ratio: (u32, u32),
    /// Display-matrix rotation in degrees as ffprobe reports it (counter-clockwise positive).
    pub rotation_degrees: i32,
    /// Width once upright with square pixels: the size players show.
    pub display_width: u32,
    /// Height once upright with square pixels.
    pub display_height: u32,
    /// Duration in seconds (0 when the container does not say).
    pub duration_s: f64,
    /// Average frame rate (0 when unknown).
    pub frame_rate: f64,
    /// The quarter turn that makes frames upright.
    pub upright_turn: QuarterTurn,
}

impl MediaInfo {
    /// Sets the pixel aspect ratio and recomputes the display size: non-square pixels stretch
    /// the width, as players do; quarter turns swap the sides.
    pub(crate) fn set_sample_aspect_ratio(&mut self, num: u32, den: u32) {
        self.sample_aspect_ratio = (num, den);
        let sar_width = ((self.width as u64 * num as u64 + den as u64 / 2) / den as u64).max(1) as u32;
        (self.display_width, self.display_height) = match self.upright_turn {
            QuarterTurn::Clockwise | QuarterTurn::CounterClockwise => (self.height, sar_width),
            _ => (sar_width, self.height),
        };
    }
}

/// Why a video could not be probed or opened. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The file could not be read (missing, permissions).
    #[error("{}: cannot read video: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The file is empty.
    #[error("{}: file is empty (0 bytes), not a video", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// FFmpeg does not recognise the file as media (text, truncated, corrupt).
    #[error("{}: not a readable video file: {reason}", path.display())]
    NotMedia {
        /// The file.
        path: PathBuf,
        /// FFmpeg's reason.
        reason: String,
    },
    /// The file has no video stream (e.g. audio only).
    #[error("{}: has no video stream (found: {found})", path.display())]
    NoVideo {
        /// The file.
        path: PathBuf,
        /// The kinds of streams found.
        found: String,
    },
    /// The video codec cannot be decoded by this FFmpeg build.
    #[error("{}: unsupported video: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A hardware decoder was asked for explicitly and is missing or cannot decode this codec.
    #[error("{}: --hwaccel {accel}: {reason}", path.display())]
    Hardware {
        /// The file.
        path: PathBuf,
        /// The setting that asked for it.
        accel: crate::accel::HwAccel,
        /// What is missing, in FFmpeg's words where it gave some.
        reason: String,
    },
    /// The video exceeds a limit (e.g. larger than 8K).
    #[error("{}: {source}", path.display())]
    Limit {
        /// The file.
        path: PathBuf,
        /// Which limit.
        source: LimitError,
    },
}

/// Probes `path`: container, codec, size, rotation, pixel aspect, duration.
///
/// # Errors
/// [`ProbeError`] naming the file when it is missing, empty, not media, has no video stream,
/// uses an unsupported codec or exceeds the input limits.
pub fn probe(path: &Path, limits: &Limits) -> Result<MediaInfo, ProbeError> {
    Ok(Source::open(path, limits, true, crate::accel::HwAccel::None)?.info().clone())
}
