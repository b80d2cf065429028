//! Blend modes, with the formulas of W3C *Compositing and Blending Level 1*, and their OpenRaster names.
//!
//! All functions take and return **premultiplied** `[r, g, b, a]` in `0..=1`; the source has already been
//! scaled by layer opacity and mask. Blending runs on sRGB-encoded values (see [`crate::color`]).

use multiversion::multiversion;
use serde::{Deserialize, Serialize};

use crate::color::Rgba8;
use crate::geom::TILE_PIXELS;
use crate::raster::TileData;

const TILE_FLOATS: usize = TILE_PIXELS * 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlendMode {
    #[default]
    Normal,
    Multiply,
    Screen,
    Overlay,
    Darken,
    Lighten,
    ColorDodge,
    ColorBurn,
    HardLight,
    SoftLight,
    Difference,
    Exclusion,
    /// Linear dodge / Porter-Duff plus.
    Add,
    Hue,
    Saturation,
    Color,
    Luminosity,
}

impl BlendMode {
    pub const ALL: [BlendMode; 17] = [
        BlendMode::Normal,
        BlendMode::Multiply,
        BlendMode::Screen,
        BlendMode::Overlay,
        BlendMode::Darken,
        BlendMode::Lighten,
        BlendMode::ColorDodge,
        BlendMode::ColorBurn,
        BlendMode::HardLight,
        BlendMode::SoftLight,
        BlendMode::Difference,
        BlendMode::Exclusion,
        BlendMode::Add,
        BlendMode::Hue,
        BlendMode::Saturation,
        BlendMode::Color,
        BlendMode::Luminosity,
    ];

    /// The OpenRaster `composite-op` for this mode.
    pub fn ora_name(self) -> &'static str {
        match self {
            BlendMode::Normal => "svg:src-over",
            BlendMode::Multiply => "svg:multiply",
            BlendMode::Screen => "svg:screen",
            BlendMode::Overlay => "svg:overlay",
            BlendMode::Darken => "svg:darken",
            BlendMode::Lighten => "svg:lighten",
            BlendMode::ColorDodge => "svg:color-dodge",
            BlendMode::ColorBurn => "svg:color-burn",
            BlendMode::HardLight => "svg:hard-light",
            BlendMode::SoftLight => "svg:soft-light",
            BlendMode::Difference => "svg:difference",
            BlendMode::Exclusion => "svg:exclusion",
            BlendMode::Add => "svg:plus",
            BlendMode::Hue => "svg:hue",
            BlendMode::Saturation => "svg:saturation",
            BlendMode::Color => "svg:color",
            BlendMode::Luminosity => "svg:luminosity",
        }
    }

    pub fn from_ora_name(name: &str) -> Option<BlendMode> {
        BlendMode::ALL.into_iter().find(|m| m.ora_name() == name)
    }

    /// The name an artist reads in the layer panel.
    pub fn label(self) -> &'static str {
        match self {
            BlendMode::Normal => "Normal",
            BlendMode::Multiply => "Multiply",
            BlendMode::Screen => "Screen",
            BlendMode::Overlay => "Overlay",
            BlendMode::Darken => "Darken",
            BlendMode::Lighten => "Lighten",
            BlendMode::ColorDodge => "Color Dodge",
            BlendMode::ColorBurn => "Color Burn",
            BlendMode::HardLight => "Hard Light",
            BlendMode::SoftLight => "Soft Light",
            BlendMode::Difference => "Difference",
            BlendMode::Exclusion => "Exclusion",
            BlendMode::Add => "Add (Linear Dodge)",
            BlendMode::Hue => "Hue",
            BlendMode::Saturation => "Saturation",
            BlendMode::Color => "Color",
            BlendMode::Luminosity => "Luminosity",
        }
    }

    fn separable(self) -> Option<fn(f32, f32) -> f32> {
        Some(match self {
            BlendMode::Normal => |_, s| s,
            BlendMode::Multiply => |b, s| b * s,
            BlendMode::Screen => screen,
            BlendMode::Overlay => |b, s| hard_light(s, b),
            BlendMode::Darken => f32::min,
            BlendMode::Lighten => f32::max,
            BlendMode::ColorDodge => color_dodge,
            BlendMode::ColorBurn => color_burn,
            BlendMode::HardLight => hard_light,
            BlendMode::SoftLight => soft_light,
            BlendMode::Difference => |b, s| (b - s).abs(),
            BlendMode::Exclusion => |b, s| b + s - 2.0 * b * s,
            // Linear dodge as a blend function; source-over uses Porter-Duff plus instead (see blend_pixel).
            BlendMode::Add => |b, s| (b + s).min(1.0),
            _ => return None,
        })
    }
}

