//! Brush settings and presets. Presets are JSON files in `assets/brushes/`.

use serde::{Deserialize, Serialize};

use super::Curve;

/// A round brush. Sizes are in canvas pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Brush {
    pub name: String,
    /// Dab diameter at full pressure.
    pub diameter: f32,
    /// 1 = hard edge, 0 = softest falloff.
    pub hardness: f32,
    /// The most a stroke can cover: overlapping dabs in one stroke never go past it.
    pub opacity: f32,
    /// How much each dab adds towards `opacity`.
    pub flow: f32,
    /// Distance between dabs as a fraction of the current diameter.
    pub spacing: f32,
    /// Pressure → diameter multiplier; `None` ignores pressure.
    pub pressure_size: Option<Curve>,
    /// Pressure → opacity multiplier.
    pub pressure_opacity: Option<Curve>,
    /// Pressure → flow multiplier.
    pub pressure_flow: Option<Curve>,
    /// 0 = raw input, 1 = strongest "pulled string" smoothing.
    pub stabilizer: f32,
    /// Removes paint instead of adding it (on masks and the selection: hides / deselects).
    pub eraser: bool,
}

impl Default for Brush {
    fn default() -> Self {
        Brush {
            name: "Round".into(),
            diameter: 12.0,
            hardness: 0.8,
            opacity: 1.0,
            flow: 1.0,
            spacing: 0.1,
            pressure_size: Some(Curve::linear()),
            pressure_opacity: None,
            pressure_flow: None,
            stabilizer: 0.0,
            eraser: false,
        }
    }
}

/// The parameters of one dab after pressure curves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DabParams {
    pub diameter: f32,
    pub flow: f32,
    pub opacity: f32,
}

/// Smallest distance between dabs, so a 1 px brush does not emit hundreds of dabs per pixel.
pub const MIN_SPACING_PX: f32 = 0.5;

impl Brush {
    /// Checks ranges; a preset file with nonsense values is refused with a one-line reason.
    pub fn validate(&self) -> Result<(), String> {
        let in01 = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(self.diameter.is_finite() && self.diameter > 0.0 && self.diameter <= 2000.0) {
            return Err(format!("brush diameter {} is outside 0..2000 px", self.diameter));
        }
        for (n, v) in [
            ("hardness", self.hardness),
            ("opacity", self.opacity),
            ("flow", self.flow),
            ("stabilizer", self.stabilizer),
        ] {
            if !in01(v) {
                return Err(format!("brush {n} {v} is outside 0..1"));
            }
        }
        if !(self.spacing.is_finite() && self.spacing > 0.0 && self.spacing <= 10.0) {
            return Err(format!("brush spacing {} is outside 0..10", self.spacing));
        }
        Ok(())
    }

    /// Reads a preset from JSON.
    pub fn from_json(text: &str) -> Result<Brush, String> {
        let b: Brush = serde_json::from_str(text).map_err(|e| format!("bad brush preset: {e}"))?;
        b.validate()?;
        Ok(b)
    }

    pub fn dab_params(&self, pressure: f32) -> DabParams {
        let p = if pressure.is_finite() { pressure.clamp(0.0, 1.0) } else { 1.0 };
        let by = |c: &Option<Curve>| c.as_ref().map_or(1.0, |c| c.eval(p));
        DabParams {
            diameter: self.diameter * by(&self.pressure_size),
            flow: self.flow * by(&self.pressure_flow),
            opacity: self.opacity * by(&self.pressure_opacity),
        }
    }

    /// Distance to the next dab for a dab of `diameter`.
    pub fn spacing_px(&self, diameter: f32) -> f32 {
        (self.spacing * diameter).max(MIN_SPACING_PX)
    }
}

/// The presets shipped in `assets/brushes/`, embedded so the studio works from any folder.
pub fn builtin_presets() -> Vec<Brush> {
    const FILES: [&str; 5] = [
        include_str!("../../assets/brushes/pencil.json"),
        include_str!("../../assets/brushes/pen.json"),
        include_str!("../../assets/brushes/airbrush.json"),
        include_str!("../../assets/brushes/marker.json"),
        include_str!("../../assets/brushes/soft-eraser.json"),
    ];
    FILES.iter().filter_map(|t| Brush::from_json(t).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_presets_all_load() {
        let p = builtin_presets();
        assert_eq!(p.len(), 5);
        assert!(p.iter().any(|b| b.eraser));
    }

    #[test]
    fn bad_presets_are_refused() {
        assert!(Brush::from_json(r#"{"diameter": -1}"#).is_err());
        assert!(Brush::from_json(r#"{"hardnes": 1}"#).is_err());
        assert!(Brush::from_json("not json").is_err());
    }
}
