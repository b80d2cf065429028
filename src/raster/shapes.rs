//! Anti-aliased coverage of selection shapes (rectangle, ellipse, polygon / freehand lasso).

use super::GrayBuf;
use crate::geom::Rect;

/// Largest coordinate magnitude accepted, far outside any canvas; keeps float→int conversions sane.
const LIMIT: f32 = 1.0e6;

fn bounds_f(x0: f32, y0: f32, x1: f32, y1: f32, clip: Rect) -> Rect {
    let c = |v: f32| v.clamp(-LIMIT, LIMIT);
    Rect::new(c(x0).floor() as i32, c(y0).floor() as i32, c(x1).ceil() as i32, c(y1).ceil() as i32).intersect(&clip)
}

/// A hard-edged rectangle.
pub fn rect(r: Rect, clip: Rect) -> GrayBuf {
    GrayBuf::new(r.intersect(&clip), 255)
}

/// An ellipse centred on `(cx, cy)` with radii `rx`, `ry`; the edge is anti-aliased over about one pixel.
pub fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32, clip: Rect) -> GrayBuf {
    if !(rx > 0.0 && ry > 0.0 && cx.is_finite() && cy.is_finite() && rx.is_finite() && ry.is_finite()) {
        return GrayBuf::new(Rect::EMPTY, 0);
    }
    let area = bounds_f(cx - rx - 1.0, cy - ry - 1.0, cx + rx + 1.0, cy + ry + 1.0, clip);
    let mut out = GrayBuf::new(area, 0);
    let w = out.width();
    let (irx2, iry2) = (1.0 / (rx * rx), 1.0 / (ry * ry));
    for (row, line) in out.data.chunks_exact_mut(w.max(1)).enumerate() {
        let dy = (area.y0 + row as i32) as f32 + 0.5 - cy;
        for (col, v) in line.iter_mut().enumerate() {
            let dx = (area.x0 + col as i32) as f32 + 0.5 - cx;
            // Signed distance to the rim ≈ f / |∇f| for f = x²/rx² + y²/ry² − 1.
            let f = dx * dx * irx2 + dy * dy * iry2 - 1.0;
            let g = 2.0 * ((dx * irx2).powi(2) + (dy * iry2).powi(2)).sqrt();
            let d = if g > 0.0 { f / g } else { f * rx.min(ry) };
            *v = ((0.5 - d).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    }
    out
}

/// Sub-scanlines per pixel row.
const SUB: usize = 4;

/// A polygon filled by the even-odd rule (self-crossing lassos leave holes where loops overlap twice).
/// Coverage is exact horizontally and sampled on four sub-scanlines vertically.
pub fn polygon(points: &[(f32, f32)], clip: Rect) -> GrayBuf {
    let pts: Vec<(f32, f32)> = points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|p| (p.0.clamp(-LIMIT, LIMIT), p.1.clamp(-LIMIT, LIMIT)))
        .collect();
    if pts.len() < 3 {
        return GrayBuf::new(Rect::EMPTY, 0);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &pts {
        x0 = x0.min(p.0);
        y0 = y0.min(p.1);
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let area = bounds_f(x0, y0, x1, y1, clip);
    let mut out = GrayBuf::new(area, 0);
    if area.is_empty() {
        return out;
    }
    let w = out.width();
    let edges: Vec<((f32, f32), (f32, f32))> =
        (0..pts.len()).map(|i| (pts[i], pts[(i + 1) % pts.len()])).filter(|(a, b)| a.1 != b.1).collect();
    let mut acc = vec![0.0f32; w];
    let mut xs: Vec<f32> = Vec::new();
    for row in 0..out.height() {
        acc.iter_mut().for_each(|v| *v = 0.0);
        let py = (area.y0 + row as i32) as f32;
        for s in 0..SUB {
            let y = py + (s as f32 + 0.5) / SUB as f32;
            xs.clear();
            for &((ax, ay), (bx, by)) in &edges {
                if (ay <= y) != (by <= y) {
                    xs.push(ax + (y - ay) * (bx - ax) / (by - ay));
                }
            }
            xs.sort_by(|a, b| a.total_cmp(b));
            for pair in xs.chunks_exact(2) {
                add_span(&mut acc, pair[0] - area.x0 as f32, pair[1] - area.x0 as f32, 1.0 / SUB as f32);
            }
        }
        for (v, a) in out.data[row * w..(row + 1) * w].iter_mut().zip(&acc) {
            *v = (a.min(1.0) * 255.0 + 0.5) as u8;
        }
    }
    out
}

/// Adds `weight × overlap` of the span `[a, b)` to each pixel of the row.
fn add_span(acc: &mut [f32], a: f32, b: f32, weight: f32) {
    let w = acc.len() as f32;
    let (a, b) = (a.clamp(0.0, w), b.clamp(0.0, w));
    if b <= a {
        return;
    }
    let (ia, ib) = (a.floor() as usize, (b.ceil() as usize).min(acc.len()));
    for (i, v) in acc.iter_mut().enumerate().take(ib).skip(ia) {
        let lo = a.max(i as f32);
        let hi = b.min(i as f32 + 1.0);
        *v += (hi - lo).max(0.0) * weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(g: &GrayBuf) -> f32 {
        g.data.iter().map(|v| *v as f32 / 255.0).sum()
    }

    #[test]
    fn rect_is_clipped() {
        let g = rect(Rect::new(-5, -5, 10, 10), Rect::new(0, 0, 100, 100));
        assert_eq!(g.rect, Rect::new(0, 0, 10, 10));
        assert!(g.data.iter().all(|v| *v == 255));
    }

    #[test]
    fn ellipse_area_and_symmetry() {
        let clip = Rect::new(0, 0, 200, 200);
        let g = ellipse(100.0, 100.0, 60.0, 30.0, clip);
        let want = std::f32::consts::PI * 60.0 * 30.0;
        assert!((sum(&g) - want).abs() / want < 0.01, "{} vs {want}", sum(&g));
        assert_eq!(g.get(100, 100), 255);
        assert_eq!(g.get(100, 40), 0);
        assert_eq!(g.get(45, 100), g.get(154, 100));
        assert!(ellipse(1.0, 1.0, 0.0, 5.0, clip).data.is_empty());
    }

    #[test]
    fn polygon_area_even_odd_and_degenerate() {
        let clip = Rect::new(0, 0, 100, 100);
        let tri = polygon(&[(10.0, 10.0), (90.0, 10.0), (10.0, 90.0)], clip);
        assert!((sum(&tri) - 3200.0).abs() < 40.0, "{}", sum(&tri));
        // Two nested squares traced as one path: the inner one is a hole under even-odd.
        let sq = |a: f32, b: f32| vec![(a, a), (b, a), (b, b), (a, b)];
        let mut pts = sq(10.0, 90.0);
        pts.extend(sq(30.0, 70.0));
        let g = polygon(&pts, clip);
        assert_eq!(g.get(50, 50), 0);
        assert_eq!(g.get(20, 20), 255);
        assert!(polygon(&[(0.0, 0.0), (5.0, 5.0)], clip).data.is_empty());
        assert!(polygon(&[(f32::NAN, 0.0), (1e30, 5.0), (3.0, 1.0)], clip).data.is_empty());
    }
}
