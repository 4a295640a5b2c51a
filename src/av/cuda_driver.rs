//! The CUDA driver API, opened at run time (`libcuda.so.1`), and the one thing FFmpeg's CUDA
//! device needs from it when created ([`give_ffmpeg_its_own_stream`]). Shared by the device
//! creation in `hw` and the GPU compositor in `cuda`, which both use it and neither the other.
//!
//! FFI like the rest of `av/`: every `unsafe` block says why it is sound.

#![allow(unsafe_code)]

use super::dl::{open_first, symbol};
use super::error::GpuError;
use ff::ffi;
use ffmpeg_next as ff;
use libloading::Library;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::OnceLock;

pub(super) type CuResult = c_int;
pub(super) type CuContext = *mut c_void;
pub(super) type CuModule = *mut c_void;
pub(super) type CuFunction = *mut c_void;
pub(super) type CuStream = *mut c_void;
pub(super) type CuEvent = *mut c_void;
pub(super) type DevicePtr = u64;

// cuda.h values.
pub(super) const MEMORYTYPE_HOST: c_uint = 1;
pub(super) const MEMORYTYPE_DEVICE: c_uint = 2;
pub(super) const STREAM_NON_BLOCKING: c_uint = 1;
pub(super) const EVENT_DISABLE_TIMING: c_uint = 2;

/// `CUDA_MEMCPY2D`.
#[repr(C)]
pub(super) struct Memcpy2D {
    pub(super) src_x_in_bytes: usize,
    pub(super) src_y: usize,
    pub(super) src_memory_type: c_uint,
    pub(super) src_host: *const c_void,
    pub(super) src_device: DevicePtr,
    pub(super) src_array: *mut c_void,
    pub(super) src_pitch: usize,
    pub(super) dst_x_in_bytes: usize,
    pub(super) dst_y: usize,
    pub(super) dst_memory_type: c_uint,
    pub(super) dst_host: *mut c_void,
    pub(super) dst_device: DevicePtr,
    pub(super) dst_array: *mut c_void,
    pub(super) dst_pitch: usize,
    pub(super) width_in_bytes: usize,
    pub(super) height: usize,
}

/// `AVCUDADeviceContext` (libavutil/hwcontext_cuda.h; not in ffmpeg-sys' bindings).
#[repr(C)]
pub(super) struct AvCudaDeviceContext {
    pub(super) cuda_ctx: CuContext,
    pub(super) stream: CuStream,
    pub(super) internal: *mut c_void,
}

pub(super) struct Driver {
    pub(super) _lib: Library,
    pub(super) get_error_string: unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult,
    pub(super) ctx_set_current: unsafe extern "C" fn(CuContext) -> CuResult,
    pub(super) module_load_data: unsafe extern "C" fn(*mut CuModule, *const c_void) -> CuResult,
    pub(super) module_get_function:
        unsafe extern "C" fn(*mut CuFunction, CuModule, *const c_char) -> CuResult,
    pub(super) launch_kernel: unsafe extern "C" fn(
        CuFunction,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        CuStream,
        *mut *mut c_void,
        *mut *mut c_void,
    ) -> CuResult,
    pub(super) mem_alloc: unsafe extern "C" fn(*mut DevicePtr, usize) -> CuResult,
    pub(super) mem_free: unsafe extern "C" fn(DevicePtr) -> CuResult,
    pub(super) mem_alloc_host: unsafe extern "C" fn(*mut *mut c_void, usize) -> CuResult,
    pub(super) mem_free_host: unsafe extern "C" fn(*mut c_void) -> CuResult,
    pub(super) memcpy_2d_async: unsafe extern "C" fn(*const Memcpy2D, CuStream) -> CuResult,
    pub(super) stream_create: unsafe extern "C" fn(*mut CuStream, c_uint) -> CuResult,
    pub(super) stream_sync: unsafe extern "C" fn(CuStream) -> CuResult,
    pub(super) stream_wait_event: unsafe extern "C" fn(CuStream, CuEvent, c_uint) -> CuResult,
    pub(super) event_create: unsafe extern "C" fn(*mut CuEvent, c_uint) -> CuResult,
    pub(super) event_record: unsafe extern "C" fn(CuEvent, CuStream) -> CuResult,
}

