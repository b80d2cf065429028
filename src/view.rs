//! The canvas view: where the document sits on screen, how big, turned and mirrored how. Canvas↔screen maths
//! lives here, free of any UI type, so tools, overlays, the GPU canvas and tests share it.
//!
//! `screen = offset + zoom · R(rotation) · F · canvas`, where `F` mirrors x when `flip` is set. Rotation and
//! flip belong to the view only: the document never changes.

/// Zoom limits: 1 % to 3200 %.
pub const MIN_ZOOM: f32 = 0.01;
pub const MAX_ZOOM: f32 = 32.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Screen position (points, relative to the canvas widget) of canvas pixel (0, 0).
    pub offset: [f32; 2],
    /// Screen points per canvas pixel.
    pub zoom: f32,
    /// Clockwise view rotation in degrees (screen y points down).
    pub rotation: f32,
    /// Mirrored left–right.
    pub flip: bool,
}

impl View {
    /// The whole canvas centred in a `widget` of the given size, at most 100 %, unturned.
    pub fn fit(canvas: [f32; 2], widget: [f32; 2]) -> View {
        let mut v = View { offset: [0.0; 2], zoom: 1.0, rotation: 0.0, flip: false };
        v.fit_keeping_rotation(canvas, widget);
        v
    }

    /// Zooms and centres so the (possibly turned) canvas fits the widget, at most 100 %.
    pub fn fit_keeping_rotation(&mut self, canvas: [f32; 2], widget: [f32; 2]) {
        self.zoom = 1.0;
        self.offset = [0.0; 2];
        let (lo, hi) = self.screen_bounds(canvas);
        let size = [(hi[0] - lo[0]).max(1.0), (hi[1] - lo[1]).max(1.0)];
        self.zoom = ((widget[0] / size[0]).min(widget[1] / size[1]) * 0.95).clamp(MIN_ZOOM, 0.95);
        self.centre(canvas, widget);
    }

    /// 100 % with the canvas centre at the widget centre.
    pub fn actual_pixels(&mut self, canvas: [f32; 2], widget: [f32; 2]) {
        self.zoom = 1.0;
        self.centre(canvas, widget);
    }

    fn centre(&mut self, canvas: [f32; 2], widget: [f32; 2]) {
        let c = self.to_screen([canvas[0] * 0.5, canvas[1] * 0.5]);
        self.pan([widget[0] * 0.5 - c[0], widget[1] * 0.5 - c[1]]);
    }

    /// Screen-space bounding box (min, max) of the canvas rectangle.
    pub fn screen_bounds(&self, canvas: [f32; 2]) -> ([f32; 2], [f32; 2]) {
        bounding_box([[0.0, 0.0], [canvas[0], 0.0], [0.0, canvas[1]], canvas].map(|p| self.to_screen(p)))
    }

    /// The canvas pixels a `widget`-sized view shows (whole pixels, any rotation; not clipped to the canvas).
    pub fn visible_rect(&self, widget: [f32; 2]) -> crate::geom::Rect {
        let corners = [[0.0, 0.0], [widget[0], 0.0], [0.0, widget[1]], widget].map(|s| self.to_canvas(s));
        let (lo, hi) = bounding_box(corners);
        crate::geom::Rect::new(lo[0].floor() as i32, lo[1].floor() as i32, hi[0].ceil() as i32, hi[1].ceil() as i32)
    }

    fn sin_cos(&self) -> (f32, f32) {
        self.rotation.to_radians().sin_cos()
    }

    pub fn to_screen(&self, p: [f32; 2]) -> [f32; 2] {
        let x = if self.flip { -p[0] } else { p[0] };
        let (s, c) = self.sin_cos();
        let (rx, ry) = (x * c - p[1] * s, x * s + p[1] * c);
        [self.offset[0] + rx * self.zoom, self.offset[1] + ry * self.zoom]
    }

    pub fn to_canvas(&self, s: [f32; 2]) -> [f32; 2] {
        let (dx, dy) = ((s[0] - self.offset[0]) / self.zoom, (s[1] - self.offset[1]) / self.zoom);
        let (sn, c) = self.sin_cos();
        let (x, y) = (dx * c + dy * sn, -dx * sn + dy * c);
        [if self.flip { -x } else { x }, y]
    }

    /// Keeps the canvas point under `screen` where it is while `change` alters zoom, rotation or flip.
    fn about(&mut self, screen: [f32; 2], change: impl FnOnce(&mut View)) {
        let anchor = self.to_canvas(screen);
        change(self);
        let moved = self.to_screen(anchor);
        self.pan([screen[0] - moved[0], screen[1] - moved[1]]);
    }

    /// Zooms by `factor` keeping the canvas point under `screen` where it is.
    pub fn zoom_at(&mut self, factor: f32, screen: [f32; 2]) {
        if !factor.is_finite() || factor <= 0.0 {
            return;
        }
        self.about(screen, |v| v.zoom = (v.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM));
    }

