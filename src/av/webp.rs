//! Lossy WebP stills through libwebp (the library FFmpeg already links for animated WebP),
//! straight from the BGR canvas.
//!
//! This is FFI like the rest of `av/`: every `unsafe` block says why it is sound.

#![allow(unsafe_code)]

use std::ffi::{c_float, c_int, c_void};

#[link(name = "webp")]
extern "C" {
    fn WebPEncodeBGR(
        bgr: *const u8,
        width: c_int,
        height: c_int,
        stride: c_int,
        quality: c_float,
        out: *mut *mut u8,
    ) -> usize;
    fn WebPFree(ptr: *mut c_void);
}

/// Encodes packed BGR pixels (`width * 3` bytes per row) as a lossy WebP of `quality` (1–100).
///
/// # Errors
/// When the size is not one WebP can hold (16383 px a side) or libwebp fails.
pub(crate) fn encode_bgr(bgr: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    const MAX_SIDE: u32 = 16383;
    let stride = width as usize * 3;
    if bgr.len() != stride * height as usize || width == 0 || height == 0 {
        return Err(format!("{} bytes are not a {width}x{height} BGR image", bgr.len()));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("{width}x{height} is larger than WebP's {MAX_SIDE} pixels a side"));
    }
    let mut out: *mut u8 = std::ptr::null_mut();
    // SAFETY: `bgr` holds exactly `stride * height` bytes (checked above) and is only read; the
    // sizes fit a C int (checked against WebP's limit); libwebp allocates the output itself and
    // writes its address to `out`, returning its length (0 on failure).
    let size = unsafe {
        WebPEncodeBGR(
            bgr.as_ptr(),
            width as c_int,
            height as c_int,
            stride as c_int,
            quality.clamp(1, 100) as c_float,
            &mut out,
        )
    };
    let result = if size > 0 && !out.is_null() {
        // SAFETY: on success `out` points to `size` bytes libwebp wrote.
        Ok(unsafe { std::slice::from_raw_parts(out, size) }.to_vec())
    } else {
        Err("libwebp could not encode the image".to_string())
    };
    if !out.is_null() {
        // SAFETY: `out` was allocated by libwebp and is freed once, with its own allocator.
        unsafe { WebPFree(out.cast()) };
    }
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_a_webp_that_decodes_to_the_picture() {
        let (w, h) = (64u32, 48u32);
        let bgr: Vec<u8> = (0..w * h).flat_map(|i| [(i % 64 * 4) as u8, 128, (i / 64 * 5) as u8]).collect();
        let bytes = super::encode_bgr(&bgr, w, h, 90).unwrap();
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WEBP");
        let decoded = crate::pixels::Overlay::decode(&bytes, 100).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (w, h));
    }
}
