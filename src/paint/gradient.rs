//! Linear and radial gradients between two colours, interpolated in premultiplied space so fading to
//! transparent leaves no dark fringe.

use serde::{Deserialize, Serialize};

use super::apply::{Ink, PixelEdit, rect_coverage};
use crate::color::Color;
use crate::doc::{DocError, Document, PaintTarget, TilePatch};
use crate::geom::Rect;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientKind {
    Linear,
    Radial,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientCommand {
    pub target: PaintTarget,
    pub kind: GradientKind,
    pub start: (f32, f32),
    pub end: (f32, f32),
    pub from: Color,
    pub to: Color,
}

impl GradientCommand {
    /// Position 0..=1 along the gradient at pixel centre `(x, y)`.
    pub fn t_at(&self, x: i32, y: i32) -> f32 {
        let (px, py) = (x as f32 + 0.5 - self.start.0, y as f32 + 0.5 - self.start.1);
        let (dx, dy) = (self.end.0 - self.start.0, self.end.1 - self.start.1);
        let len2 = dx * dx + dy * dy;
        if len2 <= f32::EPSILON {
            return 1.0;
        }
        let t = match self.kind {
            GradientKind::Linear => (px * dx + py * dy) / len2,
            GradientKind::Radial => ((px * px + py * py) / len2).sqrt(),
        };
        t.clamp(0.0, 1.0)
    }

    pub fn color_at(&self, x: i32, y: i32) -> Color {
        let t = self.t_at(x, y);
        let (a, b) = (self.from.premul_f32(), self.to.premul_f32());
        let p: [f32; 4] = std::array::from_fn(|i| a[i] + (b[i] - a[i]) * t);
        if p[3] <= 0.0 {
            return Color { r: 0.0, g: 0.0, b: 0.0, a: 0.0 };
        }
        Color { r: p[0] / p[3], g: p[1] / p[3], b: p[2] / p[3], a: p[3] }
    }

    pub fn paint(&self, doc: &mut Document) -> Result<(Rect, TilePatch), DocError> {
        let area = doc.selection.bounds(doc.bounds());
        let mut edit = PixelEdit::begin(doc, self.target)?;
        let cov = rect_coverage(area);
        let f = |x: i32, y: i32| self.color_at(x, y);
        let dirty = edit.mix(doc, area.tiles(), &cov, &Ink::PerPixel(&f))?;
        Ok((dirty, edit.into_patch()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_gradient_runs_from_start_to_end() {
        let mut doc = Document::with_layer(100, 10).unwrap();
        let id = doc.layers[0].id;
        let g = GradientCommand {
            target: PaintTarget::Layer(id),
            kind: GradientKind::Linear,
            start: (0.0, 0.0),
            end: (100.0, 0.0),
            from: Color::BLACK,
            to: Color::WHITE,
        };
        g.paint(&mut doc).unwrap();
        let s = doc.layers[0].surface().unwrap();
        assert_eq!(s.get(0, 5)[0], 1);
        assert_eq!(s.get(99, 5)[0], 254);
        assert!((s.get(50, 5)[0] as i32 - 129).abs() <= 1);
        assert_eq!(s.get(50, 5)[3], 255);
    }

    #[test]
    fn radial_fades_to_transparent_without_darkening() {
        let g = GradientCommand {
            target: PaintTarget::Selection,
            kind: GradientKind::Radial,
            start: (0.0, 0.0),
            end: (10.0, 0.0),
            from: Color::rgb(1.0, 1.0, 1.0),
            to: Color { r: 0.0, g: 0.0, b: 0.0, a: 0.0 },
        };
        let c = g.color_at(4, 0);
        assert!(c.r > 0.99 && c.a > 0.4 && c.a < 0.6);
    }
}
