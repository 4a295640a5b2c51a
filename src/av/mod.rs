//! Everything that touches FFmpeg (through `ffmpeg-next`).
//!
//! Raw FFmpeg shapes (contexts, packets, pixel formats) stay in here; the rest of the crate sees
//! [`crate::probe::MediaInfo`] and [`crate::keyframe::Frame`]. Invariants:
//! - Only keyframes are ever decoded: packets that are not keyframes are never sent to the
//!   decoder, and the decoder is told to discard non-key frames as well.
//! - Hardware decoders (see [`hw`]) are tried in the order [`HwAccel`] gives; their frames come
//!   back to system memory in one transfer, then take the same path as software frames.
//! - Decoded frames leave FFmpeg through one conversion (`sws_scale` into an FFmpeg-allocated
//!   BGR24 frame, never into a packed buffer: for widths where `width * 3` is not a multiple of
//!   32, such as 1080, swscale writes past packed rows and corrupts the heap) and one
//!   stride-aware copy ([`crate::pixels::copy_strided`]).

pub(crate) mod cuda;
pub(crate) mod cuda_driver;
pub(crate) mod decoder;
pub(crate) mod display;
pub(crate) mod dl;
pub(crate) mod encoder;
pub mod error;
pub(crate) mod fitted;
pub mod frame;
pub(crate) mod hw;
pub(crate) mod nvjpeg;
pub(crate) mod turbojpeg;
pub(crate) mod webp;
pub(crate) mod yuv_fit;

use crate::limits::{self, Limits};
use crate::model::MediaInfo;
use crate::model::{DecodedBy, Device, HwAccel, Rect};
use crate::pixels::{Image, QuarterTurn};
use decoder::{open_decoder_for, Decoder};
use error::ProbeError;
use ff::software::scaling;
use ffmpeg_next as ff;
pub(crate) use fitted::FittedPlanes;
pub use frame::{Frame, Pixels};
use std::path::{Path, PathBuf};
use std::sync::Once;

thread_local! {
    /// This thread's job deadline and its length in seconds (see [`start_deadline`]).
    static DEADLINE: std::cell::Cell<Option<(std::time::Instant, f64)>> = const { std::cell::Cell::new(None) };
}

/// Puts this thread's FFmpeg calls under a deadline `seconds` from now until the guard drops:
/// demuxing and I/O stop at FFmpeg's next interrupt check once it passes. A single decode call
/// that never checks is bounded by the frame-size limits instead.
pub(crate) fn start_deadline(seconds: f64) -> DeadlineGuard {
    let seconds = if seconds.is_finite() && seconds > 0.0 { seconds.min(1e6) } else { 1e6 };
    let at = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    DeadlineGuard(DEADLINE.with(|d| d.replace(Some((at, seconds)))))
}

/// Restores the deadline that was in force before [`start_deadline`].
pub(crate) struct DeadlineGuard(Option<(std::time::Instant, f64)>);

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.0));
    }
}

/// The deadline's length in seconds when this thread's deadline has passed.
pub(crate) fn deadline_passed() -> Option<f64> {
    DEADLINE.with(|d| d.get()).filter(|(at, _)| std::time::Instant::now() > *at).map(|(_, s)| s)
}

/// FFmpeg's interrupt callback: non-zero stops the blocking call in progress.
extern "C" fn interrupt_at_deadline(_opaque: *mut std::ffi::c_void) -> std::ffi::c_int {
    std::ffi::c_int::from(deadline_passed().is_some())
}

/// Initialises FFmpeg once per process and keeps its logging quiet: errors are reported by us,
/// with the file name, as one line.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Quiet);
    });
}

/// Asks glibc's allocator to keep freed memory for reuse instead of returning it to the kernel.
///
/// Every cover allocates and frees several multi-megabyte buffers (FFmpeg's frames, the BGR
/// frame, the canvas, JPEG output). By default glibc serves them with fresh `mmap`s and trims
/// freed heap, so the kernel faults in and zeroes the same pages again for every cover: a
/// sixth of a batch's CPU time in a profile. With these settings the batch benchmark ran ~10 %
/// faster at about the same peak RSS (mimalloc instead was no faster and raised RSS by 80 MB).
#[allow(unsafe_code)]
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; any value is allowed.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// An opened video: demuxer and keyframe decoder.
pub(crate) struct Source {
    path: PathBuf,
    input: ff::format::context::Input,
    stream_index: usize,
    decoder: Decoder,
    /// The stream's codec parameters, to reopen the decoder in software after a device fails.
    params: ff::codec::Parameters,
    /// The device the decoder runs on (`None`: software).
    device: Option<Device>,
    /// Why hardware is not used, when it was wanted.
    fallback: Option<String>,
    /// Whether the decoder discards every frame that is not a keyframe.
    keyframes_only: bool,
    /// Largest decoded frame accepted: the header's size is checked on open, but the
    /// bitstream may carry frames of another size.
    max_frame: (u32, u32),
    info: MediaInfo,
}

