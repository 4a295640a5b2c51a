//! The face model we ship (YuNet, 2022), run in plain Rust instead of through OpenCV's `dnn`.
//!
//! OpenCV 4.6 took ~1.5 ms a frame for this network at the detector's 160x96 (~20 M
//! multiply-adds), ~2 ms inside a batch where decoding and JPEG had the caches: most of the
//! cost of keeping faces clear. Every layer of YuNet is one of four simple kinds — a 3x3
//! stride-2 convolution at the stem, then pairs of a 1x1 (pointwise) convolution and a 3x3
//! per-channel (depthwise) one, 2x2 max pooling, and ReLU — so a direct implementation with
//! register-blocked pointwise kernels does the same arithmetic in less than half the time
//! (`cargo bench --bench face_detector`: 0.44x). The weights still come from the ONNX file through OpenCV's reader;
//! the wiring is YuNet 2022's, checked layer by layer on load, so any other model is refused
//! here and runs through OpenCV's `FaceDetectorYN` instead.
//!
//! Decoding follows OpenCV 4.6's `FaceDetectorYN` exactly (priors, variances, score, NMS on
//! integer boxes), so the faces are OpenCV's up to float rounding (a test compares both).

use opencv::core::{Mat, MatTraitConst, MatTraitConstManual};
use opencv::dnn::{self, NetTraitConst};
use std::path::Path;

/// Output channels are computed four at a time and pixels 32 at a time: 4x32 floats of
/// accumulators are eight AVX-512 registers (AVX2 does each block as two halves of 16, again
/// eight registers), leaving room for the inputs and the weight.
const CO: usize = 4;
const PX: usize = 32;

/// A 1x1 convolution: `cout` planes from `cin`, weights grouped by blocks of [`CO`] outputs
/// (`[block][cin][CO]`, zero-padded past `cout`) so the kernel reads them in order.
struct Pointwise {
    cin: usize,
    cout: usize,
    weights: Vec<[f32; CO]>,
    bias: Vec<f32>,
}

/// A 3x3 convolution of each channel on its own, stride 1, zero padding 1.
struct Depthwise {
    weights: Vec<[f32; 9]>,
    bias: Vec<f32>,
}

/// YuNet's repeated unit: pointwise, then depthwise, then (usually) ReLU.
struct Block {
    pointwise: Pointwise,
    depthwise: Depthwise,
    relu: bool,
}

/// One step of the backbone.
enum Step {
    Block(Block),
    Pool,
    /// The feature map here feeds the next head (run there and then).
    Tap,
}

/// A detection head on one scale: two blocks, the last giving `anchors` x 17 channels a pixel
/// (14 box and landmark values, 2 class logits, 1 IoU score).
struct Head {
    blocks: [Block; 2],
    stride: usize,
    min_sizes: &'static [f32],
}

/// YuNet 2022 with its weights.
pub(super) struct YuNet {
    /// 3x3, stride 2, 3 -> 16 channels, as a pointwise convolution over the 27 taps.
    stem: Pointwise,
    backbone: Vec<Step>,
    heads: Vec<Head>,
}

/// A stack of `channels` planes of `height` x `width`, each plane `plane` floats long (the
/// pixel count rounded up to [`PX`]; the padding holds garbage nobody reads).
struct Planes {
    channels: usize,
    width: usize,
    height: usize,
    plane: usize,
    data: Vec<f32>,
}

impl Planes {
    fn new(channels: usize, width: usize, height: usize) -> Self {
        let plane = (width * height).div_ceil(PX) * PX;
        Planes { channels, width, height, plane, data: vec![0.0; channels * plane] }
    }

    fn channel(&self, c: usize) -> &[f32] {
        &self.data[c * self.plane..c * self.plane + self.width * self.height]
    }
}

/// YuNet 2022's backbone by its ONNX node numbers.
enum Layer {
    /// Pointwise convolution, depthwise convolution, output channels; ReLU after.
    Block(u32, u32, usize),
    Pool,
    Tap,
}

