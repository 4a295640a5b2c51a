//! Animated covers: a short clip of the video around the chosen frame, with the template's
//! overlays composited on every frame (they stay still; the video moves), encoded as MP4
//! (H.264/HEVC, no audio) by the encoder factory, or as an animated WebP.
//!
//! Settings come from the template's `animated:` block and the command line (the command line
//! wins); [`EncodeSettings::validate`] checks every value and names the allowed range.

pub use crate::av::encoder::{EncoderProbe, HwSessions};
pub use crate::model::clip::*;

/// Why an animated cover could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnimatedError {
    /// Settings out of range (from the template's `animated:` block or the command line).
    #[error("{origin}: animated cover settings: {}", problems.join("; "))]
    Settings {
        /// Where the settings came from: `template NAME` or `command line`.
        origin: String,
        /// Every problem, with the allowed range.
        problems: Vec<String>,
    },
    /// The output's extension names no animated format.
    #[error("{}: animated covers are written as .mp4 (H.264/HEVC) or .webp", path.display())]
    Format {
        /// The output.
        path: std::path::PathBuf,
    },
    /// No encoder backend opened.
    #[error("{}: {reason}", path.display())]
    NoEncoder {
        /// The output.
        path: std::path::PathBuf,
        /// Each backend's reason.
        reason: String,
    },
    /// The video could not be opened for the clip.
    #[error(transparent)]
    Open(#[from] crate::probe::ProbeError),
    /// Decoding the clip's frames failed.
    #[error("{reason}")]
    Decode {
        /// What failed, naming the video.
        reason: String,
    },
    /// Encoding or writing the clip failed (the destination is untouched).
    #[error("{}: {reason}", path.display())]
    Write {
        /// The output.
        path: std::path::PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Decodes the clip `[start, start + seconds)` of `video`, draws `plate` over every frame and
/// encodes the result to `output` (through a temporary file) with the first backend that opens.
///
/// Output frames fall on a regular grid at the clip's frame rate; each shows the latest video
/// frame at or before its time (frames are repeated or dropped when the rates differ).
///
/// # Errors
/// [`AnimatedError`] naming the file; `output` is untouched on failure.
pub fn write_clip(
    video: &std::path::Path,
    (limits, hwaccel, sessions): (&crate::limits::Limits, crate::model::HwAccel, &HwSessions),
    plate: &crate::composite::CoverPlate,
    canvas: (u32, u32),
    settings: &Settings,
    start_s: f64,
    output: &std::path::Path,
) -> Result<ClipReport, AnimatedError> {
    use crate::av::encoder::{ClipWriter, Container, CreateError};
    let container =
        Container::from_path(output).ok_or_else(|| AnimatedError::Format { path: output.to_owned() })?;
    let mut source = crate::av::Source::open(video, limits, false, hwaccel)?;
    source.decode_every_frame(hwaccel)?;
    let video_fps = source.info().frame_rate;
    let fps = settings.fps.unwrap_or(if video_fps > 0.0 { video_fps.min(FPS.1) } else { 25.0 });
    // 4:2:0 needs even sizes: an odd canvas loses its last column or row (never rescaled).
    let (w, h) = (canvas.0 & !1, canvas.1 & !1);
    let mut writer =
        ClipWriter::create(output, container, w, h, fps, settings, sessions).map_err(|e| match e {
            CreateError::NoEncoder(reason) => AnimatedError::NoEncoder { path: output.to_owned(), reason },
            CreateError::Io(reason) => AnimatedError::Write { path: output.to_owned(), reason },
        })?;
    let total = (settings.seconds * fps).round().max(1.0) as u64;
    let step = 1.0 / fps;
    let mut emitted = 0u64;
    // The latest decoded frame (time, cover drawn over it, built on first use).
    let mut held: Option<(f64, crate::pixels::Image, Option<crate::pixels::Image>)> = None;
    let emit_held = |held: &mut Option<(f64, crate::pixels::Image, Option<crate::pixels::Image>)>,
                     writer: &mut ClipWriter|
     -> Result<(), String> {
        let Some((_, frame, cover)) = held.as_mut() else { return Ok(()) };
        if cover.is_none() {
            *cover = Some(plate.apply(frame).map_err(|e| e.to_string())?);
        }
        writer.push(cover.as_ref().expect("just built"))
    };
    let decoded = source.each_frame(start_s - step, |t, image| {
        while emitted < total && start_s + emitted as f64 * step < t - 1e-6 {
            if held.is_none() {
                // The clip starts before the first frame we have: show this one.
                held = Some((t, image.clone(), None));
            }
            emit_held(&mut held, &mut writer)?;
            emitted += 1;
        }
        held = Some((t, image, None));
        Ok(emitted < total)
    });
    if let Err(reason) = decoded {
        return Err(AnimatedError::Decode { reason });
    }
    if held.is_none() {
        let reason = format!("{}: no frame decoded from {start_s:.2} s on", video.display());
        return Err(AnimatedError::Decode { reason });
    }
    while emitted < total && held.is_some() {
        emit_held(&mut held, &mut writer)
            .map_err(|reason| AnimatedError::Write { path: output.to_owned(), reason })?;
        emitted += 1;
    }
    let (encoder, backend) = writer.encoder();
    let fallbacks = writer.fallbacks.clone();
    let frames =
        writer.finish().map_err(|reason| AnimatedError::Write { path: output.to_owned(), reason })?;
    Ok(ClipReport {
        encoder: encoder.to_string(),
        backend,
        fallbacks,
        width: w,
        height: h,
        frames,
        fps,
        start_s,
        seconds: frames as f64 / fps,
        decoded_by: source.decoder_in_use(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_range() {
        let ok = EncodeSettings::default().validate(false).unwrap();
        assert_eq!(ok.rate, RateControl::Quality(23));
        assert_eq!(ok.seconds, 3.0);
        let bad = EncodeSettings {
            seconds: Some(40.0),
            quality: Some(60),
            bitrate: Some("fast".into()),
            gop: Some(0),
            fps: Some(240.0),
            preset: Some("ludicrous".into()),
            ..Default::default()
        };
        let e = bad.validate(false).unwrap_err().join("\n");
        for needle in [
            "seconds 40 is out of range 0.5–15",
            "quality 60 is out of range 0–51",
            "bitrate `fast` is not a bitrate",
            "gop 0 is out of range 1–600",
            "fps 240 is out of range 1–60",
            "preset `ludicrous` is not known",
            "nvenc: fast, medium, slow, p1",
        ] {
            assert!(e.contains(needle), "{needle} missing in:\n{e}");
        }
        let vbr =
            EncodeSettings { bitrate: Some("2M".into()), maxrate: Some("3M".into()), ..Default::default() };
        assert_eq!(vbr.validate(false).unwrap().rate, RateControl::Vbr(2_000_000, 3_000_000));
        let inverted =
            EncodeSettings { bitrate: Some("3M".into()), maxrate: Some("2M".into()), ..Default::default() };
        assert!(inverted.validate(false).unwrap_err()[0].contains("below bitrate"));
        assert!(EncodeSettings { quality: Some(90), ..Default::default() }.validate(true).is_ok());
    }

    #[test]
    fn portable_presets_map_to_each_backend() {
        assert_eq!(Backend::Nvenc.preset("medium").as_deref(), Some("p4"));
        assert_eq!(Backend::Software.preset("slow").as_deref(), Some("slow"));
        assert_eq!(Backend::Software.preset("p4"), None);
        assert_eq!(parse_bitrate("1.5M"), Some(1_500_000));
        assert_eq!(parse_bitrate("800k"), Some(800_000));
        assert_eq!(parse_bitrate("-3"), None);
    }

    #[test]
    fn command_line_fields_override_the_template() {
        let template =
            EncodeSettings { seconds: Some(2.0), preset: Some("slow".into()), ..Default::default() };
        let cli = EncodeSettings { seconds: Some(4.0), ..Default::default() };
        let merged = template.overridden_by(&cli);
        assert_eq!(merged.seconds, Some(4.0));
        assert_eq!(merged.preset.as_deref(), Some("slow"));
    }
}
