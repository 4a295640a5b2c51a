//! JPEG encoding on an NVIDIA GPU through nvJPEG (CUDA's JPEG library), loaded at runtime.
//!
//! The GPU machine decodes keyframes on NVDEC; JPEG encoding was then the largest CPU cost left
//! per cover after compositing. nvJPEG and the CUDA runtime are opened with `dlopen` on first
//! use (nothing links against CUDA, so the same binary runs everywhere) and each worker thread
//! keeps its own stream, encoder state and device buffer. Bytes differ from libjpeg-turbo's (a
//! different DCT and rounding), so it is only used when asked for (`--jpeg-encoder nvjpeg`).
//!
//! This is FFI like the rest of `av/`: every `unsafe` block says why it is sound.

#![allow(unsafe_code)]

use super::dl::{open_first, symbol};
use super::error::GpuError;
use libloading::Library;
use std::cell::RefCell;
use std::ffi::{c_int, c_uchar, c_uint, c_void};
use std::sync::OnceLock;

type Status = c_int;
type Handle = *mut c_void;
type Stream = *mut c_void;

/// `nvjpegImage_t`: up to four planes with their pitches.
#[repr(C)]
struct NvImage {
    channel: [*mut c_uchar; 4],
    pitch: [usize; 4],
}

// nvjpeg.h: NVJPEG_CSS_420 = 2, NVJPEG_INPUT_BGRI = 6 (interleaved B,G,R).
const CSS_420: c_int = 2;
const INPUT_BGRI: c_int = 6;
const HOST_TO_DEVICE: c_int = 1;
// cuda_runtime_api.h: cudaStreamNonBlocking.
const STREAM_NON_BLOCKING: c_uint = 1;

struct Api {
    _nvjpeg: Library,
    _cudart: Library,
    create_simple: unsafe extern "C" fn(*mut Handle) -> Status,
    state_create: unsafe extern "C" fn(Handle, *mut Handle, Stream) -> Status,
    params_create: unsafe extern "C" fn(Handle, *mut Handle, Stream) -> Status,
    set_quality: unsafe extern "C" fn(Handle, c_int, Stream) -> Status,
    set_sampling: unsafe extern "C" fn(Handle, c_int, Stream) -> Status,
    encode_image:
        unsafe extern "C" fn(Handle, Handle, Handle, *const NvImage, c_int, c_int, c_int, Stream) -> Status,
    retrieve: unsafe extern "C" fn(Handle, Handle, *mut c_uchar, *mut usize, Stream) -> Status,
    malloc: unsafe extern "C" fn(*mut *mut c_void, usize) -> c_int,
    free: unsafe extern "C" fn(*mut c_void) -> c_int,
    malloc_host: unsafe extern "C" fn(*mut *mut c_void, usize) -> c_int,
    free_host: unsafe extern "C" fn(*mut c_void) -> c_int,
    memcpy_async: unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int, Stream) -> c_int,
    stream_create: unsafe extern "C" fn(*mut Stream, c_uint) -> c_int,
    stream_sync: unsafe extern "C" fn(Stream) -> c_int,
}

// SAFETY: the struct holds function pointers into libraries it keeps loaded; nvJPEG handles
// and CUDA streams are created per thread (see `Worker`), so nothing here is shared mutably.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