impl Source {
    /// Opens `path`, finds its video stream and prepares a keyframe-only decoder.
    ///
    /// `full_probe` runs FFmpeg's stream analysis, which decodes the first frames (~30 ms for a
    /// grainy 1080p keyframe) to learn what the container does not say. Cover jobs skip it for
    /// containers whose headers give the video size (MP4, MOV, MKV, WebM): the pixel aspect ratio
    /// is then taken from the decoded frame.
    ///
    /// `accel` picks the decoding device: under `auto` a missing device or codec means software
    /// (the reason is kept for the report); an explicit device that is missing is an error.
    pub(crate) fn open(
        path: &Path,
        limits: &Limits,
        full_probe: bool,
        accel: HwAccel,
    ) -> Result<Self, ProbeError> {
        init();
        let meta = std::fs::metadata(path)
            .map_err(|e| ProbeError::Io { path: path.to_owned(), message: e.to_string() })?;
        if meta.is_dir() {
            return Err(ProbeError::NotMedia { path: path.to_owned(), reason: "is a directory".into() });
        }
        if meta.len() == 0 {
            return Err(ProbeError::Empty { path: path.to_owned() });
        }
        let input = open_input(path, full_probe)
            .map_err(|e| ProbeError::NotMedia { path: path.to_owned(), reason: describe(&e) })?;
        let kinds: Vec<String> =
            input.streams().map(|s| format!("{:?}", s.parameters().medium()).to_lowercase()).collect();
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .filter(|s| {
                s.disposition() & ff::format::stream::Disposition::ATTACHED_PIC
                    != ff::format::stream::Disposition::ATTACHED_PIC
            })
            .ok_or_else(|| ProbeError::NoVideo {
                path: path.to_owned(),
                found: if kinds.is_empty() { "no streams".into() } else { kinds.join(", ") },
            })?;
        let stream_index = stream.index();
        let time_base = stream.time_base();
        let rotation_degrees = stream
            .side_data()
            .find(|sd| sd.kind() == ff::codec::packet::side_data::Type::DisplayMatrix)
            .and_then(|sd| display::parse_matrix(sd.data()))
            .map(|m| display::matrix_rotation_degrees(&m))
            .unwrap_or(0.0);
        let avg_rate = stream.avg_frame_rate();
        let stream_duration = stream.duration();
        let params = stream.parameters();
        let (decoder, device, fallback) = open_decoder_for(path, &params, accel, true)?;
        let (width, height) = (decoder.width(), decoder.height());
        if width == 0 || height == 0 {
            return Err(ProbeError::NotMedia {
                path: path.to_owned(),
                reason: "video stream has no picture size".into(),
            });
        }
        limits::check("input video width", width, limits.max_input_width)
            .and_then(|_| limits::check("input video height", height, limits.max_input_height))
            .map_err(|e| ProbeError::Limit { path: path.to_owned(), source: e })?;

        // From the stream's parameters: a pooled decoder still holds the previous video's.
        let sar = stream_aspect_ratio(&params);
        let (sar_num, sar_den) = if sar.numerator() > 0 && sar.denominator() > 0 {
            (sar.numerator() as u32, sar.denominator() as u32)
        } else {
            (1, 1)
        };
        let turn = display::upright_turn(rotation_degrees);
        let duration_s = if input.duration() > 0 {
            input.duration() as f64 / ff::ffi::AV_TIME_BASE as f64
        } else if stream_duration > 0 {
            stream_duration as f64 * f64::from(time_base)
        } else {
            0.0
        };
        let codec = decoder
            .codec()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| format!("{:?}", decoder.id()).to_lowercase());
        let mut info = MediaInfo {
            path: path.to_owned(),
            container: input.format().name().to_string(),
            codec,
            width,
            height,
            sample_aspect_ratio: (1, 1),
            rotation_degrees: rotation_degrees.round() as i32,
            display_width: width,
            display_height: height,
            duration_s,
            frame_rate: if avg_rate.denominator() != 0 { f64::from(avg_rate) } else { 0.0 },
            upright_turn: turn,
        };
        info.set_sample_aspect_ratio(sar_num, sar_den);
        Ok(Source {
            path: path.to_owned(),
            input,
            stream_index,
            decoder,
            params,
            device,
            fallback,
            keyframes_only: true,
            max_frame: (limits.max_input_width, limits.max_input_height),
            info,
        })
    }

    pub(crate) fn info(&self) -> &MediaInfo {
        &self.info
    }

    /// Lists (time, packet size) of keyframes near the given times without decoding anything:
    /// one seek per time, reading packets only up to the first keyframe.
    pub(crate) fn keyframe_packets_at(&mut self, times: &[f64]) -> Vec<(f64, usize)> {
        let mut out: Vec<(f64, usize)> = Vec::new();
        for &t in times {
            if self.seek_before(t).is_err() {
                continue;
            }
            if let Some(packet) = self.next_key_packet() {
                let time = self.packet_time(&packet);
                if !out.iter().any(|(t0, _)| (*t0 - time).abs() < 1e-6) {
                    out.push((time, packet.size()));
                }
            }
        }
        out
    }

    /// Decodes the keyframe at or before `time_s` (the last keyframe when `time_s` is past the
    /// end), upright, with square pixels, as BGR.
    pub(crate) fn keyframe_at(&mut self, time_s: f64) -> Result<Frame, error::DecodeError> {
        let k = self.decode_keyframe(time_s, false)?;
        let image = match k.pixels {
            Pixels::Host(image) => image,
            Pixels::Device(_) => unreachable!("only kept on the device when asked"),
        };
        Ok(Frame { pixels: image, time_s: k.time_s, decoded_by: k.decoded_by })
    }

    /// As [`Source::keyframe_at`], but an NVDEC frame that needs no turning or stretching stays
    /// on the GPU for the GPU compositor; anything else comes back as BGR.
    pub(crate) fn keyframe_kept_at(&mut self, time_s: f64) -> Result<Frame<Pixels>, error::DecodeError> {
        self.decode_keyframe(time_s, true)
    }

    /// Refuses a decoded frame larger than the limits, whatever the container's header said.
    fn check_frame_size(&self, frame: &ff::frame::Video) -> Result<(), error::DecodeError> {
        let (w, h) = (frame.width(), frame.height());
        limits::check("decoded frame width", w, self.max_frame.0)
            .and_then(|_| limits::check("decoded frame height", h, self.max_frame.1))
            .map_err(|e| error::DecodeError::Probe(ProbeError::Limit { path: self.path.clone(), source: e }))
    }

    /// Whether a decoded frame can be used on the GPU as it is: an 8-bit NV12 CUDA frame that
    /// needs no turning and has square pixels.
    fn fits_device_path(&self, frame: &ff::frame::Video) -> bool {
        self.device == Some(Device::Cuda)
            && cuda::DeviceFrame::accepts(frame)
            && is_square(frame)
            && self.info.upright_turn == QuarterTurn::None
    }

    fn decode_keyframe(
        &mut self,
        time_s: f64,
        keep_on_device: bool,
    ) -> Result<Frame<Pixels>, error::DecodeError> {
        match self.decode_raw(time_s, keep_on_device)? {
            Decoded::Device(frame) => Ok(frame),
            Decoded::Host(raw) => {
                let image = self.convert_frame(&raw.frame)?;
                Ok(Frame { pixels: Pixels::Host(image), time_s: raw.time_s, decoded_by: raw.decoded_by })
            }
        }
    }

    /// Decodes the keyframe at or before `time_s` into system memory without converting it:
    /// `frame: auto` scores candidates on their luma and converts only the one it keeps.
    pub(crate) fn raw_keyframe_at(&mut self, time_s: f64) -> Result<RawKeyframe, error::DecodeError> {
        match self.decode_raw(time_s, false)? {
            Decoded::Host(raw) => Ok(raw),
            Decoded::Device(_) => unreachable!("only kept on the device when asked"),
        }
    }

    /// Converts a keyframe from [`Source::raw_keyframe_at`] to an upright BGR frame.
    pub(crate) fn convert(&mut self, raw: RawKeyframe) -> Result<Frame, error::DecodeError> {
        let image = self.convert_frame(&raw.frame)?;
        Ok(Frame { pixels: image, time_s: raw.time_s, decoded_by: raw.decoded_by })
    }

    /// The keyframe at or before `time_s`: left on the GPU when asked and possible, otherwise
    /// in system memory (downloaded from a hardware decoder), not yet converted.
    fn decode_raw(&mut self, time_s: f64, keep_on_device: bool) -> Result<Decoded, error::DecodeError> {
        use error::DecodeError;
        let path = self.path.clone();
        self.seek_before(time_s).map_err(|e| DecodeError::Seek {
            path: path.clone(),
            time_s,
            reason: describe(&e),
        })?;
        // No flush between keyframes: FFmpeg's H.264 flush frees the decoder's tables, which
        // for NVDEC means destroying and recreating the hardware decoder (~60 ms, serialised
        // by the driver: 13 covers/s on an H100 before this). Low-delay decoders return each
        // keyframe at once, so there is nothing to flush unless the decoder had to be drained.
        self.decoder.reset_if_drained();
        let mut frame = ff::frame::Video::empty();
        let mut last_error = None;
        // A damaged keyframe is skipped for the next one rather than failing the job.
        for _ in 0..8 {
            let Some(mut packet) = self.next_key_packet() else { break };
            let packet_pts = packet.pts();
            let decoded = if self.device.is_some() {
                self.decode_tagged(&mut packet, &mut frame)
            } else {
                self.decode_draining(&mut packet, &mut frame)
            };
            match decoded {
                Err(e) => {
                    // A decoder that refused a packet is not handed to the next video.
                    self.decoder.keep_out_of_pool();
                    if self.device.is_some()
                        && self.retry_in_software(&format!("decoding failed: {}", describe(&e)))
                    {
                        return self.decode_raw(time_s, keep_on_device);
                    }
                    last_error = Some(describe(&e));
                }
                Ok(false) => self.decoder.reset_if_drained(),
                Ok(true) => {
                    self.check_frame_size(&frame)?;
                    let time_s = packet_pts.map(|ts| self.ts_seconds(ts)).unwrap_or(time_s);
                    let decoded_by = self.decoded_by(&frame);
                    if keep_on_device && self.fits_device_path(&frame) {
                        let frame = std::mem::replace(&mut frame, ff::frame::Video::empty());
                        let pixels = Pixels::Device(cuda::DeviceFrame::new(frame));
                        return Ok(Decoded::Device(Frame { pixels, time_s, decoded_by }));
                    }
                    let frame = if hw::is_hw_frame(&frame) {
                        match hw::download(&frame) {
                            Ok(sw) => sw,
                            Err(reason) if self.retry_in_software(&reason) => {
                                return self.decode_raw(time_s, keep_on_device)
                            }
                            Err(reason) => {
                                return Err(DecodeError::Convert { path, reason });
                            }
                        }
                    } else {
                        frame
                    };
                    let full_range = frame.color_range() == ff::color::Range::JPEG;
                    let (square, upright) = (is_square(&frame), self.info.upright_turn == QuarterTurn::None);
                    return Ok(Decoded::Host(RawKeyframe {
                        frame,
                        time_s,
                        decoded_by,
                        full_range,
                        square,
                        upright,
                    }));
                }
            }
        }
        Err(DecodeError::NoKeyframe {
            path,
            time_s,
            reason: last_error.unwrap_or_else(|| "no decodable keyframe found".into()),
        })
    }

    /// Software: sends the keyframe and, when the decoder holds it back for reordering, drains
    /// it (end of stream; the decoder is flushed before the next packet, which is cheap here).
    fn decode_draining(
        &mut self,
        packet: &mut ff::Packet,
        frame: &mut ff::frame::Video,
    ) -> Result<bool, ff::Error> {
        self.decoder.send(packet)?;
        if self.decoder.receive_frame(frame).is_ok() {
            return Ok(true);
        }
        self.decoder.drain();
        Ok(self.decoder.receive_frame(frame).is_ok())
    }

    /// Hardware: never drains or flushes (that recreates the device decoder). The packet gets a
    /// unique timestamp; while the decoder holds its picture back for reordering, the same
    /// packet is sent again (a few cheap device decodes) until the picture with that timestamp
    /// comes out. Pictures left over from earlier keyframes, or earlier videos of a pooled
    /// decoder, carry other timestamps and are dropped.
    fn decode_tagged(
        &mut self,
        packet: &mut ff::Packet,
        frame: &mut ff::frame::Video,
    ) -> Result<bool, ff::Error> {
        static NEXT_TICKET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        // H.264 and HEVC hold back at most 16 pictures.
        const MAX_REORDER: usize = 16;
        let ticket = NEXT_TICKET.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        packet.set_pts(Some(ticket));
        packet.set_dts(Some(ticket));
        for _ in 0..=MAX_REORDER {
            self.decoder.send(packet)?;
            while self.decoder.receive_frame(frame).is_ok() {
                if frame.pts() == Some(ticket) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Switches to decoding every frame, not only keyframes (for animated covers).
    pub(crate) fn decode_every_frame(&mut self, accel: HwAccel) -> Result<(), ProbeError> {
        let (decoder, device, fallback) = open_decoder_for(&self.path, &self.params, accel, false)?;
        self.decoder = decoder;
        self.device = device;
        self.fallback = fallback;
        self.keyframes_only = false;
        Ok(())
    }

    /// Who decodes: the device, or software and why not hardware.
    pub(crate) fn decoder_in_use(&self) -> DecodedBy {
        match self.device {
            Some(d) => DecodedBy { decoder: d.name().into(), fallback: None },
            None => DecodedBy::software(self.fallback.clone()),
        }
    }

    /// Decodes from the keyframe at or before `from_s` and calls `f(time, frame)` for every
    /// frame at or after `from_s` (earlier ones are decoded but not converted), until `f`
    /// returns `false` or the stream ends.
    ///
    /// # Errors
    /// A message naming the file when seeking, decoding or `f` fails.
    pub(crate) fn each_frame(
        &mut self,
        from_s: f64,
        mut f: impl FnMut(f64, Image) -> Result<bool, String>,
    ) -> Result<(), String> {
        let path = self.path.display().to_string();
        self.seek_before(from_s)
            .map_err(|e| format!("{path}: cannot seek to {from_s:.3} s: {}", describe(&e)))?;
        self.decoder.reset();
        let mut frame = ff::frame::Video::empty();
        let mut at_end = false;
        loop {
            if !at_end {
                // A fresh packet per read (see `next_key_packet`).
                let mut packet = ff::Packet::empty();
                match packet.read(&mut self.input) {
                    Ok(()) if packet.stream() == self.stream_index => {
                        // A damaged packet is skipped: the next keyframe recovers.
                        let _ = self.decoder.send(&mut packet);
                    }
                    Ok(()) | Err(ff::Error::InvalidData) => continue,
                    Err(_) => {
                        at_end = true;
                        self.decoder.drain();
                    }
                }
            }
            let mut got_any = false;
            while self.decoder.receive_frame(&mut frame).is_ok() {
                got_any = true;
                let Some(ts) = frame.timestamp().or(frame.pts()) else { continue };
                let time = self.ts_seconds(ts);
                if time + 1e-6 < from_s {
                    continue;
                }
                let image = if hw::is_hw_frame(&frame) {
                    let sw = hw::download(&frame).map_err(|e| format!("{path}: {e}"))?;
                    self.convert_frame(&sw)
                } else {
                    self.convert_frame(&frame)
                }
                .map_err(|e| e.to_string())?;
                if !f(time, image)? {
                    return Ok(());
                }
            }
            if at_end && !got_any {
                return Ok(());
            }
        }
    }

    /// Who decoded `frame`: the device, or software with the reason hardware was not used.
    fn decoded_by(&mut self, frame: &ff::frame::Video) -> DecodedBy {
        match self.device {
            Some(d) if hw::is_hw_frame(frame) => DecodedBy { decoder: d.name().into(), fallback: None },
            Some(d) => {
                // FFmpeg's hwaccel refused the stream at its first frame and fell back itself.
                let why = format!(
                    "{d}: the device refused this stream ({} {}x{}: profile, bit depth or size unsupported)",
                    self.info.codec, self.info.width, self.info.height
                );
                self.fallback = Some(why.clone());
                self.device = None;
                self.decoder.keep_out_of_pool();
                DecodedBy::software(Some(why))
            }
            None => DecodedBy::software(self.fallback.clone()),
        }
    }

    /// Replaces a failing hardware decoder with a software one; false when that fails too.
    fn retry_in_software(&mut self, reason: &str) -> bool {
        let Some(d) = self.device.take() else { return false };
        match open_decoder_for(&self.path, &self.params, HwAccel::None, self.keyframes_only) {
            Ok((decoder, _, _)) => {
                // A decoder that failed is not pooled for the next video.
                std::mem::replace(&mut self.decoder, decoder).discard();
                self.fallback = Some(format!("{d}: {reason}; decoded in software"));
                true
            }
            Err(_) => false,
        }
    }

    /// Seeks the demuxer to the keyframe at or before `time_s`.
    fn seek_before(&mut self, time_s: f64) -> Result<(), ff::Error> {
        let stream = self.input.stream(self.stream_index).expect("stream index is valid");
        let start = match stream.start_time() {
            ff::ffi::AV_NOPTS_VALUE => 0,
            s => (s as f64 * f64::from(stream.time_base()) * ff::ffi::AV_TIME_BASE as f64) as i64,
        };
        let ts = start + (time_s.max(0.0) * ff::ffi::AV_TIME_BASE as f64) as i64;
        // `..ts` becomes max_ts = ts (inclusive) in avformat_seek_file: the keyframe at or before.
        self.input.seek(ts, ..ts).or_else(|_| self.input.seek(start, ..start))
    }

    /// Reads packets until the next keyframe of our stream; `None` at the end or on a read error.
    fn next_key_packet(&mut self) -> Option<ff::Packet> {
        loop {
            // A fresh packet per read: av_read_frame does not release what a packet held, so
            // reading into the same one again leaked each skipped packet (found by fuzzing).
            let mut packet = ff::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream_index && packet.is_key() => return Some(packet),
                Ok(()) | Err(ff::Error::InvalidData) => continue,
                Err(_) => return None,
            }
        }
    }

    fn packet_time(&self, packet: &ff::Packet) -> f64 {
        packet.pts().or(packet.dts()).map(|ts| self.ts_seconds(ts)).unwrap_or(0.0)
    }

    fn ts_seconds(&self, ts: i64) -> f64 {
        let stream = self.input.stream(self.stream_index).expect("stream index is valid");
        let start = stream.start_time();
        let start = if start == ff::ffi::AV_NOPTS_VALUE { 0 } else { start };
        (ts - start) as f64 * f64::from(stream.time_base())
    }

    /// Converts a decoded frame to an upright BGR [`Image`] with square pixels.
    fn convert_frame(&mut self, frame: &ff::frame::Video) -> Result<Image, error::DecodeError> {
        let h = frame.height();
        // The bitstream's pixel aspect ratio is the authority (containers may not repeat it).
        let sar = frame.aspect_ratio();
        if sar.numerator() > 0 && sar.denominator() > 0 {
            self.info.set_sample_aspect_ratio(sar.numerator() as u32, sar.denominator() as u32);
        }
        let out_w = match self.info.upright_turn {
            QuarterTurn::Clockwise | QuarterTurn::CounterClockwise => self.info.display_height,
            _ => self.info.display_width,
        };
        // Same size (square pixels): swscale's fast unscaled YUV→RGB path. Anamorphic frames
        // are stretched horizontally with bicubic filtering.
        let image = scale_to_bgr(&self.path, frame, (out_w, h), scaling::Flags::BICUBIC, h)?;
        image
            .rotated(self.info.upright_turn)
            .map_err(|e| error::DecodeError::Convert { path: self.path.clone(), reason: e.to_string() })
    }

    /// Converts the `crop` part of an upright, square-pixel keyframe straight to a `size` BGR
    /// image in one swscale pass: what `fit: cover` shows of the frame, already at the canvas
    /// size, without converting the rest of the frame or resizing it again. Frames that are
    /// turned or anamorphic, and crops outside the frame, are converted whole instead (the
    /// compositor then fits them itself).
    ///
    /// With `keep_planes`, the decoder's planes of the crop come back too where the frame was
    /// fitted from them (8-bit 4:2:0): what the keyframe cache stores (see [`fitted`]).
    pub(crate) fn convert_fitted(
        &mut self,
        mut raw: RawKeyframe,
        crop: Rect,
        size: (u32, u32),
        keep_planes: bool,
    ) -> Result<(Frame, Option<FittedPlanes>), error::DecodeError> {
        let (w, h) = (raw.frame.width(), raw.frame.height());
        let inside = crop.x >= 0 && crop.y >= 0 && crop.right() <= w as i64 && crop.bottom() <= h as i64;
        if !raw.square || !raw.upright || !inside || crop.width == 0 || crop.height == 0 {
            return Ok((self.convert(raw)?, None));
        }
        if let Some(image) = fit_planes(&self.path, &raw.frame, crop, size, h)? {
            // Kept only where they are smaller than the canvas (not for thumbnails).
            let smaller = (crop.area() * 3 / 2) < u64::from(size.0) * u64::from(size.1) * 3;
            let planes = (keep_planes && smaller).then(|| FittedPlanes::capture(&raw.frame, crop));
            return Ok((Frame { pixels: image, time_s: raw.time_s, decoded_by: raw.decoded_by }, planes));
        }
        crop_in_place(&mut raw.frame, crop).map_err(|e| error::DecodeError::Convert {
            path: self.path.clone(),
            reason: format!("cropping the frame: {}", describe(&e)),
        })?;
        // Area averaging when shrinking (no aliasing), bilinear when enlarging, as the
        // compositor's own resize does.
        let shrinking = size.0 < crop.width || size.1 < crop.height;
        let flags = if shrinking { scaling::Flags::AREA } else { scaling::Flags::BILINEAR };
        let image = scale_to_bgr(&self.path, &raw.frame, size, flags, h)?;
        Ok((Frame { pixels: image, time_s: raw.time_s, decoded_by: raw.decoded_by }, None))
    }

    /// The faces in a keyframe that [`RawKeyframe::fits_directly`], in its pixels, found on
    /// small BGR copies made straight from its planes (point-sampled to twice the detector's
    /// size, then averaged 2x2): no full-size colour frame is made for detection.
    pub(crate) fn faces_in_raw(
        &mut self,
        raw: &RawKeyframe,
        model: &std::path::Path,
    ) -> Result<Vec<Rect>, error::DecodeError> {
        let sampler = RawSampler { path: &self.path, raw };
        let faces = crate::pixels::find_faces(&sampler, model).map_err(|e| self.convert_error(e))?;
        Ok(faces.into_iter().map(|(_, r)| r).collect())
    }

    /// A pixel operation's failure on this video's frame, as a decode error naming the file.
    pub(crate) fn convert_error(&self, e: crate::pixels::PixelError) -> error::DecodeError {
        error::DecodeError::Convert { path: self.path.clone(), reason: e.to_string() }
    }
}

/// For 8-bit 4:2:0 frames (what cameras and phones record): a crop of the canvas's size is
/// converted by swscale's unscaled path (widths in multiples of 8); a crop the canvas enlarges
/// (or other widths) is interpolated and converted in one pass of our own ([`yuv_fit`]); a
/// shrinking one is resized plane by plane (OpenCV, areas averaged) into a 4:2:0 frame of the
/// canvas size and converted by swscale. `None` for other pixel formats.
/// `matrix_height`: the whole frame's height (see [`scale_to_bgr`]).
fn fit_planes(
    path: &Path,
    frame: &ff::frame::Video,
    crop: Rect,
    size: (u32, u32),
    matrix_height: u32,
) -> Result<Option<Image>, error::DecodeError> {
    use ff::format::Pixel as P;
    if !matches!(frame.format(), P::YUV420P | P::YUVJ420P) {
        return Ok(None);
    }
    // A crop already the canvas's size (a portrait phone clip for a portrait cover) takes
    // swscale's unscaled conversion (0.69 ms at 1080x1920 against our pass's 1.1), straight from
    // a whole frame, through a copy of the planes from a part (as the keyframe cache's planes,
    // whole, must fit alike). Widths not a multiple of 8 miss swscale's vector shortcut
    // ([`scale_to_bgr`]) and come to our pass.
    if (crop.width, crop.height) == size && size.0.is_multiple_of(8) {
        if crop == Rect::new(0, 0, frame.width(), frame.height()) {
            return scale_to_bgr(path, frame, size, scaling::Flags::BILINEAR, matrix_height).map(Some);
        }
    } else if let Some(image) = fit_in_one_pass(frame, crop, size, matrix_height) {
        return Ok(Some(image));
    }
    fit_in_two_steps(path, frame, crop, size, matrix_height).map(Some)
}

/// The fit for a shrinking crop (or a part of the frame of the canvas's size): each plane
/// resized by OpenCV (areas averaged; a copy at the same size), then one swscale conversion.
fn fit_in_two_steps(
    path: &Path,
    frame: &ff::frame::Video,
    crop: Rect,
    size: (u32, u32),
    matrix_height: u32,
) -> Result<Image, error::DecodeError> {
    let convert_err = |e: crate::pixels::PixelError| error::DecodeError::Convert {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut fitted = ff::frame::Video::new(frame.format(), size.0, size.1);
    fitted.set_color_space(frame.color_space());
    fitted.set_color_range(frame.color_range());
    let half = |v: u32| v.div_ceil(2);
    let chroma_crop = Rect::new(crop.x / 2, crop.y / 2, half(crop.width), half(crop.height));
    for plane in 0..3 {
        let (from, to) = if plane == 0 { (crop, size) } else { (chroma_crop, (half(size.0), half(size.1))) };
        let dst_stride = fitted.stride(plane);
        crate::pixels::resize_plane(
            (frame.data(plane), frame.stride(plane)),
            from,
            (fitted.data_mut(plane), dst_stride),
            to,
        )
        .map_err(convert_err)?;
    }
    scale_to_bgr(path, &fitted, size, scaling::Flags::BILINEAR, matrix_height)
}

/// The fit as one pass of our own ([`yuv_fit`]) when it enlarges: `None` when it shrinks.
fn fit_in_one_pass(
    frame: &ff::frame::Video,
    crop: Rect,
    size: (u32, u32),
    matrix_height: u32,
) -> Option<Image> {
    let plane = |i: usize| yuv_fit::Plane { data: frame.data(i), stride: frame.stride(i) };
    let table = swscale_coefficients(YuvMatrix::of(frame.color_space(), matrix_height));
    let matrix = yuv_fit::Matrix::from_swscale(table, full_range(frame));
    let bgr = yuv_fit::fit_to_bgr([plane(0), plane(1), plane(2)], crop, size, matrix)?;
    Image::from_bgr_bytes(size.0, size.1, bgr)
}

/// Whether `frame`'s levels are full range: tagged so, or in one of FFmpeg's `yuvj` formats,
/// which are full range whatever the tag says (swscale would otherwise be told limited range for
/// an untagged one).
fn full_range(frame: &ff::frame::Video) -> bool {
    use ff::format::Pixel as P;
    frame.color_range() == ff::color::Range::JPEG
        || matches!(frame.format(), P::YUVJ420P | P::YUVJ422P | P::YUVJ444P)
}

/// A synthetic 1080p-like 4:2:0 frame and the two ways of fitting it, for `benches/fit.rs`
/// (the fit's speed claim is measured there, in one run, not in a test).
#[doc(hidden)]
pub struct FitBench {
    frame: ff::frame::Video,
    crop: Rect,
    size: (u32, u32),
}

#[doc(hidden)]
impl FitBench {
    /// A `frame`-sized picture of gradients and texture, its `crop` to be fitted to `size`.
    pub fn new(frame: (u32, u32), crop: Rect, size: (u32, u32)) -> Self {
        init();
        let mut video = ff::frame::Video::new(ff::format::Pixel::YUV420P, frame.0, frame.1);
        for plane in 0..3 {
            let stride = video.stride(plane);
            for (i, byte) in video.data_mut(plane).iter_mut().enumerate() {
                let (x, y) = (i % stride, i / stride);
                *byte = ((x * 7 / 5 + y + plane * 60) % 256) as u8 ^ ((x * 31 + y * 17) % 13) as u8;
            }
        }
        FitBench { frame: video, crop, size }
    }

    /// The fit as covers make it (one pass when it enlarges).
    pub fn one_pass(&self) -> Option<Image> {
        fit_in_one_pass(&self.frame, self.crop, self.size, self.frame.height())
    }

    /// OpenCV's plane resize, then swscale's conversion (the fit before the one pass).
    pub fn two_steps(&self) -> Image {
        fit_in_two_steps(Path::new("bench"), &self.frame, self.crop, self.size, self.frame.height())
            .expect("two-step fit")
    }
}

/// One swscale pass from `frame` to BGR24 at `size`, with the scaler kept (per thread) for
/// the next frame of the same shape and colour. `matrix_height` is the full frame's height
/// (the YUV matrix is guessed from it when the stream does not say).
fn scale_to_bgr(
    path: &Path,
    frame: &ff::frame::Video,
    size: (u32, u32),
    flags: scaling::Flags,
    matrix_height: u32,
) -> Result<Image, error::DecodeError> {
    // swscale's vector YUV→RGB shortcut (same size, 4:2:0 or 4:2:2, even height) converts
    // whole groups of 8 pixels and, when a row's 8-pixel round-up would pass the packed row's
    // stride, leaves the last `width % 8` pixels of every row unwritten (FFmpeg 5.1: a
    // 180-wide canvas came out with a 4-pixel black edge, an 854x480 frame with garbage). Its
    // accurate-rounding mode skips the shortcut.
    let flags = if size.0.is_multiple_of(8) { flags } else { flags | scaling::Flags::ACCURATE_RND };
    let key = ScalerKey {
        format: frame.format(),
        from: (frame.width(), frame.height()),
        to: size,
        flags,
        space: frame.color_space(),
        range: if full_range(frame) { ff::color::Range::JPEG } else { frame.color_range() },
        matrix_height,
    };
    SCALERS.with(|cached| {
        let mut cached = cached.borrow_mut();
        match cached.iter().position(|(k, _)| *k == key) {
            Some(i) => cached[..=i].rotate_right(1),
            None => {
                let mut ctx = scaling::Context::get(
                    key.format,
                    key.from.0,
                    key.from.1,
                    ff::format::Pixel::BGR24,
                    size.0,
                    size.1,
                    flags,
                )
                .map_err(|e| error::DecodeError::Convert {
                    path: path.to_owned(),
                    reason: format!("no {:?} → BGR24 scaler ({})", key.format, describe(&e)),
                })?;
                set_yuv_matrix(&mut ctx, key.space, key.range, matrix_height);
                cached.truncate(SCALERS_KEPT - 1);
                cached.insert(0, (key, ctx));
            }
        }
        let (_, scaler) = &mut cached[0];
        scale_into_image(scaler, frame, size)
            .map_err(|e| error::DecodeError::Convert { path: path.to_owned(), reason: describe(&e) })
    })
}

/// Scalers a thread keeps: a cover of a frame swscale converts needs two (the face detector's
/// small copy, the canvas).
const SCALERS_KEPT: usize = 2;

thread_local! {
    /// The scalers this thread built last, most recent first, and what for. Each cover opens its
    /// own [`Source`], and a batch's videos mostly share their geometry: building a context
    /// (sws_getContext and its filter tables) cost ~1.9 M instructions a cover, 1 % of a phone
    /// cover.
    static SCALERS: std::cell::RefCell<Vec<(ScalerKey, scaling::Context)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Bytes past the end of a packed BGR image that swscale may write. Its row writers can round a
/// row up (FFmpeg pads its own frames' rows for this; the stack notes' heap corruption was a
/// tightly packed buffer without room after it). Rows go out top to bottom, so each row's
/// overshoot lands on the start of the next row, which is written over after; only the last
/// row's needs room of its own. Several times the largest overshoot seen (a unit test watches).
const SWSCALE_SLACK: usize = 1024;

/// Runs `scaler` (built for `frame`'s format and size, to BGR24 at `size`) straight into the
/// buffer of a packed [`Image`]: a 1080x1920 cover frame is 6 MB, and converting into an
/// FFmpeg frame and copying its rows out cost ~2 ms a cover.
fn scale_into_image(
    scaler: &mut scaling::Context,
    frame: &ff::frame::Video,
    size: (u32, u32),
) -> Result<Image, ff::Error> {
    let len = size.0 as usize * 3 * size.1 as usize;
    let mut bgr: Vec<u8> = Vec::with_capacity(len + SWSCALE_SLACK);
    scale_into(scaler, frame, size, bgr.spare_capacity_mut())?;
    // SAFETY: `scale_into` wrote every byte of the picture's `len` bytes.
    #[allow(unsafe_code)]
    unsafe {
        bgr.set_len(len)
    };
    Ok(Image::from_bgr_bytes(size.0, size.1, bgr).expect("length set from the size"))
}

/// Runs `scaler` into `dst` as packed BGR rows of `size` (`width * 3` bytes apart), followed by
/// at least [`SWSCALE_SLACK`] bytes for swscale's overshoot. On success every byte of the
/// picture's rows has been written.
#[allow(unsafe_code)]
fn scale_into(
    scaler: &mut scaling::Context,
    frame: &ff::frame::Video,
    size: (u32, u32),
    dst: &mut [std::mem::MaybeUninit<u8>],
) -> Result<(), ff::Error> {
    let row = size.0 as usize * 3;
    assert!(dst.len() >= row * size.1 as usize + SWSCALE_SLACK, "room for the picture and the slack");
    let stride = i32::try_from(row).map_err(|_| ff::Error::InvalidData)?;
    // SAFETY: the scaler was built for this frame's format and size and for a `size` BGR24
    // output (checked by the caller's key); `frame` holds valid planes; `dst` holds the picture
    // plus SWSCALE_SLACK for swscale's overshoot past the last row (asserted above).
    let lines = unsafe {
        let src = frame.as_ptr();
        let planes =
            [dst.as_mut_ptr().cast::<u8>(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()];
        ff::ffi::sws_scale(
            scaler.as_mut_ptr(),
            (*src).data.as_ptr() as *const *const u8,
            (*src).linesize.as_ptr(),
            0,
            frame.height() as i32,
            planes.as_ptr(),
            [stride, 0, 0, 0].as_ptr(),
        )
    };
    if lines < 0 {
        return Err(ff::Error::from(lines));
    }
    // swscale writes every byte of every output row it reports.
    if lines as u32 != size.1 {
        return Err(ff::Error::Bug);
    }
    Ok(())
}

/// What a cached swscale context converts: pixel format and size in, size out, filter, and the
/// YUV matrix it was given (colour space, range, and the frame height that picks a matrix for
/// streams that do not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScalerKey {
    format: ff::format::Pixel,
    from: (u32, u32),
    to: (u32, u32),
    flags: scaling::Flags,
    space: ff::color::Space,
    range: ff::color::Range,
    matrix_height: u32,
}

/// Narrows `frame` to `crop` (inside it) in place: FFmpeg moves the plane pointers, nothing is
/// copied.
#[allow(unsafe_code)]
fn crop_in_place(frame: &mut ff::frame::Video, crop: Rect) -> Result<(), ff::Error> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (x, y) = (crop.x as usize, crop.y as usize);
    let (cw, ch) = (crop.width as usize, crop.height as usize);
    // SAFETY: `frame` is a valid AVFrame that owns (references) its buffers. The crop fields are
    // plain sizes, checked by the caller to lie inside the frame (and checked again by FFmpeg);
    // av_frame_apply_cropping only moves the data pointers within those buffers and updates
    // width and height, so the frame stays valid and keeps its buffers alive.
    let r = unsafe {
        let f = frame.as_mut_ptr();
        (*f).crop_left = x;
        (*f).crop_top = y;
        (*f).crop_right = w - x - cw;
        (*f).crop_bottom = h - y - ch;
        ff::ffi::av_frame_apply_cropping(f, ff::ffi::AV_FRAME_CROP_UNALIGNED as i32)
    };
    if r < 0 {
        return Err(ff::Error::from(r));
    }
    Ok(())
}

/// The face detector's copies of a decoded keyframe still in the decoder's pixel format.
struct RawSampler<'a> {
    path: &'a Path,
    raw: &'a RawKeyframe,
}

impl crate::pixels::FrameSampler for RawSampler<'_> {
    fn frame_size(&self) -> (u32, u32) {
        self.raw.size()
    }

    fn sample(&self, region: Rect, size: (u32, u32)) -> Result<Image, crate::pixels::PixelError> {
        use ff::format::Pixel as P;
        let f = &self.raw.frame;
        if matches!(f.format(), P::YUV420P | P::YUVJ420P) {
            let planes = [(f.data(0), f.stride(0)), (f.data(1), f.stride(1)), (f.data(2), f.stride(2))];
            return crate::pixels::bgr_sampled_from_i420(planes, self.raw.size(), region, size);
        }
        // Other formats (10-bit, NV12 downloads) through swscale, from a second reference to
        // the frame's buffers cropped to the region.
        let failed = |message: String| crate::pixels::PixelError { op: "sample frame", message };
        let mut cropped = second_reference(f).map_err(|e| failed(describe(&e)))?;
        crop_in_place(&mut cropped, region).map_err(|e| failed(describe(&e)))?;
        scale_to_bgr(self.path, &cropped, size, scaling::Flags::POINT, f.height())
            .map_err(|e| failed(e.to_string()))
    }
}

