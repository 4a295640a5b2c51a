//! The face model we ship (YuNet, 2022), run in plain Rust instead of through OpenCV's `dnn`.
//!
//! OpenCV 4.6 took ~1.5 ms a frame for this network at the detector's 160x96 (~20 M
//! multiply-adds), ~2 ms inside a batch where decoding and JPEG had the caches: most of the
//! cost of keeping faces clear. Every layer of YuNet is one of four simple kinds — a 3x3
//! stride-2 convolution at the stem, then pairs of a 1x1 (pointwise) convolution and a 3x3
//! per-channel (depthwise) one, 2x2 max pooling, and ReLU — so a direct implementation with
//! register-blocked pointwise kernels does the same arithmetic in about half the time
//! (docs/benchmarks.md). The weights still come from the ONNX file through OpenCV's reader;
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
    /// The feature map here feeds the next head.
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
            let name = format!("onnx_node!Conv_{n}");
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
        let mut taps = Vec::with_capacity(4);
        for step in &self.backbone {
            match step {
                Step::Block(b) => x = b.run(&x),
                Step::Pool => x = max_pool(&x),
                Step::Tap => taps.push(x.clone_planes()),
            }
        }
        let mut candidates = Vec::new();
        for (head, tap) in self.heads.iter().zip(&taps) {
            let out = head.blocks[1].run(&head.blocks[0].run(tap));
            head.decode(&out, threshold, &mut candidates);
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
        let mut taps = Planes::new(27, ow, oh);
        for (c, colour) in padded.chunks_exact(pw * (height + 2)).enumerate() {
            for dy in 0..3 {
                for dx in 0..3 {
                    let plane = (c * 9 + dy * 3 + dx) * taps.plane;
                    let out = &mut taps.data[plane..plane + ow * oh];
                    for (y, out_row) in out.chunks_exact_mut(ow).enumerate() {
                        let row = &colour[(2 * y + dy) * pw + dx..][..2 * ow];
                        for (o, pair) in out_row.iter_mut().zip(row.chunks_exact(2)) {
                            *o = pair[0];
                        }
                    }
                }
            }
        }
        let mut out = Planes::new(16, ow, oh);
        self.stem.run(&taps, &mut out, true);
        out
    }
}

impl Planes {
    fn clone_planes(&self) -> Planes {
        Planes { data: self.data.clone(), ..*self }
    }
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

    /// `out` (already sized: `cout` channels, `input`'s pixels) from `input`, with ReLU if asked.
    fn run(&self, input: &Planes, out: &mut Planes, relu: bool) {
        assert_eq!(input.channels, self.cin);
        assert_eq!((out.channels, out.plane), (self.cout, input.plane));
        pointwise(&input.data, input.plane, self, &mut out.data, relu);
    }
}

impl Block {
    fn run(&self, input: &Planes) -> Planes {
        let mut mid = Planes::new(self.pointwise.cout, input.width, input.height);
        self.pointwise.run(input, &mut mid, false);
        depthwise(&mid, &self.depthwise, self.relu)
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
                // Plain comparisons: `f32::max`'s NaN handling does not vectorise (no NaN here).
                let max = |a: f32, b: f32| if a > b { a } else { b };
                dst[y * w + x] = max(max(r0[2 * x], r0[2 * x + 1]), max(r1[2 * x], r1[2 * x + 1]));
            }
        }
    }
    out
}

/// Each channel convolved with its own 3x3 kernel (zero padding 1), bias added, ReLU if asked.
fn depthwise(input: &Planes, layer: &Depthwise, relu: bool) -> Planes {
    #[cfg(target_arch = "x86_64")]
    return avx2::depthwise(input, layer, relu);
    #[cfg(not(target_arch = "x86_64"))]
    depthwise_any::<false>(input, layer, relu)
}

