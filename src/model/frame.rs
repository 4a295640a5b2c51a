//! Which frame a cover uses, as metadata and the command line say it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which frame the cover uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum FrameSpec {
    /// The first of several keyframes spread over the video that is well exposed, with
    /// contrast and sharp (see the `keyframe` module docs): one decode for most videos.
    #[default]
    Auto,
    /// Score all of those keyframes (also on how calm the frame is under the text) and keep
    /// the best: a keyframe decode for each.
    Best,
    /// The keyframe at or before this many seconds.
    Seconds(f64),
    /// The keyframe at or before this fraction of the duration, in percent.
    Percent(f64),
}

impl std::str::FromStr for FrameSpec {
    type Err = String;

    /// Parses `auto`, `5.5`, `5.5s`, `00:00:05.5`, `1:05` or `40%`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!("frame `{s}` is not `auto`, `best`, seconds (`5.5` or `5.5s`), a time (`00:00:05.5`) or a percentage (`40%`)")
        };
        if t.eq_ignore_ascii_case("auto") {
            return Ok(FrameSpec::Auto);
        }
        if t.eq_ignore_ascii_case("best") {
            return Ok(FrameSpec::Best);
        }
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("frame `{s}`: percentage must be between 0% and 100%"));
            }
            return Ok(FrameSpec::Percent(p));
        }
        let secs = if t.contains(':') {
            let mut total = 0.0;
            let parts: Vec<&str> = t.split(':').collect();
            if parts.len() > 3 {
                return Err(bad());
            }
            for part in parts {
                let v: f64 = part.parse().map_err(|_| bad())?;
                total = total * 60.0 + v;
            }
            total
        } else {
            t.strip_suffix('s').unwrap_or(t).trim().parse().map_err(|_| bad())?
        };
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("frame `{s}`: time must be zero or positive"));
        }
        Ok(FrameSpec::Seconds(secs))
    }
}

impl fmt::Display for FrameSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSpec::Auto => write!(f, "auto"),
            FrameSpec::Best => write!(f, "best"),
            FrameSpec::Seconds(s) => write!(f, "{s}s"),
            FrameSpec::Percent(p) => write!(f, "{p}%"),
        }
    }
}