/// A second frame referencing `frame`'s buffers (counted, not copied), to crop without
/// touching the original.
#[allow(unsafe_code)]
fn second_reference(frame: &ff::frame::Video) -> Result<ff::frame::Video, ff::Error> {
    let mut second = ff::frame::Video::empty();
    // SAFETY: both are valid AVFrames and `second` holds no buffers yet; av_frame_ref adds a
    // reference to each of `frame`'s buffers and copies its fields, so either frame can be
    // cropped or freed on its own.
    let r = unsafe { ff::ffi::av_frame_ref(second.as_mut_ptr(), frame.as_ptr()) };
    if r < 0 {
        return Err(ff::Error::from(r));
    }
    Ok(second)
}

/// What [`Source::decode_raw`] gives: an NVDEC surface kept on the GPU, or a frame in system
/// memory in the decoder's pixel format.
enum Decoded {
    Device(Frame<Pixels>),
    Host(RawKeyframe),
}

/// A decoded keyframe in system memory, still in the decoder's pixel format.
pub(crate) struct RawKeyframe {
    frame: ff::frame::Video,
    time_s: f64,
    decoded_by: DecodedBy,
    /// Full-range (JPEG) levels rather than video levels 16–235.
    full_range: bool,
    square: bool,
    upright: bool,
}