    /// Turns the view by `degrees` (clockwise) about `screen`.
    pub fn rotate_about(&mut self, degrees: f32, screen: [f32; 2]) {
        if !degrees.is_finite() {
            return;
        }
        self.about(screen, |v| v.rotation = (v.rotation + degrees).rem_euclid(360.0));
    }

    /// Sets the rotation (e.g. back to 0) about `screen`.
    pub fn set_rotation_about(&mut self, degrees: f32, screen: [f32; 2]) {
        let delta = degrees - self.rotation;
        self.rotate_about(delta, screen);
    }

    /// Mirrors the view left–right about `screen`.
    pub fn flip_about(&mut self, screen: [f32; 2]) {
        self.about(screen, |v| {
            v.flip = !v.flip;
            // Mirroring reverses the sense of rotation; keep what is on screen upright the same way.
            v.rotation = (360.0 - v.rotation).rem_euclid(360.0);
        });
    }

    pub fn pan(&mut self, delta: [f32; 2]) {
        self.offset[0] += delta[0];
        self.offset[1] += delta[1];
    }
}

/// (min, max) of four points.
fn bounding_box(points: [[f32; 2]; 4]) -> ([f32; 2], [f32; 2]) {
    let mut lo = [f32::MAX; 2];
    let mut hi = [f32::MIN; 2];
    for c in points {
        for i in 0..2 {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i]);
        }
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-2 && (a[1] - b[1]).abs() < 1e-2
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut v = View::fit([1000.0, 500.0], [800.0, 600.0]);
        let cursor = [300.0, 250.0];
        let before = v.to_canvas(cursor);
        v.zoom_at(4.0, cursor);
        assert!(close(before, v.to_canvas(cursor)));
        v.zoom_at(1e9, cursor);
        assert_eq!(v.zoom, MAX_ZOOM);
        assert!(close(v.to_screen(v.to_canvas([12.0, 34.0])), [12.0, 34.0]));
    }

    #[test]
    fn rotation_and_flip_round_trip_and_keep_the_pivot() {
        let mut v = View::fit([640.0, 480.0], [800.0, 600.0]);
        let pivot = [410.0, 290.0];
        let under = v.to_canvas(pivot);
        v.rotate_about(30.0, pivot);
        assert!(close(v.to_canvas(pivot), under));
        v.flip_about(pivot);
        assert!(close(v.to_canvas(pivot), under));
        for p in [[0.0, 0.0], [639.0, 0.0], [17.5, 401.25]] {
            assert!(close(v.to_canvas(v.to_screen(p)), p), "{p:?}");
        }
        // Flipped: canvas x grows to the left on screen (before rotation).
        let mut f = View::fit([100.0, 100.0], [200.0, 200.0]);
        f.flip_about([100.0, 100.0]);
        assert!(f.to_screen([10.0, 50.0])[0] > f.to_screen([90.0, 50.0])[0]);
        // 90° clockwise: canvas +x points down the screen.
        let mut r = View::fit([100.0, 100.0], [200.0, 200.0]);
        r.rotate_about(90.0, [100.0, 100.0]);
        let (a, b) = (r.to_screen([0.0, 0.0]), r.to_screen([10.0, 0.0]));
        assert!((b[1] - a[1]) > 0.0 && (b[0] - a[0]).abs() < 1e-3);
    }

    #[test]
    fn the_visible_rect_covers_the_widget_at_any_rotation() {
        let mut v = View { offset: [0.0, 0.0], zoom: 2.0, rotation: 0.0, flip: false };
        assert_eq!(v.visible_rect([200.0, 100.0]), crate::geom::Rect::new(0, 0, 100, 50));
        v.pan([-20.0, 10.0]);
        assert_eq!(v.visible_rect([200.0, 100.0]), crate::geom::Rect::new(10, -5, 110, 45));
        v.rotate_about(90.0, [100.0, 50.0]);
        let r = v.visible_rect([200.0, 100.0]);
        // whole pixels around a float rotation: up to one more each way
        assert!((50..=51).contains(&r.width()) && (100..=101).contains(&r.height()), "turned a quarter: {r:?}");
        let centre = v.to_canvas([100.0, 50.0]);
        assert!(r.contains(centre[0] as i32, centre[1] as i32));
    }

    #[test]
    fn fit_contains_a_turned_canvas() {
        let mut v = View::fit([1000.0, 200.0], [800.0, 600.0]);
        v.rotate_about(45.0, [400.0, 300.0]);
        v.fit_keeping_rotation([1000.0, 200.0], [800.0, 600.0]);
        let (lo, hi) = v.screen_bounds([1000.0, 200.0]);
        assert!(lo[0] >= 0.0 && lo[1] >= 0.0 && hi[0] <= 800.0 && hi[1] <= 600.0, "{lo:?} {hi:?}");
        v.actual_pixels([1000.0, 200.0], [800.0, 600.0]);
        assert_eq!(v.zoom, 1.0);
        assert!(close(v.to_screen([500.0, 100.0]), [400.0, 300.0]));
    }
}
