//! Hardware devices through FFmpeg's hwcontext API (ffmpeg-next has none: raw `ffi` calls).
//!
//! Invariants:
//! - One device context per kind per process, created on first use and shared by every decoder
//!   and encoder (creating a CUDA context costs ~100 ms); a failed creation is remembered with
//!   FFmpeg's own words for why, so a batch does not retry it per job.
//! - A decoder asks for the hardware pixel format through `get_format`; the wanted format
//!   travels in the codec context's `opaque` (per-context state, no globals). When FFmpeg's
//!   hwaccel refuses the stream (profile, bit depth, size), `get_format` is offered only
//!   software formats and the frame comes back in system memory: we notice and report it.
//! - Hardware frames come back to system memory in one `av_hwframe_transfer_data`.

#![allow(unsafe_code)]

use crate::model::Device;
use ff::ffi;
use ffmpeg_next as ff;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Arc, Mutex, OnceLock};

fn av_type(d: Device) -> ffi::AVHWDeviceType {
    match d {
        Device::Cuda => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA,
        Device::Vaapi => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI,
        Device::Qsv => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_QSV,
    }
}

/// The pixel format of frames that live on the device.
pub(crate) fn hw_pix_fmt(d: Device) -> ffi::AVPixelFormat {
    match d {
        Device::Cuda => ffi::AVPixelFormat::AV_PIX_FMT_CUDA,
        Device::Vaapi => ffi::AVPixelFormat::AV_PIX_FMT_VAAPI,
        Device::Qsv => ffi::AVPixelFormat::AV_PIX_FMT_QSV,
    }
}

/// A reference to an opened device context (`AVBufferRef` of an `AVHWDeviceContext`).
pub(crate) struct DeviceRef(*mut ffi::AVBufferRef);

// SAFETY: an AVHWDeviceContext is reference-counted with atomic counts and FFmpeg's hwcontexts
// (CUDA pushes/pops its context per call, VAAPI/QSV lock internally) may be used from any thread.
unsafe impl Send for DeviceRef {}
unsafe impl Sync for DeviceRef {}

impl DeviceRef {
    /// The device context itself (not a new reference).
    pub(crate) fn raw(&self) -> *mut ffi::AVBufferRef {
        self.0
    }

    /// A new reference for a codec context to own (`hw_device_ctx` is unreffed by FFmpeg).
    pub(crate) fn new_ref(&self) -> *mut ffi::AVBufferRef {
        // SAFETY: self.0 is a valid buffer reference for as long as self lives.
        unsafe { ffi::av_buffer_ref(self.0) }
    }
}

impl Drop for DeviceRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference; av_buffer_unref nulls the pointer.
        unsafe { ffi::av_buffer_unref(&mut self.0) }
    }
}

type DeviceResult = Result<Arc<DeviceRef>, String>;

/// The process's device context of kind `d`, created on first use.
///
/// # Errors
/// Why the device could not be opened, in FFmpeg's words ("Cannot load libcuda.so.1").
pub(crate) fn device(d: Device) -> DeviceResult {
    static DEVICES: OnceLock<Mutex<HashMap<Device, DeviceResult>>> = OnceLock::new();
    let mut devices = DEVICES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    devices.entry(d).or_insert_with(|| create(d)).clone()
}

fn create(d: Device) -> DeviceResult {
    super::init();
    if !compiled_in(d) {
        return Err(format!("this FFmpeg build has no {d} support"));
    }
    let mut ctx = std::ptr::null_mut();
    let (r, log) = with_captured_log(|| {
        // CUDA: the device's primary context, the one the CUDA runtime (nvJPEG) uses too, so
        // the GPU compositor can read NVDEC's surfaces (see av/cuda.rs).
        let mut opts: *mut ffi::AVDictionary = std::ptr::null_mut();
        // SAFETY: ctx starts null; on success FFmpeg stores one owned reference in it. The
        // dictionary is created here, read by FFmpeg, and freed after.
        unsafe {
            if d == Device::Cuda {
                ffi::av_dict_set(&mut opts, c"primary_ctx".as_ptr(), c"1".as_ptr(), 0);
            }
            let r = ffi::av_hwdevice_ctx_create(&mut ctx, av_type(d), std::ptr::null(), opts, 0);
            ffi::av_dict_free(&mut opts);
            r
        }
    });
    if r < 0 || ctx.is_null() {
        let why = if log.is_empty() { super::describe(&ff::Error::from(r)) } else { log.join("; ") };
        return Err(format!("no {d} device ({why})"));
    }
    if d == Device::Cuda {
        // SAFETY: a CUDA device context created just now; no decoder has it yet.
        if let Err(why) = unsafe { super::cuda_driver::give_ffmpeg_its_own_stream(ctx) } {
            // Still usable on the legacy default stream, only slower with many threads.
            eprintln!("warning: CUDA: {why}");
        }
    }
    Ok(Arc::new(DeviceRef(ctx)))
}