impl Driver {
    fn open() -> Result<Self, GpuError> {
        const LIB: &str = "libcuda.so.1";
        let lib = open_first(&[LIB])?;
        Ok(Driver {
            get_error_string: symbol(&lib, LIB, b"cuGetErrorString\0")?,
            ctx_set_current: symbol(&lib, LIB, b"cuCtxSetCurrent\0")?,
            module_load_data: symbol(&lib, LIB, b"cuModuleLoadData\0")?,
            module_get_function: symbol(&lib, LIB, b"cuModuleGetFunction\0")?,
            launch_kernel: symbol(&lib, LIB, b"cuLaunchKernel\0")?,
            mem_alloc: symbol(&lib, LIB, b"cuMemAlloc_v2\0")?,
            mem_free: symbol(&lib, LIB, b"cuMemFree_v2\0")?,
            mem_alloc_host: symbol(&lib, LIB, b"cuMemAllocHost_v2\0")?,
            mem_free_host: symbol(&lib, LIB, b"cuMemFreeHost\0")?,
            memcpy_2d_async: symbol(&lib, LIB, b"cuMemcpy2DAsync_v2\0")?,
            stream_create: symbol(&lib, LIB, b"cuStreamCreate\0")?,
            stream_sync: symbol(&lib, LIB, b"cuStreamSynchronize\0")?,
            stream_wait_event: symbol(&lib, LIB, b"cuStreamWaitEvent\0")?,
            event_create: symbol(&lib, LIB, b"cuEventCreate\0")?,
            event_record: symbol(&lib, LIB, b"cuEventRecord\0")?,
            _lib: lib,
        })
    }

    /// A CUDA status as a result, with the driver's own words.
    pub(super) fn check(&self, what: &str, status: CuResult) -> Result<(), GpuError> {
        if status == 0 {
            return Ok(());
        }
        let mut text: *const c_char = std::ptr::null();
        // SAFETY: cuGetErrorString stores a pointer to a static string (or leaves it null).
        unsafe { (self.get_error_string)(status, &mut text) };
        let why = if text.is_null() {
            format!("error {status}")
        } else {
            // SAFETY: non-null: a NUL-terminated static string owned by the driver.
            unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
        };
        Err(format!("CUDA {what}: {why}").into())
    }
}

/// The CUDA driver, loaded once per process.
pub(super) fn driver() -> Result<&'static Driver, GpuError> {
    static DRIVER: OnceLock<Result<Driver, GpuError>> = OnceLock::new();
    DRIVER.get_or_init(Driver::open).as_ref().map_err(Clone::clone)
}

/// Gives FFmpeg's new CUDA device a stream of its own (non-blocking) instead of the legacy
/// default stream, before any decoder uses it. On the legacy stream, every NVDEC frame mapping
/// waited for all work queued by every thread in the context (compositing, nvJPEG) and stalled
/// it in turn: more threads made the batch slower.
///
/// # Safety
/// `device` must be a freshly created CUDA `AVHWDeviceContext` reference that no decoder uses yet.
pub(crate) unsafe fn give_ffmpeg_its_own_stream(device: *mut ffi::AVBufferRef) -> Result<(), GpuError> {
    let driver = driver()?;
    // SAFETY (caller): a CUDA device context; its hwctx is an AVCUDADeviceContext whose stream
    // nothing has read yet. The stream is created in the device's context and lives as long as
    // the process (the device context is cached for the whole process).
    unsafe {
        let dev = (*device).data as *const ffi::AVHWDeviceContext;
        let hw = (*dev).hwctx as *mut AvCudaDeviceContext;
        driver.check("cuCtxSetCurrent", (driver.ctx_set_current)((*hw).cuda_ctx))?;
        let mut stream = std::ptr::null_mut();
        driver.check("cuStreamCreate", (driver.stream_create)(&mut stream, STREAM_NON_BLOCKING))?;
        (*hw).stream = stream;
    }
    Ok(())
}
