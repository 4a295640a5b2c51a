//! Pixel rectangles: layer boxes, faces, safe zones, dirty regions. One type, so overlap, union
//! and clipping are written once.

use serde::{Deserialize, Serialize};

/// A rectangle in pixels: the left and top edges (may be negative: a box can hang off the
/// canvas) and the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// The part of a `frame` (width, height) that `fit: cover` shows on a `canvas` (width,
    /// height), centred, and the canvas pixels per frame pixel. The compositor and the fitted
    /// keyframe conversion both crop here, so the two agree to the pixel.
    pub fn cover_crop(frame: (u32, u32), canvas: (u32, u32)) -> (Rect, f64) {
        let (fw, fh) = (frame.0 as f64, frame.1 as f64);
        let scale = (canvas.0 as f64 / fw).max(canvas.1 as f64 / fh);
        let crop_w = ((canvas.0 as f64 / scale).round() as u32).clamp(1, frame.0.max(1));
        let crop_h = ((canvas.1 as f64 / scale).round() as u32).clamp(1, frame.1.max(1));
        let x = frame.0.saturating_sub(crop_w) / 2;
        let y = frame.1.saturating_sub(crop_h) / 2;
        (Rect::new(x as i32, y as i32, crop_w, crop_h), scale)
    }

    /// A rectangle from its left, top, width and height.
    pub const fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Rect { x, y, width, height }
    }

    /// The box moved by (dx, dy).
    pub fn moved(self, dx: i32, dy: i32) -> Rect {
        Rect { x: self.x + dx, y: self.y + dy, ..self }
    }

    /// The right edge (exclusive).
    pub fn right(&self) -> i64 {
        self.x as i64 + self.width as i64
    }

    /// The bottom edge (exclusive).
    pub fn bottom(&self) -> i64 {
        self.y as i64 + self.height as i64
    }

    /// Whether it covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Area in pixels.
    pub fn area(&self) -> u64 {
        self.width as u64 * self.height as u64
    }

    /// Whether the two share at least one pixel (touching edges do not).
    pub fn overlaps(&self, other: &Rect) -> bool {
        !self.is_empty()
            && !other.is_empty()
            && (self.x as i64) < other.right()
            && (other.x as i64) < self.right()
            && (self.y as i64) < other.bottom()
            && (other.y as i64) < self.bottom()
    }

    /// The pixels both cover, if any.
    pub fn intersection(&self, other: &Rect) -> Option<Rect> {
        let x0 = (self.x as i64).max(other.x as i64);
        let y0 = (self.y as i64).max(other.y as i64);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0 as i32, y0 as i32, (x1 - x0) as u32, (y1 - y0) as u32))
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let x0 = (self.x as i64).min(other.x as i64);
        let y0 = (self.y as i64).min(other.y as i64);
        let x1 = self.right().max(other.right());
        let y1 = self.bottom().max(other.bottom());
        Rect::new(x0 as i32, y0 as i32, (x1 - x0) as u32, (y1 - y0) as u32)
    }

    /// The part inside a `width` x `height` canvas, if any.
    pub fn clip_to(&self, width: u32, height: u32) -> Option<Rect> {
        self.intersection(&Rect::new(0, 0, width, height))
    }
}

#[cfg(test)]
mod tests {
    use super::Rect;

    #[test]
    fn overlap_union_and_clip() {
        let a = Rect::new(0, 0, 10, 10);
        assert!(a.overlaps(&Rect::new(9, 9, 5, 5)));
        assert!(!a.overlaps(&Rect::new(10, 0, 5, 5)), "touching edges do not overlap");
        assert!(!a.overlaps(&Rect::new(3, 3, 0, 4)), "an empty box overlaps nothing");
        assert_eq!(a.intersection(&Rect::new(5, -5, 10, 10)), Some(Rect::new(5, 0, 5, 5)));
        assert_eq!(a.union(&Rect::new(-2, 4, 3, 20)), Rect::new(-2, 0, 12, 24));
        assert_eq!(Rect::new(-5, 95, 20, 10).clip_to(100, 100), Some(Rect::new(0, 95, 15, 5)));
        assert_eq!(Rect::new(100, 0, 5, 5).clip_to(100, 100), None);
    }
}