fn screen(b: f32, s: f32) -> f32 {
    b + s - b * s
}

fn hard_light(b: f32, s: f32) -> f32 {
    if s <= 0.5 { b * 2.0 * s } else { screen(b, 2.0 * s - 1.0) }
}

fn color_dodge(b: f32, s: f32) -> f32 {
    if b == 0.0 {
        0.0
    } else if s >= 1.0 {
        1.0
    } else {
        (b / (1.0 - s)).min(1.0)
    }
}

fn color_burn(b: f32, s: f32) -> f32 {
    if b >= 1.0 {
        1.0
    } else if s <= 0.0 {
        0.0
    } else {
        1.0 - ((1.0 - b) / s).min(1.0)
    }
}

fn soft_light(b: f32, s: f32) -> f32 {
    if s <= 0.5 {
        b - (1.0 - 2.0 * s) * b * (1.0 - b)
    } else {
        let d = if b <= 0.25 { ((16.0 * b - 12.0) * b + 4.0) * b } else { b.sqrt() };
        b + (2.0 * s - 1.0) * (d - b)
    }
}

type Rgb = [f32; 3];

fn lum(c: Rgb) -> f32 {
    0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]
}

fn clip_color(c: Rgb) -> Rgb {
    let l = lum(c);
    let n = c[0].min(c[1]).min(c[2]);
    let x = c[0].max(c[1]).max(c[2]);
    let mut o = c;
    if n < 0.0 {
        o = o.map(|v| l + (v - l) * l / (l - n));
    }
    if x > 1.0 {
        o = o.map(|v| l + (v - l) * (1.0 - l) / (x - l));
    }
    o
}

fn set_lum(c: Rgb, l: f32) -> Rgb {
    let d = l - lum(c);
    clip_color(c.map(|v| v + d))
}

fn sat(c: Rgb) -> f32 {
    c[0].max(c[1]).max(c[2]) - c[0].min(c[1]).min(c[2])
}

fn set_sat(c: Rgb, s: f32) -> Rgb {
    let mut idx = [0usize, 1, 2];
    idx.sort_by(|&a, &b| c[a].total_cmp(&c[b]));
    let (min, mid, max) = (idx[0], idx[1], idx[2]);
    let mut o = [0.0; 3];
    if c[max] > c[min] {
        o[mid] = (c[mid] - c[min]) * s / (c[max] - c[min]);
        o[max] = s;
    }
    o
}

fn non_separable(mode: BlendMode, b: Rgb, s: Rgb) -> Rgb {
    match mode {
        BlendMode::Hue => set_lum(set_sat(s, sat(b)), lum(b)),
        BlendMode::Saturation => set_lum(set_sat(b, sat(s)), lum(b)),
        BlendMode::Color => set_lum(s, lum(b)),
        _ => set_lum(b, lum(s)),
    }
}

fn unpremul(p: &[f32]) -> Rgb {
    if p[3] <= 0.0 { [0.0; 3] } else { [p[0] / p[3], p[1] / p[3], p[2] / p[3]].map(|v| v.clamp(0.0, 1.0)) }
}

/// `B(Cb, Cs)` of the W3C spec on un-premultiplied colours.
pub fn blend_colors(mode: BlendMode, cb: Rgb, cs: Rgb) -> Rgb {
    match mode.separable() {
        Some(f) => [f(cb[0], cs[0]), f(cb[1], cs[1]), f(cb[2], cs[2])],
        None => non_separable(mode, cb, cs),
    }
}

