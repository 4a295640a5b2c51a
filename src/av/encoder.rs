//! The encoder factory: one abstraction over NVENC, QSV, VAAPI and software encoders, for
//! animated covers (MP4 with H.264/HEVC, animated WebP).
//!
//! Invariants:
//! - An encoder is "available" only when it actually opens: FFmpeg lists `h264_nvenc` on any
//!   machine and fails on open without a GPU ("Cannot load libcuda.so.1"). [`probe`] opens each one once per
//!   process on a small picture and remembers the result and FFmpeg's reason.
//! - Hardware encoder sessions are capped by a [`HwSessions`] handle the caller passes in
//!   (consumer NVIDIA cards allow few). Opened hardware contexts whose encoder can be flushed and restarted
//!   (`AV_CODEC_CAP_ENCODER_FLUSH`, NVENC's case) are kept in a pool and reused by later clips
//!   with the same settings; others are opened per clip.
//! - Frames enter as packed BGR [`Image`]s, are copied once into an FFmpeg-allocated frame
//!   (stride-aware) and converted once by swscale (BT.709 for MP4, BT.601 for WebP); VAAPI
//!   frames are then uploaded to the device in one transfer.
//! - Output goes to a temporary file beside the destination, renamed into place when complete.

#![allow(unsafe_code)]

use super::hw;
use crate::model::clip::{Backend, RateControl, Settings, VideoCodec};
use crate::model::Device;
use crate::pixels::Image;
use ff::ffi;
use ff::software::scaling;
use ffmpeg_next as ff;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// What the clip is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Container {
    /// MP4 with H.264 or HEVC, no audio.
    Mp4,
    /// Animated WebP (libwebp, software).
    WebP,
}

impl Container {
    /// From the output's extension: `.mp4`/`.m4v`/`.mov` or `.webp`.
    pub(crate) fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" | "m4v" | "mov" => Some(Container::Mp4),
            "webp" => Some(Container::WebP),
            _ => None,
        }
    }
}

/// The FFmpeg encoder for a container, codec and backend.
pub(crate) fn encoder_name(
    container: Container,
    codec: VideoCodec,
    backend: Backend,
) -> Option<&'static str> {
    Some(match (container, codec, backend) {
        (Container::WebP, _, Backend::Software) => "libwebp_anim",
        (Container::WebP, _, _) => return None,
        (_, VideoCodec::H264, Backend::Nvenc) => "h264_nvenc",
        (_, VideoCodec::H264, Backend::Qsv) => "h264_qsv",
        (_, VideoCodec::H264, Backend::Vaapi) => "h264_vaapi",
        (_, VideoCodec::H264, Backend::Software) => "libx264",
        (_, VideoCodec::Hevc, Backend::Nvenc) => "hevc_nvenc",
        (_, VideoCodec::Hevc, Backend::Qsv) => "hevc_qsv",
        (_, VideoCodec::Hevc, Backend::Vaapi) => "hevc_vaapi",
        (_, VideoCodec::Hevc, Backend::Software) => "libx265",
    })
}

// --- the session cap ----------------------------------------------------------------------

/// The cap on hardware encoder sessions open at once, as a handle the caller owns and passes to
/// each clip (consumer NVIDIA cards allow few sessions; every job sharing the handle waits for a
/// free one). Cloning shares the cap. Sessions kept open in the idle encoder pool count against
/// the handle that opened them, and are closed when another job waits for one.
#[derive(Clone)]
pub struct HwSessions(Arc<SessionState>);

struct SessionState {
    max: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl HwSessions {
    /// A cap of `max` sessions (at least 1).
    pub fn new(max: usize) -> Self {
        HwSessions(Arc::new(SessionState { max: max.max(1), used: Mutex::new(0), freed: Condvar::new() }))
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.0.max
    }
}

impl Default for HwSessions {
    /// The default cap of 3, shared by every default handle of the process.
    fn default() -> Self {
        static DEFAULT: OnceLock<HwSessions> = OnceLock::new();
        DEFAULT.get_or_init(|| HwSessions::new(3)).clone()
    }
}

impl std::fmt::Debug for HwSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HwSessions(max {})", self.0.max)
    }
}

