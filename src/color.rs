//! Colours as the layout speaks them: straight (non-premultiplied) RGBA, 8 bits a channel.
//!
//! Templates write `#RRGGBB` or `#RRGGBBAA`; everything after the layout stage sees [`Rgba`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A straight-alpha RGBA colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgba {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
    /// Alpha, 0 (transparent) – 255 (opaque).
    pub a: u8,
}

impl Rgba {
    /// An opaque colour.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Rgba { r, g, b, a: 255 }
    }
    /// Opaque black.
    pub const BLACK: Rgba = Rgba::rgb(0, 0, 0);
    /// Opaque white.
    pub const WHITE: Rgba = Rgba::rgb(255, 255, 255);
}

impl FromStr for Rgba {
    type Err = String;

    /// Parses `#RRGGBB` or `#RRGGBBAA` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("colour `{s}` is not #RRGGBB or #RRGGBBAA");
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgba { r: byte(0)?, g: byte(2)?, b: byte(4)?, a: if hex.len() == 8 { byte(6)? } else { 255 } })
    }
}

impl fmt::Display for Rgba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.a == 255 {
            write!(f, "#{:02X}{:02X}{:02X}", self.r, self.g, self.b)
        } else {
            write!(f, "#{:02X}{:02X}{:02X}{:02X}", self.r, self.g, self.b, self.a)
        }
    }
}

impl Serialize for Rgba {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rgba {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// sRGB channel (0–255) to linear light (0–1), as WCAG defines it.
pub fn linear(c: u8) -> f64 {
    let c = c as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// WCAG relative luminance of an opaque colour (0 black – 1 white).
pub fn luminance(c: Rgba) -> f64 {
    0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b)
}

/// WCAG contrast ratio of two relative luminances (1–21).
pub fn contrast(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_round_trips() {
        assert_eq!("#ff8000".parse::<Rgba>().unwrap(), Rgba::rgb(255, 128, 0));
        let c: Rgba = "#00000080".parse().unwrap();
        assert_eq!(c.a, 0x80);
        assert_eq!(c.to_string(), "#00000080");
        assert_eq!(Rgba::WHITE.to_string(), "#FFFFFF");
    }

    #[test]
    fn wcag_contrast_matches_the_reference_values() {
        let ratio = contrast(luminance(Rgba::WHITE), luminance(Rgba::BLACK));
        assert!((ratio - 21.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        let grey = contrast(luminance(Rgba::rgb(0x76, 0x76, 0x76)), luminance(Rgba::WHITE));
        assert!((grey - 4.54).abs() < 0.01, "{grey}");
    }

    #[test]
    fn rejects_other_forms_quoting_the_value() {
        for bad in ["red", "#fff", "#12345", "#GGGGGG", "ff8000", "#ff8000ff00"] {
            let err = bad.parse::<Rgba>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
