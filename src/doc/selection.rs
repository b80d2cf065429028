//! The selection: an 8-bit mask over the canvas. With no active selection everything is selected.
//! Tools build a new shape and combine it with the current selection (replace, add, subtract, intersect).

use serde::{Deserialize, Serialize};

use crate::geom::Rect;
use crate::raster::{GrayBuf, Mask, morph, shapes};

#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// 255 = selected, 0 = not; only read when `active`.
    pub mask: Mask,
    pub active: bool,
}

/// How a new shape joins the existing selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    #[default]
    Replace,
    Add,
    Subtract,
    Intersect,
}

/// A selection shape, in canvas pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "shape")]
pub enum Shape {
    Rect {
        x: i32,
        y: i32,
        w: i32,
        h: i32,
    },
    Ellipse {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
    },
    /// A polygon or freehand lasso (even-odd fill).
    Polygon {
        points: Vec<(f32, f32)>,
    },
}

impl Selection {
    /// Nothing selected, which means "everything" for painting.
    pub fn none() -> Selection {
        Selection { mask: Mask::new(0), active: false }
    }

    pub fn all(canvas: Rect) -> Selection {
        Selection::from_gray(&GrayBuf::new(canvas, 255))
    }

    pub fn from_gray(buf: &GrayBuf) -> Selection {
        let mut mask = Mask::new(0);
        buf.write_into(&mut mask);
        Selection { mask, active: true }
    }

    /// How much of pixel `(x, y)` painting may touch, 0..=255.
    #[inline]
    pub fn coverage(&self, x: i32, y: i32) -> u8 {
        if self.active { self.mask.get(x, y) } else { 255 }
    }

    /// Bounds that can be selected, limited to `canvas` (the whole canvas when inactive).
    pub fn bounds(&self, canvas: Rect) -> Rect {
        if self.active { self.mask.tile_bounds().intersect(&canvas) } else { canvas }
    }

