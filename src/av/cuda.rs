//! The device side of the GPU compositor: the CUDA driver API (opened at run time, like nvJPEG),
//! the kernels of `kernels.cu`, and a cover canvas that lives in GPU memory.
//!
//! Why: with keyframes decoded on NVDEC, the CPU still spent ~40 ms a cover downloading the
//! frame, converting and scaling it, blending full-width scrims and encoding the JPEG. Here the
//! frame never leaves the GPU: NVDEC's NV12 surface is converted and scaled straight into the
//! canvas, scrims are blended there, nvJPEG encodes from there, and only the small regions under
//! text, logo and QR code travel to the CPU and back to be drawn by the CPU compositor's own code.
//!
//! Invariants:
//! - One CUDA context: FFmpeg's CUDA device is opened on the device's primary context
//!   (`primary_ctx=1`), which the CUDA runtime (nvJPEG) also uses, so NVDEC surfaces, our buffers
//!   and nvJPEG share one address space.
//! - FFmpeg's CUDA device works on a non-blocking stream of its own
//!   ([`super::cuda_driver::give_ffmpeg_its_own_stream`]), not the legacy default stream, which would order every
//!   NVDEC frame mapping after all threads' work.
//! - Each thread has its own [`Lane`]: a non-blocking stream, an event, and device buffers for the
//!   canvas and an uploaded frame. Work on a lane is ordered by its stream; a decoded NVDEC
//!   surface is waited for with an event recorded on FFmpeg's stream.
//! - A device frame is read only while its `AVFrame` is alive: a [`DeviceCanvas`] borrows the
//!   frame drawn into it and waits for its lane when dropped.
//!
//! FFI like the rest of `av/`: every `unsafe` block says why it is sound.

#![allow(unsafe_code)]

use super::cuda_driver::{
    driver, AvCudaDeviceContext, CuContext, CuEvent, CuFunction, CuStream, DevicePtr, Driver, Memcpy2D,
    EVENT_DISABLE_TIMING, MEMORYTYPE_DEVICE, MEMORYTYPE_HOST, STREAM_NON_BLOCKING,
};
use super::error::GpuError;
use crate::color::Rgba;
use crate::model::Rect;
use crate::pixels::Image;
use ff::ffi;
use ffmpeg_next as ff;
use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

/// The kernels, compiled to PTX by build.rs (empty when clang could not target NVPTX).
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/kernels.ptx"));

/// The colour conversion of `kernels.cu`'s `Yuv` (Y' and C scaled from the stream's range).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Yuv {
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    cr_r: f32,
    cb_g: f32,
    cr_g: f32,
    cb_b: f32,
}

impl Yuv {
    /// The matrix for a stream's tags, chosen as `set_yuv_matrix` chooses swscale's (untagged:
    /// BT.709 from 720 lines, else BT.601).
    fn for_frame(space: ff::color::Space, range: ff::color::Range, height: u32) -> Self {
        use ff::color::Space;
        let (kr, kb) = match space {
            Space::BT709 => (0.2126, 0.0722),
            Space::BT470BG | Space::SMPTE170M => (0.299, 0.114),
            Space::SMPTE240M => (0.212, 0.087),
            Space::FCC => (0.30, 0.11),
            Space::BT2020NCL | Space::BT2020CL => (0.2627, 0.0593),
            _ if height >= 720 => (0.2126, 0.0722),
            _ => (0.299, 0.114),
        };
        let kg = 1.0 - kr - kb;
        let full = range == ff::color::Range::JPEG;
        Yuv {
            y_offset: if full { 0.0 } else { 16.0 },
            y_scale: if full { 1.0 } else { 255.0 / 219.0 },
            c_scale: if full { 1.0 } else { 255.0 / 224.0 },
            cr_r: 2.0 * (1.0 - kr),
            cb_g: 2.0 * kb * (1.0 - kb) / kg,
            cr_g: 2.0 * kr * (1.0 - kr) / kg,
            cb_b: 2.0 * (1.0 - kb),
        }
    }
}

/// The kernels of `kernels.cu`.
struct Kernels {
    nv12_linear: CuFunction,
    nv12_area: CuFunction,
    bgr_linear: CuFunction,
    bgr_area: CuFunction,
    gradient: CuFunction,
}

/// The process's GPU: the driver, the shared context, FFmpeg's stream and the loaded kernels.
struct Gpu {
    driver: &'static Driver,
    ctx: CuContext,
    /// The stream FFmpeg's CUDA device (NVDEC mapping, transfers) works on.
    ffmpeg_stream: CuStream,
    kernels: Kernels,
}

