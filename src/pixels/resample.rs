//! Resampling by whole factors and OpenCV's bilinear sample positions, for soft masks (shadows
//! and glows blurred on a shrunk copy) and, through [`linear_taps`], the keyframe's fit.
//!
//! OpenCV's area shrink and bilinear enlargement of a title's shadow mask (1012x503, factor 3)
//! took 0.19 and 0.27 ms, and the zero padding to a whole number of factors before them 0.11:
//! two thirds of the blur. These loops do the same sums in a few passes over the bytes.

/// Where one output row or column reads: two source indices and the second's weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tap {
    pub first: usize,
    pub second: usize,
    /// The second's share, 0–1.
    pub share: f64,
}

/// OpenCV's `INTER_LINEAR` positions for `outputs` samples over `inputs`: pixel centres
/// mapped, clamped at both edges.
pub(crate) fn linear_taps(inputs: usize, outputs: usize) -> Vec<Tap> {
    let scale = inputs as f64 / outputs as f64;
    (0..outputs)
        .map(|o| {
            let s = (o as f64 + 0.5) * scale - 0.5;
            let floor = s.floor();
            let (first, share) = if floor < 0.0 { (0, 0.0) } else { (floor as usize, s - floor) };
            if first + 1 >= inputs {
                Tap { first: inputs - 1, second: inputs - 1, share: 0.0 }
            } else {
                Tap { first, second: first + 1, share }
            }
        })
        .collect()
}

/// The last two source rows interpolated across, by index: an enlargement reads each source
/// row for one to several output rows in a row, so each is interpolated once.
pub(crate) struct KeptRows<T> {
    rows: [(Option<usize>, Vec<T>); 2],
}

impl<T: Copy + Default> KeptRows<T> {
    /// Room for two rows of `len` values.
    pub(crate) fn new(len: usize) -> Self {
        KeptRows { rows: [(None, vec![T::default(); len]), (None, vec![T::default(); len])] }
    }

    /// Rows `first` and `second`, each made by `make(index, row)` unless it is kept.
    #[inline(always)]
    pub(crate) fn get(
        &mut self,
        first: usize,
        second: usize,
        mut make: impl FnMut(usize, &mut [T]),
    ) -> (&[T], &[T]) {
        for want in [first, second] {
            if self.rows.iter().any(|(row, _)| *row == Some(want)) {
                continue;
            }
            // Replace the kept row this output does not use.
            let slot = usize::from(self.rows[0].0 == Some(first) || self.rows[0].0 == Some(second));
            make(want, &mut self.rows[slot].1);
            self.rows[slot].0 = Some(want);
        }
        let find = |want| usize::from(self.rows[0].0 != Some(want));
        (&self.rows[find(first)].1, &self.rows[find(second)].1)
    }
}

/// The mean of each `factor` x `factor` block of a `width` x `height` mask, rounded, as if the
/// mask were padded with zeros to whole blocks: `(width / factor` rounded up`) x (`… height).
pub(crate) fn shrink_mask(
    data: &[u8],
    (width, height): (usize, usize),
    factor: usize,
) -> (Vec<u8>, usize, usize) {
    assert!(factor >= 1 && data.len() == width * height);
    let (sw, sh) = (width.div_ceil(factor), height.div_ceil(factor));
    let area = (factor * factor) as u32;
    // Rounded means by lookup: a block sums to at most 255 · 16.
    let mean: Vec<u8> = (0..=255 * area).map(|sum| ((sum + area / 2) / area) as u8).collect();
    let mut columns = vec![0u16; sw * factor];
    let mut out = Vec::with_capacity(sw * sh);
    for band in data.chunks(width * factor) {
        columns.fill(0);
        for row in band.chunks_exact(width) {
            for (c, &v) in columns.iter_mut().zip(row) {
                *c += u16::from(v);
            }
        }
        out.extend(
            columns
                .chunks_exact(factor)
                .map(|block| mean[block.iter().map(|&c| usize::from(c)).sum::<usize>()]),
        );
    }
    (out, sw, sh)
}