impl PartialEq for HwSessions {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for HwSessions {}

/// One hardware encoder session; released on drop.
struct Permit(Arc<SessionState>);

impl Permit {
    /// Waits for a free session under `cap`, closing an idle pooled encoder when that frees one.
    fn acquire(cap: &HwSessions) -> Permit {
        let state = &cap.0;
        loop {
            let mut used = state.used.lock().unwrap_or_else(|e| e.into_inner());
            if *used < state.max {
                *used += 1;
                return Permit(state.clone());
            }
            drop(used);
            if evict_one_idle() {
                continue;
            }
            let used = state.used.lock().unwrap_or_else(|e| e.into_inner());
            if *used >= state.max {
                let _unused = state.freed.wait(used).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

// --- opened encoders and their pool --------------------------------------------------------

/// An opened encoder with what it needs to accept frames.
struct Opened {
    enc: ff::encoder::Video,
    name: &'static str,
    backend: Backend,
    /// The format frames are converted to in system memory.
    sw_format: ff::format::Pixel,
    /// VAAPI's frames context (frames are uploaded into it).
    frames: Option<FramesRef>,
    /// Everything the context was opened with: reuse needs the same.
    key: String,
    _permit: Option<Permit>,
}

// SAFETY: an opened codec context is used by one thread at a time (the pool hands it out under
// a mutex); FFmpeg encoders hold no thread-affine state.
unsafe impl Send for Opened {}

static POOL: Mutex<Vec<Opened>> = Mutex::new(Vec::new());

fn take_pooled(key: &str) -> Option<Opened> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let i = pool.iter().position(|o| o.key == key)?;
    Some(pool.swap_remove(i))
}

fn evict_one_idle() -> bool {
    let evicted = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
    evicted.is_some()
}

/// Whether the encoder can be flushed after a clip and fed the next one.
fn can_restart(enc: &ff::encoder::Video) -> bool {
    // SAFETY: the context is open, so its codec pointer is valid and static.
    unsafe {
        let codec = (*enc.as_ptr()).codec;
        !codec.is_null() && (*codec).capabilities & ffi::AV_CODEC_CAP_ENCODER_FLUSH as i32 != 0
    }
}

/// A reference to a hardware frames context.
struct FramesRef(*mut ffi::AVBufferRef);

impl Drop for FramesRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { ffi::av_buffer_unref(&mut self.0) }
    }
}

/// The shape of the clip an encoder is opened for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub container: Container,
    pub width: u32,
    pub height: u32,
    pub fps: ff::Rational,
    pub global_header: bool,
}

fn open(
    shape: Shape,
    codec: VideoCodec,
    backend: Backend,
    s: &Settings,
    sessions: &HwSessions,
) -> Result<Opened, String> {
    let name = encoder_name(shape.container, codec, backend)
        .ok_or_else(|| format!("{backend}: no {backend} encoder for this format"))?;
    // Everything the context is opened with (not the clip length, which it never sees).
    let key = format!("{name} {shape:?} {:?} {:?} {:?}", s.preset, s.rate, s.gop);
    if let Some(o) = take_pooled(&key) {
        return Ok(o);
    }
    if let Some(why) = FAILED.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Err(why.clone());
    }
    let opened = open_new(shape, codec, backend, s, name, key.clone(), sessions);
    if let Err(why) = &opened {
        // Not retried for every clip of a batch: the same settings fail the same way.
        FAILED.lock().unwrap_or_else(|e| e.into_inner()).insert(key, why.clone());
    }
    opened
}

/// Encoders that did not open, by everything they were opened with, and why.
static FAILED: std::sync::LazyLock<Mutex<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