// SAFETY: CUDA contexts, modules and functions may be used from any thread; the struct is
// read-only after creation and per-thread state lives in `Lane`.
unsafe impl Send for Gpu {}
unsafe impl Sync for Gpu {}

fn gpu() -> Result<&'static Gpu, GpuError> {
    static GPU: OnceLock<Result<Gpu, GpuError>> = OnceLock::new();
    GPU.get_or_init(open_gpu).as_ref().map_err(Clone::clone)
}

fn open_gpu() -> Result<Gpu, GpuError> {
    if PTX.is_empty() {
        return Err(
            "this build has no GPU kernels (clang could not compile src/av/kernels.cu for NVPTX)".into()
        );
    }
    let driver = driver()?;
    let device = super::hw::device(crate::model::Device::Cuda)?;
    // SAFETY: the device reference is valid for the process (cached); its `data` is an
    // AVHWDeviceContext whose `hwctx` is an AVCUDADeviceContext for a CUDA device.
    let (ctx, ffmpeg_stream) = unsafe {
        let dev = (*device.raw()).data as *const ffi::AVHWDeviceContext;
        let hw = (*dev).hwctx as *const AvCudaDeviceContext;
        ((*hw).cuda_ctx, (*hw).stream)
    };
    // SAFETY: ctx is FFmpeg's live context; the PTX is NUL-terminated below; names are C strings.
    unsafe {
        driver.check("cuCtxSetCurrent", (driver.ctx_set_current)(ctx))?;
        let ptx = std::ffi::CString::new(PTX).map_err(|_| "GPU kernels contain a NUL byte".to_string())?;
        let mut module = std::ptr::null_mut();
        driver.check("loading the kernels", (driver.module_load_data)(&mut module, ptx.as_ptr().cast()))?;
        let function = |name: &[u8]| -> Result<CuFunction, GpuError> {
            let mut f = std::ptr::null_mut();
            driver.check(
                "cuModuleGetFunction",
                (driver.module_get_function)(&mut f, module, name.as_ptr().cast()),
            )?;
            Ok(f)
        };
        let kernels = Kernels {
            nv12_linear: function(b"nv12_resize_linear\0")?,
            nv12_area: function(b"nv12_resize_area\0")?,
            bgr_linear: function(b"bgr_resize_linear\0")?,
            bgr_area: function(b"bgr_resize_area\0")?,
            gradient: function(b"gradient\0")?,
        };
        Ok(Gpu { driver, ctx, ffmpeg_stream, kernels })
    }
}

/// Whether the GPU compositor can run here, and why not: the CUDA driver, FFmpeg's CUDA device
/// on the primary context, the kernels and nvJPEG.
///
/// # Errors
/// The first thing missing, in the driver's or loader's words.
pub(crate) fn available() -> Result<(), GpuError> {
    gpu()?;
    super::nvjpeg::available()
}

/// A device buffer that grows to the largest size asked of it.
struct Buffer {
    ptr: DevicePtr,
    capacity: usize,
}

impl Buffer {
    fn ensure(&mut self, gpu: &Gpu, size: usize) -> Result<DevicePtr, GpuError> {
        if self.capacity < size {
            // SAFETY: ptr is ours (or 0) and idle: buffers grow only when a canvas is created,
            // after the previous one's drop synchronised the lane.
            unsafe {
                if self.ptr != 0 {
                    (gpu.driver.mem_free)(self.ptr);
                    self.ptr = 0;
                    self.capacity = 0;
                }
                gpu.driver.check("cuMemAlloc", (gpu.driver.mem_alloc)(&mut self.ptr, size))?;
            }
            self.capacity = size;
        }
        Ok(self.ptr)
    }
}

/// Page-locked host memory for one lane's copies to and from the GPU. A copy from or to
/// ordinary (pageable) memory goes through the driver's own staging buffers, which all threads
/// share under one lock: on the H200 at 16 threads, cuda-gdb found half the workers waiting on
/// that lock inside `cuMemcpy2DAsync` (docs/gpu.md). Space is handed out front to back and
/// taken back whenever the lane's stream is synchronised (no queued copy still uses it then).
struct Staging {
    ptr: *mut u8,
    capacity: usize,
    used: usize,
    /// The driver would not pin memory: copies go from pageable memory.
    refused: bool,
}

impl Staging {
    const EMPTY: Staging = Staging { ptr: std::ptr::null_mut(), capacity: 0, used: 0, refused: false };
}

