//! Opening decoders: on the device [`HwAccel`] picks (or software), keyframes-only or every
//! frame, and a process-wide pool of hardware decoders reused across videos.

use super::error::ProbeError;
use super::{describe, hw};
use crate::model::{Device, HwAccel};
use ff::codec::discard::Discard;
use ffmpeg_next as ff;
use std::path::Path;

/// An opened decoder. Hardware ones go back to a process-wide pool when dropped and serve the
/// next video of the same codec, size and format: opening an NVDEC decoder costs ~60 ms and
/// serialises threads (measured on an H100: 1.2 s a job at 16 threads, 13 covers/s, before the
/// pool). A reused decoder is given the new video's parameter sets (SPS/PPS) as
/// `NEW_EXTRADATA` side data on the packets it decodes, which FFmpeg's H.264 and HEVC decoders
/// take in place of the extradata they were opened with.
pub(crate) struct Decoder {
    video: Option<ff::decoder::Video>,
    pool_key: Option<DecoderKey>,
    /// The stream's extradata, when the decoder was opened for another stream.
    extradata: Option<Vec<u8>>,
    /// End of stream was signalled: the decoder must be flushed before it takes packets again.
    drained: bool,
}

impl std::ops::Deref for Decoder {
    type Target = ff::decoder::Video;
    fn deref(&self) -> &Self::Target {
        self.video.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Decoder {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.video.as_mut().expect("present until dropped")
    }
}

impl Decoder {
    fn new(video: ff::decoder::Video, pool_key: Option<DecoderKey>, extradata: Option<Vec<u8>>) -> Self {
        Decoder { video: Some(video), pool_key, extradata, drained: false }
    }

    /// Signals end of stream so a decoder with reorder delay gives up the frames it holds.
    pub(crate) fn drain(&mut self) {
        let _ = self.video.as_mut().expect("present until dropped").send_eof();
        self.drained = true;
    }

    /// Closes the decoder instead of pooling it (it failed).
    pub(crate) fn discard(mut self) {
        self.keep_out_of_pool();
    }

    /// Marks the decoder as not to be pooled when dropped (its device refused the stream).
    pub(crate) fn keep_out_of_pool(&mut self) {
        self.pool_key = None;
    }

    /// Flushes the decoder (after a seek when every frame is decoded).
    pub(crate) fn reset(&mut self) {
        self.video.as_mut().expect("present until dropped").flush();
        self.drained = false;
    }

    /// Flushes only when end of stream was signalled.
    pub(crate) fn reset_if_drained(&mut self) {
        if self.drained {
            self.reset();
        }
    }

    /// Sends a packet, with this stream's parameter sets attached when the decoder was reused.
    pub(crate) fn send(&mut self, packet: &mut ff::Packet) -> Result<(), ff::Error> {
        if let Some(extra) = &self.extradata {
            attach_new_extradata(packet, extra);
        }
        self.video.as_mut().expect("present until dropped").send_packet(packet)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        if let (Some(mut video), Some(key)) = (self.video.take(), self.pool_key.take()) {
            // A decoder of every frame may still hold pictures of this video (an animated
            // cover stops early): software ones are flushed (their frame pool survives it).
            // Keyframe decoders are low-delay and hold nothing unless drained; flushing them
            // anyway would free H.264's tables for the next video to allocate and clear again,
            // and recreate a hardware decoder (see `decode_raw`).
            if self.drained || (key.device.is_none() && !key.keyframes_only) {
                video.flush();
            }
            let mut pool = DECODER_POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() >= MAX_POOLED_DECODERS {
                pool.remove(0);
            }
            // Idle software decoders keep their last picture and frame pool in this process's
            // memory: a batch of many sizes keeps the most recent ones within a pixel budget.
            for _ in 0..software_to_evict(pool.iter().map(|(k, _)| k), &key) {
                if let Some(oldest) = pool.iter().position(|(k, _)| k.device.is_none()) {
                    pool.remove(oldest);
                }
            }
            pool.push((key, video));
        }
    }
}

/// What a pooled decoder must match to serve another stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DecoderKey {
    codec: i32,
    width: i32,
    height: i32,
    format: i32,
    /// `None`: software.
    device: Option<Device>,
    keyframes_only: bool,
}

impl DecoderKey {
    #[allow(unsafe_code)]
    fn new(params: &ff::codec::Parameters, device: Option<Device>, keyframes_only: bool) -> Self {
        // SAFETY: plain fields of valid codec parameters.
        let par = unsafe { &*params.as_ptr() };
        DecoderKey {
            codec: par.codec_id as i32,
            width: par.width,
            height: par.height,
            format: par.format,
            device,
            keyframes_only,
        }
    }