/// Whether the linked FFmpeg knows the device type at all.
fn compiled_in(d: Device) -> bool {
    let mut t = ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_NONE;
    loop {
        // SAFETY: iterating device types is a pure lookup in a static table.
        t = unsafe { ffi::av_hwdevice_iterate_types(t) };
        if t == ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_NONE {
            return false;
        }
        if t == av_type(d) {
            return true;
        }
    }
}

/// The decoder that decodes `codec`'s streams on device `d`: the native decoder through its
/// hwaccel (CUDA, VAAPI), or FFmpeg's separate `*_qsv` decoder for QSV.
pub(crate) fn decoder_for(codec: &ff::Codec, d: Device) -> Option<ff::Codec> {
    if codec_supports(codec, d) {
        return Some(*codec);
    }
    let by_name = ff::decoder::find_by_name(&format!("{}_{}", codec.name(), d.name()))?;
    codec_supports(&by_name, d).then_some(by_name)
}

/// Whether `codec` (a decoder) can output frames on device `d` through a device context.
fn codec_supports(codec: &ff::Codec, d: Device) -> bool {
    // SAFETY: a Codec wraps a pointer to FFmpeg's static codec table.
    let codec = unsafe { codec.as_ptr() };
    (0..)
        .map_while(|i| {
            // SAFETY: avcodec_get_hw_config returns null past the last entry; entries are static.
            let cfg = unsafe { ffi::avcodec_get_hw_config(codec, i) };
            (!cfg.is_null()).then(|| unsafe { &*cfg })
        })
        .any(|cfg| {
            cfg.device_type == av_type(d)
                && cfg.methods & ffi::AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX as c_int != 0
                && cfg.pix_fmt == hw_pix_fmt(d)
        })
}

/// Prepares an unopened decoder context to decode on `dev` (kind `d`).
///
/// # Safety
/// `ctx` must be a valid, not yet opened `AVCodecContext` that outlives nothing it points to.
pub(crate) unsafe fn attach_decoder(ctx: *mut ffi::AVCodecContext, dev: &DeviceRef, d: Device) {
    // SAFETY (caller): ctx is valid and unopened; the context takes ownership of the new reference.
    unsafe {
        (*ctx).hw_device_ctx = dev.new_ref();
        (*ctx).opaque = hw_pix_fmt(d) as i32 as isize as *mut c_void;
        (*ctx).get_format = Some(pick_format);
    }
}

/// `get_format`: the hardware format stored in `opaque` when offered, else the first software
/// format (FFmpeg offers only software ones once its hwaccel refused the stream).
unsafe extern "C" fn pick_format(
    ctx: *mut ffi::AVCodecContext,
    fmts: *const ffi::AVPixelFormat,
) -> ffi::AVPixelFormat {
    // SAFETY: FFmpeg passes its codec context and a list ended by AV_PIX_FMT_NONE.
    unsafe {
        let wanted = (*ctx).opaque as isize as i32;
        let mut first_software = ffi::AVPixelFormat::AV_PIX_FMT_NONE;
        let mut p = fmts;
        while *p != ffi::AVPixelFormat::AV_PIX_FMT_NONE {
            if *p as i32 == wanted {
                return *p;
            }
            let desc = ffi::av_pix_fmt_desc_get(*p);
            let hw = !desc.is_null() && (*desc).flags & ffi::AV_PIX_FMT_FLAG_HWACCEL as u64 != 0;
            if !hw && first_software == ffi::AVPixelFormat::AV_PIX_FMT_NONE {
                first_software = *p;
            }
            p = p.add(1);
        }
        first_software
    }
}

/// Whether a decoded frame lives on a device.
pub(crate) fn is_hw_frame(frame: &ff::frame::Video) -> bool {
    // SAFETY: the frame is valid; its format is a plain integer field.
    let fmt = unsafe { (*frame.as_ptr()).format };
    [Device::Cuda, Device::Vaapi, Device::Qsv].iter().any(|&d| hw_pix_fmt(d) as i32 == fmt)
}

/// Copies a device frame to system memory, keeping its properties. NV12 (what NVDEC and VAAPI
/// give for 8-bit 4:2:0) is split into planar YUV420P, the software decoder's format, so both
/// take the same swscale path and give the same pixels (swscale interpolates NV12's chroma
/// differently: measured 31–40 dB against software on the samples before this step).
///
/// # Errors
/// FFmpeg's reason when the transfer fails.
pub(crate) fn download(frame: &ff::frame::Video) -> Result<ff::frame::Video, String> {
    let mut out = ff::frame::Video::empty();
    // SAFETY: both frames are valid; `out` is empty, so the transfer allocates it; props are
    // plain fields copied from a valid frame.
    let r = unsafe {
        let r = ffi::av_hwframe_transfer_data(out.as_mut_ptr(), frame.as_ptr(), 0);
        if r >= 0 {
            ffi::av_frame_copy_props(out.as_mut_ptr(), frame.as_ptr())
        } else {
            r
        }
    };
    if r < 0 {
        return Err(format!(
            "copying the frame from the device failed: {}",
            super::describe(&ff::Error::from(r))
        ));
    }
    if out.format() == ff::format::Pixel::NV12 {
        return Ok(nv12_to_yuv420p(&out));
    }
    Ok(out)
}

