//! Animated-cover clip settings: what the template's `animated:` block and the command line
//! say, validated into [`Settings`] with every problem named with its allowed range, and the
//! report of a written clip. Plain values: the encoders live in `av`, the clip loop in
//! `animated`.

use super::hardware::DecodedBy;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Video codecs for MP4 covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264 / AVC: plays everywhere.
    #[default]
    H264,
    /// H.265 / HEVC: smaller files.
    Hevc,
}

/// Encoder backends, in the order `auto` prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// NVIDIA NVENC.
    Nvenc,
    /// Intel Quick Sync Video.
    Qsv,
    /// VA-API.
    Vaapi,
    /// libx264 / libx265 (and libwebp for WebP).
    Software,
}

impl Backend {
    /// Every backend, in the order `auto` tries them.
    pub const ALL: [Backend; 4] = [Backend::Nvenc, Backend::Qsv, Backend::Vaapi, Backend::Software];

    /// Whether this backend runs on a hardware device (and so counts against the session cap).
    pub fn is_hardware(self) -> bool {
        self != Backend::Software
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nvenc => "nvenc",
            Backend::Qsv => "qsv",
            Backend::Vaapi => "vaapi",
            Backend::Software => "software",
        }
    }

    /// Presets this backend accepts (beyond the portable `fast`, `medium`, `slow`).
    pub fn presets(self) -> &'static [&'static str] {
        match self {
            Backend::Nvenc => &["p1", "p2", "p3", "p4", "p5", "p6", "p7"],
            Backend::Qsv => &["veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"],
            Backend::Vaapi => &[],
            Backend::Software => &[
                "ultrafast",
                "superfast",
                "veryfast",
                "faster",
                "fast",
                "medium",
                "slow",
                "slower",
                "veryslow",
                "placebo",
            ],
        }
    }

    /// This backend's name for a preset: its own names pass through; `fast`, `medium` and
    /// `slow` are understood by every backend. `None` when the backend has no such preset.
    pub fn preset(self, preset: &str) -> Option<String> {
        let p = preset.to_ascii_lowercase();
        match (self, p.as_str()) {
            (Backend::Nvenc, "fast") => Some("p2".into()),
            (Backend::Nvenc, "medium") => Some("p4".into()),
            (Backend::Nvenc, "slow") => Some("p6".into()),
            (Backend::Vaapi, "fast" | "medium" | "slow") => Some(String::new()),
            (b, p) if b.presets().contains(&p) => Some(p.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `--encoder`: one backend, or `auto` (the first that opens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderChoice {
    /// NVENC, then QSV, then VAAPI, then software.
    #[default]
    Auto,
    /// NVENC only.
    Nvenc,
    /// QSV only.
    Qsv,
    /// VAAPI only.
    Vaapi,
    /// Software only (the reference).
    Software,
}

impl EncoderChoice {
    /// The backends to try, in order.
    pub fn candidates(self) -> &'static [Backend] {
        match self {
            EncoderChoice::Auto => &Backend::ALL,
            EncoderChoice::Nvenc => &[Backend::Nvenc],
            EncoderChoice::Qsv => &[Backend::Qsv],
            EncoderChoice::Vaapi => &[Backend::Vaapi],
            EncoderChoice::Software => &[Backend::Software],
        }
    }
}

impl FromStr for EncoderChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(EncoderChoice::Auto),
            "nvenc" => Ok(EncoderChoice::Nvenc),
            "qsv" => Ok(EncoderChoice::Qsv),
            "vaapi" => Ok(EncoderChoice::Vaapi),
            "software" | "cpu" => Ok(EncoderChoice::Software),
            _ => Err(format!("unknown encoder `{s}`; allowed: auto, nvenc, qsv, vaapi, software")),
        }
    }
}

impl FromStr for VideoCodec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" => Ok(VideoCodec::H264),
            "hevc" | "h265" => Ok(VideoCodec::Hevc),
            _ => Err(format!("unknown video codec `{s}`; allowed: h264, hevc")),
        }
    }
}

/// Encoder settings as written in a template's `animated:` block or on the command line; every
/// field is optional (the command line's fields override the template's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodeSettings {
    /// Clip length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// `h264` or `hevc` (MP4 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Backend: `auto`, `nvenc`, `qsv`, `vaapi`, `software`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<EncoderChoice>,
    /// Speed/quality preset: `fast`, `medium`, `slow`, or the backend's own names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Constant quality, 0 (best) to 51 (CRF for x264/x265, CQ for NVENC, ICQ for QSV, QP for
    /// VAAPI). For WebP, libwebp's 0–100 quality (100 best). Ignored when `bitrate` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u32>,
    /// Target bitrate (`2M`, `800k` or bits per second): constant bitrate, or variable up to
    /// `maxrate` when that is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    /// Peak bitrate for variable bitrate (needs `bitrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxrate: Option<String>,
    /// Keyframe interval in frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gop: Option<u32>,
    /// Output frame rate. [default: the video's, at most 60]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

/// How the encoder spends bits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateControl {
    /// Constant quality 0–51 (WebP: 0–100).
    Quality(u32),
    /// Constant bitrate, bits per second.
    Cbr(u64),
    /// Variable bitrate: target and peak, bits per second.
    Vbr(u64, u64),
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Clip length in seconds.
    pub seconds: f64,
    /// MP4 codec.
    pub codec: VideoCodec,
    /// Backends to try.
    pub encoder: EncoderChoice,
    /// Preset as given (mapped per backend when the encoder opens).
    pub preset: Option<String>,
    /// Rate control.
    pub rate: RateControl,
    /// Keyframe interval in frames (`None`: the encoder's default).
    pub gop: Option<u32>,
    /// Output frame rate (`None`: the video's, at most 60).
    pub fps: Option<f64>,
}