    /// The outline between selected (coverage ≥ 128) and unselected pixels as axis-aligned segments on pixel
    /// edges, each maximal run one segment: what marching ants are drawn along. Empty when nothing is selected.
    pub fn outline(&self, canvas: Rect) -> Vec<[[i32; 2]; 2]> {
        if !self.active {
            return Vec::new();
        }
        let b = self.bounds(canvas);
        if b.is_empty() {
            return Vec::new();
        }
        let buf = GrayBuf::from_mask(&self.mask, b);
        let inside = |x: i32, y: i32| b.contains(x, y) && buf.get(x, y) >= 128;
        let mut out = Vec::new();
        // Horizontal edges lie on y between rows y-1 and y; vertical edges on x between columns x-1 and x.
        for y in b.y0..=b.y1 {
            let mut run: Option<i32> = None;
            for x in b.x0..=b.x1 {
                let edge = x < b.x1 && inside(x, y - 1) != inside(x, y);
                match (edge, run) {
                    (true, None) => run = Some(x),
                    (false, Some(x0)) => {
                        out.push([[x0, y], [x, y]]);
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        for x in b.x0..=b.x1 {
            let mut run: Option<i32> = None;
            for y in b.y0..=b.y1 {
                let edge = y < b.y1 && inside(x - 1, y) != inside(x, y);
                match (edge, run) {
                    (true, None) => run = Some(y),
                    (false, Some(y0)) => {
                        out.push([[x, y0], [x, y]]);
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        out
    }

    fn dense(&self, canvas: Rect) -> GrayBuf {
        if self.active { GrayBuf::from_mask(&self.mask, canvas) } else { GrayBuf::new(canvas, 0) }
    }

    /// This selection combined with `shape` (already rasterized as coverage).
    pub fn combined(&self, shape: &GrayBuf, how: Combine, canvas: Rect) -> Selection {
        let shape = clip_gray(shape, canvas);
        match how {
            Combine::Replace => Selection::from_gray(&shape),
            _ => {
                let mut cur = self.dense(canvas);
                let w = cur.width();
                for (i, v) in cur.data.iter_mut().enumerate() {
                    let (x, y) = (canvas.x0 + (i % w) as i32, canvas.y0 + (i / w) as i32);
                    let s = shape.get(x, y) as u32;
                    let c = *v as u32;
                    *v = match how {
                        Combine::Add => c.max(s),
                        Combine::Subtract => c.min(255 - s),
                        _ => c.min(s),
                    } as u8;
                }
                Selection::from_gray(&cur)
            }
        }
    }

    /// Rasterizes a shape with anti-aliased edges and combines it.
    pub fn with_shape(&self, shape: &Shape, how: Combine, canvas: Rect) -> Selection {
        let g = match shape {
            Shape::Rect { x, y, w, h } => shapes::rect(Rect::from_xywh(*x, *y, *w, *h), canvas),
            Shape::Ellipse { cx, cy, rx, ry } => shapes::ellipse(*cx, *cy, *rx, *ry, canvas),
            Shape::Polygon { points } => shapes::polygon(points, canvas),
        };
        self.combined(&g, how, canvas)
    }

    pub fn inverted(&self, canvas: Rect) -> Selection {
        let mut g = self.dense(canvas);
        g.data.iter_mut().for_each(|v| *v = 255 - *v);
        Selection::from_gray(&g)
    }

    /// The selected pixels as a dense buffer over their bounds (morphology works only there).
    fn dense_around(&self, canvas: Rect) -> GrayBuf {
        let r = self.mask.content_bounds().intersect(&canvas);
        GrayBuf::from_mask(&self.mask, r)
    }

    pub fn grown(&self, radius: u32, canvas: Rect) -> Selection {
        if !self.active {
            return self.clone();
        }
        Selection::from_gray(&morph::grow(&self.dense_around(canvas), radius, canvas))
    }

    pub fn shrunk(&self, radius: u32, canvas: Rect) -> Selection {
        if !self.active {
            return self.clone();
        }
        // Outside the canvas counts as unselected; inside, the dense buffer must reach one pixel past the
        // selection so shrinking sees its edges.
        let r = self.mask.content_bounds().inflate(1).intersect(&canvas);
        Selection::from_gray(&morph::shrink(&GrayBuf::from_mask(&self.mask, r), radius))
    }

    pub fn feathered(&self, radius: f32, canvas: Rect) -> Selection {
        if !self.active {
            return self.clone();
        }
        Selection::from_gray(&morph::feather(&self.dense_around(canvas), radius, canvas))
    }
}

/// The part of `g` inside `canvas`.
fn clip_gray(g: &GrayBuf, canvas: Rect) -> GrayBuf {
    let r = g.rect.intersect(&canvas);
    if r == g.rect {
        return g.clone();
    }
    let mut out = GrayBuf::new(r, 0);
    let w = out.width();
    for (i, v) in out.data.iter_mut().enumerate() {
        *v = g.get(r.x0 + (i % w) as i32, r.y0 + (i / w) as i32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_modes() {
        let canvas = Rect::new(0, 0, 100, 100);
        let a = Selection::none().with_shape(&Shape::Rect { x: 0, y: 0, w: 50, h: 50 }, Combine::Replace, canvas);
        assert_eq!(a.coverage(10, 10), 255);
        assert_eq!(a.coverage(60, 10), 0);
        let b = a.with_shape(&Shape::Rect { x: 40, y: 0, w: 20, h: 10 }, Combine::Add, canvas);
        assert_eq!(b.coverage(55, 5), 255);
        let c = b.with_shape(&Shape::Rect { x: 0, y: 0, w: 10, h: 10 }, Combine::Subtract, canvas);
        assert_eq!(c.coverage(5, 5), 0);
        assert_eq!(c.coverage(15, 5), 255);
        let d = c.with_shape(&Shape::Rect { x: 0, y: 0, w: 20, h: 20 }, Combine::Intersect, canvas);
        assert_eq!(d.coverage(15, 15), 255);
        assert_eq!(d.coverage(30, 30), 0);
        let inv = d.inverted(canvas);
        assert_eq!(inv.coverage(30, 30), 255);
        assert_eq!(inv.coverage(15, 15), 0);
        assert_eq!(Selection::none().coverage(5, 5), 255);
    }

    #[test]
    fn grow_shrink_feather_work_around_the_selection() {
        let canvas = Rect::new(0, 0, 200, 200);
        let s = Selection::none().with_shape(&Shape::Rect { x: 100, y: 100, w: 10, h: 10 }, Combine::Replace, canvas);
        let g = s.grown(3, canvas);
        assert_eq!((g.coverage(97, 105), g.coverage(96, 105)), (255, 0));
        let k = s.shrunk(2, canvas);
        assert_eq!((k.coverage(101, 105), k.coverage(102, 105)), (0, 255));
        let f = s.feathered(4.0, canvas);
        assert!(f.coverage(99, 105) > 0 && f.coverage(99, 105) < 255);
        let edge = Selection::all(canvas).shrunk(5, canvas);
        assert_eq!((edge.coverage(4, 100), edge.coverage(5, 100)), (0, 255), "the canvas edge counts as outside");
    }

    #[test]
    fn outline_of_a_rectangle_is_its_four_sides() {
        let canvas = Rect::new(0, 0, 100, 100);
        let sel = Selection::none().with_shape(&Shape::Rect { x: 10, y: 20, w: 30, h: 5 }, Combine::Replace, canvas);
        let mut edges = sel.outline(canvas);
        edges.sort();
        assert_eq!(edges, vec![[[10, 20], [10, 25]], [[10, 20], [40, 20]], [[10, 25], [40, 25]], [[40, 20], [40, 25]]]);
        assert!(Selection::none().outline(canvas).is_empty());
        // Selected up to the canvas edge: the edge is outlined too.
        assert_eq!(Selection::all(Rect::new(0, 0, 4, 3)).outline(Rect::new(0, 0, 4, 3)).len(), 4);
    }
}
