//! Hardware acceleration choices, as plain types (the FFmpeg side lives in `av::hw`).
//!
//! Decoding picks a device at runtime: CUDA/NVDEC, then VAAPI, then QSV, then software. A device
//! that is missing or refuses a stream is never fatal under `auto`: the job decodes in software
//! and its report says why. Asking for a device explicitly turns its absence into an
//! [`crate::error::ErrorKind::Unsupported`] error that says what is missing.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The `--hwaccel` / `COVERFORGE_HWACCEL` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
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

/// Whether the GPU compositor (CUDA driver, FFmpeg's CUDA device, the kernels, nvJPEG) works
/// here, and why not.
///
/// # Errors
/// The first thing missing, in the loader's or driver's words.
pub fn gpu_compositor_available() -> Result<(), String> {
    crate::av::cuda::available()
}

/// A hardware decode device kind, in the order `auto` tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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

/// One decode device as `coverforge devices` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeDevice {
    /// The device kind.
    pub device: Device,
    /// Whether a device context opened.
    pub available: bool,
    /// Why not, in FFmpeg's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Codecs this FFmpeg build can decode on it.
    pub codecs: Vec<String>,
}

/// What this machine offers for decoding and encoding.
#[derive(Debug, Clone, Serialize)]
pub struct DevicesReport {
    /// Decode devices, in the order `auto` tries them.
    pub decode: Vec<DecodeDevice>,
    /// Every encoder, opened once to see whether it works.
    pub encode: Vec<crate::animated::EncoderProbe>,
    /// The cap on concurrent hardware encoder sessions.
    pub max_hw_sessions: usize,
    /// Whether nvJPEG (GPU JPEG encoding for still covers) loads, and why not.
    pub nvjpeg: Result<(), String>,
    /// Whether the GPU compositor (`--compositor cuda`) works, and why not.
    pub gpu_compositor: Result<(), String>,
}

/// Opens each decode device and each encoder once and reports what works and why not.
pub fn devices() -> DevicesReport {
    let decode = Device::ALL
        .iter()
        .map(|&d| {
            let opened = crate::av::hw::device(d);
            DecodeDevice {
                device: d,
                available: opened.is_ok(),
                reason: opened.err(),
                codecs: crate::av::hw::decodable_codecs(d),
            }
        })
        .collect();
    DevicesReport {
        decode,
        encode: crate::av::encoder::probe().to_vec(),
        max_hw_sessions: crate::animated::max_hw_sessions(),
        nvjpeg: crate::encode::nvjpeg_available(),
        gpu_compositor: gpu_compositor_available(),
    }
}

/// How a device's decode of a video's keyframes compares with software's.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeComparison {
    /// The video.
    pub video: std::path::PathBuf,
    /// The device compared with software.
    pub device: Device,
    /// Keyframes compared (at 0, 25, 50 and 75 % of the duration; duplicates merged).
    pub keyframes: usize,
    /// Lowest PSNR over the keyframes, in dB, on the upright BGR frames (100 = identical).
    pub min_psnr_db: f64,
    /// Mean PSNR, dB.
    pub mean_psnr_db: f64,
    /// Mean milliseconds per keyframe on the device (seek, decode, transfer, conversion).
    pub device_ms: f64,
    /// Mean milliseconds per keyframe in software.
    pub software_ms: f64,
}

/// The PSNR below which a device's decode is reported as not matching software.
pub const MIN_PSNR_DB: f64 = 45.0;

/// Decodes the same keyframes of `video` on `device` and in software and compares the pixels.
///
/// # Errors
/// The video cannot be opened, the device is missing, or it refused the stream.
pub fn compare_decoders(
    video: &std::path::Path,
    device: Device,
    limits: &crate::limits::Limits,
) -> Result<DecodeComparison, crate::error::Error> {
    use crate::av::Source;
    use std::time::Instant;
    let explicit = match device {
        Device::Cuda => HwAccel::Cuda,
        Device::Vaapi => HwAccel::Vaapi,
        Device::Qsv => HwAccel::Qsv,
    };
    let mut software = Source::open(video, limits, false, HwAccel::None)?;
    let mut hardware = Source::open(video, limits, false, explicit)?;
    let duration = software.info().duration_s;
    let mut seen = Vec::new();
    let (mut psnrs, mut hw_ms, mut sw_ms) = (Vec::new(), 0.0, 0.0);
    for fraction in [0.0, 0.25, 0.5, 0.75] {
        let t0 = Instant::now();
        let sw = software.keyframe_at(duration * fraction)?;
        let t1 = Instant::now();
        let hw = hardware.keyframe_at(duration * fraction)?;
        let t2 = Instant::now();
        if seen.iter().any(|&t: &f64| (t - sw.time_s).abs() < 1e-6) {
            continue;
        }
        seen.push(sw.time_s);
        if hw.decoded_by.decoder != device.name() {
            return Err(crate::probe::ProbeError::Hardware {
                path: video.to_owned(),
                accel: explicit,
                reason: hw.decoded_by.fallback.unwrap_or_else(|| "decoded in software".into()),
            }
            .into());
        }
        sw_ms += (t1 - t0).as_secs_f64() * 1000.0;
        hw_ms += (t2 - t1).as_secs_f64() * 1000.0;
        psnrs.push(psnr(&sw.image, &hw.image));
    }
    let n = psnrs.len().max(1) as f64;
    Ok(DecodeComparison {
        video: video.to_owned(),
        device,
        keyframes: psnrs.len(),
        min_psnr_db: psnrs.iter().copied().fold(f64::INFINITY, f64::min),
        mean_psnr_db: psnrs.iter().sum::<f64>() / n,
        device_ms: hw_ms / n,
        software_ms: sw_ms / n,
    })
}

/// PSNR of two images of the same size, in dB, capped at 100 (identical).
pub fn psnr(a: &crate::pixels::Image, b: &crate::pixels::Image) -> f64 {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return 0.0;
    }
    let (a, b) = (a.bgr_bytes(), b.bgr_bytes());
    let sse: u64 = a.iter().zip(b).map(|(&x, &y)| (i64::from(x) - i64::from(y)).pow(2) as u64).sum();
    if sse == 0 {
        return 100.0;
    }
    let mse = sse as f64 / a.len() as f64;
    (10.0 * (255.0f64 * 255.0 / mse).log10()).min(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_value_and_quotes_bad_ones() {
        for (s, v) in [
            ("auto", HwAccel::Auto),
            ("CUDA", HwAccel::Cuda),
            ("vaapi", HwAccel::Vaapi),
            ("qsv", HwAccel::Qsv),
            ("none", HwAccel::None),
        ] {
            assert_eq!(s.parse::<HwAccel>().unwrap(), v);
            assert_eq!(v.to_string().parse::<HwAccel>().unwrap(), v);
        }
        let e = "opencl".parse::<HwAccel>().unwrap_err();
        assert!(e.contains("`opencl`") && e.contains("auto, cuda, vaapi, qsv, none"), "{e}");
        assert_eq!(HwAccel::Auto.candidates(), &[Device::Cuda, Device::Vaapi, Device::Qsv]);
        assert!(HwAccel::None.candidates().is_empty());
        assert!(HwAccel::Cuda.is_explicit() && !HwAccel::Auto.is_explicit());
    }
}