/// Composites one premultiplied source pixel over a premultiplied backdrop (source-over with blending).
#[inline]
pub fn blend_pixel(mode: BlendMode, b: [f32; 4], s: [f32; 4]) -> [f32; 4] {
    let (ab, as_) = (b[3], s[3]);
    match mode {
        BlendMode::Normal => {
            let k = 1.0 - as_;
            [s[0] + b[0] * k, s[1] + b[1] * k, s[2] + b[2] * k, as_ + ab * k]
        }
        BlendMode::Add => [(s[0] + b[0]).min(1.0), (s[1] + b[1]).min(1.0), (s[2] + b[2]).min(1.0), (as_ + ab).min(1.0)],
        _ => {
            if as_ <= 0.0 {
                return b;
            }
            let mixed = blend_colors(mode, unpremul(&b), unpremul(&s));
            let ao = as_ + ab - as_ * ab;
            let c = |i: usize| s[i] * (1.0 - ab) + b[i] * (1.0 - as_) + as_ * ab * mixed[i];
            [c(0), c(1), c(2), ao]
        }
    }
}

/// Source-atop with blending: paints `s` onto `b` only where `b` has alpha; the alpha stays `b`'s.
/// This is how a clipped layer lands on its base.
#[inline]
pub fn blend_pixel_atop(mode: BlendMode, b: [f32; 4], s: [f32; 4]) -> [f32; 4] {
    let (ab, as_) = (b[3], s[3]);
    if as_ <= 0.0 || ab <= 0.0 {
        return b;
    }
    let cs = unpremul(&s);
    let mixed = blend_colors(mode, unpremul(&b), cs);
    let c = |i: usize| {
        let blended = as_ * ((1.0 - ab) * cs[i] + ab * mixed[i]).clamp(0.0, 1.0);
        blended * ab + b[i] * (1.0 - as_)
    };
    [c(0), c(1), c(2), ab]
}

/// Blends source pixels `src(i)` (premultiplied, opacity and mask applied) onto the interleaved buffer `acc`.
/// The mode is matched once and each arm is a monomorphized loop, so the hot path has no per-pixel dispatch.
#[inline(always)]
fn blend_with<S: Fn(usize) -> [f32; 4]>(mode: BlendMode, acc: &mut [f32], src: S) {
    match mode {
        BlendMode::Normal => {
            for (i, b) in acc.chunks_exact_mut(4).enumerate() {
                let s = src(i);
                let k = 1.0 - s[3];
                b[0] = s[0] + b[0] * k;
                b[1] = s[1] + b[1] * k;
                b[2] = s[2] + b[2] * k;
                b[3] = s[3] + b[3] * k;
            }
        }
        BlendMode::Add => {
            for (i, b) in acc.chunks_exact_mut(4).enumerate() {
                let s = src(i);
                for c in 0..4 {
                    b[c] = (s[c] + b[c]).min(1.0);
                }
            }
        }
        BlendMode::Multiply => separable(acc, src, |b, s| b * s),
        BlendMode::Screen => separable(acc, src, screen),
        BlendMode::Overlay => separable(acc, src, |b, s| hard_light(s, b)),
        BlendMode::Darken => separable(acc, src, f32::min),
        BlendMode::Lighten => separable(acc, src, f32::max),
        BlendMode::ColorDodge => separable(acc, src, color_dodge),
        BlendMode::ColorBurn => separable(acc, src, color_burn),
        BlendMode::HardLight => separable(acc, src, hard_light),
        BlendMode::SoftLight => separable(acc, src, soft_light),
        BlendMode::Difference => separable(acc, src, |b, s| (b - s).abs()),
        BlendMode::Exclusion => separable(acc, src, |b, s| b + s - 2.0 * b * s),
        _ => {
            for (i, b) in acc.chunks_exact_mut(4).enumerate() {
                let s = src(i);
                if s[3] > 0.0 {
                    let o = blend_pixel(mode, [b[0], b[1], b[2], b[3]], s);
                    b.copy_from_slice(&o);
                }
            }
        }
    }
}