#[rustfmt::skip]
const BACKBONE: &[Layer] = {
    use Layer::*;
    &[
        Block(2, 3, 16), Pool,
        Block(6, 7, 16), Block(9, 10, 64), Block(12, 13, 64), Block(15, 16, 64), Pool,
        Block(19, 20, 64), Block(22, 23, 64), Tap, Pool, // stride 8
        Block(26, 27, 64), Block(29, 30, 64), Tap, Pool, // stride 16
        Block(33, 34, 64), Block(36, 37, 64), Tap, Pool, // stride 32
        Block(40, 41, 64), Block(43, 44, 64), Tap, // stride 64
    ]
};

/// A head's layers: its two blocks (pointwise, depthwise), stride, anchor sizes (OpenCV 4.6's
/// `min_sizes`).
struct HeadLayers {
    blocks: [(u32, u32); 2],
    stride: usize,
    min_sizes: &'static [f32],
}

/// Heads by scale, in the order of the backbone's taps.
const HEADS: [HeadLayers; 4] = [
    HeadLayers { blocks: [(46, 47), (49, 50)], stride: 8, min_sizes: &[10.0, 16.0, 24.0] },
    HeadLayers { blocks: [(52, 53), (55, 56)], stride: 16, min_sizes: &[32.0, 48.0] },
    HeadLayers { blocks: [(58, 59), (61, 62)], stride: 32, min_sizes: &[64.0, 96.0] },
    HeadLayers { blocks: [(64, 65), (67, 68)], stride: 64, min_sizes: &[128.0, 192.0, 256.0] },
];