    /// The stream's extradata (what a reused decoder is given with each packet).
    #[allow(unsafe_code)]
    fn extradata(&self, params: &ff::codec::Parameters) -> Option<Vec<u8>> {
        // SAFETY: extradata is null or points to extradata_size valid bytes.
        let par = unsafe { &*params.as_ptr() };
        (!par.extradata.is_null() && par.extradata_size > 0).then(|| {
            unsafe { std::slice::from_raw_parts(par.extradata, par.extradata_size as usize) }.to_vec()
        })
    }
}

const MAX_POOLED_DECODERS: usize = 64;
/// Pixels of all idle software decoders together (16 of 1080p, 4 of 4K: each holds a few
/// frames of its size, ~1.5 bytes a pixel each).
const MAX_POOLED_SOFTWARE_PIXELS: u64 = 16 * 1920 * 1080;
static DECODER_POOL: std::sync::Mutex<Vec<(DecoderKey, ff::decoder::Video)>> =
    std::sync::Mutex::new(Vec::new());

/// How many of the oldest idle software decoders (`pooled`, oldest first) must go for
/// `incoming` to join them within [`MAX_POOLED_SOFTWARE_PIXELS`].
fn software_to_evict<'a>(pooled: impl Iterator<Item = &'a DecoderKey>, incoming: &DecoderKey) -> usize {
    let pixels = |k: &DecoderKey| k.width.max(0) as u64 * k.height.max(0) as u64;
    if incoming.device.is_some() {
        return 0;
    }
    let software: Vec<u64> = pooled.filter(|k| k.device.is_none()).map(pixels).collect();
    let mut held: u64 = software.iter().sum::<u64>() + pixels(incoming);
    let mut evicted = 0;
    for p in software {
        if held <= MAX_POOLED_SOFTWARE_PIXELS {
            break;
        }
        held -= p;
        evicted += 1;
    }
    evicted
}

fn take_pooled_decoder(key: &DecoderKey) -> Option<ff::decoder::Video> {
    let mut pool = DECODER_POOL.lock().unwrap_or_else(|e| e.into_inner());
    let i = pool.iter().position(|(k, _)| k == key)?;
    Some(pool.swap_remove(i).1)
}

/// Attaches `extra` to `packet` as `AV_PKT_DATA_NEW_EXTRADATA`, once (the same packet may be
/// sent again).
#[allow(unsafe_code)]
fn attach_new_extradata(packet: &mut ff::Packet, extra: &[u8]) {
    // SAFETY: av_packet_new_side_data returns a buffer of the requested size (or null) owned
    // by the packet; we copy exactly that many bytes into it.
    unsafe {
        let kind = ff::ffi::AVPacketSideDataType::AV_PKT_DATA_NEW_EXTRADATA;
        let raw = ff::packet::Mut::as_mut_ptr(packet);
        if !ff::ffi::av_packet_get_side_data(raw, kind, std::ptr::null_mut()).is_null() {
            return;
        }
        let dst = ff::ffi::av_packet_new_side_data(raw, kind, extra.len());
        if !dst.is_null() {
            std::ptr::copy_nonoverlapping(extra.as_ptr(), dst, extra.len());
        }
    }
}