/// The least staging a lane allocates (page-locked memory is slow to allocate, so it is
/// allocated once): a 1080x1920 BGR canvas.
const STAGING_MIN: usize = 1080 * 1920 * 3;
/// Copies larger than this (a 4K frame uploaded whole) go from pageable memory, rather than
/// pinning that much per thread.
const STAGING_MAX: usize = 64 << 20;

/// One thread's stream, event and buffers.
struct Lane {
    stream: CuStream,
    event: CuEvent,
    canvas: Buffer,
    frame: Buffer,
    staging: Staging,
    /// A [`DeviceCanvas`] owns `canvas` (one at a time per thread).
    canvas_taken: bool,
}

impl Lane {
    fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        let d = &gpu.driver;
        let mut lane = Lane {
            stream: std::ptr::null_mut(),
            event: std::ptr::null_mut(),
            canvas: Buffer { ptr: 0, capacity: 0 },
            frame: Buffer { ptr: 0, capacity: 0 },
            staging: Staging::EMPTY,
            canvas_taken: false,
        };
        // SAFETY: binds the shared context to this thread, then creates handles we own.
        unsafe {
            d.check("cuCtxSetCurrent", (d.ctx_set_current)(gpu.ctx))?;
            d.check("cuStreamCreate", (d.stream_create)(&mut lane.stream, STREAM_NON_BLOCKING))?;
            d.check("cuEventCreate", (d.event_create)(&mut lane.event, EVENT_DISABLE_TIMING))?;
        }
        Ok(lane)
    }

    /// Waits for everything queued on this lane's stream; its staging space is free again.
    fn synchronize(&mut self, gpu: &Gpu) -> Result<(), GpuError> {
        // SAFETY: a live stream of this thread.
        unsafe { gpu.driver.check("cuStreamSynchronize", (gpu.driver.stream_sync)(self.stream))? };
        self.staging.used = 0;
        Ok(())
    }

    /// `size` bytes of page-locked memory, valid until the lane is next synchronised; `None`
    /// for copies above [`STAGING_MAX`] (they go from pageable memory).
    fn stage(&mut self, gpu: &Gpu, size: usize) -> Result<Option<*mut u8>, GpuError> {
        if self.staging.refused {
            return Ok(None);
        }
        let size = size.next_multiple_of(64);
        match placement(self.staging.used, self.staging.capacity, size) {
            Placement::Pageable => return Ok(None),
            Placement::After => {}
            Placement::AfterSync => self.synchronize(gpu)?,
            Placement::Grow(capacity) => {
                self.synchronize(gpu)?;
                let d = &gpu.driver;
                // SAFETY: the old block is ours and idle (just synchronised); the new one is
                // owned by the lane from here on.
                unsafe {
                    if !self.staging.ptr.is_null() {
                        (d.mem_free_host)(self.staging.ptr.cast());
                        self.staging = Staging::EMPTY;
                    }
                    let mut ptr: *mut c_void = std::ptr::null_mut();
                    if (d.mem_alloc_host)(&mut ptr, capacity) != 0 || ptr.is_null() {
                        // Where memory cannot be pinned (a container's limit), copies go from
                        // pageable memory as before: slower with many threads, still correct.
                        self.staging.refused = true;
                        return Ok(None);
                    }
                    self.staging = Staging { ptr: ptr.cast(), capacity, ..Staging::EMPTY };
                }
            }
        }
        // SAFETY: `placement` keeps used + size within the block.
        let at = unsafe { self.staging.ptr.add(self.staging.used) };
        self.staging.used += size;
        Ok(Some(at))
    }
}

/// Where the next copy's staging goes in a block of `capacity` with `used` bytes handed out.
#[derive(Debug, PartialEq)]
enum Placement {
    /// Right after what is handed out.
    After,
    /// At the start, once the stream is synchronised (queued copies may still use the block).
    AfterSync,
    /// At the start of a new block of this capacity, once the stream is synchronised.
    Grow(usize),
    /// Too large to pin: the copy goes from pageable memory.
    Pageable,
}

fn placement(used: usize, capacity: usize, size: usize) -> Placement {
    if size > STAGING_MAX {
        Placement::Pageable
    } else if used + size <= capacity {
        Placement::After
    } else if size <= capacity {
        Placement::AfterSync
    } else {
        Placement::Grow(size.max(STAGING_MIN))
    }
}