impl YuNet {
    /// Reads the weights of a YuNet 2022 ONNX file (or its transposed copy, which has the same
    /// layers). An error names the first layer that is missing or has another shape.
    pub(super) fn load(model: &Path) -> Result<Self, String> {
        let path = model.to_str().ok_or("not a UTF-8 path")?;
        let net = dnn::read_net_from_onnx(path).map_err(|e| e.message)?;
        let conv = |n: u32, shape: [i32; 4]| -> Result<(Vec<f32>, Vec<f32>), String> {
            // OpenCV 4.6 names an ONNX node's layer so; others by the node's name alone.
            let name = [format!("onnx_node!Conv_{n}"), format!("Conv_{n}")]
                .into_iter()
                .find(|name| net.get_layer_id(name).is_ok_and(|id| id >= 0))
                .ok_or_else(|| format!("no layer Conv_{n}"))?;
            let read = |i: i32| -> Result<(Vec<i32>, Vec<f32>), String> {
                let m: Mat = net.get_param_1(&name, i).map_err(|e| format!("{name}: {}", e.message))?;
                let dims = m.mat_size().iter().copied().collect::<Vec<i32>>();
                let data = m.data_typed::<f32>().map_err(|e| format!("{name}: {}", e.message))?.to_vec();
                Ok((dims, data))
            };
            let (dims, weights) = read(0)?;
            if dims != shape {
                return Err(format!("{name} has weights {dims:?}, not {shape:?}"));
            }
            let (_, bias) = read(1)?;
            if bias.len() != shape[0] as usize {
                return Err(format!("{name} has {} biases, not {}", bias.len(), shape[0]));
            }
            Ok((weights, bias))
        };
        // Channel counts follow from the layer before; every depthwise layer is 3x3.
        let block = |(p, d): (u32, u32), cin: usize, cout: usize, relu: bool| -> Result<Block, String> {
            let (pw, pb) = conv(p, [cout as i32, cin as i32, 1, 1])?;
            let (dw, db) = conv(d, [cout as i32, 1, 3, 3])?;
            Ok(Block {
                pointwise: Pointwise::new(cin, cout, &pw, pb),
                depthwise: Depthwise {
                    weights: dw.chunks_exact(9).map(|k| k.try_into().expect("9 taps")).collect(),
                    bias: db,
                },
                relu,
            })
        };
        let (sw, sb) = conv(0, [16, 3, 3, 3])?;
        let stem = Pointwise::new(27, 16, &sw, sb);
        let mut backbone = Vec::new();
        let mut channels = 16;
        for layer in BACKBONE {
            backbone.push(match *layer {
                Layer::Block(p, d, cout) => {
                    let b = block((p, d), channels, cout, true)?;
                    channels = cout;
                    Step::Block(b)
                }
                Layer::Pool => Step::Pool,
                Layer::Tap => Step::Tap,
            });
        }
        let heads = HEADS
            .iter()
            .map(|&HeadLayers { blocks: [first, last], stride, min_sizes }| {
                let out = min_sizes.len() * 17;
                Ok(Head {
                    blocks: [block(first, 64, 64, true)?, block(last, 64, out, false)?],
                    stride,
                    min_sizes,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(YuNet { stem, backbone, heads })
    }

    /// Faces in a `width` x `height` packed BGR picture (both multiples of 32, at least 64):
    /// (score, x, y, width, height) in its pixels, after non-maximum suppression, at most
    /// `top_k`, scores above `threshold`.
    pub(super) fn detect(
        &self,
        bgr: &[u8],
        (width, height): (usize, usize),
        threshold: f32,
        nms: f32,
        top_k: usize,
    ) -> Vec<(f32, [f32; 4])> {
        assert_eq!(bgr.len(), width * height * 3, "a packed BGR picture");
        assert!(
            width.is_multiple_of(32) && height.is_multiple_of(32) && width >= 64 && height >= 64,
            "{width}x{height}"
        );
        let mut x = self.stem(bgr, width, height);
        let mut heads = self.heads.iter();
        let mut candidates = Vec::new();
        for step in &self.backbone {
            match step {
                Step::Block(b) => x = b.run(&x),
                Step::Pool => x = max_pool(&x),
                Step::Tap => {
                    let head = heads.next().expect("a head for each tap");
                    head.decode(&head.blocks[1].run(&head.blocks[0].run(&x)), threshold, &mut candidates);
                }
            }
        }
        suppress(candidates, nms, top_k)
    }

    /// The stem convolution: the 27 taps of each output pixel gathered into planes, then one
    /// pointwise convolution over them (the kernel the rest of the network uses).
    fn stem(&self, bgr: &[u8], width: usize, height: usize) -> Planes {
        let (ow, oh) = (width / 2, height / 2);
        // Each colour as floats with a zero border (the convolution's padding).
        let pw = width + 2;
        let mut padded = vec![0.0f32; 3 * pw * (height + 2)];
        let (b, rest) = padded.split_at_mut(pw * (height + 2));
        let (g, r) = rest.split_at_mut(pw * (height + 2));
        for (y, row) in bgr.chunks_exact(width * 3).enumerate() {
            let at = (y + 1) * pw + 1;
            for (x, px) in row.chunks_exact(3).enumerate() {
                (b[at + x], g[at + x], r[at + x]) = (px[0] as f32, px[1] as f32, px[2] as f32);
            }
        }
        // The 27 taps of a band of output rows at a time (a whole frame's would be 400 KB).
        let mut out = Planes::new(16, ow, oh);
        let band = STEM_BAND_ROWS * ow;
        let mut taps = vec![0.0f32; 27 * band];
        for y0 in (0..oh).step_by(STEM_BAND_ROWS) {
            for (c, colour) in padded.chunks_exact(pw * (height + 2)).enumerate() {
                for dy in 0..3 {
                    for dx in 0..3 {
                        let plane = &mut taps[(c * 9 + dy * 3 + dx) * band..][..band];
                        for (y, out_row) in plane.chunks_exact_mut(ow).enumerate() {
                            let row = &colour[(2 * (y0 + y) + dy) * pw + dx..][..2 * ow];
                            for (o, pair) in out_row.iter_mut().zip(row.chunks_exact(2)) {
                                *o = pair[0];
                            }
                        }
                    }
                }
            }
            let span = Span { input: &taps, stride: band, pixels: band };
            let blocks = 0..16 / CO;
            pointwise(
                span,
                &self.stem,
                blocks,
                OutPlanes { data: &mut out.data[y0 * ow..], stride: out.plane },
                true,
            );
        }
        out
    }
}

/// Output rows of the stem computed together: with the output width a multiple of 16 (the
/// input's is of 32), a band is a multiple of [`PX`] pixels, as the kernels need.
const STEM_BAND_ROWS: usize = 8;

/// Output planes of a pointwise convolution: the `k`-th channel written starts at
/// `data[k * stride..]`.
struct OutPlanes<'a> {
    data: &'a mut [f32],
    stride: usize,
}

/// Input planes for a pointwise convolution: channel `c` is `input[c * stride..][..pixels]`.
#[derive(Clone, Copy)]
struct Span<'a> {
    input: &'a [f32],
    stride: usize,
    pixels: usize,
}

impl Pointwise {
    fn new(cin: usize, cout: usize, weights: &[f32], bias: Vec<f32>) -> Self {
        let blocks = cout.div_ceil(CO);
        let mut grouped = vec![[0.0; CO]; blocks * cin];
        for co in 0..cout {
            for ci in 0..cin {
                grouped[(co / CO) * cin + ci][co % CO] = weights[co * cin + ci];
            }
        }
        Pointwise { cin, cout, weights: grouped, bias }
    }
}

impl Block {
    /// Pointwise then depthwise, four channels at a time: the pointwise output of one block
    /// of channels (a few KB) is consumed while still in the cache, instead of a whole
    /// intermediate map (up to 240 KB) written out and read back.
    fn run(&self, input: &Planes) -> Planes {
        assert_eq!(input.channels, self.pointwise.cin);
        let (w, h) = (input.width, input.height);
        let mut out = Planes::new(self.pointwise.cout, w, h);
        let mut mid = Planes::new(CO, w, h);
        let mut scratch = DepthwiseScratch::new(w, h);
        for block in 0..self.pointwise.cout.div_ceil(CO) {
            let span = Span { input: &input.data, stride: input.plane, pixels: input.plane };
            pointwise(
                span,
                &self.pointwise,
                block..block + 1,
                OutPlanes { data: &mut mid.data, stride: mid.plane },
                false,
            );
            for k in 0..CO.min(self.pointwise.cout - block * CO) {
                let c = block * CO + k;
                let dst = &mut out.data[c * out.plane..c * out.plane + w * h];
                let job = ChannelJob {
                    src: mid.channel(k),
                    size: (w, h),
                    layer: &self.depthwise,
                    channel: c,
                    relu: self.relu,
                };
                scratch.convolve(job, dst);
            }
        }
        out
    }
}

impl Head {
    /// Adds this scale's faces scoring above `threshold` to `found`, decoded as OpenCV 4.6's
    /// `FaceDetectorYN` does (its priors at each pixel, variances 0.1 and 0.2).
    fn decode(&self, out: &Planes, threshold: f32, found: &mut Vec<(f32, [f32; 4])>) {
        let stride = self.stride as f32;
        for y in 0..out.height {
            for x in 0..out.width {
                let p = y * out.width + x;
                for (a, &min_size) in self.min_sizes.iter().enumerate() {
                    let v = |k: usize| out.data[(a * 17 + k) * out.plane + p];
                    // Softmax over the two class logits, IoU clamped; the score is their
                    // geometric mean.
                    let face = 1.0 / (1.0 + (v(14) - v(15)).exp());
                    let iou = v(16).clamp(0.0, 1.0);
                    let score = (face * iou).sqrt();
                    if score.is_nan() || score <= threshold {
                        continue;
                    }
                    let cx = (x as f32 + 0.5) * stride + v(0) * 0.1 * min_size;
                    let cy = (y as f32 + 0.5) * stride + v(1) * 0.1 * min_size;
                    let w = min_size * (v(2) * 0.1).exp();
                    let h = min_size * (v(3) * 0.2).exp();
                    found.push((score, [cx - w / 2.0, cy - h / 2.0, w, h]));
                }
            }
        }
    }
}

/// OpenCV's `NMSBoxes` as `FaceDetectorYN` calls it: boxes truncated to integers, the
/// `top_k` best by score, each kept unless it overlaps a better kept one by more than `nms`
/// (intersection over union).
fn suppress(mut candidates: Vec<(f32, [f32; 4])>, nms: f32, top_k: usize) -> Vec<(f32, [f32; 4])> {
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    candidates.truncate(top_k);
    let int_box = |b: &[f32; 4]| b.map(|v| v as i32 as i64);
    let mut kept: Vec<(f32, [f32; 4])> = Vec::new();
    for c in candidates {
        let a = int_box(&c.1);
        let clear = kept.iter().all(|k| {
            let b = int_box(&k.1);
            let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0);
            let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0);
            let (inter, areas) = ((iw * ih) as f32, (a[2] * a[3] + b[2] * b[3]) as f32);
            // Two empty boxes count as the same box, as in OpenCV.
            let overlap = if areas <= 0.0 { 1.0 } else { inter / (areas - inter) };
            overlap <= nms
        });
        if clear {
            kept.push(c);
        }
    }
    kept
}

