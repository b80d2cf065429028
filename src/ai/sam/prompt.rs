//! What the artist asked for: foreground / background clicks and an optional box, in image pixels.

use super::super::AiError;

/// One click. `foreground` false = "not this" (label 0), true = "this" (label 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
    pub foreground: bool,
}

/// Clicks and a box (x0, y0, x1, y1), all in pixels of the encoded image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    pub points: Vec<Point>,
    pub bbox: Option<[f32; 4]>,
}

impl Prompt {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.bbox.is_none()
    }

    /// The prompt must say something, and say it inside the image.
    pub fn check(&self, width: usize, height: usize) -> Result<(), AiError> {
        if self.is_empty() {
            return Err(AiError::Input("give at least one point or a box to segment".into()));
        }
        let inside = |x: f32, y: f32| x.is_finite() && y.is_finite() && x >= 0.0 && y >= 0.0;
        let (w, h) = (width as f32, height as f32);
        for p in &self.points {
            if !inside(p.x, p.y) || p.x >= w || p.y >= h {
                return Err(AiError::Input(format!("point {},{} is outside the {width}×{height} image", p.x, p.y)));
            }
        }
        if let Some([x0, y0, x1, y1]) = self.bbox
            && (!inside(x0, y0) || !inside(x1, y1) || x1 > w || y1 > h || x1 <= x0 || y1 <= y0)
        {
            return Err(AiError::Input(format!(
                "box {x0},{y0},{x1},{y1} must have x0 < x1 and y0 < y1 inside the {width}×{height} image"
            )));
        }
        Ok(())
    }

    /// The official decoder's point list: clicks (labels 1 / 0), then the box corners (labels 2, 3), or a
    /// padding point (0, 0) with label −1 when there is no box, as SAM's prompt encoder pads.
    pub fn labelled(&self) -> Vec<([f32; 2], f32)> {
        let mut out: Vec<([f32; 2], f32)> =
            self.points.iter().map(|p| ([p.x, p.y], if p.foreground { 1.0 } else { 0.0 })).collect();
        match self.bbox {
            Some([x0, y0, x1, y1]) => {
                out.push(([x0, y0], 2.0));
                out.push(([x1, y1], 3.0));
            }
            None => out.push(([0.0, 0.0], -1.0)),
        }
        out
    }
    /// SAM2's order (`SAM2ImagePredictor`): box corners (labels 2, 3) first, then the clicks; no padding point
    /// (samexporter's SAM2 decoder appends it).
    pub fn labelled_box_first(&self) -> Vec<([f32; 2], f32)> {
        let mut out = Vec::with_capacity(self.points.len() + 2);
        if let Some([x0, y0, x1, y1]) = self.bbox {
            out.push(([x0, y0], 2.0));
            out.push(([x1, y1], 3.0));
        }
        out.extend(self.points.iter().map(|p| ([p.x, p.y], if p.foreground { 1.0 } else { 0.0 })));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fg(x: f32, y: f32) -> Point {
        Point { x, y, foreground: true }
    }

    #[test]
    fn points_come_first_then_the_box_corners_or_one_padding_point() {
        let p = Prompt { points: vec![fg(1.0, 2.0), Point { x: 3.0, y: 4.0, foreground: false }], bbox: None };
        assert_eq!(p.labelled(), vec![([1.0, 2.0], 1.0), ([3.0, 4.0], 0.0), ([0.0, 0.0], -1.0)]);
        let p = Prompt { points: vec![fg(1.0, 2.0)], bbox: Some([5.0, 6.0, 7.0, 8.0]) };
        assert_eq!(p.labelled(), vec![([1.0, 2.0], 1.0), ([5.0, 6.0], 2.0), ([7.0, 8.0], 3.0)]);
        assert_eq!(p.labelled_box_first(), vec![([5.0, 6.0], 2.0), ([7.0, 8.0], 3.0), ([1.0, 2.0], 1.0)]);
    }

    #[test]
    fn empty_prompts_and_points_or_boxes_outside_the_image_are_refused() {
        assert!(Prompt::default().check(10, 10).unwrap_err().to_string().contains("at least one point"));
        let outside = Prompt { points: vec![fg(10.0, 3.0)], bbox: None };
        assert!(outside.check(10, 10).unwrap_err().to_string().contains("outside the 10×10 image"));
        let nan = Prompt { points: vec![fg(f32::NAN, 3.0)], bbox: None };
        assert!(nan.check(10, 10).is_err());
        let flipped = Prompt { points: vec![], bbox: Some([5.0, 5.0, 2.0, 8.0]) };
        assert!(flipped.check(10, 10).unwrap_err().to_string().contains("x0 < x1"));
        let edge = Prompt { points: vec![fg(9.5, 0.0)], bbox: Some([0.0, 0.0, 10.0, 10.0]) };
        assert!(edge.check(10, 10).is_ok());
    }
}