thread_local! {
    static LANE: RefCell<Option<Result<Lane, GpuError>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's lane (created on first use).
fn with_lane<R>(f: impl FnOnce(&Gpu, &mut Lane) -> Result<R, GpuError>) -> Result<R, GpuError> {
    let gpu = gpu()?;
    LANE.with(|cell| {
        let mut cell = cell.borrow_mut();
        match cell.get_or_insert_with(|| Lane::new(gpu)) {
            Ok(lane) => f(gpu, lane),
            Err(e) => Err(e.clone()),
        }
    })
}

/// A kernel argument list: pointers to each argument's value, as `cuLaunchKernel` wants.
macro_rules! args {
    ($($a:expr),* $(,)?) => { [$( (&$a) as *const _ as *mut c_void ),*] };
}

fn launch(
    gpu: &Gpu,
    lane: &Lane,
    f: CuFunction,
    width: u32,
    height: u32,
    args: &mut [*mut c_void],
) -> Result<(), GpuError> {
    const BLOCK: u32 = 16;
    if width == 0 || height == 0 {
        return Ok(());
    }
    // SAFETY: `f` comes from our module; `args` points at values whose types match the kernel's
    // parameters (see each caller) and that outlive this call (launch copies them).
    unsafe {
        gpu.driver.check(
            "cuLaunchKernel",
            (gpu.driver.launch_kernel)(
                f,
                width.div_ceil(BLOCK),
                height.div_ceil(BLOCK),
                1,
                BLOCK,
                BLOCK,
                1,
                0,
                lane.stream,
                args.as_mut_ptr(),
                std::ptr::null_mut(),
            ),
        )
    }
}

/// A decoded frame on the GPU: NVDEC's NV12 surface, kept mapped while this lives.
pub struct DeviceFrame {
    frame: ff::frame::Video,
    yuv: Yuv,
}

impl DeviceFrame {
    /// Whether `frame` is a CUDA frame whose pixels are 8-bit NV12 (what the kernels read).
    pub(crate) fn accepts(frame: &ff::frame::Video) -> bool {
        // SAFETY: a valid frame; hw_frames_ctx, when set, is an AVHWFramesContext.
        unsafe {
            let f = frame.as_ptr();
            (*f).format == ffi::AVPixelFormat::AV_PIX_FMT_CUDA as c_int
                && !(*f).hw_frames_ctx.is_null()
                && (*((*(*f).hw_frames_ctx).data as *const ffi::AVHWFramesContext)).sw_format
                    == ffi::AVPixelFormat::AV_PIX_FMT_NV12
        }
    }

    /// Wraps a frame [`DeviceFrame::accepts`].
    pub(crate) fn new(frame: ff::frame::Video) -> Self {
        debug_assert!(Self::accepts(&frame));
        let yuv = Yuv::for_frame(frame.color_space(), frame.color_range(), frame.height());
        DeviceFrame { frame, yuv }
    }

    pub(crate) fn width(&self) -> u32 {
        self.frame.width()
    }

    pub(crate) fn height(&self) -> u32 {
        self.frame.height()
    }

    /// A rough `width` x `height` BGR copy of `region` of the surface for the face detector,
    /// without downloading the frame: evenly spaced rows of the region on each plane come down
    /// in one strided copy each (~1/12 of the surface for a whole 1080p frame), and are
    /// point-sampled across and converted on the CPU. `width` and `height` must be even;
    /// `region` inside the frame.
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn sampled_bgr(&self, region: Rect, (width, height): (u32, u32)) -> Result<Image, GpuError> {
        let (w, h) = (self.width() as usize, self.height() as usize);
        let cw = w.div_ceil(2);
        if region.x < 0 || region.y < 0 || region.right() > w as i64 || region.bottom() > h as i64 {
            return Err(GpuError(format!("{region:?} is not inside the {w}x{h} frame")));
        }
        // Rows fetched from each plane: evenly spaced over the region's.
        let (y, rows) = (region.y as usize, region.height as usize);
        let (cy, crows) = (y / 2, ((y + rows).div_ceil(2) - y / 2).max(1));
        let (luma_start, luma_step, luma_rows) = crate::pixels::sampled_rows(rows, height as usize);
        let (chroma_start, chroma_step, chroma_rows) =
            crate::pixels::sampled_rows(crows, height as usize / 2);
        let (luma_start, chroma_start) = (y + luma_start, cy + chroma_start);
        let mut luma = vec![0u8; luma_rows * w];
        let mut chroma = vec![0u8; chroma_rows * cw * 2];
        with_lane(|gpu, lane| {
            // Both planes come down into one staged block, copied out once the stream is done.
            let staged = lane.stage(gpu, luma.len() + chroma.len())?;
            let (luma_to, chroma_to) = match staged {
                // SAFETY: the block holds both planes, luma first.
                Some(p) => (p, unsafe { p.add(luma.len()) }),
                None => (luma.as_mut_ptr(), chroma.as_mut_ptr()),
            };
            let d = &gpu.driver;
            // SAFETY: the frame is a live CUDA frame; data[0]/[1] are device pointers to its
            // luma and interleaved chroma planes with their line sizes.
            let planes = unsafe {
                let f = self.frame.as_ptr();
                [
                    (
                        (*f).data[0] as DevicePtr,
                        (*f).linesize[0] as usize,
                        (luma_start, luma_step, luma_rows),
                        w,
                        luma_to,
                    ),
                    (
                        (*f).data[1] as DevicePtr,
                        (*f).linesize[1] as usize,
                        (chroma_start, chroma_step, chroma_rows),
                        cw * 2,
                        chroma_to,
                    ),
                ]
            };
            // SAFETY: the event and both streams are live handles of this context.
            unsafe {
                d.check("cuEventRecord", (d.event_record)(lane.event, gpu.ffmpeg_stream))?;
                d.check("cuStreamWaitEvent", (d.stream_wait_event)(lane.stream, lane.event, 0))?;
            }
            for (base, pitch, (start, step, rows), row_bytes, host) in planes {
                let copy = Memcpy2D {
                    src_x_in_bytes: 0,
                    src_y: 0,
                    src_memory_type: MEMORYTYPE_DEVICE,
                    src_host: std::ptr::null(),
                    src_device: base + (start * pitch) as DevicePtr,
                    src_array: std::ptr::null_mut(),
                    src_pitch: step * pitch,
                    dst_x_in_bytes: 0,
                    dst_y: 0,
                    dst_memory_type: MEMORYTYPE_HOST,
                    dst_host: host.cast(),
                    dst_device: 0,
                    dst_array: std::ptr::null_mut(),
                    dst_pitch: row_bytes,
                    width_in_bytes: row_bytes,
                    height: rows,
                };
                // SAFETY: `sampled_rows` keeps start + (rows-1)*step inside the plane, each row
                // `row_bytes` long within its pitch, so every source byte lies in the plane; the host buffer holds
                // `rows` rows of `row_bytes`; the stream is synchronised before it is read.
                unsafe { d.check("cuMemcpy2DAsync", (d.memcpy_2d_async)(&copy, lane.stream))? };
            }
            lane.synchronize(gpu)?;
            if staged.is_some() {
                // SAFETY: the copies into the staged block are complete (synchronised above) and
                // it holds luma.len() + chroma.len() bytes; the Vecs are separate allocations.
                unsafe {
                    std::ptr::copy_nonoverlapping(luma_to, luma.as_mut_ptr(), luma.len());
                    std::ptr::copy_nonoverlapping(chroma_to, chroma.as_mut_ptr(), chroma.len());
                }
            }
            Ok(())
        })?;
        crate::pixels::bgr_sampled_from_nv12(
            (&luma, w, luma_rows),
            (&chroma, cw * 2, chroma_rows),
            (region.x as usize, region.width as usize),
            (width, height),
        )
        .map_err(|e| GpuError(e.to_string()))
    }
}

impl crate::pixels::FrameSampler for DeviceFrame {
    fn frame_size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }

    fn sample(&self, region: Rect, size: (u32, u32)) -> Result<Image, crate::pixels::PixelError> {
        self.sampled_bgr(region, size)
            .map_err(|e| crate::pixels::PixelError { op: "GPU sample", message: e.0 })
    }
}