/// 2x2 max pooling, stride 2 (odd last rows and columns dropped, as ONNX's floor mode does).
fn max_pool(input: &Planes) -> Planes {
    let (w, h) = (input.width / 2, input.height / 2);
    let mut out = Planes::new(input.channels, w, h);
    for c in 0..input.channels {
        let src = input.channel(c);
        let dst = &mut out.data[c * out.plane..c * out.plane + w * h];
        for y in 0..h {
            let (r0, r1) = (&src[2 * y * input.width..], &src[(2 * y + 1) * input.width..]);
            for x in 0..w {
                // Plain comparisons (there is no NaN here), cheaper than `f32::max`'s NaN rules.
                let max = |a: f32, b: f32| if a > b { a } else { b };
                dst[y * w + x] = max(max(r0[2 * x], r0[2 * x + 1]), max(r1[2 * x], r1[2 * x + 1]));
            }
        }
    }
    out
}

/// Buffers for [`DepthwiseScratch::convolve`] on planes of one size.
struct DepthwiseScratch {
    /// The channel with a zero border (its interior rewritten for each channel).
    padded: Vec<f32>,
    /// Sums over the bordered grid's rows.
    sums: Vec<f32>,
}

impl DepthwiseScratch {
    fn new(w: usize, h: usize) -> Self {
        // Two floats past the grid: the last row's taps reach that far.
        DepthwiseScratch { padded: vec![0.0; (w + 2) * (h + 2) + 2], sums: vec![0.0; (w + 2) * h] }
    }