impl RawKeyframe {
    /// Width and height of the decoded picture.
    pub(crate) fn size(&self) -> (u32, u32) {
        (self.frame.width(), self.frame.height())
    }

    /// Whether the decoded picture is already upright with square pixels, so its pixels are
    /// the display's and it can be converted straight to a crop of it.
    pub(crate) fn fits_directly(&self) -> bool {
        self.square && self.upright
    }

    /// The frame's luma as full-range 8-bit values, read straight from the decoder's luma
    /// plane; `None` when that plane is not 8-bit luma at display geometry (other formats,
    /// turned or anamorphic frames), where the caller converts the frame instead.
    pub(crate) fn luma(&self) -> Option<crate::pixels::Mask> {
        use ff::format::Pixel as P;
        let eight_bit_luma = matches!(
            self.frame.format(),
            P::YUV420P
                | P::YUVJ420P
                | P::YUV422P
                | P::YUVJ422P
                | P::YUV444P
                | P::YUVJ444P
                | P::NV12
                | P::NV21
        );
        if !eight_bit_luma || !self.square || !self.upright {
            return None;
        }
        let (w, h) = (self.frame.width() as usize, self.frame.height() as usize);
        let full_range =
            self.full_range || matches!(self.frame.format(), P::YUVJ420P | P::YUVJ422P | P::YUVJ444P);
        // Video levels 16–235 stretched to 0–255, as the BGR conversion does.
        let level: [u8; 256] = std::array::from_fn(|v| {
            if full_range {
                v as u8
            } else {
                ((v as f64 - 16.0) * 255.0 / 219.0).round().clamp(0.0, 255.0) as u8
            }
        });
        let (plane, stride) = (self.frame.data(0), self.frame.stride(0));
        let mut data = Vec::with_capacity(w * h);
        for row in plane.chunks(stride).take(h) {
            data.extend(row[..w].iter().map(|&v| level[v as usize]));
        }
        Some(crate::pixels::Mask { width: w as u32, height: h as u32, data })
    }
}

