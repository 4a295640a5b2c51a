//! JPEG encoding through libjpeg-turbo's TurboJPEG API, straight from the BGR canvas.
//!
//! OpenCV's `imencode` reaches the same libjpeg-turbo but first converts every row from BGR to
//! RGB in its own code and copies the result out of its own buffer: in a profile of a batch that
//! was a third of the JPEG stage. TurboJPEG reads BGR rows as they are (libjpeg-turbo's
//! `JCS_EXT_BGR`) with the same quantisation, 4:2:0 subsampling and DCT (the accurate integer
//! one, libjpeg's default), so the covers decode to the same pixels.
//!
//! This is FFI like the rest of `av/`: every `unsafe` block says why it is sound.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uchar, c_ulong, c_void, CStr};

type Handle = *mut c_void;

/// `TJPF_BGR`: 3-byte pixels, B, G, R.
const PIXEL_BGR: c_int = 1;
/// `TJSAMP_420`: one chroma sample per 2x2 block, what OpenCV and Pillow write by default.
const SUBSAMPLING_420: c_int = 2;
/// `TJFLAG_ACCURATEDCT`: the integer DCT libjpeg uses by default (not the fast one).
const FLAG_ACCURATE_DCT: c_int = 4096;

#[link(name = "turbojpeg")]
extern "C" {
    fn tjInitCompress() -> Handle;
    #[allow(clippy::too_many_arguments)]
    fn tjCompress2(
        handle: Handle,
        src: *const c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        jpeg: *mut *mut c_uchar,
        jpeg_size: *mut c_ulong,
        subsampling: c_int,
        quality: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjFree(buffer: *mut c_uchar);
    fn tjDestroy(handle: Handle) -> c_int;
    fn tjGetErrorStr2(handle: Handle) -> *mut c_char;
}

/// One compressor per thread, made on first use and kept (it holds libjpeg's state and
/// buffers, which are reused from cover to cover).
struct Compressor(Handle);

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitCompress, is not null, and is destroyed once here.
        unsafe {
            tjDestroy(self.0);
        }
    }
}

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// Encodes packed BGR pixels (`width * 3` bytes per row) as a 4:2:0 JPEG of `quality` (1–100).
///
/// # Errors
/// TurboJPEG's message when it cannot start or fails.
pub(crate) fn encode_bgr(bgr: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    let pitch = width as usize * 3;
    if bgr.len() != pitch * height as usize || width == 0 || height == 0 {
        return Err(format!("{} bytes are not a {width}x{height} BGR image", bgr.len()));
    }
    let (w, h, p) = (
        c_int::try_from(width).map_err(|_| "image too wide".to_string())?,
        c_int::try_from(height).map_err(|_| "image too tall".to_string())?,
        c_int::try_from(pitch).map_err(|_| "image too wide".to_string())?,
    );
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            // SAFETY: tjInitCompress takes no arguments and returns a new handle or null.
            let handle = unsafe { tjInitCompress() };
            if handle.is_null() {
                return Err("TurboJPEG could not start a compressor".to_string());
            }
            *slot = Some(Compressor(handle));
        }
        let handle = slot.as_ref().expect("just set").0;
        let mut out: *mut c_uchar = std::ptr::null_mut();
        let mut size: c_ulong = 0;
        // SAFETY: `handle` is a live compressor used by this thread only; `bgr` holds exactly
        // `pitch * height` bytes (checked above) and is only read; with `out` null TurboJPEG
        // allocates the output itself and writes its address and size to `out` and `size`.
        let status = unsafe {
            tjCompress2(
                handle,
                bgr.as_ptr(),
                w,
                p,
                h,
                PIXEL_BGR,
                &mut out,
                &mut size,
                SUBSAMPLING_420,
                c_int::from(quality.clamp(1, 100)),
                FLAG_ACCURATE_DCT,
            )
        };
        let result = if status == 0 && !out.is_null() {
            // SAFETY: on success `out` points to `size` bytes TurboJPEG allocated and wrote.
            Ok(unsafe { std::slice::from_raw_parts(out, size as usize) }.to_vec())
        } else {
            // SAFETY: tjGetErrorStr2 returns a NUL-terminated string owned by the handle.
            let message = unsafe { CStr::from_ptr(tjGetErrorStr2(handle)) };
            Err(format!("TurboJPEG: {}", message.to_string_lossy()))
        };
        if !out.is_null() {
            // SAFETY: `out` was allocated by TurboJPEG (tjAlloc) and is freed once here.
            unsafe { tjFree(out) };
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use crate::pixels::Image;

    #[test]
    fn decodes_back_to_the_picture() {
        // A gradient with texture, odd size (partial MCUs at the right and bottom edges).
        let (w, h) = (203u32, 117u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y) % 32 * 4) as u8]
            })
            .collect();
        let image = Image::from_rgb(w, h, &rgb);
        // The sawtooth in the third channel caps PSNR through 4:2:0 chroma (~32 dB at q100).
        for (quality, min_psnr) in [(50u8, 25.0), (90, 29.0), (100, 30.0)] {
            let bytes = super::encode_bgr(image.bgr_bytes(), w, h, quality).unwrap();
            let back = crate::pixels::Overlay::decode(&bytes, 1000).unwrap();
            assert_eq!((back.width(), back.height()), (w, h));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("back.jpg");
            std::fs::write(&path, &bytes).unwrap();
            let back = Image::load(&path).unwrap().to_rgb();
            let mse = back.iter().zip(&rgb).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>()
                / rgb.len() as f64;
            let psnr = 10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10();
            assert!(psnr >= min_psnr, "quality {quality}: {psnr:.1} dB");
        }
    }

    #[test]
    fn refuses_a_buffer_of_the_wrong_size() {
        assert!(super::encode_bgr(&[0; 10], 2, 2, 90).is_err());
    }
}
