//! Fitting a crop of an 8-bit 4:2:0 frame to a larger canvas in one pass: bilinear enlargement
//! of the planes and their conversion to packed BGR together.
//!
//! The two-step fit (OpenCV's resize of each plane into a canvas-sized frame, then swscale's
//! conversion of that frame) cost ~2.2 ms of a 1080x1920 phone cover: two passes over the
//! canvas and a 3 MB intermediate frame written and read back. Here each source row is
//! interpolated horizontally once (a byte shuffle and a multiply-add a register of 16
//! outputs), and each canvas row is interpolated vertically, converted and interleaved to BGR
//! while it is still in registers.
//!
//! The arithmetic is defined by the portable code ([`convert_row_any`] and friends) and the
//! AVX2 code computes the same integers, so the two give identical bytes (a test checks). It
//! follows the two-step fit: OpenCV's `INTER_LINEAR` sample positions and edge clamping for
//! the luma and the chroma planes (chroma resized to half the canvas), each chroma sample then
//! shared by its 2x2 canvas pixels as swscale's unscaled conversion does, and swscale's YUV
//! matrix tables; weights are rounded to 1/64 across and 1/32768 down, so the two fits differ
//! by a level or two at hard edges (the test bounds it).
//!
//! Only enlargement (or equal size) on both axes comes here; a shrinking fit averages areas
//! (`INTER_AREA`) and keeps the two-step path.

use crate::model::Rect;
use crate::pixels::resample::{linear_taps, KeptRows};
use std::mem::MaybeUninit;

/// Weight units of the horizontal taps: one source pixel is 64 (so a tap pair fits `pmaddubsw`).
const H_ONE: i16 = 64;

/// Interpolated samples carry 6 extra bits ([`H_ONE`]); the colour terms carry 3 (eighths of a
/// level) until the final rounding shift.
const TERM_BITS: i32 = 3;

/// Outputs a register of horizontal taps makes (two lanes of 8).
const GROUP: usize = 16;

/// One plane of the frame: its bytes and the distance between rows.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
}

/// The YUV→RGB matrix in the fixed point the row code uses: gains in 1/4096 of a level per
/// level (so `pmulhrsw` of a sample in 1/64 levels gives eighths of a level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Matrix {
    luma_gain: i16,
    /// Black's luma, in 1/64 levels (16 for limited range, 0 for full).
    luma_black: i16,
    cr_to_r: i16,
    cb_to_b: i16,
    cb_to_g: i16,
    cr_to_g: i16,
}

impl Matrix {
    /// From swscale's table for the colour space (`[crv, cbu, cgu, cgv]` in 16.16 fixed point,
    /// as `sws_getCoefficients` gives them, for limited range) and the frame's range, scaled as
    /// swscale's own set-up scales them.
    pub(crate) fn from_swscale(table: [i32; 4], full_range: bool) -> Self {
        let chroma_scale = if full_range { 224.0 / 255.0 } else { 1.0 };
        let q = |v: f64| (v * 4096.0).round() as i16;
        let c = |i: usize| q(f64::from(table[i]) / 65536.0 * chroma_scale);
        Matrix {
            luma_gain: q(if full_range { 1.0 } else { 255.0 / 219.0 }),
            luma_black: if full_range { 0 } else { 16 * H_ONE },
            cr_to_r: c(0),
            cb_to_b: c(1),
            cb_to_g: c(2),
            cr_to_g: c(3),
        }
    }
}

/// `pmulhrsw`: the product's high half, rounded.
fn mulhrs(a: i16, b: i16) -> i16 {
    ((i32::from(a) * i32::from(b) + 0x4000) >> 15) as i16
}

/// The horizontal taps of one plane as byte shuffles: for each group of 8 outputs, where its
/// 16 source bytes start, which of them pair up for each output and the pairs' weights.
struct RowTaps {
    /// Source bytes a row needs, from its first.
    inputs: usize,
    /// Outputs, padded up to a multiple of [`GROUP`] (the padding repeats the last tap).
    padded: usize,
    starts: Vec<usize>,
    /// 16 bytes a group: (first, second) offsets from its start, output by output.
    shuffles: Vec<u8>,
    /// 16 weights a group: (first's, second's), output by output, summing to [`H_ONE`].
    weights: Vec<i8>,
}

