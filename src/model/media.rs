//! What a video is, as the rest of the pipeline sees it (FFmpeg's shapes stay in `av`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// File extensions taken as videos in folder mode.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "mkv", "webm", "avi", "ts", "mts", "flv", "3gp"];

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
    pub fn set_sample_aspect_ratio(&mut self, num: u32, den: u32) {
        self.sample_aspect_ratio = (num, den);
        let sar_width = ((self.width as u64 * num as u64 + den as u64 / 2) / den as u64).max(1) as u32;
        (self.display_width, self.display_height) = match self.upright_turn {
            QuarterTurn::Clockwise | QuarterTurn::CounterClockwise => (self.height, sar_width),
            _ => (sar_width, self.height),
        };
    }
}

/// Quarter turns that make a stored video frame upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuarterTurn {
    /// Already upright.
    None,
    /// Turn 90° clockwise.
    Clockwise,
    /// Turn 180°.
    Half,
    /// Turn 90° counter-clockwise.
    CounterClockwise,
}