/// The W3C formula for a separable `B`: `co = cs·(1−αb) + cb·(1−αs) + αs·αb·B(Cb, Cs)`.
/// Branch-free so it vectorizes: a zero alpha makes its colour zero, so dividing by a tiny value instead is exact.
#[inline(always)]
fn separable<S: Fn(usize) -> [f32; 4], F: Fn(f32, f32) -> f32>(acc: &mut [f32], src: S, f: F) {
    for (i, b) in acc.chunks_exact_mut(4).enumerate() {
        let s = src(i);
        let (ab, as_) = (b[3], s[3]);
        let ib = 1.0 / ab.max(1e-30);
        let is = 1.0 / as_.max(1e-30);
        let k = as_ * ab;
        for c in 0..3 {
            let mixed = f((b[c] * ib).clamp(0.0, 1.0), (s[c] * is).clamp(0.0, 1.0));
            b[c] = s[c] * (1.0 - ab) + b[c] * (1.0 - as_) + k * mixed;
        }
        b[3] = as_ + ab - k;
    }
}

/// Source-atop with blending over a buffer, for layers clipped to a base: see [`blend_pixel_atop`].
#[inline(always)]
fn blend_atop_with<S: Fn(usize) -> [f32; 4]>(mode: BlendMode, acc: &mut [f32], src: S) {
    match mode {
        BlendMode::Normal => separable_atop(acc, src, |_, s| s),
        BlendMode::Multiply => separable_atop(acc, src, |b, s| b * s),
        BlendMode::Screen => separable_atop(acc, src, screen),
        BlendMode::Overlay => separable_atop(acc, src, |b, s| hard_light(s, b)),
        BlendMode::Add => separable_atop(acc, src, |b, s| (b + s).min(1.0)),
        _ => {
            for (i, b) in acc.chunks_exact_mut(4).enumerate() {
                let s = src(i);
                if s[3] > 0.0 && b[3] > 0.0 {
                    let o = blend_pixel_atop(mode, [b[0], b[1], b[2], b[3]], s);
                    b.copy_from_slice(&o);
                }
            }
        }
    }
}

#[inline(always)]
fn separable_atop<S: Fn(usize) -> [f32; 4], F: Fn(f32, f32) -> f32>(acc: &mut [f32], src: S, f: F) {
    for (i, b) in acc.chunks_exact_mut(4).enumerate() {
        let s = src(i);
        let (ab, as_) = (b[3], s[3]);
        let ib = 1.0 / ab.max(1e-30);
        let is = 1.0 / as_.max(1e-30);
        for c in 0..3 {
            let cs = (s[c] * is).clamp(0.0, 1.0);
            let mixed = f((b[c] * ib).clamp(0.0, 1.0), cs);
            let blended = (as_ * ((1.0 - ab) * cs + ab * mixed)).clamp(0.0, 1.0);
            b[c] = blended * ab + b[c] * (1.0 - as_);
        }
    }
}

/// Where a tile's source pixels come from.
pub enum TileSource<'a> {
    /// Stored premultiplied bytes, scaled by `k` (opacity / 255).
    Bytes { px: &'a TileData<Rgba8>, k: f32 },
    /// Stored bytes scaled by `k` and a mask tile.
    Masked { px: &'a TileData<Rgba8>, k: f32, mask: &'a TileData<u8> },
    /// An `f32` buffer already scaled, of any length.
    Float(&'a [f32]),
}

/// Blends one tile of source pixels onto `acc`, over (`atop = false`) or clipped (`atop = true`).
/// Compiled for AVX2+FMA as well as the baseline and picked at run time: the compositor's hot loop.
/// Tile-sized arrays let the compiler drop bounds checks and vectorize.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub fn blend_tile(mode: BlendMode, acc: &mut [f32], src: &TileSource, atop: bool) {
    const M: f32 = 1.0 / 255.0;
    if acc.len() == TILE_FLOATS {
        let Ok(acc) = <&mut [f32; TILE_FLOATS]>::try_from(acc) else { return };
        match (*src, atop) {
            (TileSource::Bytes { px, k }, false) => blend_with(mode, acc, |i| px[i].map(|v| v as f32 * k)),
            (TileSource::Bytes { px, k }, true) => blend_atop_with(mode, acc, |i| px[i].map(|v| v as f32 * k)),
            (TileSource::Masked { px, k, mask }, false) => {
                blend_with(mode, acc, |i| px[i].map(|v| v as f32 * k * (mask[i] as f32 * M)))
            }
            (TileSource::Masked { px, k, mask }, true) => {
                blend_atop_with(mode, acc, |i| px[i].map(|v| v as f32 * k * (mask[i] as f32 * M)))
            }
            (TileSource::Float(f), atop) => {
                let Ok(f) = <&[f32; TILE_FLOATS]>::try_from(f) else { return };
                let px = |i: usize| [f[4 * i], f[4 * i + 1], f[4 * i + 2], f[4 * i + 3]];
                if atop { blend_atop_with(mode, acc, px) } else { blend_with(mode, acc, px) }
            }
        }
        return;
    }
    // Buffers of other lengths (tests, callers blending a few pixels) take the same loops over slices.
    if let TileSource::Float(f) = *src {
        let n = acc.len().min(f.len()) / 4 * 4;
        let (acc, f) = (&mut acc[..n], &f[..n]);
        let px = |i: usize| [f[4 * i], f[4 * i + 1], f[4 * i + 2], f[4 * i + 3]];
        if atop { blend_atop_with(mode, acc, px) } else { blend_with(mode, acc, px) }
    }
}

