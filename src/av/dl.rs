//! Loading NVIDIA's libraries at run time (the CUDA driver, nvJPEG), so one binary runs on
//! machines with and without them.
#![allow(unsafe_code)]

use super::error::GpuError;
use libloading::Library;

/// The first of `names` that loads (NVIDIA's libraries, versioned names first).
///
/// # Errors
/// The loader's reason for the last name tried.
pub(super) fn open_first(names: &[&str]) -> Result<Library, GpuError> {
    let mut last = String::new();
    for name in names {
        // SAFETY: loading a shared library runs its initialisers; these are NVIDIA's CUDA
        // libraries, which are designed to be loaded at run time (FFmpeg loads libcuda so too).
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok(lib),
            Err(e) => last = format!("cannot load {name} ({e})"),
        }
    }
    Err(last.into())
}

/// The C function `name` (NUL-terminated) of `lib`, typed as `T`.
///
/// Every caller gives `T` the signature the library's header declares for `name` (the field
/// types of `Driver` and `nvjpeg::Api`), which is what makes calling it sound.
///
/// # Errors
/// When the library (`lib_name`, for the message) has no such symbol.
pub(super) fn symbol<T: Copy>(lib: &Library, lib_name: &str, name: &[u8]) -> Result<T, GpuError> {
    // SAFETY: see above: the type is the header's signature for the symbol.
    let s: libloading::Symbol<T> = unsafe { lib.get(name) }
        .map_err(|e| format!("{lib_name} has no {}: {e}", String::from_utf8_lossy(name)))?;
    Ok(*s)
}
