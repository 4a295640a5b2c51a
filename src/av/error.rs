//! `av`'s own errors: what FFmpeg said about a video, naming the file. The probe and keyframe
//! stages re-export them ([`crate::probe::ProbeError`], [`crate::keyframe::DecodeError`]).

use crate::limits::LimitError;
use std::path::{Path, PathBuf};

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
        accel: crate::model::HwAccel,
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

impl ProbeError {
    /// The video the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ProbeError::Io { path, .. }
            | ProbeError::Empty { path }
            | ProbeError::NotMedia { path, .. }
            | ProbeError::NoVideo { path, .. }
            | ProbeError::Unsupported { path, .. }
            | ProbeError::Hardware { path, .. }
            | ProbeError::Limit { path, .. } => path,
        }
    }
}

/// Why a keyframe could not be decoded. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The video could not be opened.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// Seeking failed.
    #[error("{}: cannot seek to {time_s:.3} s: {reason}", path.display())]
    Seek {
        /// The file.
        path: PathBuf,
        /// The time asked for.
        time_s: f64,
        /// FFmpeg's reason.
        reason: String,
    },
    /// No keyframe could be decoded at or after the seek point.
    #[error("{}: no keyframe could be decoded near {time_s:.3} s: {reason}", path.display())]
    NoKeyframe {
        /// The file.
        path: PathBuf,
        /// The time asked for.
        time_s: f64,
        /// Why.
        reason: String,
    },
    /// The decoded frame could not be converted to the canvas format.
    #[error("{}: cannot convert decoded frame: {reason}", path.display())]
    Convert {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl DecodeError {
    /// The video the error is about.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DecodeError::Probe(p) => Some(p.path()),
            DecodeError::Seek { path, .. }
            | DecodeError::NoKeyframe { path, .. }
            | DecodeError::Convert { path, .. } => Some(path),
        }
    }
}

/// A failure of the GPU path (the CUDA driver, the compositor's kernels, nvJPEG), in the
/// driver's or loader's words. Callers fall back to the CPU on it under `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GpuError(pub String);

impl From<String> for GpuError {
    fn from(s: String) -> Self {
        GpuError(s)
    }
}

impl From<&str> for GpuError {
    fn from(s: &str) -> Self {
        GpuError(s.to_string())
    }
}