/// What the scaling kernels take: the crop of the source, the canvas rectangle it is scaled
/// into, and whether that shrinks (area averaging) or enlarges (bilinear).
struct Scaling {
    cx: c_int,
    cy: c_int,
    cw: c_int,
    ch: c_int,
    ox: c_int,
    oy: c_int,
    dw: c_int,
    dh: c_int,
    shrinking: bool,
}

impl Scaling {
    fn new(crop: Rect, dst: Rect) -> Self {
        Scaling {
            cx: crop.x,
            cy: crop.y,
            cw: crop.width as c_int,
            ch: crop.height as c_int,
            ox: dst.x,
            oy: dst.y,
            dw: dst.width as c_int,
            dh: dst.height as c_int,
            shrinking: dst.width < crop.width || dst.height < crop.height,
        }
    }
}

/// A cover canvas in this thread's GPU memory (packed BGR, `width * 3` bytes a row). It borrows
/// the frame drawn into it (`'frame`): GPU work reading the frame may still be queued until the
/// canvas is read back, encoded or dropped (which waits for the lane).
pub(crate) struct DeviceCanvas<'frame> {
    width: u32,
    height: u32,
    /// Lanes are per thread: a canvas must not move to another thread.
    _not_send: std::marker::PhantomData<*const ()>,
    _frame: std::marker::PhantomData<&'frame DeviceFrame>,
}

