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

use libloading::{Library, Symbol};
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
    memcpy_async: unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int, Stream) -> c_int,
    stream_create: unsafe extern "C" fn(*mut Stream, c_uint) -> c_int,
    stream_sync: unsafe extern "C" fn(Stream) -> c_int,
}

// SAFETY: the struct holds function pointers into libraries it keeps loaded; nvJPEG handles
// and CUDA streams are created per thread (see `Worker`), so nothing here is shared mutably.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

fn open_first(names: &[&str]) -> Result<Library, String> {
    let mut last = String::new();
    for name in names {
        // SAFETY: loading a shared library runs its initialisers; these are NVIDIA's CUDA
        // libraries, which are designed to be loaded at runtime.
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok(lib),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(|| {
        let nvjpeg = open_first(&["libnvjpeg.so.13", "libnvjpeg.so.12", "libnvjpeg.so.11", "libnvjpeg.so"])
            .map_err(|e| format!("nvjpeg: cannot load libnvjpeg ({e})"))?;
        let cudart = open_first(&["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"])
            .map_err(|e| format!("nvjpeg: cannot load the CUDA runtime ({e})"))?;
        fn get<T: Copy>(lib: &Library, name: &[u8]) -> Result<T, String> {
            // SAFETY: each symbol is looked up by its C name and given the signature nvjpeg.h
            // and cuda_runtime_api.h declare for it (the `Api` field types).
            let s: Symbol<T> = unsafe { lib.get(name) }
                .map_err(|e| format!("nvjpeg: missing {}: {e}", String::from_utf8_lossy(name)))?;
            Ok(*s)
        }
        {
            Ok(Api {
                create_simple: get(&nvjpeg, b"nvjpegCreateSimple\0")?,
                state_create: get(&nvjpeg, b"nvjpegEncoderStateCreate\0")?,
                params_create: get(&nvjpeg, b"nvjpegEncoderParamsCreate\0")?,
                set_quality: get(&nvjpeg, b"nvjpegEncoderParamsSetQuality\0")?,
                set_sampling: get(&nvjpeg, b"nvjpegEncoderParamsSetSamplingFactors\0")?,
                encode_image: get(&nvjpeg, b"nvjpegEncodeImage\0")?,
                retrieve: get(&nvjpeg, b"nvjpegEncodeRetrieveBitstream\0")?,
                malloc: get(&cudart, b"cudaMalloc\0")?,
                free: get(&cudart, b"cudaFree\0")?,
                memcpy_async: get(&cudart, b"cudaMemcpyAsync\0")?,
                stream_create: get(&cudart, b"cudaStreamCreateWithFlags\0")?,
                stream_sync: get(&cudart, b"cudaStreamSynchronize\0")?,
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
}

/// A CUDA or nvJPEG status as a result (0 is success in both APIs).
fn check(what: &str, status: c_int) -> Result<(), String> {
    if status == 0 {
        Ok(())
    } else {
        Err(format!("nvjpeg: {what} failed ({status})"))
    }
}

impl Worker {
    fn new(api: &Api) -> Result<Self, String> {
        let mut w = Worker {
            handle: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            params: std::ptr::null_mut(),
            stream: std::ptr::null_mut(),
            quality: -1,
            buffer: std::ptr::null_mut(),
            capacity: 0,
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
    ) -> Result<Vec<u8>, String> {
        // SAFETY (caller): the image is valid device memory; nvJPEG writes at most `len` bytes
        // into `out`; the stream is synchronised before `out` is read.
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
            let mut out = vec![0u8; len];
            check(
                "nvjpegEncodeRetrieveBitstream",
                (api.retrieve)(self.handle, self.state, out.as_mut_ptr(), &mut len, stream),
            )?;
            check("cudaStreamSynchronize", (api.stream_sync)(stream))?;
            out.truncate(len);
            Ok(out)
        }
    }

    fn encode(
        &mut self,
        api: &Api,
        bgr: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Vec<u8>, String> {
        let size = bgr.len();
        // SAFETY: the device buffer is (re)allocated to hold `size` bytes before the copy; the
        // image description points into it with the packed row pitch; the stream is
        // synchronised before the host buffer is read; nvJPEG writes at most `len` bytes.
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
            if self.quality != c_int::from(quality) {
                check(
                    "nvjpegEncoderParamsSetQuality",
                    (api.set_quality)(self.params, c_int::from(quality), self.stream),
                )?;
                self.quality = c_int::from(quality);
            }
            check(
                "cudaMemcpyAsync",
                (api.memcpy_async)(self.buffer, bgr.as_ptr().cast(), size, HOST_TO_DEVICE, self.stream),
            )?;
            let image = NvImage {
                channel: [
                    self.buffer.cast(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ],
                pitch: [width as usize * 3, 0, 0, 0],
            };
            check(
                "nvjpegEncodeImage",
                (api.encode_image)(
                    self.handle,
                    self.state,
                    self.params,
                    &image,
                    INPUT_BGRI,
                    width as c_int,
                    height as c_int,
                    self.stream,
                ),
            )?;
            let mut len = 0usize;
            check(
                "nvjpegEncodeRetrieveBitstream",
                (api.retrieve)(self.handle, self.state, std::ptr::null_mut(), &mut len, self.stream),
            )?;
            let mut out = vec![0u8; len];
            check(
                "nvjpegEncodeRetrieveBitstream",
                (api.retrieve)(self.handle, self.state, out.as_mut_ptr(), &mut len, self.stream),
            )?;
            check("cudaStreamSynchronize", (api.stream_sync)(self.stream))?;
            out.truncate(len);
            Ok(out)
        }
    }
}

thread_local! {
    static WORKER: RefCell<Option<Result<Worker, String>>> = const { RefCell::new(None) };
}

/// Whether nvJPEG can be used here, and why not.
pub(crate) fn available() -> Result<(), String> {
    api().map(|_| ())
}

/// Encodes packed BGR as a 4:2:0 JPEG on the GPU.
///
/// # Errors
/// Why nvJPEG or CUDA could not be loaded or failed, in their words.
pub(crate) fn encode(bgr: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    let api = api()?;
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        let worker = w.get_or_insert_with(|| Worker::new(api));
        match worker {
            Ok(worker) => worker.encode(api, bgr, width, height, quality),
            Err(e) => Err(e.clone()),
        }
    })
}

/// Encodes packed BGR that is already in GPU memory (the GPU compositor's canvas), on the
/// caller's CUDA stream so it follows the compositing work queued there.
///
/// # Errors
/// Why nvJPEG or CUDA could not be loaded or failed, in their words.
pub(crate) fn encode_device(
    image: *mut u8,
    pitch: usize,
    width: u32,
    height: u32,
    quality: u8,
    stream: *mut c_void,
) -> Result<Vec<u8>, String> {
    let api = api()?;
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        let worker = w.get_or_insert_with(|| Worker::new(api));
        match worker {
            // SAFETY: the only caller (cuda::DeviceCanvas::encode_jpeg) passes its canvas buffer,
            // `height` rows of `pitch` bytes in the shared context, written on `stream`.
            Ok(worker) => unsafe {
                worker.encode_on_device(api, image, pitch, (width, height), quality, stream)
            },
            Err(e) => Err(e.clone()),
        }
    })
}
