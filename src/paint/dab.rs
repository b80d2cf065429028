//! One round dab stamped into a stroke buffer.
//!
//! The stroke buffer holds the stroke's coverage (0..1) per pixel. Each dab moves it towards the dab's
//! opacity cap by `mask · flow`, so overlapping dabs build up smoothly but never past the brush opacity
//! (Krita's "wash" model); the buffer is then mixed into the layer once, by [`super::apply`].

use crate::geom::{Rect, TILE, TileKey};
use crate::raster::Tiled;

/// Per-stroke coverage, 0..=1 per pixel.
pub type StrokeBuffer = Tiled<f32>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dab {
    pub x: f32,
    pub y: f32,
    pub diameter: f32,
    pub hardness: f32,
    pub flow: f32,
    /// The coverage this dab builds towards.
    pub opacity: f32,
}

impl Dab {
    /// Pixels the dab can touch.
    pub fn bounds(&self) -> Rect {
        let r = self.diameter.max(1.0) * 0.5 + 1.0;
        Rect::new(
            (self.x - r).floor() as i32,
            (self.y - r).floor() as i32,
            (self.x + r).ceil() as i32,
            (self.y + r).ceil() as i32,
        )
    }
}

/// Coverage of the round tip at distance `d` from the centre for radius `r` (before flow):
/// full inside `hardness·r`, a smoothstep falloff to the rim, and a 1 px anti-aliased edge.
#[inline]
fn falloff(d: f32, r: f32, hardness: f32) -> f32 {
    let edge = (r - d + 0.5).clamp(0.0, 1.0);
    let knee = hardness * r;
    let soft = if d <= knee {
        1.0
    } else {
        let t = ((d - knee) / (r - knee).max(1e-3)).min(1.0);
        1.0 - t * t * (3.0 - 2.0 * t)
    };
    soft * edge
}

/// Stamps `dab` into `buf`, limited to `clip`; returns the rectangle touched.
pub fn stamp(buf: &mut StrokeBuffer, dab: &Dab, clip: Rect) -> Rect {
    let area = dab.bounds().intersect(&clip);
    if area.is_empty() || dab.diameter.is_nan() || dab.diameter <= 0.0 || dab.flow <= 0.0 || dab.opacity <= 0.0 {
        return Rect::EMPTY;
    }
    // A dab smaller than a pixel keeps a 1 px footprint and gives up flow in proportion to its area.
    let r = (dab.diameter * 0.5).max(0.5);
    let flow = dab.flow.min(1.0) * (dab.diameter * 0.5 / r).powi(2);
    let (cap, hardness) = (dab.opacity.min(1.0), dab.hardness.clamp(0.0, 1.0));
    for key in area.tiles() {
        let part = key.rect().intersect(&area);
        let tile = buf.tile_mut(key);
        let TileKey { tx, ty } = key;
        for y in part.y0..part.y1 {
            let dy = y as f32 + 0.5 - dab.y;
            let row = ((y - ty * TILE) * TILE) as usize;
            for x in part.x0..part.x1 {
                let dx = x as f32 + 0.5 - dab.x;
                let m = falloff((dx * dx + dy * dy).sqrt(), r, hardness) * flow;
                let s = &mut tile[row + (x - tx * TILE) as usize];
                *s += (cap - *s).max(0.0) * m;
            }
        }
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dab(d: f32, h: f32) -> Dab {
        Dab { x: 32.0, y: 32.0, diameter: d, hardness: h, flow: 1.0, opacity: 1.0 }
    }

    #[test]
    fn hard_dab_covers_its_disc() {
        let mut b = StrokeBuffer::new(0.0);
        stamp(&mut b, &dab(20.0, 1.0), Rect::new(0, 0, 64, 64));
        let sum: f32 = (0..64).flat_map(|y| (0..64).map(move |x| (x, y))).map(|(x, y)| b.get(x, y)).sum();
        let disc = std::f32::consts::PI * 100.0;
        assert!((sum - disc).abs() / disc < 0.02, "covered {sum}, disc {disc}");
        assert_eq!(b.get(32, 32), 1.0);
        assert_eq!(b.get(32, 50), 0.0);
    }

    #[test]
    fn dabs_land_where_they_are_in_any_tile() {
        let mut b = StrokeBuffer::new(0.0);
        let d = Dab { x: 300.5, y: -200.5, ..dab(3.0, 1.0) };
        stamp(&mut b, &d, Rect::new(-1000, -1000, 1000, 1000));
        assert_eq!(b.get(300, -201), 1.0);
        assert_eq!(b.get(301, -201), b.get(299, -201));
    }

    #[test]
    fn buildup_never_passes_the_cap() {
        let mut b = StrokeBuffer::new(0.0);
        let d = Dab { opacity: 0.4, flow: 0.5, ..dab(10.0, 0.5) };
        for _ in 0..100 {
            stamp(&mut b, &d, Rect::new(0, 0, 64, 64));
        }
        assert!((b.get(32, 32) - 0.4).abs() < 1e-4);
    }

    #[test]
    fn soft_dab_falls_off_and_clip_limits_it() {
        let mut b = StrokeBuffer::new(0.0);
        let touched = stamp(&mut b, &dab(40.0, 0.0), Rect::new(0, 0, 32, 64));
        assert!(touched.x1 <= 32);
        assert!(b.get(31, 32) > b.get(20, 32) && b.get(20, 32) > b.get(14, 32));
        assert_eq!(b.get(40, 32), 0.0);
    }
}