fn api() -> Result<&'static Api, GpuError> {
    static API: OnceLock<Result<Api, GpuError>> = OnceLock::new();
    API.get_or_init(|| {
        let nvjpeg = open_first(&["libnvjpeg.so.13", "libnvjpeg.so.12", "libnvjpeg.so.11", "libnvjpeg.so"])
            .map_err(|e| format!("nvjpeg: {e}"))?;
        let cudart = open_first(&["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"])
            .map_err(|e| format!("nvjpeg: the CUDA runtime: {e}"))?;
        {
            Ok(Api {
                create_simple: symbol(&nvjpeg, "nvjpeg", b"nvjpegCreateSimple\0")?,
                state_create: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncoderStateCreate\0")?,
                params_create: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncoderParamsCreate\0")?,
                set_quality: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncoderParamsSetQuality\0")?,
                set_sampling: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncoderParamsSetSamplingFactors\0")?,
                encode_image: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncodeImage\0")?,
                retrieve: symbol(&nvjpeg, "nvjpeg", b"nvjpegEncodeRetrieveBitstream\0")?,
                malloc: symbol(&cudart, "the CUDA runtime", b"cudaMalloc\0")?,
                free: symbol(&cudart, "the CUDA runtime", b"cudaFree\0")?,
                malloc_host: symbol(&cudart, "the CUDA runtime", b"cudaMallocHost\0")?,
                free_host: symbol(&cudart, "the CUDA runtime", b"cudaFreeHost\0")?,
                memcpy_async: symbol(&cudart, "the CUDA runtime", b"cudaMemcpyAsync\0")?,
                stream_create: symbol(&cudart, "the CUDA runtime", b"cudaStreamCreateWithFlags\0")?,
                stream_sync: symbol(&cudart, "the CUDA runtime", b"cudaStreamSynchronize\0")?,
                _nvjpeg: nvjpeg,
                _cudart: cudart,
            })
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// One thread's nvJPEG handle, encoder state and parameters, CUDA stream and device buffer.
struct Worker {
    handle: Handle,
    state: Handle,
    params: Handle,
    stream: Stream,
    quality: c_int,
    buffer: *mut c_void,
    capacity: usize,
    /// Page-locked memory the bitstream comes back into: a copy into pageable memory goes
    /// through the driver's staging buffers, shared by all threads under one lock (docs/gpu.md).
    bitstream: Pinned,
}

/// A page-locked host buffer that grows to the largest size asked of it.
struct Pinned {
    ptr: *mut c_uchar,
    capacity: usize,
    /// The runtime would not pin memory (a container's limit): the caller uses pageable memory.
    refused: bool,
}

impl Pinned {
    const EMPTY: Pinned = Pinned { ptr: std::ptr::null_mut(), capacity: 0, refused: false };

    /// At least `size` bytes, or `None` where the runtime will not pin memory (later calls then
    /// do not ask again).
    ///
    /// # Safety
    /// Nothing queued may still use the buffer when it has to grow.
    unsafe fn at_least(&mut self, api: &Api, size: usize) -> Option<*mut c_uchar> {
        if self.capacity < size && !self.refused {
            // SAFETY (caller): the old buffer is idle.
            unsafe {
                if !self.ptr.is_null() {
                    (api.free_host)(self.ptr.cast());
                    *self = Pinned::EMPTY;
                }
                // Room for a larger one than this: pinning memory is slow.
                let capacity = size.max(1 << 20).next_power_of_two();
                let mut p: *mut c_void = std::ptr::null_mut();
                if (api.malloc_host)(&mut p, capacity) == 0 && !p.is_null() {
                    *self = Pinned { ptr: p.cast(), capacity, refused: false };
                } else {
                    self.refused = true;
                }
            }
        }
        (self.capacity >= size).then_some(self.ptr)
    }
}

/// A CUDA or nvJPEG status as a result (0 is success in both APIs).
fn check(what: &str, status: c_int) -> Result<(), GpuError> {
    if status == 0 {
        Ok(())
    } else {
        Err(format!("nvjpeg: {what} failed ({status})").into())
    }
}

impl Worker {
    fn new(api: &Api) -> Result<Self, GpuError> {
        let mut w = Worker {
            handle: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            params: std::ptr::null_mut(),
            stream: std::ptr::null_mut(),
            quality: -1,
            buffer: std::ptr::null_mut(),
            capacity: 0,
            bitstream: Pinned::EMPTY,
        };
        // SAFETY: each call writes one handle into a field we own; failures are reported.
        unsafe {
            // Non-blocking: work on the legacy default stream (other threads' NVDEC mapping)
            // must not serialise with every thread's encodes.
            check("cudaStreamCreateWithFlags", (api.stream_create)(&mut w.stream, STREAM_NON_BLOCKING))?;
            check("nvjpegCreateSimple", (api.create_simple)(&mut w.handle))?;
            check("nvjpegEncoderStateCreate", (api.state_create)(w.handle, &mut w.state, w.stream))?;
            check("nvjpegEncoderParamsCreate", (api.params_create)(w.handle, &mut w.params, w.stream))?;
            check("nvjpegEncoderParamsSetSamplingFactors", (api.set_sampling)(w.params, CSS_420, w.stream))?;
        }
        Ok(w)
    }

    /// Encodes packed BGR already in device memory (`pitch` bytes a row) on `stream`.
    ///
    /// # Safety
    /// `image` must point to `height` rows of `pitch` bytes in device memory of the current
    /// context, written by work ordered before this call on `stream`.
    unsafe fn encode_on_device(
        &mut self,
        api: &Api,
        image: *mut c_uchar,
        pitch: usize,
        (width, height): (u32, u32),
        quality: u8,
        stream: Stream,
    ) -> Result<Vec<u8>, GpuError> {
        // SAFETY (caller): the image is valid device memory; nvJPEG writes at most `len` bytes
        // into the page-locked buffer (grown to at least `len` first); the stream is
        // synchronised before the buffer is read.
        unsafe {
            if self.quality != c_int::from(quality) {
                check(
                    "nvjpegEncoderParamsSetQuality",
                    (api.set_quality)(self.params, c_int::from(quality), stream),
                )?;
                self.quality = c_int::from(quality);
            }
            let desc = NvImage {
                channel: [image, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()],
                pitch: [pitch, 0, 0, 0],
            };
            check(
                "nvjpegEncodeImage",
                (api.encode_image)(
                    self.handle,
                    self.state,
                    self.params,
                    &desc,
                    INPUT_BGRI,
                    width as c_int,
                    height as c_int,
                    stream,
                ),
            )?;
            let mut len = 0usize;
            check(
                "nvjpegEncodeRetrieveBitstream",
                (api.retrieve)(self.handle, self.state, std::ptr::null_mut(), &mut len, stream),
            )?;
            // Nothing queued uses the bitstream buffer: the last copy out of it was waited for.
            let Some(pinned) = self.bitstream.at_least(api, len) else {
                let mut out = vec![0u8; len];
                check(
                    "nvjpegEncodeRetrieveBitstream",
                    (api.retrieve)(self.handle, self.state, out.as_mut_ptr(), &mut len, stream),
                )?;
                check("cudaStreamSynchronize", (api.stream_sync)(stream))?;
                out.truncate(len);
                return Ok(out);
            };
            let capacity = self.bitstream.capacity;
            check(
                "nvjpegEncodeRetrieveBitstream",
                (api.retrieve)(self.handle, self.state, pinned, &mut len, stream),
            )?;
            check("cudaStreamSynchronize", (api.stream_sync)(stream))?;
            Ok(std::slice::from_raw_parts(pinned, len.min(capacity)).to_vec())
        }
    }

    /// Encodes packed BGR from system memory: copied to this worker's device buffer first.
    fn encode(
        &mut self,
        api: &Api,
        bgr: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Vec<u8>, GpuError> {
        let size = bgr.len();
        // SAFETY: the device buffer is (re)allocated to hold `size` bytes before the copy, which
        // is queued on the worker's stream ahead of the encode; the buffer holds `height` rows
        // of `width * 3` bytes, as encode_on_device requires.
        unsafe {
            if self.capacity < size {
                if !self.buffer.is_null() {
                    (api.free)(self.buffer);
                    self.buffer = std::ptr::null_mut();
                    self.capacity = 0;
                }
                check("cudaMalloc", (api.malloc)(&mut self.buffer, size))?;
                self.capacity = size;
            }
            // From pageable memory: staging this upload through pinned memory as well measured
            // no faster (H200, CPU compositor + nvJPEG, 16 threads: 424-429 covers/s either way).
            check(
                "cudaMemcpyAsync",
                (api.memcpy_async)(self.buffer, bgr.as_ptr().cast(), size, HOST_TO_DEVICE, self.stream),
            )?;
            let stream = self.stream;
            self.encode_on_device(
                api,
                self.buffer.cast(),
                width as usize * 3,
                (width, height),
                quality,
                stream,
            )
        }
    }
}

thread_local! {
    static WORKER: RefCell<Option<Result<Worker, GpuError>>> = const { RefCell::new(None) };
}

/// Whether nvJPEG can be used here, and why not.
pub(crate) fn available() -> Result<(), GpuError> {
    api().map(|_| ())
}

/// Runs `f` with this thread's worker (created on first use).
fn with_worker<R>(f: impl FnOnce(&Api, &mut Worker) -> Result<R, GpuError>) -> Result<R, GpuError> {
    let api = api()?;
    WORKER.with(|w| match w.borrow_mut().get_or_insert_with(|| Worker::new(api)) {
        Ok(worker) => f(api, worker),
        Err(e) => Err(e.clone()),
    })
}

/// Encodes packed BGR as a 4:2:0 JPEG on the GPU.
///
/// # Errors
/// Why nvJPEG or CUDA could not be loaded or failed, in their words.
pub(crate) fn encode(bgr: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, GpuError> {
    with_worker(|api, worker| worker.encode(api, bgr, width, height, quality))
}

/// Encodes packed BGR that is already in GPU memory (the GPU compositor's canvas), on the
/// caller's CUDA stream so it follows the compositing work queued there.
///
/// # Safety
/// `image` must point to `height` rows of `pitch` bytes in device memory of the shared context,
/// written by work ordered before this call on `stream`.
///
/// # Errors
/// Why nvJPEG or CUDA could not be loaded or failed, in their words.
pub(crate) unsafe fn encode_device(
    image: *mut u8,
    pitch: usize,
    (width, height): (u32, u32),
    quality: u8,
    stream: *mut c_void,
) -> Result<Vec<u8>, GpuError> {
    // SAFETY (caller): as encode_on_device requires.
    with_worker(|api, worker| unsafe {
        worker.encode_on_device(api, image, pitch, (width, height), quality, stream)
    })
}
