//! The canvas view: where the document sits on screen and how big. Canvas↔screen maths lives here, free of
//! any UI type, so tools and tests share it. Rotation and flipping are not modelled yet.

/// Zoom limits: 1 % to 3200 %.
pub const MIN_ZOOM: f32 = 0.01;
pub const MAX_ZOOM: f32 = 32.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Screen position (points, relative to the canvas widget) of canvas pixel (0, 0).
    pub offset: [f32; 2],
    /// Screen points per canvas pixel.
    pub zoom: f32,
}

impl View {
    /// The whole canvas centred in a `widget` of the given size, at most 100 %.
    pub fn fit(canvas: [f32; 2], widget: [f32; 2]) -> View {
        let zoom = (widget[0] / canvas[0]).min(widget[1] / canvas[1]).clamp(MIN_ZOOM, 1.0) * 0.95;
        let offset = [(widget[0] - canvas[0] * zoom) * 0.5, (widget[1] - canvas[1] * zoom) * 0.5];
        View { offset, zoom }
    }

    pub fn to_screen(&self, p: [f32; 2]) -> [f32; 2] {
        [self.offset[0] + p[0] * self.zoom, self.offset[1] + p[1] * self.zoom]
    }

    pub fn to_canvas(&self, s: [f32; 2]) -> [f32; 2] {
        [(s[0] - self.offset[0]) / self.zoom, (s[1] - self.offset[1]) / self.zoom]
    }

    /// Zooms by `factor` keeping the canvas point under `screen` where it is.
    pub fn zoom_at(&mut self, factor: f32, screen: [f32; 2]) {
        if !factor.is_finite() || factor <= 0.0 {
            return;
        }
        let anchor = self.to_canvas(screen);
        self.zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        self.offset = [screen[0] - anchor[0] * self.zoom, screen[1] - anchor[1] * self.zoom];
    }

    pub fn pan(&mut self, delta: [f32; 2]) {
        self.offset[0] += delta[0];
        self.offset[1] += delta[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut v = View::fit([1000.0, 500.0], [800.0, 600.0]);
        let cursor = [300.0, 250.0];
        let before = v.to_canvas(cursor);
        v.zoom_at(4.0, cursor);
        let after = v.to_canvas(cursor);
        assert!((before[0] - after[0]).abs() < 1e-3 && (before[1] - after[1]).abs() < 1e-3);
        v.zoom_at(1e9, cursor);
        assert_eq!(v.zoom, MAX_ZOOM);
        let p = v.to_screen(v.to_canvas([12.0, 34.0]));
        assert!((p[0] - 12.0).abs() < 1e-3 && (p[1] - 34.0).abs() < 1e-3);
    }
}