fn open_new(
    shape: Shape,
    codec: VideoCodec,
    backend: Backend,
    s: &Settings,
    name: &'static str,
    key: String,
    sessions: &HwSessions,
) -> Result<Opened, String> {
    super::init();
    let found = ff::encoder::find_by_name(name)
        .ok_or_else(|| format!("{backend}: this FFmpeg build has no {name} encoder"))?;
    let permit = backend.is_hardware().then(|| Permit::acquire(sessions));
    let mut enc = ff::codec::context::Context::new_with_codec(found)
        .encoder()
        .video()
        .map_err(|e| format!("{backend}: {name}: {}", super::describe(&e)))?;
    enc.set_width(shape.width);
    enc.set_height(shape.height);
    enc.set_frame_rate(Some(shape.fps));
    enc.set_time_base(shape.fps.invert());
    if let Some(g) = s.gop {
        enc.set_gop(g);
    }
    if shape.global_header {
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    }
    let sw_format = match backend {
        Backend::Qsv | Backend::Vaapi => ff::format::Pixel::NV12,
        _ => ff::format::Pixel::YUV420P,
    };
    enc.set_format(sw_format);
    if shape.container == Container::Mp4 {
        enc.set_colorspace(ff::color::Space::BT709);
        enc.set_color_primaries(ff::color::Primaries::BT709);
        enc.set_color_transfer_characteristic(ff::color::TransferCharacteristic::BT709);
        enc.set_color_range(ff::color::Range::MPEG);
    }
    let mut opts = ff::Dictionary::new();
    if let Some(p) = s.preset.as_deref().and_then(|p| backend.preset(p)).filter(|p| !p.is_empty()) {
        opts.set("preset", &p);
    }
    match (shape.container, s.rate) {
        (Container::WebP, RateControl::Quality(q)) => opts.set("quality", &q.to_string()),
        (Container::WebP, RateControl::Cbr(b) | RateControl::Vbr(b, _)) => enc.set_bit_rate(b as usize),
        (_, RateControl::Quality(q)) => match backend {
            Backend::Software => opts.set("crf", &q.to_string()),
            Backend::Nvenc => {
                opts.set("rc", "vbr");
                opts.set("cq", &q.to_string());
            }
            Backend::Qsv => enc.set_global_quality(q as i32),
            Backend::Vaapi => {
                opts.set("rc_mode", "CQP");
                opts.set("qp", &q.to_string());
            }
        },
        (_, RateControl::Cbr(b)) => {
            enc.set_bit_rate(b as usize);
            enc.set_max_bit_rate(b as usize);
            set_buffer_size(&mut enc, b);
            match backend {
                Backend::Nvenc => opts.set("rc", "cbr"),
                Backend::Vaapi => opts.set("rc_mode", "CBR"),
                Backend::Software if codec == VideoCodec::H264 => opts.set("nal-hrd", "cbr"),
                _ => {}
            }
        }
        (_, RateControl::Vbr(b, m)) => {
            enc.set_bit_rate(b as usize);
            enc.set_max_bit_rate(m as usize);
            set_buffer_size(&mut enc, m.saturating_mul(2));
            match backend {
                Backend::Nvenc => opts.set("rc", "vbr"),
                Backend::Vaapi => opts.set("rc_mode", "VBR"),
                _ => {}
            }
        }
    }
    if codec == VideoCodec::Hevc && backend == Backend::Software {
        opts.set("x265-params", "log-level=error");
    }
    let frames = if backend == Backend::Vaapi {
        let dev = hw::device(Device::Vaapi).map_err(|e| format!("{backend}: {e}"))?;
        let frames = vaapi_frames(&dev, shape.width, shape.height)?;
        // SAFETY: the context is valid and unopened; it takes its own reference to the frames.
        unsafe {
            (*enc.as_mut_ptr()).hw_frames_ctx = ffi::av_buffer_ref(frames.0);
            (*enc.as_mut_ptr()).pix_fmt = ffi::AVPixelFormat::AV_PIX_FMT_VAAPI;
        }
        Some(frames)
    } else {
        None
    };
    let (opened, log) = hw::with_captured_log(|| enc.open_as_with(found, opts));
    let enc = opened.map_err(|e| {
        let why = if log.is_empty() { super::describe(&e) } else { log.join("; ") };
        format!("{backend}: {name} did not open ({why})")
    })?;
    Ok(Opened { enc, name, backend, sw_format, frames, key, _permit: permit })
}

