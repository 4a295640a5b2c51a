//! What a video is, as the rest of the pipeline sees it (FFmpeg's shapes stay in `av`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// File extensions taken as videos in folder mode.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "mkv", "webm", "avi", "ts", "mts", "flv", "3gp"];

/// The folder rule, shared by `batch`, `check` and everything that pairs metadata with videos:
/// `NAME.yaml` describes the cover of `NAME.<video extension>`, and `NAME.KIND.yaml` another
/// deliverable of the same video (a thumbnail, a landscape cut), written as `NAME.KIND.<ext>`.
/// `has_video(stem)` says whether a video with that stem exists; the whole stem is tried first
/// (so `clip.v2.mp4` pairs with `clip.v2.yaml`), then shorter ones, dropping one `.KIND` at a time.
/// Returns the video's stem.
pub fn video_stem_for(sidecar_stem: &str, has_video: impl Fn(&str) -> bool) -> Option<&str> {
    let mut stem = sidecar_stem;
    loop {
        if !stem.is_empty() && has_video(stem) {
            return Some(stem);
        }
        stem = &stem[..stem.rfind('.')?];
    }
}

/// The video file for a metadata file by the folder rule ([`video_stem_for`]), in its folder.
pub fn video_beside(meta: &std::path::Path) -> Option<std::path::PathBuf> {
    let stem = meta.file_stem()?.to_str()?;
    let dir = meta.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let find =
        |s: &str| VIDEO_EXTENSIONS.iter().map(|ext| dir.join(format!("{s}.{ext}"))).find(|p| p.is_file());
    let video_stem = video_stem_for(stem, |s| find(s).is_some())?;
    find(video_stem)
}

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

#[cfg(test)]
mod folder_rule_tests {
    use super::video_stem_for;

    #[test]
    fn a_kind_suffix_names_another_deliverable_of_the_same_video() {
        let videos = ["travel", "clip.v2"];
        let has = |s: &str| videos.contains(&s);
        assert_eq!(video_stem_for("travel", has), Some("travel"));
        assert_eq!(video_stem_for("travel.thumb", has), Some("travel"));
        assert_eq!(video_stem_for("travel.thumb.square", has), Some("travel"));
        assert_eq!(video_stem_for("clip.v2", has), Some("clip.v2"), "the whole stem first");
        assert_eq!(video_stem_for("clip.v2.thumb", has), Some("clip.v2"));
        assert_eq!(video_stem_for("other.thumb", has), None);
        assert_eq!(video_stem_for(".thumb", has), None);
    }
}