/// [`depthwise`], with fused multiply-adds where `FMA` (only in code built for a CPU that
/// has them: elsewhere `mul_add` is a slow library call).
#[inline(always)]
fn depthwise_any<const FMA: bool>(input: &Planes, layer: &Depthwise, relu: bool) -> Planes {
    let (w, h) = (input.width, input.height);
    let mut out = Planes::new(input.channels, w, h);
    // The channel with a zero border. The sums run over the bordered grid as one flat row
    // (the two border columns of each row come out as garbage and are skipped): one long
    // loop that vectorises, instead of short rows with scalar tails.
    let pw = w + 2;
    let mut padded = vec![0.0f32; pw * (h + 2) + 2];
    let mut sums = vec![0.0f32; pw * h];
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    for c in 0..input.channels {
        let src = input.channel(c);
        for y in 0..h {
            padded[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&src[y * w..(y + 1) * w]);
        }
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
        let dst = &mut out.data[c * out.plane..c * out.plane + w * h];
        for (row_out, row) in dst.chunks_exact_mut(w).zip(sums.chunks_exact(pw)) {
            for (o, s) in row_out.iter_mut().zip(row) {
                let v = s + bias;
                *o = if relu { v.max(0.0) } else { v };
            }
        }
    }
    out
}

/// The pointwise kernel: for each block of [`CO`] output channels and [`PX`] pixels, the
/// accumulators stay in registers while every input channel passes once.
#[inline(always)]
fn pointwise_any(input: &[f32], plane: usize, layer: &Pointwise, out: &mut [f32], relu: bool) {
    let cin = layer.cin;
    for (block, weights) in layer.weights.chunks_exact(cin).enumerate() {
        let co0 = block * CO;
        let live = CO.min(layer.cout - co0);
        let mut bias = [0.0f32; CO];
        bias[..live].copy_from_slice(&layer.bias[co0..co0 + live]);
        for p0 in (0..plane).step_by(PX) {
            let mut acc: [[f32; PX]; CO] = std::array::from_fn(|k| [bias[k]; PX]);
            for (ci, w) in weights.iter().enumerate() {
                let x: &[f32; PX] =
                    input[ci * plane + p0..ci * plane + p0 + PX].try_into().expect("PX floats");
                for k in 0..CO {
                    for j in 0..PX {
                        acc[k][j] += w[k] * x[j];
                    }
                }
            }
            for (k, a) in acc.iter().enumerate().take(live) {
                let o = &mut out[(co0 + k) * plane + p0..(co0 + k) * plane + p0 + PX];
                if relu {
                    for (o, a) in o.iter_mut().zip(a) {
                        *o = a.max(0.0);
                    }
                } else {
                    o.copy_from_slice(a);
                }
            }
        }
    }
}

fn pointwise(input: &[f32], plane: usize, layer: &Pointwise, out: &mut [f32], relu: bool) {
    #[cfg(target_arch = "x86_64")]
    avx2::pointwise(input, plane, layer, out, relu);
    #[cfg(not(target_arch = "x86_64"))]
    pointwise_any(input, plane, layer, out, relu);
}