fn set_buffer_size(enc: &mut ff::encoder::video::Video, bits: u64) {
    // SAFETY: a plain integer field of a valid, unopened context.
    unsafe { (*enc.as_mut_ptr()).rc_buffer_size = bits.min(i32::MAX as u64) as i32 };
}

fn vaapi_frames(dev: &hw::DeviceRef, w: u32, h: u32) -> Result<FramesRef, String> {
    // SAFETY: av_hwframe_ctx_alloc returns an owned reference (or null); its data is an
    // AVHWFramesContext we fill in before av_hwframe_ctx_init, as the API requires.
    unsafe {
        let r = ffi::av_hwframe_ctx_alloc(dev.raw());
        if r.is_null() {
            return Err("vaapi: cannot allocate a frames context".into());
        }
        let frames = FramesRef(r);
        let ctx = (*r).data as *mut ffi::AVHWFramesContext;
        (*ctx).format = ffi::AVPixelFormat::AV_PIX_FMT_VAAPI;
        (*ctx).sw_format = ffi::AVPixelFormat::AV_PIX_FMT_NV12;
        (*ctx).width = w as i32;
        (*ctx).height = h as i32;
        (*ctx).initial_pool_size = 8;
        let e = ffi::av_hwframe_ctx_init(r);
        if e < 0 {
            return Err(format!("vaapi: frames context: {}", super::describe(&ff::Error::from(e))));
        }
        Ok(frames)
    }
}

// --- probing ---------------------------------------------------------------------------------

/// Whether one encoder opens here.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EncoderProbe {
    /// `mp4` or `webp`.
    pub format: &'static str,
    /// `h264` or `hevc` (MP4).
    pub codec: VideoCodec,
    /// The backend.
    pub backend: Backend,
    /// FFmpeg's encoder name.
    pub encoder: &'static str,
    /// Whether it opened.
    pub available: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Opens every encoder once (256x256, 25 fps) and reports which work; cached per process.
pub fn probe() -> &'static [EncoderProbe] {
    static PROBES: OnceLock<Vec<EncoderProbe>> = OnceLock::new();
    PROBES.get_or_init(|| {
        let settings =
            crate::model::clip::EncodeSettings::default().validate(false).expect("defaults are valid");
        let mut out = Vec::new();
        let combos = [
            (Container::Mp4, VideoCodec::H264),
            (Container::Mp4, VideoCodec::Hevc),
            (Container::WebP, VideoCodec::H264),
        ];
        for (container, codec) in combos {
            for backend in Backend::ALL {
                let Some(name) = encoder_name(container, codec, backend) else { continue };
                let shape = Shape {
                    container,
                    width: 256,
                    height: 256,
                    fps: ff::Rational(25, 1),
                    global_header: true,
                };
                let result = open(shape, codec, backend, &settings, &HwSessions::default());
                out.push(EncoderProbe {
                    format: if container == Container::WebP { "webp" } else { "mp4" },
                    codec,
                    backend,
                    encoder: name,
                    available: result.is_ok(),
                    reason: result.err(),
                });
            }
        }
        out
    })
}

// --- writing a clip --------------------------------------------------------------------------

/// Why a clip could not be started.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// No backend opened (each one's reason).
    NoEncoder(String),
    /// The file could not be created or its header written.
    Io(String),
}

/// Writes frames to a video file through the first backend that opens.
pub(crate) struct ClipWriter {
    octx: Option<ff::format::context::Output>,
    opened: Option<Opened>,
    stream_tb: ff::Rational,
    enc_tb: ff::Rational,
    scaler: scaling::Context,
    bgr: ff::frame::Video,
    converted: ff::frame::Video,
    next_pts: i64,
    /// The file being written under a temporary name; removed unless the clip completes.
    staged: Option<crate::files::Staged>,
    /// Why earlier backends were not used.
    pub fallbacks: Vec<String>,
}