/// A `width` x `height` mask from `small` (`sw` x `sh`) enlarged `factor` times with OpenCV's
/// bilinear positions, keeping the top-left `width` x `height` of the `sw·factor` x
/// `sh·factor` result (the part a [`shrink_mask`]ed mask came from).
pub(crate) fn grow_mask(
    small: &[u8],
    (sw, sh): (usize, usize),
    factor: usize,
    (width, height): (usize, usize),
) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    return avx2::grow_mask(small, (sw, sh), factor, (width, height));
    #[cfg(not(target_arch = "x86_64"))]
    grow_mask_any(small, (sw, sh), factor, (width, height))
}

/// [`grow_mask`]'s loops, inlined into a build for AVX2 where the CPU has it: the crate's
/// baseline (SSE2) has no 32-bit multiply and did four pixels a step, a third of the speed.
#[inline(always)]
fn grow_mask_any(
    small: &[u8],
    (sw, sh): (usize, usize),
    factor: usize,
    (width, height): (usize, usize),
) -> Vec<u8> {
    assert!(small.len() == sw * sh && width <= sw * factor && height <= sh * factor && sw > 0 && sh > 0);
    let weight = |share: f64| (share * 256.0).round() as u32;
    let across: Vec<(usize, usize, u32)> = linear_taps(sw, sw * factor)
        .into_iter()
        .take(width)
        .map(|t| (t.first, t.second, weight(t.share)))
        .collect();
    let down = linear_taps(sh, sh * factor);
    // Each small row interpolated across once, in 1/256 levels.
    let mut rows = KeptRows::<u32>::new(width);
    let mut out = vec![0u8; width * height];
    for (t, out_row) in down.iter().zip(out.chunks_exact_mut(width)) {
        let (top, bottom) = rows.get(t.first, t.second, |index, row| {
            let src = &small[index * sw..(index + 1) * sw];
            match factor {
                2 => across_by::<2>(src, &across, row),
                3 => across_by::<3>(src, &across, row),
                4 => across_by::<4>(src, &across, row),
                _ => across_with(src, &across, row, 0..width),
            }
        });
        let w = weight(t.share);
        for ((o, &a), &b) in out_row.iter_mut().zip(top).zip(bottom) {
            *o = ((a * (256 - w) + b * w + (1 << 15)) >> 16) as u8;
        }
    }
    out
}

/// The mask loops built a second time with AVX2 enabled (calling code built for an
/// instruction set, after checking for it, is the `unsafe` here).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    pub(super) fn grow_mask(
        small: &[u8],
        sizes: (usize, usize),
        factor: usize,
        out: (usize, usize),
    ) -> Vec<u8> {
        #[target_feature(enable = "avx2")]
        fn built_for_avx2(
            small: &[u8],
            sizes: (usize, usize),
            factor: usize,
            out: (usize, usize),
        ) -> Vec<u8> {
            super::grow_mask_any(small, sizes, factor, out)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2 (checked on the line above).
            unsafe { built_for_avx2(small, sizes, factor, out) }
        } else {
            super::grow_mask_any(small, sizes, factor, out)
        }
    }
}

/// Outputs `range` of a row interpolated across by its taps (first, second, weight in 1/256).
#[inline(always)]
fn across_with(src: &[u8], taps: &[(usize, usize, u32)], out: &mut [u32], range: std::ops::Range<usize>) {
    for x in range {
        let (a, b, w) = taps[x];
        out[x] = u32::from(src[a]) * (256 - w) + u32::from(src[b]) * w;
    }
}