impl Clone for TileSource<'_> {
    fn clone(&self) -> Self {
        *self
    }
}
impl Copy for TileSource<'_> {}

/// Blends a whole premultiplied buffer `src` onto `acc` (both `[r,g,b,a]` interleaved).
pub fn blend_buffer(mode: BlendMode, acc: &mut [f32], src: &[f32]) {
    blend_tile(mode, acc, &TileSource::Float(src), false);
}

/// Clips every pixel of `src` onto `acc` with [`blend_pixel_atop`].
pub fn blend_buffer_atop(mode: BlendMode, acc: &mut [f32], src: &[f32]) {
    blend_tile(mode, acc, &TileSource::Float(src), true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ora_names_round_trip_and_are_unique() {
        for m in BlendMode::ALL {
            assert_eq!(BlendMode::from_ora_name(m.ora_name()), Some(m));
        }
        assert_eq!(BlendMode::from_ora_name("krita:unknown"), None);
    }

    #[test]
    fn opaque_normal_replaces_and_transparent_source_keeps_backdrop() {
        for m in BlendMode::ALL {
            let b = [0.2, 0.4, 0.6, 1.0];
            assert_eq!(blend_pixel(m, b, [0.0; 4]), b, "{m:?}");
        }
        assert_eq!(blend_pixel(BlendMode::Normal, [0.2, 0.4, 0.6, 1.0], [1.0, 0.0, 0.0, 1.0]), [1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn buffer_paths_equal_the_pixel_formula() {
        let px = |i: u32| {
            let v = i.wrapping_mul(2654435761);
            let a = (v >> 24) as f32 / 255.0;
            [
                ((v & 255) as f32 / 255.0) * a,
                (((v >> 8) & 255) as f32 / 255.0) * a,
                (((v >> 16) & 255) as f32 / 255.0) * a,
                a,
            ]
        };
        for m in BlendMode::ALL {
            let mut acc: Vec<f32> = (0..64).flat_map(|i| px(i + 1000)).collect();
            let src: Vec<f32> = (0..64).flat_map(px).collect();
            let expect: Vec<f32> = (0..64).flat_map(|i| blend_pixel(m, px(i as u32 + 1000), px(i as u32))).collect();
            blend_buffer(m, &mut acc, &src);
            for (a, e) in acc.iter().zip(&expect) {
                assert!((a - e).abs() < 1e-5, "{m:?}: {a} vs {e}");
            }
            let mut acc: Vec<f32> = (0..64).flat_map(|i| px(i + 1000)).collect();
            let expect: Vec<f32> =
                (0..64).flat_map(|i| blend_pixel_atop(m, px(i as u32 + 1000), px(i as u32))).collect();
            blend_buffer_atop(m, &mut acc, &src);
            for (a, e) in acc.iter().zip(&expect) {
                assert!((a - e).abs() < 1e-5, "atop {m:?}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn atop_keeps_backdrop_alpha() {
        let o = blend_pixel_atop(BlendMode::Normal, [0.25, 0.25, 0.25, 0.5], [1.0, 0.0, 0.0, 1.0]);
        assert_eq!(o, [0.5, 0.0, 0.0, 0.5]);
    }
}