/// Ranges the settings must fall in.
pub const SECONDS: (f64, f64) = (0.5, 15.0);
/// Bitrate range, bits per second.
pub const BITRATE: (u64, u64) = (100_000, 100_000_000);
/// Keyframe interval range, frames.
pub const GOP: (u32, u32) = (1, 600);
/// Frame rate range.
pub const FPS: (f64, f64) = (1.0, 60.0);

impl EncodeSettings {
    /// `self` with every field `over` sets replaced.
    pub fn overridden_by(&self, over: &EncodeSettings) -> EncodeSettings {
        EncodeSettings {
            seconds: over.seconds.or(self.seconds),
            codec: over.codec.or(self.codec),
            encoder: over.encoder.or(self.encoder),
            preset: over.preset.clone().or_else(|| self.preset.clone()),
            quality: over.quality.or(self.quality),
            bitrate: over.bitrate.clone().or_else(|| self.bitrate.clone()),
            maxrate: over.maxrate.clone().or_else(|| self.maxrate.clone()),
            gop: over.gop.or(self.gop),
            fps: over.fps.or(self.fps),
        }
    }

    /// Checks every value; `webp` allows quality up to 100.
    ///
    /// # Errors
    /// Every problem, each naming the setting, its value and the allowed range.
    pub fn validate(&self, webp: bool) -> Result<Settings, Vec<String>> {
        let mut problems = Vec::new();
        let seconds = self.seconds.unwrap_or(3.0);
        if !(SECONDS.0..=SECONDS.1).contains(&seconds) {
            problems.push(format!("seconds {seconds} is out of range {}–{}", SECONDS.0, SECONDS.1));
        }
        let max_quality = if webp { 100 } else { 51 };
        let quality = self.quality.unwrap_or(if webp { 75 } else { 23 });
        if quality > max_quality {
            problems.push(format!("quality {quality} is out of range 0–{max_quality}"));
        }
        let mut rate = |name: &str, v: &Option<String>| -> Option<u64> {
            let v = v.as_deref()?;
            match parse_bitrate(v) {
                Some(b) if (BITRATE.0..=BITRATE.1).contains(&b) => Some(b),
                Some(_) => {
                    problems.push(format!("{name} `{v}` is out of range 100k–100M"));
                    None
                }
                None => {
                    problems.push(format!("{name} `{v}` is not a bitrate (like 2M, 800k or 1500000)"));
                    None
                }
            }
        };
        let bitrate = rate("bitrate", &self.bitrate);
        let maxrate = rate("maxrate", &self.maxrate);
        let rate = match (bitrate, maxrate) {
            (Some(b), Some(m)) if m < b => {
                problems.push(format!("maxrate {m} is below bitrate {b}"));
                RateControl::Cbr(b)
            }
            (Some(b), Some(m)) => RateControl::Vbr(b, m),
            (Some(b), None) => RateControl::Cbr(b),
            (None, Some(_)) => {
                problems.push("maxrate needs bitrate".into());
                RateControl::Quality(quality)
            }
            (None, None) => RateControl::Quality(quality),
        };
        if let Some(g) = self.gop {
            if !(GOP.0..=GOP.1).contains(&g) {
                problems.push(format!("gop {g} is out of range {}–{}", GOP.0, GOP.1));
            }
        }
        if let Some(f) = self.fps {
            if !(FPS.0..=FPS.1).contains(&f) {
                problems.push(format!("fps {f} is out of range {}–{}", FPS.0, FPS.1));
            }
        }
        let encoder = self.encoder.unwrap_or_default();
        if let Some(p) = &self.preset {
            let ok = encoder.candidates().iter().any(|b| b.preset(p).is_some());
            if !ok {
                let names: Vec<String> = encoder
                    .candidates()
                    .iter()
                    .map(|b| format!("{b}: fast, medium, slow{}", extra_presets(*b)))
                    .collect();
                problems.push(format!("preset `{p}` is not known; allowed: {}", names.join("; ")));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            seconds,
            codec: self.codec.unwrap_or_default(),
            encoder,
            preset: self.preset.clone(),
            rate,
            gop: self.gop,
            fps: self.fps,
        })
    }
}

fn extra_presets(b: Backend) -> String {
    let extra: Vec<&str> =
        b.presets().iter().copied().filter(|p| !["fast", "medium", "slow"].contains(p)).collect();
    if extra.is_empty() {
        String::new()
    } else {
        format!(", {}", extra.join(", "))
    }
}

/// `2M`, `800k`, `1.5M` or plain bits per second.
pub fn parse_bitrate(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then(|| (v * mult).round() as u64)
}

/// What an animated render produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipReport {
    /// The encoder that wrote it (`libx264`, `h264_nvenc`, `libwebp_anim`, ...).
    pub encoder: String,
    /// Its backend.
    pub backend: Backend,
    /// Why earlier backends were not used (under `auto`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// Encoded size (even: odd canvas sizes lose their last column or row, never scaled).
    pub width: u32,
    /// Encoded height.
    pub height: u32,
    /// Frames written.
    pub frames: u64,
    /// Frame rate.
    pub fps: f64,
    /// Start of the clip in the video, seconds.
    pub start_s: f64,
    /// Clip length, seconds.
    pub seconds: f64,
    /// Which decoder read the clip's frames.
    pub decoded_by: DecodedBy,
}
