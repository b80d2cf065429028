//! The similar-colour region: the stage shared by the magic wand and the bucket fill.

use super::{GrayBuf, morph};
use crate::geom::Rect;

fn similar(a: [u8; 4], b: [u8; 4], tol: u8) -> bool {
    a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= tol)
}

/// Which pixels of `bounds` match the seed's colour, with the seed in buffer coordinates; `None` when the
/// seed lies outside.
fn matching(
    bounds: Rect,
    seed: (i32, i32),
    tolerance: u8,
    sample: impl Fn(i32, i32) -> [u8; 4],
) -> Option<(Vec<bool>, (usize, usize))> {
    if !bounds.contains(seed.0, seed.1) {
        return None;
    }
    let w = bounds.width() as usize;
    let s = sample(seed.0, seed.1);
    let open = (0..bounds.area())
        .map(|i| similar(sample(bounds.x0 + (i % w) as i32, bounds.y0 + (i / w) as i32), s, tolerance))
        .collect();
    Some((open, ((seed.0 - bounds.x0) as usize, (seed.1 - bounds.y0) as usize)))
}

/// Pixels of `bounds` within `tolerance` (largest channel difference) of the seed's colour get 255:
/// only those connected to the seed (4-neighbours) when `contiguous`, else all of them.
/// `sample` gives straight RGBA and is called about once per pixel.
pub fn similar_region(
    bounds: Rect,
    seed: (i32, i32),
    tolerance: u8,
    contiguous: bool,
    sample: impl Fn(i32, i32) -> [u8; 4],
) -> GrayBuf {
    let mut out = GrayBuf::new(bounds, 0);
    let Some((open, local)) = matching(bounds, seed, tolerance, sample) else { return out };
    if contiguous {
        flood(&open, bounds.width() as usize, local, &mut out.data);
    } else {
        for (o, ok) in out.data.iter_mut().zip(&open) {
            *o = if *ok { 255 } else { 0 };
        }
    }
    out
}

/// Scanline flood fill over `open` pixels from `seed`, marking 255 in `out` (an explicit stack, no recursion).
fn flood(open: &[bool], w: usize, seed: (usize, usize), out: &mut [u8]) {
    if w == 0 {
        return;
    }
    let h = open.len() / w;
    let mut stack = vec![seed];
    while let Some((x, y)) = stack.pop() {
        let i = y * w + x;
        if out[i] != 0 || !open[i] {
            continue;
        }
        let (mut l, mut r) = (x, x);
        while l > 0 && out[y * w + l - 1] == 0 && open[y * w + l - 1] {
            l -= 1;
        }
        while r + 1 < w && out[y * w + r + 1] == 0 && open[y * w + r + 1] {
            r += 1;
        }
        out[y * w + l..=y * w + r].iter_mut().for_each(|v| *v = 255);
        for ny in [y.wrapping_sub(1), y + 1] {
            if ny >= h {
                continue;
            }
            let mut in_run = false;
            for nx in l..=r {
                let j = ny * w + nx;
                let ok = open[j] && out[j] == 0;
                if ok && !in_run {
                    stack.push((nx, ny));
                }
                in_run = ok;
            }
        }
    }
}

/// A contiguous fill that does not leak through gaps in line art up to about `2·gap` px wide: the
/// barrier (dissimilar pixels) is thickened by `gap`, the seed's area is flooded inside it, and the result
/// grows back by `gap + 1` px into non-barrier pixels so it still reaches the lines (it may reach into the
/// mouth of a gap, never past it).
pub fn similar_region_closing_gaps(
    bounds: Rect,
    seed: (i32, i32),
    tolerance: u8,
    gap: u32,
    sample: impl Fn(i32, i32) -> [u8; 4],
) -> GrayBuf {
    let Some((open, local)) = matching(bounds, seed, tolerance, sample) else { return GrayBuf::new(bounds, 0) };
    let w = bounds.width() as usize;
    let barrier = GrayBuf { rect: bounds, data: open.iter().map(|ok| if *ok { 0 } else { 255 }).collect() };
    let thick = morph::grow(&barrier, gap, bounds);
    let narrowed: Vec<bool> = thick.data.iter().map(|v| *v < 128).collect();
    let mut core = GrayBuf::new(bounds, 0);
    if narrowed[local.1 * w + local.0] {
        flood(&narrowed, w, local, &mut core.data);
    } else {
        flood(&open, w, local, &mut core.data);
        return core;
    }
    // One pixel more than the gap so square corners fill too (their distance is gap·√2).
    let mut grown = morph::grow(&core, gap + 1, bounds);
    // Growth only fills the band along the lines that thickening took away, never open areas beyond a gap.
    for (i, g) in grown.data.iter_mut().enumerate() {
        let in_band = !narrowed[i];
        if !open[i] || (core.data[i] == 0 && !in_band) {
            *g = 0;
        }
    }
    grown
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60×60 white canvas with a black square outline (10..=50) that has a 3 px gap in its top side.
    fn outline(x: i32, y: i32) -> [u8; 4] {
        let on_line =
            ((x == 10 || x == 50) && (10..=50).contains(&y)) || ((y == 10 || y == 50) && (10..=50).contains(&x));
        let gap = y == 10 && (29..32).contains(&x);
        if on_line && !gap { [0, 0, 0, 255] } else { [255, 255, 255, 255] }
    }

    #[test]
    fn contiguous_global_and_gap_closing() {
        let b = Rect::new(0, 0, 60, 60);
        let leak = similar_region(b, (30, 30), 10, true, outline);
        assert_eq!(leak.get(2, 2), 255, "plain fill leaks through the gap");
        let closed = similar_region_closing_gaps(b, (30, 30), 10, 2, outline);
        assert_eq!(closed.get(2, 2), 0, "gap closing stops the leak");
        assert_eq!(closed.get(11, 11), 255, "and still reaches the lines");
        assert_eq!(closed.get(49, 49), 255);
        assert_eq!(closed.get(10, 30), 0, "line pixels are not filled");
        assert_eq!(closed.get(30, 9), 0, "nothing passes the gap");
        let inside_only = similar_region(b, (30, 30), 10, false, |x, y| if x < 30 { [0; 4] } else { outline(x, y) });
        assert_eq!(inside_only.get(2, 2), 0);
        assert_eq!(inside_only.get(55, 55), 255);
        assert!(similar_region(b, (99, 0), 0, true, outline).data.iter().all(|v| *v == 0));
    }

    #[test]
    fn tolerance_is_per_channel() {
        let b = Rect::new(0, 0, 3, 1);
        let img = |x: i32, _| [[100, 100, 100, 255], [110, 100, 100, 255], [111, 100, 100, 255]][x as usize];
        let r = similar_region(b, (0, 0), 10, true, img);
        assert_eq!(r.data, vec![255, 255, 0]);
    }
}