    /// `job`'s channel into `dst`: its 3x3 kernel with zero padding 1, bias added, ReLU if
    /// asked.
    fn convolve(&mut self, job: ChannelJob, dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        avx2::depthwise(self, job, dst);
        #[cfg(not(target_arch = "x86_64"))]
        depthwise_any::<false>(self, job, dst);
    }
}

/// One channel of a depthwise layer: `src` is its input plane, `size.0` x `size.1`, packed.
#[derive(Clone, Copy)]
struct ChannelJob<'a> {
    src: &'a [f32],
    size: (usize, usize),
    layer: &'a Depthwise,
    channel: usize,
    relu: bool,
}

/// [`DepthwiseScratch::convolve`], with fused multiply-adds where `FMA` (only in code built
/// for a CPU that has them: elsewhere `mul_add` is a slow library call).
///
/// The sums run over the bordered grid as one flat row (the two border columns of each row
/// come out as garbage and are skipped): one long loop that vectorises, instead of short rows
/// with scalar tails.
#[inline(always)]
fn depthwise_any<const FMA: bool>(scratch: &mut DepthwiseScratch, job: ChannelJob, dst: &mut [f32]) {
    let ChannelJob { src, size: (w, h), layer, channel: c, relu } = job;
    let pw = w + 2;
    let DepthwiseScratch { padded, sums } = scratch;
    for (y, row) in src.chunks_exact(w).enumerate().take(h) {
        padded[(y + 1) * pw + 1..][..w].copy_from_slice(row);
    }
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let k = &layer.weights[c];
    let n = sums.len();
    let taps: [&[f32]; 9] = std::array::from_fn(|t| &padded[(t / 3) * pw + t % 3..][..n]);
    for (i, s) in sums.iter_mut().enumerate() {
        // Three partial sums, one per kernel row, to shorten the dependency chain.
        let r0 = madd(k[2], taps[2][i], madd(k[1], taps[1][i], k[0] * taps[0][i]));
        let r1 = madd(k[5], taps[5][i], madd(k[4], taps[4][i], k[3] * taps[3][i]));
        let r2 = madd(k[8], taps[8][i], madd(k[7], taps[7][i], k[6] * taps[6][i]));
        *s = r0 + r1 + r2;
    }
    let bias = layer.bias[c];
    for (row_out, row) in dst.chunks_exact_mut(w).zip(sums.chunks_exact(pw)) {
        for (o, s) in row_out.iter_mut().zip(row) {
            let v = s + bias;
            *o = if relu && v < 0.0 { 0.0 } else { v };
        }
    }
}