/// The pixel aspect ratio the stream's codec parameters give (0/0 or 0/1 when unknown).
#[allow(unsafe_code)]
fn stream_aspect_ratio(params: &ff::codec::Parameters) -> ff::Rational {
    // SAFETY: a plain field of valid codec parameters.
    ff::Rational::from(unsafe { (*params.as_ptr()).sample_aspect_ratio })
}

/// Whether a frame has square pixels (or says nothing about them).
fn is_square(frame: &ff::frame::Video) -> bool {
    let sar = frame.aspect_ratio();
    sar.numerator() == sar.denominator() || sar.numerator() == 0 || sar.denominator() == 0
}

/// The MP4/QuickTime demuxer when `path` is a regular file whose first box is one an MP4 or
/// QuickTime file starts with, else null (FFmpeg then probes). Probing offers the first bytes to
/// every demuxer FFmpeg has, ~0.2 ms a cover in a batch profile; for these files it always picks
/// this one (an `ftyp`/`moov`/`mdat` box at byte 4 scores the maximum), so naming it gives the
/// same demuxer — except for JPEG 2000 and JPEG XL images, whose `ftyp` brands FFmpeg's MP4
/// probe scores low so that their own demuxers win: those are probed. Only regular files are
/// peeked at: reading a FIFO would take its bytes.
#[allow(unsafe_code)]
fn known_container(path: &Path) -> *const ff::ffi::AVInputFormat {
    use std::io::Read;
    const FIRST_BOXES: [&[u8; 4]; 7] = [b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"];
    const IMAGE_BRANDS: [&[u8; 4]; 3] = [b"jp2 ", b"jpx ", b"jxl "];
    let mut head = [0u8; 12];
    let is_mp4 = std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && FIRST_BOXES.iter().any(|b| &head[4..8] == *b)
        && !(&head[4..8] == b"ftyp" && IMAGE_BRANDS.iter().any(|b| &head[8..12] == *b));
    if !is_mp4 {
        return std::ptr::null();
    }
    static MOV: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: av_find_input_format reads a NUL-terminated name and returns a pointer to a
    // static demuxer description (or null), valid for the life of the process.
    *MOV.get_or_init(|| unsafe { ff::ffi::av_find_input_format(c"mp4".as_ptr()) as usize }) as *const _
}

/// Opens a file for demuxing; runs FFmpeg's stream analysis only when asked to or when the
/// headers do not give a video stream's codec and size (raw streams, MPEG-TS).
#[allow(unsafe_code)]
fn open_input(path: &Path, full_probe: bool) -> Result<ff::format::context::Input, ff::Error> {
    use ff::ffi;
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| ff::Error::InvalidData)?;
    // SAFETY: `ps` starts as a freshly allocated context (avformat_open_input accepts one and
    // frees it on failure); on success it points to an opened context that we either close on error or hand to `Input::wrap`, which owns and
    // closes it. Stream and codecpar pointers are valid for the context's lifetime, and
    // `nb_streams` bounds the `streams` array.
    unsafe {
        let mut ps = ffi::avformat_alloc_context();
        if ps.is_null() {
            return Err(ff::Error::Other { errno: libc::ENOMEM });
        }
        // The job's deadline stops demuxing and I/O (a FIFO, a slow disk, a looping stream).
        (*ps).interrupt_callback.callback = Some(interrupt_at_deadline);
        // avformat_open_input frees the context itself when it fails.
        let r =
            ffi::avformat_open_input(&mut ps, c_path.as_ptr(), known_container(path), std::ptr::null_mut());
        if r < 0 {
            return Err(ff::Error::from(r));
        }
        let streams: &[*mut ffi::AVStream] = if (*ps).nb_streams == 0 {
            &[]
        } else {
            std::slice::from_raw_parts((*ps).streams, (*ps).nb_streams as usize)
        };
        let headers_suffice = streams.iter().any(|&st| {
            let par = (*st).codecpar;
            (*par).codec_type == ffi::AVMediaType::AVMEDIA_TYPE_VIDEO
                && (*par).codec_id != ffi::AVCodecID::AV_CODEC_ID_NONE
                && (*par).width > 0
                && (*par).height > 0
        });
        if full_probe || !headers_suffice {
            let r = ffi::avformat_find_stream_info(ps, std::ptr::null_mut());
            if r < 0 {
                ffi::avformat_close_input(&mut ps);
                return Err(ff::Error::from(r));
            }
        }
        Ok(ff::format::context::Input::wrap(ps))
    }
}

