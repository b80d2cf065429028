//! Response curves (pressure → size, opacity, flow): monotone piecewise-linear over `0..=1`.

use serde::{Deserialize, Serialize};

/// Control points `(input, output)`, sorted by input; evaluated by linear interpolation, clamped at the ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f32, f32)>", into = "Vec<(f32, f32)>")]
pub struct Curve {
    points: Vec<(f32, f32)>,
}

impl Curve {
    /// Output equals input.
    pub fn linear() -> Curve {
        Curve { points: vec![(0.0, 0.0), (1.0, 1.0)] }
    }

    /// Builds a curve from points in `0..=1`; rejects an empty list, non-finite or out-of-range values.
    pub fn new(mut points: Vec<(f32, f32)>) -> Result<Curve, String> {
        if points.is_empty() {
            return Err("a curve needs at least one point".into());
        }
        if points.iter().any(|(x, y)| !(0.0..=1.0).contains(x) || !(0.0..=1.0).contains(y)) {
            return Err("curve points must lie in 0..1".into());
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Curve { points })
    }

    pub fn points(&self) -> &[(f32, f32)] {
        &self.points
    }

    pub fn eval(&self, x: f32) -> f32 {
        let x = if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 };
        let p = &self.points;
        let i = p.partition_point(|q| q.0 < x);
        if i == 0 {
            return p[0].1;
        }
        if i == p.len() {
            return p[p.len() - 1].1;
        }
        let (a, b) = (p[i - 1], p[i]);
        if b.0 - a.0 <= f32::EPSILON {
            return b.1;
        }
        a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
    }
}

impl TryFrom<Vec<(f32, f32)>> for Curve {
    type Error = String;
    fn try_from(v: Vec<(f32, f32)>) -> Result<Self, String> {
        Curve::new(v)
    }
}

impl From<Curve> for Vec<(f32, f32)> {
    fn from(c: Curve) -> Self {
        c.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_and_clamps() {
        let c = Curve::new(vec![(1.0, 1.0), (0.0, 0.2), (0.5, 0.4)]).unwrap();
        assert_eq!(c.eval(0.0), 0.2);
        assert!((c.eval(0.25) - 0.3).abs() < 1e-6);
        assert!((c.eval(0.75) - 0.7).abs() < 1e-6);
        assert_eq!(c.eval(2.0), 1.0);
        assert_eq!(c.eval(f32::NAN), 0.2);
        assert!(Curve::new(vec![]).is_err());
        assert!(serde_json::from_str::<Curve>("[[0.0, 2.0]]").is_err());
    }
}
