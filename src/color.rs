//! Pixels and colours.
//!
//! Pixel format: every raster layer stores **8-bit premultiplied RGBA in sRGB-encoded values**, as Krita and
//! Clip Studio Paint do for an 8-bit sRGB document. Blending happens on those encoded values (not in linear
//! light), so multiply, screen and overlay look the way artists expect and Krita shows our files the same.
//! The compositor accumulates in `f32` so a deep stack does not lose precision between layers.

/// A premultiplied RGBA8 pixel.
pub type Rgba8 = [u8; 4];

/// Transparent black.
pub const CLEAR: Rgba8 = [0, 0, 0, 0];

/// `a·b/255` rounded to nearest, exact for all u8 inputs.
#[inline]
pub fn mul255(a: u32, b: u32) -> u32 {
    let t = a * b + 128;
    (t + (t >> 8)) >> 8
}

/// Straight (non-premultiplied) RGBA8 to premultiplied.
#[inline]
pub fn premultiply(c: [u8; 4]) -> Rgba8 {
    let a = c[3] as u32;
    [mul255(c[0] as u32, a) as u8, mul255(c[1] as u32, a) as u8, mul255(c[2] as u32, a) as u8, c[3]]
}

/// Premultiplied RGBA8 back to straight, rounding to nearest.
#[inline]
pub fn unpremultiply(p: Rgba8) -> [u8; 4] {
    let a = p[3] as u32;
    if a == 0 {
        return [0, 0, 0, 0];
    }
    let un = |c: u8| (((c as u32).min(a) * 255 + a / 2) / a) as u8;
    [un(p[0]), un(p[1]), un(p[2]), p[3]]
}

/// A straight-alpha colour with components in `0..=1`, as a colour picker holds it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Color {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}

impl Color {
    pub const BLACK: Color = Color { r: 0.0, g: 0.0, b: 0.0, a: 1.0 };
    pub const WHITE: Color = Color { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };

    pub fn rgb(r: f32, g: f32, b: f32) -> Color {
        Color { r, g, b, a: 1.0 }
    }

    pub fn from_straight8(c: [u8; 4]) -> Color {
        let f = |v: u8| v as f32 / 255.0;
        Color { r: f(c[0]), g: f(c[1]), b: f(c[2]), a: f(c[3]) }
    }

    pub fn from_premul8(p: Rgba8) -> Color {
        Color::from_straight8(unpremultiply(p))
    }

    pub fn to_straight8(self) -> [u8; 4] {
        let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        [q(self.r), q(self.g), q(self.b), q(self.a)]
    }

    pub fn to_premul8(self) -> Rgba8 {
        premultiply(self.to_straight8())
    }

    /// Premultiplied components as `f32` in `0..=1`.
    pub fn premul_f32(self) -> [f32; 4] {
        let a = self.a.clamp(0.0, 1.0);
        [self.r.clamp(0.0, 1.0) * a, self.g.clamp(0.0, 1.0) * a, self.b.clamp(0.0, 1.0) * a, a]
    }

    /// Rec. 601 luma of the encoded values, used when a colour paints into a grey mask.
    pub fn gray(self) -> f32 {
        (0.299 * self.r + 0.587 * self.g + 0.114 * self.b).clamp(0.0, 1.0)
    }

    /// Parses `#rgb`, `#rrggbb` or `#rrggbbaa`.
    pub fn from_hex(s: &str) -> Option<Color> {
        let h = s.strip_prefix('#').unwrap_or(s);
        let nib = |i: usize| u8::from_str_radix(h.get(i..i + 1)?, 16).ok();
        let byte = |i: usize| u8::from_str_radix(h.get(i..i + 2)?, 16).ok();
        let c = match h.len() {
            3 => [nib(0)? * 17, nib(1)? * 17, nib(2)? * 17, 255],
            6 => [byte(0)?, byte(2)?, byte(4)?, 255],
            8 => [byte(0)?, byte(2)?, byte(4)?, byte(6)?],
            _ => return None,
        };
        Some(Color::from_straight8(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul255_is_exact() {
        for a in 0..=255u32 {
            for b in 0..=255u32 {
                assert_eq!(mul255(a, b), ((a * b) as f64 / 255.0).round() as u32);
            }
        }
    }

    #[test]
    fn premultiply_round_trips_opaque_and_keeps_bounds() {
        for v in 0..=255u8 {
            assert_eq!(unpremultiply(premultiply([v, 255 - v, 7, 255])), [v, 255 - v, 7, 255]);
            let p = premultiply([255, v, 0, v]);
            assert!(p[0] <= p[3] && p[1] <= p[3]);
        }
        assert_eq!(Color::from_hex("#ff8000").unwrap().to_straight8(), [255, 128, 0, 255]);
        assert!(Color::from_hex("#zz").is_none());
    }
}