/// The YUV matrices swscale knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum YuvMatrix {
    Bt709,
    Bt601,
    Smpte240m,
    Fcc,
    Bt2020,
}

impl YuvMatrix {
    /// The matrix of a frame in colour space `space`. Untagged video is treated as players
    /// treat it: BT.709 from 720 lines up, BT.601 below.
    pub(crate) fn of(space: ff::color::Space, height: u32) -> Self {
        use ff::color::Space;
        match space {
            Space::BT709 => YuvMatrix::Bt709,
            Space::BT470BG | Space::SMPTE170M => YuvMatrix::Bt601,
            Space::SMPTE240M => YuvMatrix::Smpte240m,
            Space::FCC => YuvMatrix::Fcc,
            Space::BT2020NCL | Space::BT2020CL => YuvMatrix::Bt2020,
            _ if height >= 720 => YuvMatrix::Bt709,
            _ => YuvMatrix::Bt601,
        }
    }

    /// A colour space tag that means this matrix.
    pub(crate) fn space(self) -> ff::color::Space {
        use ff::color::Space;
        match self {
            YuvMatrix::Bt709 => Space::BT709,
            YuvMatrix::Bt601 => Space::SMPTE170M,
            YuvMatrix::Smpte240m => Space::SMPTE240M,
            YuvMatrix::Fcc => Space::FCC,
            YuvMatrix::Bt2020 => Space::BT2020NCL,
        }
    }
}