/// The pointwise kernel: for each block of [`CO`] output channels (of `blocks`) and [`PX`]
/// pixels, the accumulators stay in registers while every input channel passes once. Channel
/// `co` is `out`'s `co - blocks.start * CO`-th.
#[inline(always)]
fn pointwise_any(span: Span, layer: &Pointwise, blocks: std::ops::Range<usize>, out: OutPlanes, relu: bool) {
    let cin = layer.cin;
    let first = blocks.start;
    for block in blocks {
        let weights = &layer.weights[block * cin..(block + 1) * cin];
        let co0 = block * CO;
        let live = CO.min(layer.cout - co0);
        let mut bias = [0.0f32; CO];
        bias[..live].copy_from_slice(&layer.bias[co0..co0 + live]);
        for p0 in (0..span.pixels).step_by(PX) {
            let mut acc: [[f32; PX]; CO] = std::array::from_fn(|k| [bias[k]; PX]);
            for (ci, w) in weights.iter().enumerate() {
                let x = &span.input[ci * span.stride + p0..][..PX];
                for k in 0..CO {
                    for j in 0..PX {
                        acc[k][j] += w[k] * x[j];
                    }
                }
            }
            for (k, a) in acc.iter().enumerate().take(live) {
                let o = &mut out.data[(co0 - first * CO + k) * out.stride + p0..][..PX];
                for (o, a) in o.iter_mut().zip(a) {
                    *o = if relu && *a < 0.0 { 0.0 } else { *a };
                }
            }
        }
    }
}

/// A pointwise convolution of `span` into `out`, the channels of `blocks` (see
/// [`pointwise_any`]). `span.pixels` must be a multiple of [`PX`].
fn pointwise(span: Span, layer: &Pointwise, blocks: std::ops::Range<usize>, out: OutPlanes, relu: bool) {
    assert!(span.pixels.is_multiple_of(PX) && span.pixels <= span.stride);
    assert!(span.input.len() >= (layer.cin - 1) * span.stride + span.pixels, "input planes");
    let live_channels = (blocks.end * CO).min(layer.cout) - blocks.start * CO;
    assert!(out.data.len() >= (live_channels - 1) * out.stride + span.pixels, "output planes");
    assert!(blocks.end * CO <= layer.cout.div_ceil(CO) * CO && !blocks.is_empty());
    #[cfg(target_arch = "x86_64")]
    avx2::pointwise(span, layer, blocks, out, relu);
    #[cfg(not(target_arch = "x86_64"))]
    pointwise_any(span, layer, blocks, out, relu);
}