impl Drop for DeviceCanvas<'_> {
    fn drop(&mut self) {
        // Nothing queued may outlive the frame it reads (errors were reported by the calls).
        let _ = with_lane(|gpu, lane| {
            lane.canvas_taken = false;
            lane.synchronize(gpu)
        });
    }
}

impl<'frame> DeviceCanvas<'frame> {
    /// A canvas of `width` x `height`, filled with `fill` when given (else left as it was).
    ///
    /// # Errors
    /// The driver's reason when the GPU is unavailable or memory cannot be allocated.
    pub(crate) fn new(width: u32, height: u32, fill: Option<Rgba>) -> Result<Self, GpuError> {
        with_lane(|gpu, lane| {
            if lane.canvas_taken {
                return Err("a thread composites one cover at a time on the GPU".into());
            }
            lane.canvas.ensure(gpu, width as usize * height as usize * 3)?;
            lane.canvas_taken = true;
            Ok(())
        })?;
        let mut canvas = DeviceCanvas {
            width,
            height,
            _not_send: std::marker::PhantomData,
            _frame: std::marker::PhantomData,
        };
        if let Some(c) = fill {
            let opaque = Rgba { a: 255, ..c };
            canvas.gradient(Rect::new(0, 0, width, height), true, opaque, opaque)?;
        }
        Ok(canvas)
    }

    pub(crate) fn width(&self) -> u32 {
        self.width
    }

    pub(crate) fn height(&self) -> u32 {
        self.height
    }

    /// Scales the crop `(x, y, w, h)` of an NVDEC surface into the canvas rectangle `dst`:
    /// bilinear when enlarging, area averaging when shrinking (as the CPU compositor's OpenCV
    /// resize). Queued: the canvas borrows the frame until it is dropped.
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn draw_device_frame(
        &mut self,
        frame: &'frame DeviceFrame,
        crop: Rect,
        dst: Rect,
    ) -> Result<(), GpuError> {
        let Scaling { cx, cy, cw, ch, ox, oy, dw, dh, shrinking } = Scaling::new(crop, dst);
        let canvas_pitch = self.width as c_int * 3;
        with_lane(|gpu, lane| {
            let d = &gpu.driver;
            let canvas = lane.canvas.ptr;
            // SAFETY: the frame is a live CUDA frame; data[0]/[1] are device pointers to
            // its luma and interleaved chroma planes with their line sizes.
            let (luma, luma_pitch, chroma, chroma_pitch) = unsafe {
                let f = frame.frame.as_ptr();
                ((*f).data[0] as DevicePtr, (*f).linesize[0], (*f).data[1] as DevicePtr, (*f).linesize[1])
            };
            // The surface is ready once FFmpeg's stream has done what it queued.
            // SAFETY: the event and both streams are live handles of this context.
            unsafe {
                d.check("cuEventRecord", (d.event_record)(lane.event, gpu.ffmpeg_stream))?;
                d.check("cuStreamWaitEvent", (d.stream_wait_event)(lane.stream, lane.event, 0))?;
            }
            let f = if shrinking { gpu.kernels.nv12_area } else { gpu.kernels.nv12_linear };
            let yuv = frame.yuv;
            let mut a = args![
                luma,
                luma_pitch,
                chroma,
                chroma_pitch,
                yuv,
                cx,
                cy,
                cw,
                ch,
                canvas,
                canvas_pitch,
                ox,
                oy,
                dw,
                dh
            ];
            launch(gpu, lane, f, dst.width, dst.height, &mut a)?;
            Ok(())
        })
    }

    /// As [`DeviceCanvas::draw_device_frame`] for a BGR frame in system memory, uploaded first.
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn draw_host_frame(&mut self, image: &Image, crop: Rect, dst: Rect) -> Result<(), GpuError> {
        let Scaling { cx, cy, cw, ch, ox, oy, dw, dh, shrinking } = Scaling::new(crop, dst);
        let canvas_pitch = self.width as c_int * 3;
        with_lane(|gpu, lane| {
            let canvas = lane.canvas.ptr;
            let pitch = image.width() as usize * 3;
            let frame = lane.frame.ensure(gpu, pitch * image.height() as usize)?;
            upload(gpu, lane, image, frame, pitch, 0, 0)?;
            let f = if shrinking { gpu.kernels.bgr_area } else { gpu.kernels.bgr_linear };
            let src_pitch = pitch as c_int;
            let mut a = args![frame, src_pitch, cx, cy, cw, ch, canvas, canvas_pitch, ox, oy, dw, dh];
            launch(gpu, lane, f, dst.width, dst.height, &mut a)?;
            Ok(())
        })
    }