/// Tells swscale which YUV→RGB matrix and range the source uses. Without this it assumes
/// BT.601 limited range, which shifts the colours of HD video (BT.709).
#[allow(unsafe_code)]
fn set_yuv_matrix(ctx: &mut scaling::Context, space: ff::color::Space, range: ff::color::Range, height: u32) {
    use ff::ffi;
    let full_range = i32::from(range == ff::color::Range::JPEG);
    // SAFETY: `ctx` owns a valid SwsContext for its whole lifetime; sws_getCoefficients returns
    // a pointer into a static table for any colorspace id; the call copies the tables. Brightness
    // 0, contrast and saturation 1.0 (16.16 fixed point) leave the picture as is.
    unsafe {
        let table = ffi::sws_getCoefficients(swscale_matrix(YuvMatrix::of(space, height)));
        ffi::sws_setColorspaceDetails(ctx.as_mut_ptr(), table, full_range, table, 1, 0, 1 << 16, 1 << 16);
    }
}

/// swscale's id for a matrix.
fn swscale_matrix(matrix: YuvMatrix) -> std::ffi::c_int {
    use ff::ffi;
    (match matrix {
        YuvMatrix::Bt709 => ffi::SWS_CS_ITU709,
        YuvMatrix::Bt601 => ffi::SWS_CS_ITU601,
        YuvMatrix::Smpte240m => ffi::SWS_CS_SMPTE240M,
        YuvMatrix::Fcc => ffi::SWS_CS_FCC,
        YuvMatrix::Bt2020 => ffi::SWS_CS_BT2020,
    }) as std::ffi::c_int
}

/// swscale's coefficients for a matrix (`[crv, cbu, cgu, cgv]`, 16.16 fixed point, limited
/// range), so our own conversion uses the numbers swscale's does.
#[allow(unsafe_code)]
fn swscale_coefficients(matrix: YuvMatrix) -> [i32; 4] {
    // SAFETY: sws_getCoefficients returns a pointer to a static table of four ints for any id.
    unsafe {
        let table = ff::ffi::sws_getCoefficients(swscale_matrix(matrix));
        std::array::from_fn(|i| *table.add(i))
    }
}

