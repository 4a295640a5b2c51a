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
    fn rejects_other_forms_quoting_the_value() {
        for bad in ["red", "#fff", "#12345", "#GGGGGG", "ff8000", "#ff8000ff00"] {
            let err = bad.parse::<Rgba>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
