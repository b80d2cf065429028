//! Free transform: resampling a layer's pixels through an affine map (scale, rotate, skew, move), with
//! bilinear filtering on premultiplied values so edges do not darken.

use serde::{Deserialize, Serialize};

use crate::geom::{Rect, TILE};
use crate::raster::{Pixel, Tiled};

/// `x' = a·x + b·y + c`, `y' = d·x + e·y + f`: from source to destination canvas pixels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    pub const IDENTITY: Affine = Affine { a: 1.0, b: 0.0, c: 0.0, d: 0.0, e: 1.0, f: 0.0 };

    pub fn translate(dx: f32, dy: f32) -> Affine {
        Affine { c: dx, f: dy, ..Affine::IDENTITY }
    }

    /// Scales by `sx`, `sy` and rotates by `degrees` (clockwise on screen) about `(cx, cy)`.
    pub fn about(cx: f32, cy: f32, sx: f32, sy: f32, degrees: f32) -> Affine {
        let (s, c) = degrees.to_radians().sin_cos();
        let m = Affine { a: c * sx, b: -s * sy, c: 0.0, d: s * sx, e: c * sy, f: 0.0 };
        Affine::translate(-cx, -cy).then(&m).then(&Affine::translate(cx, cy))
    }

    /// `self` first, then `next`.
    pub fn then(&self, next: &Affine) -> Affine {
        let n = next;
        Affine {
            a: n.a * self.a + n.b * self.d,
            b: n.a * self.b + n.b * self.e,
            c: n.a * self.c + n.b * self.f + n.c,
            d: n.d * self.a + n.e * self.d,
            e: n.d * self.b + n.e * self.e,
            f: n.d * self.c + n.e * self.f + n.f,
        }
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f)
    }

    /// The inverse map; `None` when the map squashes everything to a line or is not finite.
    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if !det.is_finite() || det.abs() < 1e-6 {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        let inv = Affine { a, b, c: -(a * self.c + b * self.f), d, e, f: -(d * self.c + e * self.f) };
        [inv.a, inv.b, inv.c, inv.d, inv.e, inv.f].iter().all(|v| v.is_finite()).then_some(inv)
    }

    /// Bounds of `r` after the map.
    pub fn map_rect(&self, r: Rect) -> Rect {
        let pts = [(r.x0, r.y0), (r.x1, r.y0), (r.x0, r.y1), (r.x1, r.y1)].map(|(x, y)| self.apply(x as f32, y as f32));
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for (x, y) in pts {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let c = |v: f32| v.clamp(-1.0e6, 1.0e6);
        Rect::new(c(x0).floor() as i32, c(y0).floor() as i32, c(x1).ceil() as i32, c(y1).ceil() as i32)
    }
}

/// Channels a resampled pixel is interpolated in.
pub trait Channels: Pixel {
    fn to_f(self) -> [f32; 4];
    fn from_f(v: [f32; 4]) -> Self;
}

impl Channels for [u8; 4] {
    fn to_f(self) -> [f32; 4] {
        self.map(|c| c as f32)
    }
    fn from_f(v: [f32; 4]) -> Self {
        let a = (v[3] + 0.5).clamp(0.0, 255.0) as u8;
        let c = |x: f32| ((x + 0.5).clamp(0.0, 255.0) as u8).min(a);
        [c(v[0]), c(v[1]), c(v[2]), a]
    }
}

impl Channels for u8 {
    fn to_f(self) -> [f32; 4] {
        [self as f32, 0.0, 0.0, 0.0]
    }
    fn from_f(v: [f32; 4]) -> Self {
        (v[0] + 0.5).clamp(0.0, 255.0) as u8
    }
}

