//! `coverforge devices`: what hardware this machine offers, and a decoder comparison.
//!
//! Every device and encoder is really opened once to see whether it works here; the reason is
//! kept when it does not. `--check-decode` decodes a video's keyframes on every available device
//! and in software and compares them (PSNR).

use crate::model::{Device, HwAccel};
use serde::Serialize;

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

/// Opens each decode device and each encoder once and reports what works and why not;
/// `sessions` is the hardware encoder session cap jobs run under.
pub fn devices(sessions: &crate::animated::HwSessions) -> DevicesReport {
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
        max_hw_sessions: sessions.max(),
        nvjpeg: crate::encode::nvjpeg_available().map_err(|e| e.0),
        gpu_compositor: crate::composite::gpu::available().map_err(|e| e.0),
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
        psnrs.push(psnr(&sw.pixels, &hw.pixels));
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
