//! Morphology on masks: exact Euclidean grow and shrink (a separable distance transform, Felzenszwalb &
//! Huttenlocher 2012, linear time) and feathering (three box blurs ≈ a Gaussian).

use super::GrayBuf;
use crate::geom::Rect;

const INF: f32 = 1.0e20;

/// Squared distance transform of one line in place (`f` holds 0 at sources and INF elsewhere).
fn edt_1d(f: &mut [f32], v: &mut Vec<usize>, z: &mut Vec<f32>, d: &mut Vec<f32>) {
    let n = f.len();
    if n == 0 {
        return;
    }
    v.clear();
    v.resize(n, 0);
    z.clear();
    z.resize(n + 1, 0.0);
    d.clear();
    d.resize(n, 0.0);
    let mut k = 0usize;
    z[0] = -INF;
    z[1] = INF;
    for q in 1..n {
        loop {
            let p = v[k];
            let s = ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32)) / (2.0 * (q as f32 - p as f32));
            if s <= z[k] && k > 0 {
                k -= 1;
                continue;
            }
            if s <= z[k] {
                // k == 0: the new parabola replaces the first one.
                v[0] = q;
                z[0] = -INF;
                z[1] = INF;
                break;
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = INF;
            break;
        }
    }
    k = 0;
    for (q, dq) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let p = v[k];
        *dq = (q as f32 - p as f32).powi(2) + f[p];
    }
    f.copy_from_slice(d);
}

/// Squared Euclidean distance from every pixel of a `w`×`h` grid to the nearest pixel where `src` is true.
fn distance_sq(w: usize, h: usize, src: impl Fn(usize, usize) -> bool) -> Vec<f32> {
    let mut g: Vec<f32> = (0..w * h).map(|i| if src(i % w, i / w) { 0.0 } else { INF }).collect();
    let (mut v, mut z, mut d) = (Vec::new(), Vec::new(), Vec::new());
    let mut col = vec![0.0f32; h];
    for x in 0..w {
        for y in 0..h {
            col[y] = g[y * w + x];
        }
        edt_1d(&mut col, &mut v, &mut z, &mut d);
        for y in 0..h {
            g[y * w + x] = col[y];
        }
    }
    for row in g.chunks_exact_mut(w.max(1)) {
        edt_1d(row, &mut v, &mut z, &mut d);
    }
    g
}

/// Everything within `radius` px of a selected pixel (value ≥ 128) becomes selected.
pub fn grow(buf: &GrayBuf, radius: u32, clip: Rect) -> GrayBuf {
    let r = radius.min(4096) as i32;
    let area = buf.rect.inflate(r).intersect(&clip);
    let (w, h) = (area.width() as usize, area.height() as usize);
    let d = distance_sq(w, h, |x, y| buf.get(area.x0 + x as i32, area.y0 + y as i32) >= 128);
    let r2 = (r * r) as f32;
    let mut out = GrayBuf::new(area, 0);
    for (o, (i, dd)) in out.data.iter_mut().zip(d.iter().enumerate()) {
        let original = buf.get(area.x0 + (i % w) as i32, area.y0 + (i / w) as i32);
        *o = if *dd <= r2 { 255 } else { original };
    }
    out
}

/// Only pixels more than `radius` px from any unselected pixel stay selected. Pixels outside the
/// buffer count as unselected, so a selection touching the canvas edge shrinks away from it too.
pub fn shrink(buf: &GrayBuf, radius: u32) -> GrayBuf {
    let area = buf.rect.inflate(1);
    let (w, h) = (area.width() as usize, area.height() as usize);
    let d = distance_sq(w, h, |x, y| buf.get(area.x0 + x as i32, area.y0 + y as i32) < 128);
    let r2 = (radius.min(4096) as f32).powi(2);
    let mut out = GrayBuf::new(buf.rect, 0);
    let bw = out.width();
    for (i, o) in out.data.iter_mut().enumerate() {
        let (x, y) = (i % bw + 1, i / bw + 1);
        if d[y * w + x] > r2 {
            *o = buf.data[i];
        }
    }
    out
}