/// The pointwise kernel in AVX-512 or AVX2 and FMA instructions, used when the CPU has them:
/// written with intrinsics because the compiler spilled the portable kernel's accumulators to
/// the stack (5x slower than OpenCV), and the depthwise loop built for AVX2. The `unsafe`
/// here is calling code built for an instruction set after checking for it, and unaligned
/// vector loads and stores inside the bounds [`pointwise`] asserts.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::{
        depthwise_any, pointwise_any, ChannelJob, DepthwiseScratch, OutPlanes, Pointwise, Span, CO, PX,
    };
    use std::arch::x86_64::*;
    use std::ops::Range;

    pub(super) fn depthwise(scratch: &mut DepthwiseScratch, job: ChannelJob, dst: &mut [f32]) {
        #[target_feature(enable = "avx2,fma")]
        fn built_for_avx2(scratch: &mut DepthwiseScratch, job: ChannelJob, dst: &mut [f32]) {
            depthwise_any::<true>(scratch, job, dst)
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: this CPU has AVX2 and FMA (checked on the line above).
            unsafe { built_for_avx2(scratch, job, dst) }
        } else {
            depthwise_any::<false>(scratch, job, dst)
        }
    }

    /// Bounds: the caller ([`super::pointwise`]) asserted that every input plane holds
    /// `span.pixels` floats from `ci * span.stride`, every live output channel as many from
    /// its offset in `out`, and that `span.pixels` is a multiple of [`PX`].
    pub(super) fn pointwise(span: Span, layer: &Pointwise, blocks: Range<usize>, out: OutPlanes, relu: bool) {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: this CPU has AVX-512 (checked on the line above).
            unsafe { pointwise_avx512(span, layer, blocks, out, relu) }
        } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: this CPU has AVX2 and FMA (checked on the line above).
            unsafe { pointwise_fma(span, layer, blocks, out, relu) }
        } else {
            pointwise_any(span, layer, blocks, out, relu)
        }
    }

    /// The register-blocked kernel for one vector width: `$lanes` floats a register, two
    /// registers of pixels for each of the [`CO`] output channels, so a block covers
    /// `2 * $lanes` pixels (16 for AVX2, [`PX`] for AVX-512).
    macro_rules! pointwise_kernel {
        ($name:ident, $feature:literal, $vector:ty, $lanes:literal,
         $load:ident, $store:ident, $splat:ident, $fmadd:ident, $max:ident, $zero:ident) => {
            #[target_feature(enable = $feature)]
            fn $name(span: Span, layer: &Pointwise, blocks: Range<usize>, out: OutPlanes, relu: bool) {
                const STEP: usize = 2 * $lanes;
                const { assert!(CO == 4 && PX % STEP == 0) };
                let cin = layer.cin;
                let first = blocks.start;
                let zero = $zero();
                for block in blocks {
                    let weights = &layer.weights[block * cin..(block + 1) * cin];
                    let co0 = block * CO;
                    let live = CO.min(layer.cout - co0);
                    let bias: [$vector; CO] =
                        std::array::from_fn(|k| $splat(layer.bias.get(co0 + k).copied().unwrap_or(0.0)));
                    for p0 in (0..span.pixels).step_by(STEP) {
                        let mut acc: [[$vector; 2]; CO] = std::array::from_fn(|k| [bias[k], bias[k]]);
                        for (ci, w) in weights.iter().enumerate() {
                            // SAFETY: STEP floats at ci * stride + p0, p0 + STEP <= pixels
                            // (see `pointwise`).
                            let (x0, x1) = unsafe {
                                let x = span.input.as_ptr().add(ci * span.stride + p0);
                                ($load(x), $load(x.add($lanes)))
                            };
                            for k in 0..CO {
                                let wk = $splat(w[k]);
                                acc[k][0] = $fmadd(wk, x0, acc[k][0]);
                                acc[k][1] = $fmadd(wk, x1, acc[k][1]);
                            }
                        }
                        for (k, [a0, a1]) in acc.into_iter().enumerate().take(live) {
                            let (a0, a1) = if relu { ($max(a0, zero), $max(a1, zero)) } else { (a0, a1) };
                            // SAFETY: a live output channel, STEP floats at p0 (see `pointwise`).
                            unsafe {
                                let o = out.data.as_mut_ptr().add((co0 - first * CO + k) * out.stride + p0);
                                $store(o, a0);
                                $store(o.add($lanes), a1);
                            }
                        }
                    }
                }
            }
        };
    }

    pointwise_kernel!(
        pointwise_fma,
        "avx2,fma",
        __m256,
        8,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_max_ps,
        _mm256_setzero_ps
    );
    pointwise_kernel!(
        pointwise_avx512,
        "avx512f",
        __m512,
        16,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_max_ps,
        _mm512_setzero_ps
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_keeps_the_best_of_overlapping_boxes_and_separate_ones() {
        let kept = suppress(
            vec![
                (0.9, [10.0, 10.0, 20.0, 20.0]),
                (0.95, [12.0, 11.0, 20.0, 20.0]),
                (0.88, [60.0, 60.0, 10.0, 10.0]),
            ],
            0.3,
            50,
        );
        let scores: Vec<f32> = kept.iter().map(|k| k.0).collect();
        assert_eq!(scores, vec![0.95, 0.88]);
    }

    /// Deterministic values in -1..1.
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_vector_pointwise_kernels_compute_what_the_portable_one_does() {
        // Channel counts that fill whole blocks and that leave a part block; all blocks and a
        // middle one alone; planes packed and strided.
        for (cin, cout, pixels, stride) in
            [(16, 16, 64, 64), (64, 51, 96, 128), (27, 16, 256, 256), (64, 34, 32, 32)]
        {
            let layer = Pointwise::new(cin, cout, &noise(cin * cout, 1), noise(cout, 2));
            let input = noise(cin * stride, 3);
            let span = Span { input: &input, stride, pixels };
            let blocks = cout.div_ceil(CO);
            for range in [0..blocks, 1..2] {
                for relu in [false, true] {
                    let mut fast = vec![9.0; cout * stride];
                    let mut portable = fast.clone();
                    pointwise(span, &layer, range.clone(), OutPlanes { data: &mut fast, stride }, relu);
                    pointwise_any(
                        span,
                        &layer,
                        range.clone(),
                        OutPlanes { data: &mut portable, stride },
                        relu,
                    );
                    for (i, (a, b)) in fast.iter().zip(&portable).enumerate() {
                        assert!((a - b).abs() < 1e-4, "{cin}->{cout} {range:?} relu {relu}: {i}: {a} vs {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_depthwise_convolution_is_a_zero_padded_3x3_kernel() {
        for (w, h) in [(2, 1), (5, 3), (40, 24)] {
            let src = noise(w * h, 4);
            let layer =
                Depthwise { weights: vec![noise(9, 5).try_into().unwrap(); 2], bias: vec![0.25, -0.5] };
            let at = |x: i64, y: i64| {
                if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                    0.0
                } else {
                    src[y as usize * w + x as usize]
                }
            };
            for relu in [false, true] {
                let mut dst = vec![0.0; w * h];
                let job = ChannelJob { src: &src, size: (w, h), layer: &layer, channel: 1, relu };
                DepthwiseScratch::new(w, h).convolve(job, &mut dst);
                for y in 0..h as i64 {
                    for x in 0..w as i64 {
                        let k = &layer.weights[1];
                        let mut want = layer.bias[1];
                        for (t, weight) in k.iter().enumerate() {
                            want += weight * at(x + t as i64 % 3 - 1, y + t as i64 / 3 - 1);
                        }
                        if relu {
                            want = want.max(0.0);
                        }
                        let got = dst[y as usize * w + x as usize];
                        assert!((got - want).abs() < 1e-5, "{w}x{h} ({x}, {y}) relu {relu}: {got} vs {want}");
                    }
                }
            }
        }
    }
}
