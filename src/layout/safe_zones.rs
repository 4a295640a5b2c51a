//! Platform safe zones: the parts of a cover that a platform's UI covers (top bar, caption area,
//! right-hand buttons, duration badge). Text and QR layers are kept out of them; a layer that
//! cannot be moved clear is reported as a finding.
//!
//! Profiles are fractions of the canvas, so they scale with it; a template may also list its
//! own zones in pixels.

use crate::model::Rect;
use serde::{Deserialize, Serialize};

/// A no-go rectangle in canvas pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// What covers it (e.g. `douyin: right-hand buttons`).
    pub name: String,
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Known platform profiles.
pub const PROFILES: &[&str] = &["douyin", "tiktok", "youtube-shorts", "bilibili"];

/// The zones of a platform profile for a canvas, or `None` for an unknown profile.
pub fn profile(name: &str, width: u32, height: u32) -> Option<Vec<Zone>> {
    // (name, x, y, w, h) as fractions of the canvas.
    let fractions: &[(&str, f64, f64, f64, f64)] = match name {
        "douyin" | "tiktok" => &[
            ("top bar", 0.0, 0.0, 1.0, 0.075),
            ("caption and music bar", 0.0, 0.85, 1.0, 0.15),
            ("right-hand buttons", 0.875, 0.45, 0.125, 0.40),
        ],
        "youtube-shorts" => &[
            ("top bar", 0.0, 0.0, 1.0, 0.08),
            ("title and channel bar", 0.0, 0.80, 1.0, 0.20),
            ("right-hand buttons", 0.87, 0.50, 0.13, 0.30),
        ],
        "bilibili" => &[("play count and duration bar", 0.0, 0.86, 1.0, 0.14)],
        _ => return None,
    };
    Some(
        fractions
            .iter()
            .map(|&(what, x, y, w, h)| Zone {
                name: format!("{name}: {what}"),
                x: (x * width as f64).round() as i32,
                y: (y * height as f64).round() as i32,
                width: (w * width as f64).round() as u32,
                height: (h * height as f64).round() as u32,
            })
            .collect(),
    )
}

fn overlaps(b: &Rect, z: &Zone) -> bool {
    b.width > 0
        && b.height > 0
        && b.x < z.x + z.width as i32
        && z.x < b.x + b.width as i32
        && b.y < z.y + z.height as i32
        && z.y < b.y + b.height as i32
}

/// The box moved clear of every zone by the smallest shift (up, down, left or right past an
/// offending zone) that keeps it inside the canvas; the zone in the way when there is none.
pub fn keep_out(b: Rect, zones: &[Zone], canvas_w: u32, canvas_h: u32) -> Result<Rect, &Zone> {
    let Some(first) = zones.iter().find(|z| overlaps(&b, z)) else { return Ok(b) };
    let inside = |c: &Rect| {
        c.x >= 0
            && c.y >= 0
            && c.x + c.width as i32 <= canvas_w as i32
            && c.y + c.height as i32 <= canvas_h as i32
    };
    let mut candidates: Vec<Rect> = Vec::new();
    for z in zones.iter().filter(|z| overlaps(&b, z)) {
        candidates.push(Rect { y: z.y - b.height as i32, ..b });
        candidates.push(Rect { y: z.y + z.height as i32, ..b });
        candidates.push(Rect { x: z.x - b.width as i32, ..b });
        candidates.push(Rect { x: z.x + z.width as i32, ..b });
    }
    candidates.sort_by_key(|c| (c.x - b.x).abs() + (c.y - b.y).abs());
    candidates.into_iter().find(|c| inside(c) && !zones.iter().any(|z| overlaps(c, z))).ok_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_move_the_shortest_way_out() {
        let zones = profile("douyin", 1080, 1920).unwrap();
        // A QR code under the right-hand buttons moves left, just clear of them.
        let qr = Rect { x: 800, y: 1300, width: 200, height: 200 };
        let moved = keep_out(qr, &zones, 1080, 1920).unwrap();
        assert_eq!((moved.x, moved.y), (945 - 200, 1300));
        // A box in the clear stays put.
        let clear = Rect { x: 64, y: 1000, width: 500, height: 100 };
        assert_eq!(keep_out(clear, &zones, 1080, 1920).unwrap(), clear);
        // A box taller than the room between the zones cannot be kept out.
        let tall = Rect { x: 0, y: 0, width: 1080, height: 1900 };
        assert!(keep_out(tall, &zones, 1080, 1920).is_err());
    }
}
