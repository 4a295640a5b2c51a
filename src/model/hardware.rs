//! Hardware choices, as plain types (the FFmpeg and CUDA side lives in `av`).
//!
//! Decoding picks a device at runtime: CUDA/NVDEC, then VAAPI, then QSV, then software. A device
//! that is missing or refuses a stream is never fatal under `auto`: the job decodes in software
//! and its report says why. Asking for a device explicitly turns its absence into an
//! "unsupported" error that says what is missing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The `--hwaccel` / `COVERFORGE_HWACCEL` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HwAccel {
    /// The best device that opens and supports the stream, else software.
    #[default]
    Auto,
    /// NVIDIA NVDEC through CUDA.
    Cuda,
    /// VA-API (Intel, AMD on Linux).
    Vaapi,
    /// Intel Quick Sync Video.
    Qsv,
    /// Software decoding only: the reference path.
    None,
}

/// The `--compositor` / `COVERFORGE_COMPOSITOR` setting: where still covers are composited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compositor {
    /// The CPU (OpenCV and our own blending): the reference, the same bytes on every machine.
    #[default]
    Cpu,
    /// The canvas in GPU memory: NVDEC frames are scaled there, scrims blended there, JPEG
    /// encoded there by nvJPEG; text, logo and QR are drawn by the CPU code on small regions.
    /// An error when CUDA, the kernels or nvJPEG are missing.
    Cuda,
    /// CUDA when it works here, else the CPU (reports say why).
    Auto,
}

impl Compositor {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Compositor::Cpu => "cpu",
            Compositor::Cuda => "cuda",
            Compositor::Auto => "auto",
        }
    }
}

impl fmt::Display for Compositor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compositor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Compositor::Cpu),
            "cuda" | "gpu" => Ok(Compositor::Cuda),
            "auto" => Ok(Compositor::Auto),
            _ => Err(format!("unknown compositor `{s}`; allowed: cpu, cuda, auto")),
        }
    }
}

/// A hardware decode device kind, in the order `auto` tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// NVIDIA NVDEC through CUDA.
    Cuda,
    /// VA-API.
    Vaapi,
    /// Intel Quick Sync Video.
    Qsv,
}

impl Device {
    /// Every device kind, in the order `auto` tries them.
    pub const ALL: [Device; 3] = [Device::Cuda, Device::Vaapi, Device::Qsv];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cuda => "cuda",
            Device::Vaapi => "vaapi",
            Device::Qsv => "qsv",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl HwAccel {
    /// The devices this setting tries, in order (empty for `none`).
    pub fn candidates(self) -> &'static [Device] {
        match self {
            HwAccel::Auto => &Device::ALL,
            HwAccel::Cuda => &[Device::Cuda],
            HwAccel::Vaapi => &[Device::Vaapi],
            HwAccel::Qsv => &[Device::Qsv],
            HwAccel::None => &[],
        }
    }

    /// Whether a missing device is an error (an explicit choice) rather than a fallback.
    pub fn is_explicit(self) -> bool {
        !matches!(self, HwAccel::Auto | HwAccel::None)
    }

    /// `COVERFORGE_HWACCEL` when set, else `auto`.
    ///
    /// # Errors
    /// The variable holds something other than the allowed values.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("COVERFORGE_HWACCEL") {
            Ok(v) if !v.is_empty() => v.parse().map_err(|e| format!("COVERFORGE_HWACCEL: {e}")),
            _ => Ok(HwAccel::Auto),
        }
    }
}

impl FromStr for HwAccel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(HwAccel::Auto),
            "cuda" | "nvdec" => Ok(HwAccel::Cuda),
            "vaapi" => Ok(HwAccel::Vaapi),
            "qsv" => Ok(HwAccel::Qsv),
            "none" | "software" | "cpu" => Ok(HwAccel::None),
            _ => Err(format!("unknown hardware acceleration `{s}`; allowed: auto, cuda, vaapi, qsv, none")),
        }
    }
}

impl fmt::Display for HwAccel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HwAccel::Auto => "auto",
            HwAccel::Cuda => "cuda",
            HwAccel::Vaapi => "vaapi",
            HwAccel::Qsv => "qsv",
            HwAccel::None => "none",
        })
    }
}

/// Which decoder produced a frame, and why it is not a hardware one when it could have been.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DecodedBy {
    /// `cuda`, `vaapi`, `qsv` or `software`.
    pub decoder: String,
    /// Why hardware was not used (absent when it was, or when `none` asked for software).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl DecodedBy {
    /// A software decode, with the reason when hardware was wanted.
    pub fn software(fallback: Option<String>) -> Self {
        DecodedBy { decoder: "software".into(), fallback }
    }
}

/// Which JPEG encoder writes still covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JpegEncoder {
    /// nvJPEG when the canvas is already on the GPU (`--compositor cuda`), else libjpeg-turbo.
    #[default]
    Auto,
    /// libjpeg-turbo on the CPU (the reference; same bytes on every machine).
    Cpu,
    /// nvJPEG on an NVIDIA GPU (frees the CPU for compositing; different bytes).
    Nvjpeg,
}

impl std::str::FromStr for JpegEncoder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(JpegEncoder::Auto),
            "cpu" | "libjpeg" => Ok(JpegEncoder::Cpu),
            "nvjpeg" | "gpu" => Ok(JpegEncoder::Nvjpeg),
            _ => Err(format!("unknown JPEG encoder `{s}`; allowed: auto, cpu, nvjpeg")),
        }
    }
}