/// `src` resampled through `map`, limited to `limit` (so a wild scale cannot allocate without bound).
/// Outside the source, pixels read as its default value. Bilinear, pixel centres at +0.5. Worked out one tile
/// row (64 lines) at a time, the lines in parallel: a drag of the free transform resamples the whole layer.
pub fn transform_tiled<P: Channels + Send + Sync>(src: &Tiled<P>, map: &Affine, limit: Rect) -> Option<Tiled<P>> {
    use rayon::prelude::*;
    let inv = map.inverse()?;
    let default = src.default_value();
    let from = src.content_bounds();
    let mut out = Tiled::new(default);
    if from.is_empty() {
        return Some(out);
    }
    let to = map.map_rect(from.inflate(1)).intersect(&limit);
    if to.is_empty() {
        return Some(out);
    }
    let data = src.read_rect(from);
    let w = from.width() as usize;
    let fallback = default.to_f();
    let at = |x: i32, y: i32| -> [f32; 4] {
        if from.contains(x, y) { data[(y - from.y0) as usize * w + (x - from.x0) as usize].to_f() } else { fallback }
    };
    let sample = |x: i32, y: i32| -> P {
        let (u, v) = inv.apply(x as f32 + 0.5, y as f32 + 0.5);
        let (u, v) = (u - 0.5, v - 0.5);
        // floor without a libm call (x86-64's baseline has no rounding instruction)
        let floor = |t: f32| {
            let i = t as i32;
            if (i as f32) > t { i - 1 } else { i }
        };
        let (x0, y0) = (floor(u), floor(v));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        if x0 + 1 < from.x0 || y0 + 1 < from.y0 || x0 >= from.x1 || y0 >= from.y1 {
            return default; // all four taps outside the source
        }
        let (p00, p10, p01, p11) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
        let mix: [f32; 4] = std::array::from_fn(|k| {
            let top = p00[k] + (p10[k] - p00[k]) * fx;
            let bottom = p01[k] + (p11[k] - p01[k]) * fx;
            top + (bottom - top) * fy
        });
        P::from_f(mix)
    };
    let tw = to.width() as usize;
    let mut band = vec![default; tw * TILE as usize];
    let mut y = to.y0;
    while y < to.y1 {
        let y_end = ((y.div_euclid(TILE) + 1) * TILE).min(to.y1);
        let rows = &mut band[..(y_end - y) as usize * tw];
        rows.par_chunks_mut(tw).enumerate().for_each(|(j, row)| {
            for (i, px) in row.iter_mut().enumerate() {
                *px = sample(to.x0 + i as i32, y + j as i32);
            }
        });
        out.write_rect(Rect::new(to.x0, y, to.x1, y_end), rows);
        y = y_end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_compose_and_invert() {
        let m = Affine::about(10.0, 20.0, 2.0, 0.5, 30.0);
        let inv = m.inverse().unwrap();
        let (x, y) = m.apply(3.0, 4.0);
        let (bx, by) = inv.apply(x, y);
        assert!((bx - 3.0).abs() < 1e-4 && (by - 4.0).abs() < 1e-4);
        assert_eq!(m.apply(10.0, 20.0), (10.0, 20.0));
        assert!(Affine { a: 0.0, e: 0.0, ..Affine::IDENTITY }.inverse().is_none());
    }

    #[test]
    fn translate_by_whole_pixels_is_exact_and_scale_doubles() {
        let mut s: Tiled<[u8; 4]> = Tiled::new([0; 4]);
        s.write_rect(Rect::new(10, 10, 20, 20), &vec![[200, 100, 50, 255]; 100]);
        let t = transform_tiled(&s, &Affine::translate(5.0, -3.0), Rect::new(-100, -100, 100, 100)).unwrap();
        assert!(t.same_pixels(&s.translated(5, -3)));
        let big = transform_tiled(&s, &Affine::about(10.0, 10.0, 2.0, 2.0, 0.0), Rect::new(0, 0, 100, 100)).unwrap();
        assert_eq!(big.get(25, 25), [200, 100, 50, 255]);
        assert_eq!(big.get(31, 31), [0, 0, 0, 0]);
        let b = big.content_bounds();
        assert!((b.width() - 20).abs() <= 2 && (b.height() - 20).abs() <= 2, "{b:?}");
        let r = transform_tiled(&s, &Affine::about(15.0, 15.0, 1.0, 1.0, 90.0), Rect::new(0, 0, 100, 100)).unwrap();
        assert_eq!(r.get(15, 15), [200, 100, 50, 255]);
    }
}
