//! Display-matrix maths: which quarter turn makes a stored frame upright.
//!
//! Mirrors FFmpeg's `av_display_rotation_get` and the ffmpeg CLI's autorotate rule, in safe
//! Rust so it can be unit-tested without a video.

use crate::pixels::QuarterTurn;

/// The counter-clockwise rotation in degrees encoded in a 3x3 display matrix (16.16 fixed
/// point, row-major), exactly as `av_display_rotation_get` computes it.
pub(crate) fn matrix_rotation_degrees(m: &[i32; 9]) -> f64 {
    let fp = |v: i32| v as f64 / 65536.0;
    let scale0 = fp(m[0]).hypot(fp(m[3]));
    let scale1 = fp(m[1]).hypot(fp(m[4]));
    if scale0 == 0.0 || scale1 == 0.0 {
        return 0.0;
    }
    let rotation = (fp(m[1]) / scale1).atan2(fp(m[0]) / scale0).to_degrees();
    -rotation
}

/// The turn the ffmpeg CLI applies for a display-matrix rotation (its `get_rotation` rule):
/// theta = -rotation, normalised to [0, 360), then snapped to the nearest quarter turn.
pub(crate) fn upright_turn(rotation_degrees: f64) -> QuarterTurn {
    let mut theta = -rotation_degrees.round();
    theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
    match ((theta / 90.0).round() as i64).rem_euclid(4) {
        1 => QuarterTurn::Clockwise,
        2 => QuarterTurn::Half,
        3 => QuarterTurn::CounterClockwise,
        _ => QuarterTurn::None,
    }
}

/// Parses side-data bytes (nine native-endian `i32`) into a matrix.
pub(crate) fn parse_matrix(bytes: &[u8]) -> Option<[i32; 9]> {
    if bytes.len() < 36 {
        return None;
    }
    let mut m = [0i32; 9];
    for (i, v) in m.iter_mut().enumerate() {
        *v = i32::from_ne_bytes(bytes[i * 4..i * 4 + 4].try_into().ok()?);
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i32 = 1 << 16;

    #[test]
    fn identity_is_upright() {
        let m = [ONE, 0, 0, 0, ONE, 0, 0, 0, 1 << 30];
        assert_eq!(matrix_rotation_degrees(&m), 0.0);
        assert_eq!(upright_turn(0.0), QuarterTurn::None);
    }

    #[test]
    fn phone_portrait_matrix_matches_ffprobe_and_cli() {
        // The matrix FFmpeg writes for the `rotate=90` tag; ffprobe prints rotation=90 and the
        // CLI turns such frames 90° counter-clockwise (transpose=cclock).
        let m = [0, -ONE, 0, ONE, 0, 0, 0, 0, 1 << 30];
        assert_eq!(matrix_rotation_degrees(&m).round(), 90.0);
        assert_eq!(upright_turn(90.0), QuarterTurn::CounterClockwise);
        assert_eq!(upright_turn(-90.0), QuarterTurn::Clockwise);
        assert_eq!(upright_turn(180.0), QuarterTurn::Half);
        assert_eq!(upright_turn(-180.0), QuarterTurn::Half);
    }
}