    /// Blends a gradient over `rect` exactly as [`Image::fill_gradient`] does (a flat fill
    /// when `from == to`, as [`Image::fill_rect`]).
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn gradient(
        &mut self,
        rect: Rect,
        vertical: bool,
        from: Rgba,
        to: Rgba,
    ) -> Result<(), GpuError> {
        let pack = |c: Rgba| u32::from_le_bytes([c.b, c.g, c.r, c.a]);
        let (w, h) = (self.width as c_int, self.height as c_int);
        let pitch = w * 3;
        let (x, y, rw, rh) = (rect.x, rect.y, rect.width as c_int, rect.height as c_int);
        let (vertical, from, to) = (c_int::from(vertical), pack(from), pack(to));
        with_lane(|gpu, lane| {
            let canvas = lane.canvas.ptr;
            let mut a = args![canvas, pitch, w, h, x, y, rw, rh, vertical, from, to];
            launch(gpu, lane, gpu.kernels.gradient, rect.width, rect.height, &mut a)
        })
    }

    /// The pixels of `rect` (inside the canvas) as an image.
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn download(&self, rect: Rect) -> Result<Image, GpuError> {
        assert!(
            rect.x >= 0
                && rect.y >= 0
                && rect.right() <= self.width as i64
                && rect.bottom() <= self.height as i64,
            "region inside the canvas"
        );
        let (x, y, w, h) = (rect.x as u32, rect.y as u32, rect.width, rect.height);
        let mut bytes = vec![0u8; w as usize * h as usize * 3];
        let pitch = self.width as usize * 3;
        with_lane(|gpu, lane| {
            let staged = lane.stage(gpu, bytes.len())?;
            let copy = Memcpy2D {
                src_x_in_bytes: x as usize * 3,
                src_y: y as usize,
                src_memory_type: MEMORYTYPE_DEVICE,
                src_host: std::ptr::null(),
                src_device: lane.canvas.ptr,
                src_array: std::ptr::null_mut(),
                src_pitch: pitch,
                dst_x_in_bytes: 0,
                dst_y: 0,
                dst_memory_type: MEMORYTYPE_HOST,
                dst_host: staged.unwrap_or(bytes.as_mut_ptr()).cast(),
                dst_device: 0,
                dst_array: std::ptr::null_mut(),
                dst_pitch: w as usize * 3,
                width_in_bytes: w as usize * 3,
                height: h as usize,
            };
            let d = &gpu.driver;
            // SAFETY: source rows lie inside the canvas buffer (asserted above); the host buffer
            // holds h rows of w * 3 bytes; the stream is synchronised before `bytes` is used.
            unsafe { d.check("cuMemcpy2DAsync", (d.memcpy_2d_async)(&copy, lane.stream))? };
            lane.synchronize(gpu)?;
            if let Some(p) = staged {
                // SAFETY: the copy into the staged block (bytes.len() long) is complete.
                unsafe { std::ptr::copy_nonoverlapping(p, bytes.as_mut_ptr(), bytes.len()) };
            }
            Ok(())
        })?;
        Ok(Image::from_bgr_bytes(w, h, bytes).expect("length matches"))
    }

    /// Writes `image` into the canvas with its top-left at (x, y) (it must fit).
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn upload(&mut self, image: &Image, x: u32, y: u32) -> Result<(), GpuError> {
        assert!(
            x + image.width() <= self.width && y + image.height() <= self.height,
            "region inside the canvas"
        );
        let pitch = self.width as usize * 3;
        with_lane(|gpu, lane| {
            let canvas = lane.canvas.ptr;
            upload(gpu, lane, image, canvas, pitch, x, y)
        })
    }

    /// The whole canvas in system memory.
    ///
    /// # Errors
    /// The driver's reason.
    pub(crate) fn to_image(&self) -> Result<Image, GpuError> {
        self.download(Rect::new(0, 0, self.width, self.height))
    }