impl RowTaps {
    /// `None` when some 8 outputs read more than 16 bytes (a shrinking fit).
    fn new(inputs: usize, outputs: usize) -> Option<Self> {
        let mut taps = linear_taps(inputs, outputs);
        let padded = outputs.div_ceil(GROUP) * GROUP;
        taps.resize(padded, *taps.last()?);
        let (mut starts, mut shuffles, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for group in taps.chunks_exact(8) {
            let start = group[0].first;
            for tap in group {
                let (a, b) = (tap.first - start, tap.second - start);
                if b >= 16 {
                    return None;
                }
                let w = (tap.share * f64::from(H_ONE)).round() as i8;
                shuffles.extend([a as u8, b as u8]);
                weights.extend([H_ONE as i8 - w, w]);
            }
            starts.push(start);
        }
        Some(RowTaps { inputs, padded, starts, shuffles, weights })
    }
}

/// The vertical taps in the row code's fixed point: the second row's share in 1/32768.
fn column_taps(inputs: usize, outputs: usize) -> Vec<(usize, usize, i16)> {
    let share = |s: f64| (s * 32768.0).round().min(32767.0) as i16;
    linear_taps(inputs, outputs).into_iter().map(|t| (t.first, t.second, share(t.share))).collect()
}

/// A plane's crop with its rows interpolated across on demand, the last two kept (an
/// enlargement reads each source row for one to several output rows in a row).
struct Interpolated<'a> {
    plane: Plane<'a>,
    crop: Rect,
    taps: RowTaps,
    rows: Vec<(usize, usize, i16)>,
    /// A source row near the plane's end, copied with 16 bytes of room after it for the
    /// shuffles' loads.
    copy: Vec<u8>,
    kept: KeptRows<i16>,
}

impl<'a> Interpolated<'a> {
    fn new(plane: Plane<'a>, crop: Rect, outputs: (usize, usize)) -> Option<Self> {
        let (w, h) = (crop.width as usize, crop.height as usize);
        let rows_in_plane = plane.data.len().checked_div(plane.stride)?;
        let fits = crop.x >= 0 && crop.y >= 0 && crop.right() as usize <= plane.stride;
        if !fits || crop.bottom() as usize > rows_in_plane || w == 0 || h == 0 {
            return None;
        }
        let taps = RowTaps::new(w, outputs.0)?;
        let kept = KeptRows::new(taps.padded);
        Some(Interpolated { plane, crop, rows: column_taps(h, outputs.1), copy: vec![0; w + 16], taps, kept })
    }

    /// The two source rows output row `y` blends, interpolated across, and the second's weight.
    fn rows_for(&mut self, y: usize, simd: bool) -> (&[i16], &[i16], i16) {
        let (first, second, share) = self.rows[y];
        let (plane, crop, taps, copy) = (self.plane, self.crop, &self.taps, &mut self.copy);
        let (a, b) = self.kept.get(first, second, |index, row| {
            let start = (crop.y as usize + index) * plane.stride + crop.x as usize;
            // The shuffles' loads may read 16 bytes past the crop's row (bytes they weigh 0):
            // read the plane in place where it has them, else a copy of the row.
            let source = if start + taps.inputs + 16 <= plane.data.len() {
                &plane.data[start..]
            } else {
                copy[..taps.inputs].copy_from_slice(&plane.data[start..start + taps.inputs]);
                &copy[..]
            };
            interpolate_row(source, taps, row, simd);
        });
        (a, b, share)
    }
}