/// [`across_with`] for a whole factor `F`: away from the edges the taps repeat every `F`
/// outputs (output `F·k + j` reads samples `k + offset_j` and the next, with weight `w_j`), so
/// the inner loop reads the weights from registers instead of a table. The same numbers: the
/// phases are read off the table.
#[inline(always)]
fn across_by<const F: usize>(src: &[u8], taps: &[(usize, usize, u32)], out: &mut [u32]) {
    let (sw, n) = (src.len(), taps.len());
    // Blocks k = 1 .. sw − 2 are clear of both edges (they read k − 1 … k + 1).
    let blocks = if sw >= 3 { (1..sw - 1).take_while(|k| F * k + F <= n).count() } else { 0 };
    if blocks == 0 {
        return across_with(src, taps, out, 0..n);
    }
    // The first sample block 1's outputs read, and their weights.
    let phases: [(usize, u32); F] = std::array::from_fn(|j| {
        let (first, _, w) = taps[F + j];
        (first, w)
    });
    across_with(src, taps, out, 0..F);
    for k in 1..=blocks {
        for (j, &(at_one, w)) in phases.iter().enumerate() {
            let i = at_one + k - 1;
            out[F * k + j] = u32::from(src[i]) * (256 - w) + u32::from(src[i + 1]) * w;
        }
    }
    across_with(src, taps, out, F * (blocks + 1)..n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrunk_mask_holds_each_blocks_rounded_mean_with_zeros_past_the_edge() {
        // 5x4 by 2: blocks of 2x2, the last column and row half outside (counted as zeros).
        let data: Vec<u8> = (0..20).map(|i| (i * 13) as u8).collect();
        let (small, sw, sh) = shrink_mask(&data, (5, 4), 2);
        assert_eq!((sw, sh), (3, 2));
        let at = |x: usize, y: usize| if x < 5 && y < 4 { u32::from(data[y * 5 + x]) } else { 0 };
        for (i, &v) in small.iter().enumerate() {
            let (bx, by) = (i % sw * 2, i / sw * 2);
            let sum = at(bx, by) + at(bx + 1, by) + at(bx, by + 1) + at(bx + 1, by + 1);
            assert_eq!(u32::from(v), (sum + 2) / 4, "block {i}");
        }
    }

    #[test]
    fn a_grown_mask_interpolates_between_the_small_ones_samples() {
        // A flat mask stays flat; a ramp stays a ramp between its samples, clamped at the ends.
        let flat = grow_mask(&[200; 12], (4, 3), 3, (11, 8));
        assert!(flat.len() == 88 && flat.iter().all(|&v| v == 200));
        let ramp = grow_mask(&[0, 90, 180], (3, 1), 3, (9, 3));
        // Output x maps to (x + 0.5) / 3 − 0.5 in the small row: −⅓ (clamped), 0, ⅓, …, 2, 2⅓.
        assert_eq!(&ramp[..9], &[0, 0, 30, 60, 90, 120, 150, 180, 180]);
        assert_eq!(&ramp[9..18], &ramp[..9]);
    }

    #[test]
    fn the_whole_factor_rows_equal_the_table_rows() {
        let src: Vec<u8> = (0..41).map(|i| (i * 37 % 256) as u8).collect();
        for (factor, width) in [(2, 82), (3, 123), (3, 121), (4, 164), (4, 160)] {
            let taps: Vec<(usize, usize, u32)> = linear_taps(41, 41 * factor)
                .into_iter()
                .take(width)
                .map(|t| (t.first, t.second, (t.share * 256.0).round() as u32))
                .collect();
            let mut table = vec![0; width];
            across_with(&src, &taps, &mut table, 0..width);
            let mut fast = vec![1; width];
            match factor {
                2 => across_by::<2>(&src, &taps, &mut fast),
                3 => across_by::<3>(&src, &taps, &mut fast),
                _ => across_by::<4>(&src, &taps, &mut fast),
            }
            assert_eq!(fast, table, "factor {factor}, width {width}");
        }
    }

    #[test]
    fn horizontal_taps_follow_opencvs_linear_positions() {
        // 2x enlargement: outputs at source positions -0.25, 0.25, 0.75, …, clamped at the ends.
        let taps = linear_taps(4, 8);
        let got: Vec<_> = taps.iter().map(|t| (t.first, t.second, t.share)).collect();
        assert_eq!(
            got,
            [
                (0, 1, 0.0),
                (0, 1, 0.25),
                (0, 1, 0.75),
                (1, 2, 0.25),
                (1, 2, 0.75),
                (2, 3, 0.25),
                (2, 3, 0.75),
                (3, 3, 0.0)
            ]
        );
    }
}