impl ClipWriter {
    /// Opens `dest` (through a temporary file) for `width`x`height` frames (even sizes) at `fps`.
    ///
    /// # Errors
    /// Every backend's reason when none opens, or the muxer's when the file cannot be created.
    pub(crate) fn create(
        dest: &Path,
        container: Container,
        width: u32,
        height: u32,
        fps: f64,
        s: &Settings,
        sessions: &HwSessions,
    ) -> Result<Self, CreateError> {
        super::init();
        let fps = ff::Rational::from(fps);
        // The MP4 muxer wants codec headers out of band (`AVFMT_GLOBALHEADER`); WebP does not.
        let global_header = container == Container::Mp4;
        let shape = Shape { container, width, height, fps, global_header };
        // Encoders first: when none opens, no file is created at all.
        let mut fallbacks = Vec::new();
        let mut opened = None;
        for &backend in s.encoder.candidates() {
            match open(shape, s.codec, backend, s, sessions) {
                Ok(o) => {
                    opened = Some(o);
                    break;
                }
                Err(e) => fallbacks.push(e),
            }
        }
        let Some(opened) = opened else {
            return Err(CreateError::NoEncoder(format!("no encoder opened: {}", fallbacks.join("; "))));
        };
        let staged =
            crate::files::Staged::new(dest).map_err(|e| CreateError::Io(format!("cannot create: {e}")))?;
        let enc_tb = fps.invert();
        let (octx, stream_tb) = Self::start_file(staged.path(), container, &opened, enc_tb)?;
        let scaler = scaling::Context::get(
            ff::format::Pixel::BGR24,
            width,
            height,
            opened.sw_format,
            width,
            height,
            scaling::Flags::POINT,
        );
        let mut scaler = match scaler {
            Ok(sc) => sc,
            Err(e) => {
                drop(octx);
                let why = format!("no BGR24 → {:?} converter: {}", opened.sw_format, super::describe(&e));
                return Err(CreateError::Io(why));
            }
        };
        set_rgb_to_yuv_matrix(&mut scaler, container == Container::Mp4);
        Ok(ClipWriter {
            octx: Some(octx),
            stream_tb,
            enc_tb,
            scaler,
            bgr: ff::frame::Video::new(ff::format::Pixel::BGR24, width, height),
            converted: ff::frame::Video::empty(),
            next_pts: 0,
            staged: Some(staged),
            fallbacks,
            opened: Some(opened),
        })
    }

    /// Creates the temporary file with one video stream and writes its header; returns the
    /// muxer and the stream's time base (which the muxer may have changed).
    fn start_file(
        tmp: &Path,
        container: Container,
        opened: &Opened,
        enc_tb: ff::Rational,
    ) -> Result<(ff::format::context::Output, ff::Rational), CreateError> {
        let muxer = if container == Container::WebP { "webp" } else { "mp4" };
        let mut octx = ff::format::output_as(&tmp, muxer)
            .map_err(|e| CreateError::Io(format!("cannot create: {}", super::describe(&e))))?;
        {
            let mut ost = octx
                .add_stream(ff::encoder::find_by_name(opened.name))
                .map_err(|e| CreateError::Io(super::describe(&e)))?;
            ost.set_parameters(&opened.enc);
            ost.set_time_base(enc_tb);
        }
        let mut header_opts = ff::Dictionary::new();
        if container == Container::WebP {
            header_opts.set("loop", "0"); // hover previews loop forever
        } else {
            header_opts.set("movflags", "+faststart");
        }
        octx.write_header_with(header_opts)
            .map_err(|e| CreateError::Io(format!("cannot write the header: {}", super::describe(&e))))?;
        let stream_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(enc_tb);
        Ok((octx, stream_tb))
    }

    /// The encoder in use and its backend.
    pub(crate) fn encoder(&self) -> (&'static str, Backend) {
        let o = self.opened.as_ref().expect("open until finished");
        (o.name, o.backend)
    }