/// The pointwise kernel in AVX2 and FMA instructions, used when the CPU has them: written
/// with intrinsics because the compiler spilled the portable kernel's accumulators to the
/// stack (5x slower than OpenCV). The `unsafe` here is calling code built for an instruction
/// set after checking for it, and unaligned vector loads and stores inside checked bounds.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::{depthwise_any, pointwise_any, Depthwise, Planes, Pointwise, CO, PX};
    use std::arch::x86_64::*;

    pub(super) fn depthwise(input: &Planes, layer: &Depthwise, relu: bool) -> Planes {
        #[target_feature(enable = "avx2,fma")]
        fn built_for_avx2(input: &Planes, layer: &Depthwise, relu: bool) -> Planes {
            depthwise_any::<true>(input, layer, relu)
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: this CPU has AVX2 and FMA (checked on the line above).
            unsafe { built_for_avx2(input, layer, relu) }
        } else {
            depthwise_any::<false>(input, layer, relu)
        }
    }

    pub(super) fn pointwise(input: &[f32], plane: usize, layer: &Pointwise, out: &mut [f32], relu: bool) {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: this CPU has AVX-512 (checked on the line above).
            unsafe { pointwise_avx512(input, plane, layer, out, relu) }
        } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: this CPU has AVX2 and FMA (checked on the line above).
            unsafe { pointwise_fma(input, plane, layer, out, relu) }
        } else {
            pointwise_any(input, plane, layer, out, relu)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn pointwise_fma(input: &[f32], plane: usize, layer: &Pointwise, out: &mut [f32], relu: bool) {
        const HALF: usize = PX / 2;
        const { assert!(CO == 4 && HALF == 16) };
        let cin = layer.cin;
        // Every load below reads 16 floats at `ci * plane + p0` with p0 + 16 <= plane and
        // ci < cin, every store 16 at `co * plane + p0` with co < cout.
        assert!(plane.is_multiple_of(HALF) && input.len() >= cin * plane && out.len() >= layer.cout * plane);
        let zero = _mm256_setzero_ps();
        for (block, weights) in layer.weights.chunks_exact(cin).enumerate() {
            let co0 = block * CO;
            let live = CO.min(layer.cout - co0);
            let bias: [__m256; CO] =
                std::array::from_fn(|k| _mm256_set1_ps(layer.bias.get(co0 + k).copied().unwrap_or(0.0)));
            for p0 in (0..plane).step_by(HALF) {
                let mut acc: [[__m256; 2]; CO] = std::array::from_fn(|k| [bias[k], bias[k]]);
                for (ci, w) in weights.iter().enumerate() {
                    // SAFETY: in bounds (the assertion above).
                    let (x0, x1) = unsafe {
                        let x = input.as_ptr().add(ci * plane + p0);
                        (_mm256_loadu_ps(x), _mm256_loadu_ps(x.add(8)))
                    };
                    for k in 0..CO {
                        let wk = _mm256_set1_ps(w[k]);
                        acc[k][0] = _mm256_fmadd_ps(wk, x0, acc[k][0]);
                        acc[k][1] = _mm256_fmadd_ps(wk, x1, acc[k][1]);
                    }
                }
                for (k, [a0, a1]) in acc.into_iter().enumerate().take(live) {
                    let (a0, a1) =
                        if relu { (_mm256_max_ps(a0, zero), _mm256_max_ps(a1, zero)) } else { (a0, a1) };
                    // SAFETY: in bounds (the assertion above; co0 + k < cout).
                    unsafe {
                        let o = out.as_mut_ptr().add((co0 + k) * plane + p0);
                        _mm256_storeu_ps(o, a0);
                        _mm256_storeu_ps(o.add(8), a1);
                    }
                }
            }
        }
    }

    /// The same kernel on 512-bit registers: twice the pixels an instruction.
    #[target_feature(enable = "avx512f")]
    fn pointwise_avx512(input: &[f32], plane: usize, layer: &Pointwise, out: &mut [f32], relu: bool) {
        const { assert!(CO == 4 && PX == 32) };
        let cin = layer.cin;
        // Every load below reads 32 floats at `ci * plane + p0` with p0 + 32 <= plane and
        // ci < cin, every store 32 at `co * plane + p0` with co < cout.
        assert!(plane.is_multiple_of(PX) && input.len() >= cin * plane && out.len() >= layer.cout * plane);
        let zero = _mm512_setzero_ps();
        for (block, weights) in layer.weights.chunks_exact(cin).enumerate() {
            let co0 = block * CO;
            let live = CO.min(layer.cout - co0);
            let bias: [__m512; CO] =
                std::array::from_fn(|k| _mm512_set1_ps(layer.bias.get(co0 + k).copied().unwrap_or(0.0)));
            for p0 in (0..plane).step_by(PX) {
                let mut acc: [[__m512; 2]; CO] = std::array::from_fn(|k| [bias[k], bias[k]]);
                for (ci, w) in weights.iter().enumerate() {
                    // SAFETY: in bounds (the assertion above).
                    let (x0, x1) = unsafe {
                        let x = input.as_ptr().add(ci * plane + p0);
                        (_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16)))
                    };
                    for k in 0..CO {
                        let wk = _mm512_set1_ps(w[k]);
                        acc[k][0] = _mm512_fmadd_ps(wk, x0, acc[k][0]);
                        acc[k][1] = _mm512_fmadd_ps(wk, x1, acc[k][1]);
                    }
                }
                for (k, [a0, a1]) in acc.into_iter().enumerate().take(live) {
                    let (a0, a1) =
                        if relu { (_mm512_max_ps(a0, zero), _mm512_max_ps(a1, zero)) } else { (a0, a1) };
                    // SAFETY: in bounds (the assertion above; co0 + k < cout).
                    unsafe {
                        let o = out.as_mut_ptr().add((co0 + k) * plane + p0);
                        _mm512_storeu_ps(o, a0);
                        _mm512_storeu_ps(o.add(16), a1);
                    }
                }
            }
        }
    }
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
}
