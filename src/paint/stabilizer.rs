//! A "pulled string" stabilizer (lazy mouse): the brush follows the pen only once the pen is more than
//! `radius` away, which takes the wobble out of line art independently of the input rate.
//! It is a pure function of the sample stream, so it is tested without a window.

use super::InputSample;

/// Radius in canvas pixels at stabilizer strength 1.
pub const MAX_RADIUS_PX: f32 = 48.0;

#[derive(Clone, Debug, Default)]
pub struct Stabilizer {
    radius: f32,
    pos: Option<(f32, f32)>,
    last: Option<InputSample>,
}

impl Stabilizer {
    /// `strength` in `0..=1`.
    pub fn new(strength: f32) -> Stabilizer {
        Stabilizer { radius: strength.clamp(0.0, 1.0) * MAX_RADIUS_PX, pos: None, last: None }
    }

    /// Feeds a raw sample; returns the smoothed sample to paint to, if the brush moved.
    pub fn push(&mut self, s: InputSample) -> Option<InputSample> {
        self.last = Some(s);
        let Some((px, py)) = self.pos else {
            self.pos = Some((s.x, s.y));
            return Some(s);
        };
        let (dx, dy) = (s.x - px, s.y - py);
        let d = (dx * dx + dy * dy).sqrt();
        if d <= self.radius {
            return None;
        }
        let k = (d - self.radius) / d;
        let p = (px + dx * k, py + dy * k);
        self.pos = Some(p);
        Some(InputSample { x: p.0, y: p.1, ..s })
    }

    /// At pen-up the brush catches up with the pen, so the line ends where the artist lifted.
    pub fn finish(&mut self) -> Option<InputSample> {
        let last = self.last.take()?;
        let at_pen = self.pos.is_some_and(|(x, y)| x == last.x && y == last.y);
        self.pos = None;
        if at_pen || self.radius == 0.0 { None } else { Some(last) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: f32, y: f32) -> InputSample {
        InputSample { x, y, pressure: 1.0 }
    }

    #[test]
    fn jitter_inside_the_radius_is_ignored_and_the_end_is_reached() {
        let mut st = Stabilizer::new(0.5);
        assert!(st.push(s(0.0, 0.0)).is_some());
        for i in 0..20 {
            let j = if i % 2 == 0 { 3.0 } else { -3.0 };
            assert!(st.push(s(j, -j)).is_none());
        }
        let moved = st.push(s(100.0, 0.0)).unwrap();
        assert!((moved.x - (100.0 - 24.0)).abs() < 1e-3);
        assert_eq!(st.finish(), Some(s(100.0, 0.0)));
    }

    #[test]
    fn zero_strength_passes_through() {
        let mut st = Stabilizer::new(0.0);
        assert_eq!(st.push(s(1.0, 2.0)), Some(s(1.0, 2.0)));
        assert_eq!(st.push(s(1.5, 2.0)), Some(s(1.5, 2.0)));
        assert_eq!(st.finish(), None);
    }
}