/// Opens a decoder (keyframes only, or every frame) for `params` on the first device `accel` allows that has a
/// decoder for the codec and opens; software otherwise. Returns the decoder, its device and,
/// when hardware was wanted but not used, why.
pub(crate) fn open_decoder_for(
    path: &Path,
    params: &ff::codec::Parameters,
    accel: HwAccel,
    keyframes_only: bool,
) -> Result<(Decoder, Option<Device>, Option<String>), ProbeError> {
    let discard = if keyframes_only { Discard::NonKey } else { Discard::Default };
    let not_media = |e: ff::Error| ProbeError::NotMedia { path: path.to_owned(), reason: describe(&e) };
    let codec = ff::decoder::find(params.id());
    let mut why_not = Vec::new();
    for &d in accel.candidates() {
        let Some(codec) = codec else { break };
        let Some(hw_codec) = hw::decoder_for(&codec, d) else {
            why_not.push(format!("no {d} decoder for {}", codec.name()));
            continue;
        };
        let dev = match hw::device(d) {
            Ok(dev) => dev,
            Err(e) => {
                why_not.push(e);
                continue;
            }
        };
        let key = DecoderKey::new(params, Some(d), keyframes_only);
        if let Some(video) = take_pooled_decoder(&key) {
            let extradata = key.extradata(params);
            return Ok((Decoder::new(video, Some(key), extradata), Some(d), None));
        }
        let mut ctx = ff::codec::context::Context::from_parameters(params.clone()).map_err(not_media)?;
        if keyframes_only {
            ctx.set_flags(ff::codec::Flags::LOW_DELAY);
        }
        // SAFETY: the context is valid and not opened yet; it takes its own device reference.
        #[allow(unsafe_code)]
        unsafe {
            hw::attach_decoder(ctx.as_mut_ptr(), &dev, d)
        };
        let mut decoder = ctx.decoder();
        decoder.skip_frame(discard);
        match decoder.open_as(hw_codec).and_then(|o| o.video()) {
            Ok(v) => return Ok((Decoder::new(v, Some(key), None), Some(d), None)),
            Err(e) => {
                why_not.push(format!("the {d} decoder {} did not open ({})", hw_codec.name(), describe(&e)))
            }
        }
    }
    if accel.is_explicit() {
        let reason = match (codec, why_not.is_empty()) {
            (None, _) => "no decoder for this video codec".to_string(),
            (_, false) => why_not.join("; "),
            (_, true) => "not available".to_string(),
        };
        return Err(ProbeError::Hardware { path: path.to_owned(), accel, reason });
    }
    let fallback = (accel == HwAccel::Auto).then(|| why_not.join("; ")).filter(|w| !w.is_empty());
    // Software decoders are pooled too, for the codecs that take a new stream's parameter sets
    // from packet side data: opening one allocates and clears its context and frame pool
    // afresh (~1 ms a 1080p cover, more than a tenth of decoding its keyframe).
    let poolable = codec.is_some_and(|c| matches!(c.id(), ff::codec::Id::H264 | ff::codec::Id::HEVC));
    // Streams without extradata (MPEG-TS, raw) carry their parameter sets in band: a reused
    // decoder could decode a damaged keyframe with the previous video's, so those get a fresh one.
    let key = DecoderKey::new(params, None, keyframes_only);
    let extradata = key.extradata(params);
    let key = (poolable && extradata.is_some()).then_some(key);
    if let Some(video) = key.as_ref().and_then(take_pooled_decoder) {
        return Ok((Decoder::new(video, key, extradata), None, fallback));
    }
    let mut ctx = ff::codec::context::Context::from_parameters(params.clone()).map_err(not_media)?;
    if keyframes_only {
        // Each keyframe comes out as soon as it is decoded, not after the reorder delay.
        ctx.set_flags(ff::codec::Flags::LOW_DELAY);
    }
    // One keyframe at a time: frame threads would only add latency (an H.264 keyframe is one
    // slice, so only slice threads can help, and only for HEVC).
    ctx.set_threading(ff::codec::threading::Config {
        kind: ff::codec::threading::Type::Slice,
        count: 1,
        ..Default::default()
    });
    let mut decoder = ctx.decoder();
    decoder.skip_frame(discard);
    let decoder = decoder.video().map_err(|e| ProbeError::Unsupported {
        path: path.to_owned(),
        reason: format!("no decoder for this video codec ({})", describe(&e)),
    })?;
    Ok((Decoder::new(decoder, key, None), None, fallback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(width: i32, height: i32, device: Option<Device>) -> DecoderKey {
        DecoderKey { codec: 27, width, height, format: 0, device, keyframes_only: true }
    }

    #[test]
    fn idle_software_decoders_stay_within_a_pixel_budget_oldest_out_first() {
        let hd = key(1920, 1080, None);
        let uhd = key(3840, 2160, None);
        let cuda = key(3840, 2160, Some(Device::Cuda));
        // Fifteen 1080p decoders and a sixteenth fit; a 4K one needs the three oldest gone.
        let fifteen = vec![hd.clone(); 15];
        assert_eq!(software_to_evict(fifteen.iter(), &hd), 0);
        assert_eq!(software_to_evict(fifteen.iter(), &uhd), 3);
        // Hardware decoders neither count nor are counted.
        let mixed: Vec<DecoderKey> =
            (0..15).map(|_| hd.clone()).chain((0..10).map(|_| cuda.clone())).collect();
        assert_eq!(software_to_evict(mixed.iter(), &hd), 0);
        assert_eq!(software_to_evict(fifteen.iter(), &cuda), 0);
        // A decoder larger than the whole budget empties the software pool and still joins.
        let huge = key(16384, 16384, None);
        assert_eq!(software_to_evict(fifteen.iter(), &huge), 15);
    }
}