/// Softens the mask edge with a Gaussian-like blur (σ ≈ radius / 2), keeping grey values.
pub fn feather(buf: &GrayBuf, radius: f32, clip: Rect) -> GrayBuf {
    let radius = if radius.is_finite() { radius.clamp(0.0, 1000.0) } else { 0.0 };
    if radius < 0.5 {
        return buf.clone();
    }
    let area = buf.rect.inflate((radius * 1.5).ceil() as i32).intersect(&clip);
    let (w, h) = (area.width() as usize, area.height() as usize);
    let mut f: Vec<f32> =
        (0..w * h).map(|i| buf.get(area.x0 + (i % w) as i32, area.y0 + (i / w) as i32) as f32).collect();
    // Three box blurs of width `bw` have variance 3·(bw² − 1)/12 = σ².
    let sigma = radius / 2.0;
    let bw = ((4.0 * sigma * sigma + 1.0).sqrt().round() as usize) | 1;
    let br = bw / 2;
    let mut line = Vec::new();
    for _ in 0..3 {
        for row in f.chunks_exact_mut(w.max(1)) {
            box_blur(row, br, &mut line);
        }
        box_blur_columns(&mut f, w, br, &mut line);
    }
    GrayBuf { rect: area, data: f.iter().map(|v| (v.clamp(0.0, 255.0) + 0.5) as u8).collect() }
}

/// The same blur down every column at once, sweeping rows so memory is read in order.
fn box_blur_columns(f: &mut [f32], w: usize, r: usize, tmp: &mut Vec<f32>) {
    if w == 0 {
        return;
    }
    let h = f.len() / w;
    tmp.clear();
    tmp.extend_from_slice(f);
    let k = 1.0 / (2 * r + 1) as f32;
    let mut sums = vec![0.0f32; w];
    for y in 0..r.min(h) {
        sums.iter_mut().zip(&tmp[y * w..(y + 1) * w]).for_each(|(s, v)| *s += v);
    }
    for y in 0..h {
        if y + r < h {
            sums.iter_mut().zip(&tmp[(y + r) * w..(y + r + 1) * w]).for_each(|(s, v)| *s += v);
        }
        if y > r {
            sums.iter_mut().zip(&tmp[(y - r - 1) * w..(y - r) * w]).for_each(|(s, v)| *s -= v);
        }
        f[y * w..(y + 1) * w].iter_mut().zip(&sums).for_each(|(o, s)| *o = s * k);
    }
}

/// Running-sum box blur of radius `r`; outside the line counts as 0.
fn box_blur(v: &mut [f32], r: usize, tmp: &mut Vec<f32>) {
    let n = v.len();
    tmp.clear();
    tmp.extend_from_slice(v);
    let k = 1.0 / (2 * r + 1) as f32;
    let mut sum: f32 = tmp.iter().take(r.min(n)).sum();
    for i in 0..n {
        if i + r < n {
            sum += tmp[i + r];
        }
        if i > r {
            sum -= tmp[i - r - 1];
        }
        v[i] = sum * k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(canvas: Rect, x: i32, y: i32) -> GrayBuf {
        let mut g = GrayBuf::new(canvas, 0);
        let w = g.width();
        g.data[(y - canvas.y0) as usize * w + (x - canvas.x0) as usize] = 255;
        g
    }

    fn count(g: &GrayBuf) -> usize {
        g.data.iter().filter(|v| **v >= 128).count()
    }

    #[test]
    fn grow_makes_an_exact_disc() {
        let canvas = Rect::new(0, 0, 64, 64);
        let g = grow(&dot(canvas, 32, 32), 5, canvas);
        // Lattice points with x² + y² ≤ 25.
        assert_eq!(count(&g), 81);
        assert_eq!(g.get(37, 32), 255);
        assert_eq!(g.get(36, 36), 0);
        let edge = grow(&dot(Rect::new(0, 0, 10, 10), 0, 0), 3, canvas);
        assert_eq!(edge.rect, Rect::new(0, 0, 13, 13));
    }

    #[test]
    fn shrink_undoes_grow_on_a_square_and_eats_edges() {
        let canvas = Rect::new(0, 0, 64, 64);
        let mut sq = GrayBuf::new(canvas, 0);
        for y in 20..40 {
            for x in 20..40 {
                sq.data[y * 64 + x] = 255;
            }
        }
        let s = shrink(&sq, 3);
        assert_eq!(count(&s), 14 * 14);
        let full = GrayBuf::new(Rect::new(0, 0, 10, 10), 255);
        assert_eq!(count(&shrink(&full, 2)), 6 * 6);
    }

    #[test]
    fn feather_keeps_mass_and_softens() {
        let canvas = Rect::new(0, 0, 100, 100);
        let mut sq = GrayBuf::new(Rect::new(30, 30, 70, 70), 255);
        sq.data.iter_mut().for_each(|v| *v = 255);
        let f = feather(&sq, 8.0, canvas);
        let mass = |g: &GrayBuf| g.data.iter().map(|v| *v as f32).sum::<f32>();
        assert!((mass(&f) - mass(&sq)).abs() / mass(&sq) < 0.01);
        assert_eq!(f.get(50, 50), 255);
        let edge = f.get(30, 50);
        assert!(edge > 90 && edge < 165, "{edge}");
        assert_eq!(f.get(50, 50), f.get(49, 49));
    }
}