/// Packed BGR of `size` from the `crop` of a 4:2:0 frame's three planes (the chroma crop is
/// the luma crop halved, rounded as [`super::fit_planes`] rounds it), or `None` when the fit
/// shrinks an axis or the crop is not inside the planes.
pub(crate) fn fit_to_bgr(
    planes: [Plane<'_>; 3],
    crop: Rect,
    size: (u32, u32),
    matrix: Matrix,
) -> Option<Vec<u8>> {
    fit_to_bgr_with(planes, crop, size, matrix, simd_available())
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn fit_to_bgr_with(
    [y_plane, cb_plane, cr_plane]: [Plane<'_>; 3],
    crop: Rect,
    size: (u32, u32),
    matrix: Matrix,
    simd: bool,
) -> Option<Vec<u8>> {
    let half = |v: u32| v.div_ceil(2);
    let (w, h) = (size.0 as usize, size.1 as usize);
    let (cw, ch) = (half(size.0) as usize, half(size.1) as usize);
    let chroma_crop = Rect::new(crop.x / 2, crop.y / 2, half(crop.width), half(crop.height));
    if w == 0 || h == 0 || size.0 < crop.width || size.1 < crop.height {
        return None;
    }
    let mut luma = Interpolated::new(y_plane, crop, (w, h))?;
    let mut cb = Interpolated::new(cb_plane, chroma_crop, (cw, ch))?;
    let mut cr = Interpolated::new(cr_plane, chroma_crop, (cw, ch))?;
    // The chroma terms are read two canvas pixels to a sample, over the luma's padded width.
    let terms_len = cb.taps.padded.max(luma.taps.padded / 2);
    let mut terms = ChromaTerms { r: vec![0; terms_len], g: vec![0; terms_len], b: vec![0; terms_len] };
    // Every byte is written below, so the canvas is not cleared first (clearing 6 MB was a
    // tenth of the pass).
    let len = w * 3 * h;
    let mut bgr: Vec<u8> = Vec::with_capacity(len);
    for (cy, pair) in bgr.spare_capacity_mut()[..len].chunks_mut(2 * w * 3).enumerate() {
        let (u0, u1, uw) = cb.rows_for(cy, simd);
        let (v0, v1, vw) = cr.rows_for(cy, simd);
        chroma_terms([(u0, u1, uw), (v0, v1, vw)], matrix, &mut terms, simd);
        for (dy, out) in pair.chunks_mut(w * 3).enumerate() {
            let (y0, y1, yw) = luma.rows_for(2 * cy + dy, simd);
            convert_row((y0, y1, yw), &terms, matrix, out, simd);
        }
    }
    // SAFETY: the loop above wrote all `len` bytes: every row of the canvas, every pixel of a
    // row (`convert_row` writes its whole slice).
    #[allow(unsafe_code)]
    unsafe {
        bgr.set_len(len)
    };
    Some(bgr)
}

/// The colour contributions of one canvas row's chroma, per chroma sample, in eighths of a
/// level with the final rounding folded in: red and blue add, green subtracts.
struct ChromaTerms {
    r: Vec<i16>,
    g: Vec<i16>,
    b: Vec<i16>,
}

fn interpolate_row(src: &[u8], taps: &RowTaps, out: &mut [i16], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        return avx2::interpolate_row(src, taps, out);
    }
    let _ = simd;
    interpolate_row_any(src, taps, out)
}

fn interpolate_row_any(src: &[u8], taps: &RowTaps, out: &mut [i16]) {
    for (g, &start) in taps.starts.iter().enumerate() {
        for j in 0..8 {
            let k = 16 * g + 2 * j;
            let pair = |i: usize| {
                i16::from(src[start + usize::from(taps.shuffles[k + i])]) * i16::from(taps.weights[k + i])
            };
            out[8 * g + j] = pair(0) + pair(1);
        }
    }
}

/// Blends two interpolated rows: `a + (b − a) · share`.
fn blend(a: i16, b: i16, share: i16) -> i16 {
    a + mulhrs(b - a, share)
}

type Rows<'r> = (&'r [i16], &'r [i16], i16);

fn chroma_terms(rows: [Rows<'_>; 2], m: Matrix, terms: &mut ChromaTerms, simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        return avx2::chroma_terms(rows, m, terms);
    }
    let _ = simd;
    chroma_terms_any(rows, m, terms, 0)
}

const CHROMA_ZERO: i16 = 128 * H_ONE;
const ROUNDING: i16 = 1 << (TERM_BITS - 1);

fn chroma_terms_any(
    [(u0, u1, uw), (v0, v1, vw)]: [Rows<'_>; 2],
    m: Matrix,
    t: &mut ChromaTerms,
    from: usize,
) {
    for i in from..u0.len().min(t.r.len()) {
        let u = blend(u0[i], u1[i], uw) - CHROMA_ZERO;
        let v = blend(v0[i], v1[i], vw) - CHROMA_ZERO;
        t.r[i] = mulhrs(v, m.cr_to_r) + ROUNDING;
        t.g[i] = ROUNDING - mulhrs(u, m.cb_to_g) - mulhrs(v, m.cr_to_g);
        t.b[i] = mulhrs(u, m.cb_to_b) + ROUNDING;
    }
}

fn convert_row(luma: Rows<'_>, terms: &ChromaTerms, m: Matrix, out: &mut [MaybeUninit<u8>], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        return avx2::convert_row(luma, terms, m, out);
    }
    let _ = simd;
    convert_row_any(luma, terms, m, out)
}

/// One canvas row: the luma blended down, converted with the chroma terms of its 2x2 blocks,
/// written as BGR (every byte of `out`).
fn convert_row_any((y0, y1, yw): Rows<'_>, t: &ChromaTerms, m: Matrix, out: &mut [MaybeUninit<u8>]) {
    let level = |sum: i16| (sum >> TERM_BITS).clamp(0, 255) as u8;
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        let luma = mulhrs(blend(y0[x], y1[x], yw) - m.luma_black, m.luma_gain);
        let c = x / 2;
        px[0].write(level(luma.saturating_add(t.b[c])));
        px[1].write(level(luma.saturating_add(t.g[c])));
        px[2].write(level(luma.saturating_add(t.r[c])));
    }
}

/// The row code in AVX2, used when the CPU has it. The `unsafe` here is calling code built for
/// AVX2 after checking for it, and unaligned loads and stores inside bounds each function
/// asserts first.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    pub(super) fn interpolate_row(src: &[u8], taps: &RowTaps, out: &mut [i16]) {
        // Every group's 16 bytes lie inside `src` (starts only grow), and `out` holds every
        // group's 8 outputs.
        let last_start = taps.starts.last().copied().unwrap_or(0);
        assert!(
            last_start + 16 <= src.len() && out.len() >= taps.padded && taps.padded == 8 * taps.starts.len()
        );
        assert!(taps.shuffles.len() == 16 * taps.starts.len() && taps.weights.len() == taps.shuffles.len());
        // SAFETY: this path is taken only when the CPU has AVX2; bounds asserted above.
        unsafe { interpolate_row_avx2(src, taps, out) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn interpolate_row_avx2(src: &[u8], taps: &RowTaps, out: &mut [i16]) {
        for g in (0..taps.starts.len()).step_by(2) {
            let lo = _mm_loadu_si128(src.as_ptr().add(taps.starts[g]).cast());
            let hi = _mm_loadu_si128(src.as_ptr().add(taps.starts[g + 1]).cast());
            let bytes = _mm256_set_m128i(hi, lo);
            let shuffle = _mm256_loadu_si256(taps.shuffles.as_ptr().add(16 * g).cast());
            let weights = _mm256_loadu_si256(taps.weights.as_ptr().add(16 * g).cast());
            let pairs = _mm256_shuffle_epi8(bytes, shuffle);
            _mm256_storeu_si256(out.as_mut_ptr().add(8 * g).cast(), _mm256_maddubs_epi16(pairs, weights));
        }
    }

    pub(super) fn chroma_terms(rows: [Rows<'_>; 2], m: Matrix, terms: &mut ChromaTerms) {
        let n = rows.iter().flat_map(|(a, b, _)| [a.len(), b.len()]).min().unwrap_or(0).min(terms.r.len());
        assert!(terms.g.len() >= terms.r.len() && terms.b.len() >= terms.r.len());
        // SAFETY: AVX2 checked by the caller's dispatch; every access is below `n`.
        let done = unsafe { chroma_terms_avx2(rows, m, terms, n) };
        chroma_terms_any(rows, m, terms, done);
    }

    #[target_feature(enable = "avx2")]
    unsafe fn chroma_terms_avx2(
        [(u0, u1, uw), (v0, v1, vw)]: [Rows<'_>; 2],
        m: Matrix,
        t: &mut ChromaTerms,
        n: usize,
    ) -> usize {
        let load = |s: &[i16], i: usize| _mm256_loadu_si256(s.as_ptr().add(i).cast());
        let (uw, vw) = (_mm256_set1_epi16(uw), _mm256_set1_epi16(vw));
        let zero = _mm256_set1_epi16(CHROMA_ZERO);
        let round = _mm256_set1_epi16(ROUNDING);
        let [crr, cbb, cbg, crg] = [m.cr_to_r, m.cb_to_b, m.cb_to_g, m.cr_to_g].map(|c| _mm256_set1_epi16(c));
        let mut i = 0;
        while i + 16 <= n {
            let (a, b) = (load(u0, i), load(u1, i));
            let u =
                _mm256_sub_epi16(_mm256_add_epi16(a, _mm256_mulhrs_epi16(_mm256_sub_epi16(b, a), uw)), zero);
            let (a, b) = (load(v0, i), load(v1, i));
            let v =
                _mm256_sub_epi16(_mm256_add_epi16(a, _mm256_mulhrs_epi16(_mm256_sub_epi16(b, a), vw)), zero);
            let r = _mm256_add_epi16(_mm256_mulhrs_epi16(v, crr), round);
            let g = _mm256_sub_epi16(
                _mm256_sub_epi16(round, _mm256_mulhrs_epi16(u, cbg)),
                _mm256_mulhrs_epi16(v, crg),
            );
            let b = _mm256_add_epi16(_mm256_mulhrs_epi16(u, cbb), round);
            _mm256_storeu_si256(t.r.as_mut_ptr().add(i).cast(), r);
            _mm256_storeu_si256(t.g.as_mut_ptr().add(i).cast(), g);
            _mm256_storeu_si256(t.b.as_mut_ptr().add(i).cast(), b);
            i += 16;
        }
        i
    }

    /// Byte shuffles that interleave 16 blue, 16 green and 16 red bytes into 48 bytes of BGR:
    /// `[output register][channel]`, 0x80 where the channel has no byte.
    const INTERLEAVE: [[[u8; 16]; 3]; 3] = {
        let mut masks = [[[0x80u8; 16]; 3]; 3];
        let mut k = 0;
        while k < 48 {
            masks[k / 16][k % 3][k % 16] = (k / 3) as u8;
            k += 1;
        }
        masks
    };

    pub(super) fn convert_row(luma: Rows<'_>, terms: &ChromaTerms, m: Matrix, out: &mut [MaybeUninit<u8>]) {
        let width = out.len() / 3;
        let (y0, y1, _) = luma;
        // Whole registers of 16 pixels, then the last part-register through a scratch row (the
        // rows and terms are padded to whole registers).
        let whole = width / 16 * 16;
        let padded = width.div_ceil(16) * 16;
        assert!(y0.len() >= padded && y1.len() >= padded && terms.r.len() >= padded / 2);
        assert!(terms.g.len() >= padded / 2 && terms.b.len() >= padded / 2);
        // SAFETY: AVX2 checked by the caller's dispatch; every access is inside the bounds above.
        unsafe { convert_row_avx2(luma, terms, m, out, 0, whole) };
        if whole < width {
            let mut last = [MaybeUninit::<u8>::uninit(); 48];
            // SAFETY: as above; the 16 pixels from `whole` land in `last`'s 48 bytes.
            unsafe { convert_row_avx2(luma, terms, m, &mut last, whole, 16) };
            out[3 * whole..].copy_from_slice(&last[..3 * (width - whole)]);
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn convert_row_avx2(
        (y0, y1, yw): Rows<'_>,
        t: &ChromaTerms,
        m: Matrix,
        out: &mut [MaybeUninit<u8>],
        from: usize,
        pixels: usize,
    ) {
        let (share, black, gain) =
            (_mm256_set1_epi16(yw), _mm256_set1_epi16(m.luma_black), _mm256_set1_epi16(m.luma_gain));
        let masks = INTERLEAVE.map(|per_out| per_out.map(|mask| _mm_loadu_si128(mask.as_ptr().cast())));
        // Each chroma term serves two neighbouring pixels.
        let doubled = |s: &[i16], c: usize| {
            let v = _mm_loadu_si128(s.as_ptr().add(c).cast());
            _mm256_set_m128i(_mm_unpackhi_epi16(v, v), _mm_unpacklo_epi16(v, v))
        };
        let level = |luma: __m256i, term: __m256i| {
            let sum = _mm256_srai_epi16::<TERM_BITS>(_mm256_adds_epi16(luma, term));
            _mm_packus_epi16(_mm256_castsi256_si128(sum), _mm256_extracti128_si256::<1>(sum))
        };
        for done in (0..pixels).step_by(16) {
            let x = from + done;
            let a = _mm256_loadu_si256(y0.as_ptr().add(x).cast());
            let b = _mm256_loadu_si256(y1.as_ptr().add(x).cast());
            let blended = _mm256_add_epi16(a, _mm256_mulhrs_epi16(_mm256_sub_epi16(b, a), share));
            let luma = _mm256_mulhrs_epi16(_mm256_sub_epi16(blended, black), gain);
            let c = x / 2;
            let channels =
                [level(luma, doubled(&t.b, c)), level(luma, doubled(&t.g, c)), level(luma, doubled(&t.r, c))];
            let dst = out.as_mut_ptr().add(3 * done).cast::<u8>();
            for (o, per_channel) in masks.iter().enumerate() {
                let mut v = _mm_setzero_si128();
                for (ch, mask) in per_channel.iter().enumerate() {
                    v = _mm_or_si128(v, _mm_shuffle_epi8(channels[ch], *mask));
                }
                _mm_storeu_si128(dst.add(16 * o).cast(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plane of `w`x`h` with a stride wider than its rows, filled by `f(x, y)`.
    fn plane(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> (Vec<u8>, usize) {
        let stride = w + 13;
        let mut data = vec![0xEE; stride * h];
        for y in 0..h {
            for x in 0..w {
                data[y * stride + x] = f(x, y);
            }
        }
        (data, stride)
    }

    /// Pseudo-random bytes (an LCG), so failures reproduce.
    fn noise(seed: u32) -> impl Fn(usize, usize) -> u8 {
        move |x, y| {
            let v = (x as u32).wrapping_mul(2_654_435_761) ^ (y as u32).wrapping_mul(40_503) ^ seed;
            (v.wrapping_mul(1_103_515_245).wrapping_add(12345) >> 16) as u8
        }
    }

    const BT709: [i32; 4] = [117_489, 138_438, 13_975, 34_925];

    fn fit(
        frame: (usize, usize),
        crop: Rect,
        size: (u32, u32),
        full_range: bool,
        simd: bool,
        seed: u32,
    ) -> Option<Vec<u8>> {
        let (fw, fh) = frame;
        let (y, ys) = plane(fw, fh, noise(seed));
        let (u, us) = plane(fw.div_ceil(2), fh.div_ceil(2), noise(seed + 1));
        let (v, vs) = plane(fw.div_ceil(2), fh.div_ceil(2), noise(seed + 2));
        let planes =
            [Plane { data: &y, stride: ys }, Plane { data: &u, stride: us }, Plane { data: &v, stride: vs }];
        fit_to_bgr_with(planes, crop, size, Matrix::from_swscale(BT709, full_range), simd)
    }

    #[test]
    fn the_vector_code_gives_the_portable_codes_bytes() {
        if !simd_available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        let cases = [
            ((1920, 1080), Rect::new(656, 0, 608, 1080), (1080, 1920)),
            ((1920, 1080), Rect::new(1311, 0, 609, 1080), (1080, 1920)),
            ((64, 48), Rect::new(0, 0, 64, 48), (64, 48)),
            ((33, 17), Rect::new(1, 3, 31, 13), (77, 41)),
            ((20, 20), Rect::new(3, 5, 7, 9), (250, 101)),
        ];
        for (i, (frame, crop, size)) in cases.into_iter().enumerate() {
            for full_range in [false, true] {
                let portable = fit(frame, crop, size, full_range, false, i as u32).unwrap();
                let vector = fit(frame, crop, size, full_range, true, i as u32).unwrap();
                assert_eq!(portable.len(), size.0 as usize * size.1 as usize * 3);
                let first = portable.iter().zip(&vector).position(|(a, b)| a != b);
                assert_eq!(first, None, "{frame:?} {crop:?} → {size:?} (full range {full_range})");
            }
        }
    }

    /// Odd frames, crops at every edge, 1-pixel crops and large enlargements: either a picture
    /// of the right size, the same from both codes, or `None` — never a panic or a read outside
    /// the planes (the planes here are exactly as long as their rows need).
    #[test]
    fn any_geometry_gives_a_whole_canvas_or_none() {
        let mut seed = 7u32;
        let mut next = |below: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) % below
        };
        for case in 0..300 {
            let (fw, fh) = (1 + next(70) as usize, 1 + next(50) as usize);
            let (cx, cy) = (next(fw as u32) as i32, next(fh as u32) as i32);
            let (cw, ch) = (1 + next(fw as u32 - cx as u32), 1 + next(fh as u32 - cy as u32));
            let size = (cw + next(3 * cw + 40), ch + next(3 * ch + 40));
            let crop = Rect::new(cx, cy, cw, ch);
            let tight = |w: usize, h: usize, s: u32| -> Vec<u8> {
                let f = noise(s);
                (0..w * h).map(|i| f(i % w, i / w)).collect()
            };
            let (cwid, chei) = (fw.div_ceil(2), fh.div_ceil(2));
            let (y, u, v) = (tight(fw, fh, case), tight(cwid, chei, case + 1), tight(cwid, chei, case + 2));
            let planes = [
                Plane { data: &y, stride: fw },
                Plane { data: &u, stride: cwid },
                Plane { data: &v, stride: cwid },
            ];
            let matrix = Matrix::from_swscale(BT709, case % 2 == 0);
            let portable = fit_to_bgr_with(planes, crop, size, matrix, false);
            if let Some(bgr) = &portable {
                assert_eq!(bgr.len(), size.0 as usize * size.1 as usize * 3);
            }
            if simd_available() {
                let vector = fit_to_bgr_with(planes, crop, size, matrix, true);
                assert!(vector == portable, "{fw}x{fh} {crop:?} → {size:?}");
            }
        }
    }

    #[test]
    fn a_shrinking_fit_or_a_crop_outside_the_frame_is_left_to_the_two_step_path() {
        assert!(fit((1920, 1080), Rect::new(0, 0, 1920, 1080), (1280, 720), false, false, 0).is_none());
        assert!(fit((1920, 1080), Rect::new(0, 0, 1080, 1080), (1080, 1000), false, false, 0).is_none());
        assert!(fit((64, 64), Rect::new(40, 0, 40, 64), (80, 128), false, false, 0).is_none());
        assert!(fit((64, 64), Rect::new(0, 0, 64, 64), (0, 128), false, false, 0).is_none());
    }

    /// A flat 32x16 BT.709 limited-range frame of one colour, enlarged to 64x32.
    fn fit_flat(y: u8, u: u8, v: u8) -> Vec<u8> {
        let (yp, up, vp) = (vec![y; 32 * 16], vec![u; 16 * 8], vec![v; 16 * 8]);
        let planes = [
            Plane { data: &yp, stride: 32 },
            Plane { data: &up, stride: 16 },
            Plane { data: &vp, stride: 16 },
        ];
        fit_to_bgr(planes, Rect::new(0, 0, 32, 16), (64, 32), Matrix::from_swscale(BT709, false)).unwrap()
    }

    #[test]
    fn flat_colours_convert_within_half_a_level_of_the_exact_matrix() {
        // BT.709, limited range: R = Y' + 1.5748 V', G = Y' − 0.1873 U' − 0.4681 V',
        // B = Y' + 1.8556 U', with Y' = (Y − 16)·255/219 and U', V' = (C − 128)·255/224.
        for (y, u, v) in
            [(100u8, 90u8, 170u8), (150, 140, 100), (60, 128, 150), (200, 110, 128), (81, 100, 200)]
        {
            let bgr = fit_flat(y, u, v);
            let luma = (f64::from(y) - 16.0) * 255.0 / 219.0;
            let (u, v) = ((f64::from(u) - 128.0) * 255.0 / 224.0, (f64::from(v) - 128.0) * 255.0 / 224.0);
            let exact = [luma + 1.8556 * u, luma - 0.1873 * u - 0.4681 * v, luma + 1.5748 * v];
            assert!(exact.iter().all(|c| (0.0..=255.0).contains(c)), "pick colours inside RGB");
            for (got, want) in bgr[..3].iter().zip(exact) {
                assert!((f64::from(*got) - want).abs() <= 0.6, "{:?} against {exact:.2?}", &bgr[..3]);
            }
        }
    }

    #[test]
    fn grey_levels_convert_as_the_matrix_says() {
        // A flat limited-range frame: Y 16 is black, 235 white, 126 mid grey; chroma neutral.
        for (luma, want) in [(16u8, 0u8), (235, 255), (126, 128)] {
            let bgr = fit_flat(luma, 128, 128);
            assert!(bgr.iter().all(|&v| v == want), "Y {luma}: {:?}", &bgr[..6]);
        }
    }
}