/// FFmpeg's error text, lower-cased first letter to read well after a colon.
pub(crate) fn describe(e: &ff::Error) -> String {
    let s = e.to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A YUV420P frame with a different value in every pixel's planes.
    fn patterned(w: u32, h: u32) -> ff::frame::Video {
        let mut f = ff::frame::Video::new(ff::format::Pixel::YUV420P, w, h);
        for plane in 0..3 {
            let stride = f.stride(plane);
            let (pw, ph) = if plane == 0 { (w, h) } else { (w.div_ceil(2), h.div_ceil(2)) };
            let data = f.data_mut(plane);
            for y in 0..ph as usize {
                for x in 0..pw as usize {
                    data[y * stride + x] = ((x * 7 + y * 13 + plane * 50) % 251) as u8;
                }
            }
        }
        f
    }

    /// The keyframe cache's planes fit to the same canvas as the frame they were cut from, for
    /// crops at odd and even offsets, enlarged, shrunk and kept at their size, in both ranges.
    #[test]
    fn planes_captured_for_the_cache_fit_to_the_same_canvas_as_their_frame() {
        let path = Path::new("clip.mp4");
        for range in [ff::color::Range::MPEG, ff::color::Range::JPEG] {
            let mut frame = patterned(201, 113);
            frame.set_color_range(range);
            for (crop, size) in [
                (Rect::new(0, 0, 201, 113), (201, 113)),
                (Rect::new(37, 5, 64, 107), (90, 160)),
                (Rect::new(36, 4, 63, 99), (63, 99)),
                (Rect::new(36, 4, 64, 99), (64, 99)),
                (Rect::new(11, 3, 150, 100), (60, 40)),
            ] {
                let fresh = fit_planes(path, &frame, crop, size, frame.height()).unwrap().unwrap();
                let planes = FittedPlanes::capture(&frame, crop);
                let back = FittedPlanes::from_bytes(planes.info, planes.bytes().to_vec()).unwrap();
                let cached = back.to_canvas(size, path).unwrap();
                assert!(cached == fresh, "{crop:?} -> {size:?} ({range:?}) differs");
            }
        }
        let planes = FittedPlanes::capture(&patterned(20, 10), Rect::new(1, 1, 9, 7));
        assert!(FittedPlanes::from_bytes(planes.info, planes.bytes()[1..].to_vec()).is_none());
    }

    /// Our one-pass fit against OpenCV's resize and swscale's conversion of the same crop, on a
    /// frame with smooth gradients, hard edges and fine texture, in both ranges and matrices.
    #[test]
    fn the_one_pass_fit_looks_like_the_two_step_fit() {
        init();
        let path = Path::new("clip.mp4");
        let (w, h) = (320u32, 180u32);
        for (range, space) in [
            (ff::color::Range::MPEG, ff::color::Space::BT709),
            (ff::color::Range::JPEG, ff::color::Space::SMPTE170M),
        ] {
            let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, w, h);
            frame.set_color_range(range);
            frame.set_color_space(space);
            for plane in 0..3 {
                let stride = frame.stride(plane);
                let (pw, ph) = if plane == 0 { (w, h) } else { (w / 2, h / 2) };
                let data = frame.data_mut(plane);
                for y in 0..ph as usize {
                    for x in 0..pw as usize {
                        let v = match (x * 4 / pw as usize, plane) {
                            (0, _) => (x * 3 + y + plane * 40) % 256, // gradients
                            (1, _) => {
                                if (x / 5 + y / 7) % 2 == 0 {
                                    20
                                } else {
                                    230
                                }
                            } // hard edges
                            (2, 0) => (x * 37 + y * 91) % 97 + 80,    // fine texture
                            _ => (x * 11 + y * 5 + plane * 70) % 200 + 28,
                        };
                        data[y * stride + x] = v as u8;
                    }
                }
            }
            // Canvas widths in multiples of 16 and even heights: swscale's vector conversion
            // leaves the last few pixels of other widths black (FFmpeg 5.1; a 180-wide canvas
            // showed it), and for an odd height it takes its scaling path, which interpolates
            // the chroma rows instead of sharing them.
            for (crop, size) in
                [(Rect::new(110, 0, 101, 180), (176, 320)), (Rect::new(1, 3, 317, 175), (640, 352))]
            {
                let ours = fit_in_one_pass(&frame, crop, size, h).unwrap();
                let theirs = fit_in_two_steps(path, &frame, crop, size, h).unwrap();
                let diffs: Vec<u32> = ours
                    .bgr_bytes()
                    .iter()
                    .zip(theirs.bgr_bytes())
                    .map(|(a, b)| u32::from(a.abs_diff(*b)))
                    .collect();
                let max = diffs.iter().max().copied().unwrap_or(0);
                let mean = f64::from(diffs.iter().sum::<u32>()) / diffs.len() as f64;
                eprintln!("{range:?} {crop:?} -> {size:?}: max {max}, mean {mean:.3}");
                // swscale's vector conversion truncates (a flat colour comes out up to 2 levels
                // under the exact matrix where ours is within half a level: see yuv_fit's
                // tests), so ours reads ~1 level brighter on average.
                assert!(max <= 6 && mean < 1.5, "{range:?} {crop:?} -> {size:?}: max {max}, mean {mean:.3}");
            }
        }
    }

    /// Every pixel of a flat frame comes out, whatever the width: swscale's vector shortcut
    /// used to leave the last `width % 8` pixels of a row unwritten for many widths (854, the
    /// common 480p width, among them).
    #[test]
    fn a_frame_of_any_width_converts_to_every_pixel() {
        init();
        for format in [ff::format::Pixel::YUV420P, ff::format::Pixel::YUV422P] {
            for w in (1u32..=130).chain([180, 270, 854, 1090]) {
                let mut frame = ff::frame::Video::new(format, w, 32);
                for (plane, value) in [(0, 150u8), (1, 90), (2, 170)] {
                    frame.data_mut(plane).fill(value);
                }
                let image =
                    scale_to_bgr(Path::new("x"), &frame, (w, 32), scaling::Flags::BILINEAR, 32).unwrap();
                // The accurate path's last row may drift a level or two (its chroma filter at
                // the edge); an unwritten pixel is far off (black or garbage).
                let first = image.pixel(0, 5);
                let near = |p: crate::color::Rgba| {
                    [(p.r, first.r), (p.g, first.g), (p.b, first.b)].iter().all(|(a, b)| a.abs_diff(*b) <= 2)
                };
                let wrong = (0..w).filter(|&x| (0..32).any(|y| !near(image.pixel(x, y)))).count();
                assert_eq!(wrong, 0, "{format:?} {w}x32: {wrong} columns differ from the first");
            }
        }
    }

    /// A `yuvj` frame without a range tag is full range on every path: converted as it is
    /// (swscale), enlarged (our pass) and shrunk (OpenCV, then swscale).
    #[test]
    fn an_untagged_yuvj_frame_is_full_range_on_every_path() {
        init();
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUVJ420P, 64, 32);
        frame.set_color_range(ff::color::Range::Unspecified);
        for (plane, value) in [(0, 200u8), (1, 128), (2, 128)] {
            frame.data_mut(plane).fill(value);
        }
        let whole = Rect::new(0, 0, 64, 32);
        for size in [(64, 32), (128, 64), (32, 16)] {
            let image = fit_planes(Path::new("x"), &frame, whole, size, 32).unwrap().unwrap();
            let p = image.pixel(size.0 / 2, size.1 / 2);
            // Full range keeps Y 200 at 200; limited range would stretch it to 214.
            assert!([p.r, p.g, p.b].iter().all(|v| v.abs_diff(200) <= 1), "{size:?}: {p:?}");
        }
    }

    /// MP4s are opened with their demuxer named; JPEG 2000 images in an `ftyp` box, other
    /// files and non-files are left to FFmpeg's probe.
    #[test]
    fn only_mp4_and_quicktime_files_skip_the_probe() {
        init();
        let dir = std::env::temp_dir().join(format!("cf-known-container-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let mp4 = write("a.mp4", b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2");
        let mov = write("b.mov", b"\0\0\0\x08wide\0\0\0\x10mdat");
        let jp2 = write("c.mp4", b"\0\0\0\x14ftypjp2 \0\0\0\0jp2 ");
        let mkv = write("d.mp4", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81");
        let short = write("e.mp4", b"\0\0\0");
        assert!(!known_container(&mp4).is_null() && !known_container(&mov).is_null());
        for other in [&jp2, &mkv, &short, &dir] {
            assert!(known_container(other).is_null(), "{}", other.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn swscale_into_a_packed_image_matches_a_padded_frame_and_stays_in_its_slack() {
        init();
        use scaling::Flags;
        for (from, to) in [
            ((1080, 1920), (1080, 1920)),
            ((608, 1080), (1080, 1920)),
            ((1920, 1080), (1080, 608)),
            ((1081, 1921), (1081, 1921)),
            ((1079, 17), (1079, 17)),
            ((33, 9), (17, 3)),
            ((100, 100), (721, 405)),
            ((2, 2), (1, 1)),
        ] {
            for flags in [Flags::POINT, Flags::BILINEAR, Flags::AREA, Flags::BICUBIC] {
                let frame = patterned(from.0, from.1);
                let mut ctx = scaling::Context::get(
                    ff::format::Pixel::YUV420P,
                    from.0,
                    from.1,
                    ff::format::Pixel::BGR24,
                    to.0,
                    to.1,
                    flags,
                )
                .unwrap();
                let mut padded = ff::frame::Video::empty();
                ctx.run(&frame, &mut padded).unwrap();
                let want = Image::from_bgr_strided(to.0, to.1, padded.data(0), padded.stride(0));
                let got = scale_into_image(&mut ctx, &frame, to).unwrap();
                assert!(got.bgr_bytes() == want.bgr_bytes(), "{from:?} -> {to:?} {flags:?}");
            }
        }
    }

    #[test]
    fn swscale_overshoot_past_a_packed_image_is_well_inside_the_slack() {
        init();
        // What swscale writes past the last row, found by filling the room after it first.
        let mut worst = 0;
        for w in [1080u32, 1081, 1079, 1078, 1077, 1076, 1075, 1074, 720, 33] {
            for flags in [scaling::Flags::POINT, scaling::Flags::BILINEAR, scaling::Flags::BICUBIC] {
                let frame = patterned(w, 64);
                let to = [(w, 64), (w / 2 + 1, 32), (w * 2, 128)];
                for (tw, th) in to {
                    let mut ctx = scaling::Context::get(
                        ff::format::Pixel::YUV420P,
                        w,
                        64,
                        ff::format::Pixel::BGR24,
                        tw,
                        th,
                        flags,
                    )
                    .unwrap();
                    let row = tw as usize * 3;
                    let mut buf = vec![std::mem::MaybeUninit::new(0xA5u8); row * th as usize + SWSCALE_SLACK];
                    scale_into(&mut ctx, &frame, (tw, th), &mut buf).unwrap();
                    // SAFETY: every byte was initialised (0xA5) before swscale wrote over some.
                    #[allow(unsafe_code)]
                    let buf: Vec<u8> = buf.into_iter().map(|b| unsafe { b.assume_init() }).collect();
                    let tail = &buf[row * th as usize..];
                    let written = tail.iter().rposition(|&b| b != 0xA5).map_or(0, |i| i + 1);
                    worst = worst.max(written);
                }
            }
        }
        eprintln!("swscale wrote at most {worst} bytes past a packed image");
        assert!(worst * 4 <= SWSCALE_SLACK, "swscale wrote {worst} bytes past the image");
    }
}
