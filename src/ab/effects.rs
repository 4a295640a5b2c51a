//! Across videos: which cover measures go with a higher CTR, learned from the team's own tests.
//!
//! Variants of one video differ only in their cover, so the comparison is made within each
//! video: for every measure, the variants' log CTR and the measure are centred on their video's
//! means, and one slope is fitted through all videos (weighted by each variant's clicks, the
//! inverse of its log CTR's variance). The effect is reported per one within-video standard
//! deviation of the measure, as a relative change of CTR, with a 95 % interval from a bootstrap
//! over videos (videos, not variants, are the independent units). Below five videos that vary a
//! measure the report says too few instead of drawing a line.

use crate::analyze::FEATURES;
use crate::stats::{quantile, Rng};
use serde::Serialize;

/// Videos that vary a measure before an effect is estimated.
pub const MIN_VIDEOS: usize = 5;
const REPLICATES: usize = 2_000;

/// One variant's test outcome and cover measures.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The video.
    pub video: String,
    /// The variant.
    pub variant: String,
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Its cover's measures in [`FEATURES`] order.
    pub features: Vec<Option<f64>>,
}

/// What one measure does to CTR across the team's tests.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    /// The measure.
    pub feature: String,
    /// Videos whose variants differ in it.
    pub videos: usize,
    /// Variants behind the estimate.
    pub variants: usize,
    /// One within-video standard deviation of the measure (the step the effect is given for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Relative change of CTR for one step more (0.1 = 10 % more clicks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
    /// Its 95 % interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// In words.
    pub reading: String,
    /// (measure, CTR) per variant, for the plot.
    #[serde(skip)]
    pub points: Vec<(f64, f64)>,
}

/// Centred (x, y, weight) per variant of one video, for one measure.
type Centred = Vec<(f64, f64, f64)>;

fn centred(group: &[&Observed], j: usize) -> Option<Centred> {
    let rows: Vec<(f64, f64, f64)> = group
        .iter()
        .filter(|o| o.impressions > 0)
        .filter_map(|o| {
            let x = o.features.get(j).copied().flatten()?;
            let (c, n) = (o.clicks as f64 + 0.5, o.impressions as f64 + 1.0);
            let weight = 1.0 / (1.0 / c - 1.0 / n).max(1e-9);
            Some((x, (c / n).ln(), weight))
        })
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let w: f64 = rows.iter().map(|r| r.2).sum();
    let mx = rows.iter().map(|r| r.0 * r.2).sum::<f64>() / w;
    let my = rows.iter().map(|r| r.1 * r.2).sum::<f64>() / w;
    let out: Centred = rows.iter().map(|(x, y, w)| (x - mx, y - my, *w)).collect();
    // A video whose variants share the measure says nothing about it.
    out.iter().any(|r| r.0.abs() > 1e-12).then_some(out)
}

/// Slope of y on x through the origin, and the weighted spread of x.
fn slope(videos: &[&Centred]) -> Option<(f64, f64)> {
    let (mut sxy, mut sxx, mut sw) = (0.0, 0.0, 0.0);
    for v in videos {
        for (x, y, w) in v.iter() {
            sxy += w * x * y;
            sxx += w * x * x;
            sw += w;
        }
    }
    (sxx > 0.0).then(|| (sxy / sxx, (sxx / sw).sqrt()))
}

/// Every measure's effect across the videos of `observed`.
pub fn effects(observed: &[Observed]) -> Vec<Effect> {
    let mut videos: Vec<&str> = observed.iter().map(|o| o.video.as_str()).collect();
    videos.sort_unstable();
    videos.dedup();
    let groups: Vec<Vec<&Observed>> =
        videos.iter().map(|v| observed.iter().filter(|o| o.video == *v).collect()).collect();
    let mut out = Vec::new();
    for (j, name) in FEATURES.iter().enumerate() {
        let per_video: Vec<Centred> = groups.iter().filter_map(|g| centred(g, j)).collect();
        let points: Vec<(f64, f64)> = observed
            .iter()
            .filter(|o| o.impressions > 0)
            .filter_map(|o| {
                Some((o.features.get(j).copied().flatten()?, o.clicks as f64 / o.impressions as f64))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let variants = per_video.iter().map(Vec::len).sum();
        let mut effect = Effect {
            feature: name.to_string(),
            videos: per_video.len(),
            variants,
            step: None,
            effect: None,
            interval: None,
            reading: String::new(),
            points,
        };
        let all: Vec<&Centred> = per_video.iter().collect();
        match slope(&all) {
            Some((b, step)) if per_video.len() >= MIN_VIDEOS => {
                let mut rng = Rng::for_name(name);
                let mut boot: Vec<f64> = (0..REPLICATES)
                    .filter_map(|_| {
                        let pick: Vec<&Centred> =
                            (0..per_video.len()).map(|_| &per_video[rng.below(per_video.len())]).collect();
                        slope(&pick).map(|(b, _)| (b * step).exp() - 1.0)
                    })
                    .collect();
                boot.sort_by(f64::total_cmp);
                let (lo, hi) = (quantile(&boot, 0.025), quantile(&boot, 0.975));
                let e = (b * step).exp() - 1.0;
                effect.reading = if lo > 0.0 {
                    format!("more {name} went with higher CTR: {:+.1} % per {step:.3}", e * 100.0)
                } else if hi < 0.0 {
                    format!("more {name} went with lower CTR: {:+.1} % per {step:.3}", e * 100.0)
                } else {
                    format!("unclear: {:+.1} % per {step:.3}, but the interval spans no effect", e * 100.0)
                };
                effect.step = Some(step);
                effect.effect = Some(e);
                effect.interval = Some((lo, hi));
            }
            _ => {
                effect.reading = format!(
                    "too few videos whose variants differ in {name} ({} of the {MIN_VIDEOS} needed)",
                    per_video.len()
                );
            }
        }
        out.push(effect);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(video: usize, variant: &str, sat: f64, text: f64, impressions: u64, clicks: u64) -> Observed {
        let mut features = vec![None; FEATURES.len()];
        features[2] = Some(sat);
        features[8] = Some(text);
        Observed { video: format!("v{video}"), variant: variant.into(), impressions, clicks, features }
    }

    #[test]
    fn a_planted_effect_is_found_a_flat_one_is_unclear_and_few_videos_are_said() {
        // Twelve videos: more text costs clicks (CTR falls 30 % from 0 to 0.2 coverage);
        // saturation varies but does not matter.
        let mut rng = Rng(5);
        let mut all = Vec::new();
        for v in 0..12 {
            let base = 0.02 + 0.03 * rng.uniform();
            for (k, id) in ["A", "B", "C"].iter().enumerate() {
                let text = 0.1 * k as f64 + 0.02 * rng.uniform();
                let sat = 40.0 + 40.0 * rng.uniform();
                let ctr = base * (1.0 - 1.5 * text);
                let n = 40_000;
                let clicks = (0..n).filter(|_| rng.uniform() < ctr).count() as u64;
                all.push(obs(v, id, sat, text, n, clicks));
            }
        }
        let e = effects(&all);
        let text = e.iter().find(|e| e.feature == "text_coverage").unwrap();
        assert!(text.interval.unwrap().1 < 0.0, "{text:?}");
        assert!(text.reading.contains("lower CTR"), "{}", text.reading);
        let sat = e.iter().find(|e| e.feature == "saturation_mean").unwrap();
        let (lo, hi) = sat.interval.unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{sat:?}");
        let few = effects(&all[..9]);
        assert!(few[0].reading.starts_with("too few videos"), "{:?}", few[0]);
        assert!(few[0].interval.is_none());
    }
}