/// Splits NV12's interleaved chroma into YUV420P planes (a stride-aware copy, no arithmetic).
fn nv12_to_yuv420p(nv12: &ff::frame::Video) -> ff::frame::Video {
    let (w, h) = (nv12.width() as usize, nv12.height() as usize);
    let mut out = ff::frame::Video::new(ff::format::Pixel::YUV420P, w as u32, h as u32);
    let (ys, uvs) = (nv12.stride(0), nv12.stride(1));
    let (oys, ous, ovs) = (out.stride(0), out.stride(1), out.stride(2));
    let luma = out.data_mut(0);
    for y in 0..h {
        luma[y * oys..y * oys + w].copy_from_slice(&nv12.data(0)[y * ys..y * ys + w]);
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let uv = nv12.data(1);
    for (plane, stride, offset) in [(1, ous, 0), (2, ovs, 1)] {
        let dst = out.data_mut(plane);
        for y in 0..ch {
            let row = &uv[y * uvs..y * uvs + 2 * cw];
            for (d, pair) in dst[y * stride..y * stride + cw].iter_mut().zip(row.chunks_exact(2)) {
                *d = pair[offset];
            }
        }
    }
    // SAFETY: both frames are valid; props (colour tags, aspect ratio, timestamps) are plain fields.
    unsafe { ffi::av_frame_copy_props(out.as_mut_ptr(), nv12.as_ptr()) };
    out
}

// --- FFmpeg's log, captured while a device opens --------------------------------------------

static CAPTURE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs `f` with FFmpeg's log going into a buffer (errors and warnings only), then restores
/// silence. Device creation says why it failed only in the log.
pub(crate) fn with_captured_log<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    CAPTURE.lock().unwrap_or_else(|e| e.into_inner()).clear();
    // SAFETY: the callback is a plain function valid for the whole process.
    unsafe { ffi::av_log_set_callback(Some(capture_line)) };
    let r = f();
    // SAFETY: as above; FFmpeg's default callback honours the quiet level set by `init`.
    unsafe { ffi::av_log_set_callback(Some(ffi::av_log_default_callback)) };
    let lines = std::mem::take(&mut *CAPTURE.lock().unwrap_or_else(|e| e.into_inner()));
    (r, lines)
}

unsafe extern "C" fn capture_line(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    vl: *mut ffi::__va_list_tag,
) {
    // Device setup says why it failed at verbose level too ("No VA display found").
    if level > ffi::AV_LOG_VERBOSE as c_int {
        return;
    }
    let mut buf = [0 as c_char; 512];
    let mut prefix = 0;
    // SAFETY: FFmpeg passes a valid format and va_list; the buffer size is passed along and the
    // result is NUL-terminated.
    let line = unsafe {
        ffi::av_log_format_line2(avcl, level, fmt, vl, buf.as_mut_ptr(), buf.len() as c_int, &mut prefix);
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().trim().to_string()
    };
    // Drop the "[AVHWDeviceContext @ 0x…] " prefix: it means nothing to a user.
    let line = match line.find("] ") {
        Some(i) if line.starts_with('[') => line[i + 2..].to_string(),
        _ => line,
    };
    if !line.is_empty() {
        if let Ok(mut c) = CAPTURE.try_lock() {
            c.push(line);
        }
    }
}

/// The codecs (among common video codecs) that have a decoder for device `d` in this build.
pub(crate) fn decodable_codecs(d: Device) -> Vec<String> {
    super::init();
    ["h264", "hevc", "vp9", "av1", "vp8", "mpeg2video", "mpeg4"]
        .iter()
        .filter(|name| ff::decoder::find_by_name(name).is_some_and(|c| decoder_for(&c, d).is_some()))
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nv12_is_split_into_planes_respecting_strides() {
        let (w, h) = (6u32, 4u32);
        let mut nv12 = ff::frame::Video::new(ff::format::Pixel::NV12, w, h);
        let (ys, uvs) = (nv12.stride(0), nv12.stride(1));
        assert!(ys >= w as usize);
        for y in 0..h as usize {
            for x in 0..w as usize {
                nv12.data_mut(0)[y * ys + x] = (10 * y + x) as u8;
            }
        }
        for y in 0..2 {
            for x in 0..3 {
                nv12.data_mut(1)[y * uvs + 2 * x] = (100 + 10 * y + x) as u8; // U
                nv12.data_mut(1)[y * uvs + 2 * x + 1] = (200 + 10 * y + x) as u8;
                // V
            }
        }
        let p = nv12_to_yuv420p(&nv12);
        assert_eq!(p.format(), ff::format::Pixel::YUV420P);
        assert_eq!(p.data(0)[p.stride(0) * 3 + 5], 35);
        assert_eq!(p.data(1)[p.stride(1) + 2], 112);
        assert_eq!(p.data(2)[p.stride(2) + 1], 211);
    }
}