    /// Encodes the canvas as a 4:2:0 JPEG with nvJPEG, straight from GPU memory.
    ///
    /// # Errors
    /// nvJPEG's or the driver's reason.
    pub(crate) fn encode_jpeg(&self, quality: u8) -> Result<Vec<u8>, GpuError> {
        let (w, h) = (self.width, self.height);
        with_lane(|_, lane| {
            // SAFETY: the canvas buffer holds h rows of w * 3 bytes in the shared context, written
            // by the work queued on this lane's stream.
            let jpeg = unsafe {
                super::nvjpeg::encode_device(
                    lane.canvas.ptr as *mut u8,
                    w as usize * 3,
                    (w, h),
                    quality,
                    lane.stream,
                )
            }?;
            // nvJPEG synchronised the lane's stream before handing the bitstream back.
            lane.staging.used = 0;
            Ok(jpeg)
        })
    }
}

/// Copies `image` to the device buffer `dst` (row pitch `pitch`) at (x, y), on the lane's stream.
/// The bytes are copied into the lane's staging memory first (or, for very large images, staged
/// by the driver before this returns), so `image` may be dropped.
fn upload(
    gpu: &Gpu,
    lane: &mut Lane,
    image: &Image,
    dst: DevicePtr,
    pitch: usize,
    x: u32,
    y: u32,
) -> Result<(), GpuError> {
    let row = image.width() as usize * 3;
    let bytes = image.bgr_bytes();
    let src: *const u8 = match lane.stage(gpu, bytes.len())? {
        Some(p) => {
            // SAFETY: the staged block holds bytes.len() bytes and nothing queued uses it.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
            p
        }
        None => bytes.as_ptr(),
    };
    let copy = Memcpy2D {
        src_x_in_bytes: 0,
        src_y: 0,
        src_memory_type: MEMORYTYPE_HOST,
        src_host: src.cast(),
        src_device: 0,
        src_array: std::ptr::null_mut(),
        src_pitch: row,
        dst_x_in_bytes: x as usize * 3,
        dst_y: y as usize,
        dst_memory_type: MEMORYTYPE_DEVICE,
        dst_host: std::ptr::null_mut(),
        dst_device: dst,
        dst_array: std::ptr::null_mut(),
        dst_pitch: pitch,
        width_in_bytes: row,
        height: image.height() as usize,
    };
    // SAFETY: the host image holds height rows of `row` bytes; callers keep the destination rows
    // inside the device buffer.
    unsafe { gpu.driver.check("cuMemcpy2DAsync", (gpu.driver.memcpy_2d_async)(&copy, lane.stream)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_is_handed_out_in_turn_and_reused_only_after_a_sync() {
        // A lane's first copy allocates the least block; later ones follow on until it is full.
        assert_eq!(placement(0, 0, 64), Placement::Grow(STAGING_MIN));
        assert_eq!(placement(0, STAGING_MIN, 1024), Placement::After);
        assert_eq!(placement(STAGING_MIN - 1024, STAGING_MIN, 1024), Placement::After);
        // Full: the block is reused from the start, after the sync that frees it.
        assert_eq!(placement(STAGING_MIN - 1024, STAGING_MIN, 2048), Placement::AfterSync);
        // Larger than the block: a bigger one; larger than anyone should pin: pageable.
        assert_eq!(placement(0, STAGING_MIN, STAGING_MIN + 64), Placement::Grow(STAGING_MIN + 64));
        assert_eq!(placement(0, STAGING_MIN, STAGING_MAX + 64), Placement::Pageable);
    }

    #[test]
    fn bt709_limited_range_matches_the_usual_coefficients() {
        let m = Yuv::for_frame(ff::color::Space::Unspecified, ff::color::Range::Unspecified, 1080);
        assert!((m.cr_r - 1.5748).abs() < 1e-4);
        assert!((m.cb_b - 1.8556).abs() < 1e-4);
        assert!((m.cb_g - 0.1873).abs() < 1e-3);
        assert!((m.cr_g - 0.4681).abs() < 1e-3);
        assert_eq!(m.y_offset, 16.0);
        let sd = Yuv::for_frame(ff::color::Space::Unspecified, ff::color::Range::JPEG, 480);
        assert!((sd.cr_r - 1.402).abs() < 1e-4);
        assert_eq!(sd.y_scale, 1.0);
    }

    #[test]
    fn the_kernels_were_compiled() {
        // CI builds with clang (needed for the OpenCV bindings anyway), which has NVPTX.
        for name in
            ["nv12_resize_linear", "nv12_resize_area", "bgr_resize_linear", "bgr_resize_area", "gradient"]
        {
            assert!(PTX.contains(&format!(".entry {name}(")), "{name} missing from the PTX");
        }
    }
}