    /// Encodes one frame; an image larger than the clip is cut at the right and bottom.
    ///
    /// # Errors
    /// FFmpeg's reason when encoding or writing fails.
    pub(crate) fn push(&mut self, image: &Image) -> Result<(), String> {
        let (w, h) = (self.bgr.width() as usize, self.bgr.height() as usize);
        let row = image.width() as usize * 3;
        let stride = self.bgr.stride(0);
        let dst = self.bgr.data_mut(0);
        for (y, src) in image.bgr_bytes().chunks_exact(row).take(h).enumerate() {
            dst[y * stride..y * stride + w * 3].copy_from_slice(&src[..w * 3]);
        }
        self.scaler.run(&self.bgr, &mut self.converted).map_err(|e| super::describe(&e))?;
        self.converted.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        let opened = self.opened.as_mut().expect("open until finished");
        let sent = match &opened.frames {
            Some(frames) => {
                let mut on_device = ff::frame::Video::empty();
                // SAFETY: `frames` is an initialised frames context; the transfer copies the
                // system-memory frame into a surface taken from its pool.
                let r = unsafe {
                    let r = ffi::av_hwframe_get_buffer(frames.0, on_device.as_mut_ptr(), 0);
                    if r < 0 {
                        r
                    } else {
                        ffi::av_hwframe_transfer_data(on_device.as_mut_ptr(), self.converted.as_ptr(), 0)
                    }
                };
                if r < 0 {
                    return Err(format!(
                        "upload to the device failed: {}",
                        super::describe(&ff::Error::from(r))
                    ));
                }
                on_device.set_pts(self.converted.pts());
                opened.enc.send_frame(&on_device)
            }
            None => opened.enc.send_frame(&self.converted),
        };
        sent.map_err(|e| format!("{}: {}", opened.name, super::describe(&e)))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), String> {
        let opened = self.opened.as_mut().expect("open until finished");
        let octx = self.octx.as_mut().expect("open until finished");
        let mut packet = ff::Packet::empty();
        while opened.enc.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            if packet.duration() <= 0 {
                packet.set_duration(1); // one frame, so the last frame counts in the duration
            }
            packet.rescale_ts(self.enc_tb, self.stream_tb);
            packet
                .write_interleaved(octx)
                .map_err(|e| format!("writing the clip: {}", super::describe(&e)))?;
        }
        Ok(())
    }

    /// Flushes the encoder, completes the file and renames it into place; returns frames written.
    ///
    /// # Errors
    /// FFmpeg's or the file system's reason; the destination is then left untouched.
    pub(crate) fn finish(mut self) -> Result<u64, String> {
        let frames = self.next_pts as u64;
        let opened = self.opened.as_mut().expect("open until finished");
        opened.enc.send_eof().map_err(|e| super::describe(&e))?;
        self.drain()?;
        let mut octx = self.octx.take().expect("open until finished");
        octx.write_trailer().map_err(|e| format!("writing the clip: {}", super::describe(&e)))?;
        drop(octx);
        let staged = self.staged.take().expect("open until finished");
        let dest = staged.dest().to_owned();
        staged.commit(crate::files::Durability::Unsynced).map_err(|e| format!("{}: {e}", dest.display()))?;
        if let Some(mut o) = self.opened.take() {
            if o.backend.is_hardware() && can_restart(&o.enc) {
                // SAFETY: the encoder is open and drained; flushing resets it for a new stream.
                unsafe { ffi::avcodec_flush_buffers(o.enc.as_mut_ptr()) };
                POOL.lock().unwrap_or_else(|e| e.into_inner()).push(o);
            }
        }
        Ok(frames)
    }
}

impl Drop for ClipWriter {
    fn drop(&mut self) {
        // Unfinished: close the muxer before the partial file is removed (with `staged`).
        drop(self.octx.take());
        drop(self.staged.take());
    }
}

/// RGB→YUV with BT.709 (HD video; what players assume for MP4 tagged so) or BT.601 (WebP
/// decoders use it), limited range.
fn set_rgb_to_yuv_matrix(ctx: &mut scaling::Context, bt709: bool) {
    let matrix = if bt709 { ffi::SWS_CS_ITU709 } else { ffi::SWS_CS_ITU601 };
    // SAFETY: the context is valid; coefficient tables are static and copied by the call.
    unsafe {
        let table = ffi::sws_getCoefficients(matrix);
        ffi::sws_setColorspaceDetails(ctx.as_mut_ptr(), table, 1, table, 0, 0, 1 << 16, 1 << 16);
    }
}
