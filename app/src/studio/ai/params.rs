//! The AI panel's settings (prompt, sampler, seed, strength, batch, inpaint region), kept between sessions, and
//! how they become a job: seeds by mode, the engine request, the region options.

use std::path::PathBuf;

use oekaki::ai::edit::{EditOptions, Guide};
use oekaki::ai::library::Preset;
use oekaki::ai::pipeline::Request;
use oekaki::ai::preprocess;
use oekaki::ai::scheduler::SamplerKind;
use oekaki::ai::session::Device;
use serde::{Deserialize, Serialize};

/// How the seed of the next job is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedMode {
    /// A new random seed for each job.
    Random,
    /// The same seed every time.
    Fixed,
    /// The seed moves on by the batch size after each job.
    Increment,
}

impl SeedMode {
    pub const ALL: [SeedMode; 3] = [SeedMode::Random, SeedMode::Fixed, SeedMode::Increment];

    pub fn label(self) -> &'static str {
        match self {
            SeedMode::Random => "Random",
            SeedMode::Fixed => "Fixed",
            SeedMode::Increment => "Increment",
        }
    }
}

/// Execution providers offered in the panel (`auto` tries the GPU providers, then the CPU).
pub const DEVICES: [(&str, &str); 5] =
    [("auto", "Auto"), ("cpu", "CPU"), ("cuda", "CUDA"), ("directml", "DirectML"), ("coreml", "CoreML")];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AiParams {
    /// Folders the artist added (the default model folder is always searched too).
    pub model_folders: Vec<PathBuf>,
    pub model: Option<PathBuf>,
    pub prompt: String,
    pub negative: String,
    /// `SamplerKind::name()`.
    pub sampler: String,
    pub steps: usize,
    pub cfg: f32,
    pub strength: f32,
    pub seed: u64,
    pub seed_mode: SeedMode,
    pub clip_skip: usize,
    pub batch: usize,
    pub padding: u32,
    pub grow: u32,
    pub feather: f32,
    pub device: String,
    /// Expand: `Side::name()` and pixels to add.
    pub expand_side: String,
    pub expand_amount: u32,
    /// ControlNet guidance ("Guide"): on or off, the ControlNet folder, the preprocessor (`Kind::name()` or
    /// "none"), strength and step window.
    pub guide: bool,
    pub guide_model: Option<PathBuf>,
    /// The Segment Anything folder Smart select uses (None: the first one found).
    pub sam_model: Option<PathBuf>,
    pub guide_preprocess: String,
    pub guide_scale: f32,
    pub guide_start: f64,
    pub guide_end: f64,
}

impl Default for AiParams {
    fn default() -> Self {
        AiParams {
            model_folders: Vec::new(),
            model: None,
            prompt: String::new(),
            negative: String::new(),
            sampler: SamplerKind::EulerAncestral.name().into(),
            steps: 25,
            cfg: 7.0,
            strength: 0.6,
            seed: 1,
            seed_mode: SeedMode::Random,
            clip_skip: 1,
            batch: 1,
            padding: 32,
            grow: 4,
            feather: 4.0,
            device: "auto".into(),
            expand_side: "right".into(),
            expand_amount: 256,
            guide: false,
            guide_model: None,
            sam_model: None,
            guide_preprocess: "invert".into(),
            guide_scale: 1.0,
            guide_start: 0.0,
            guide_end: 1.0,
        }
    }
}

/// A seed from the clock and the process's hasher keys (A1111 draws seeds below 2³²).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() & 0xffff_ffff
}

impl AiParams {
    pub fn sampler_kind(&self) -> SamplerKind {
        SamplerKind::ALL.into_iter().find(|k| k.name() == self.sampler).unwrap_or(SamplerKind::EulerAncestral)
    }

    pub fn device(&self) -> Device {
        Device::parse(&self.device).unwrap_or(Device::Auto)
    }

    /// The seeds of the next job (one per candidate), moving the seed on as the mode says.
    pub fn next_seeds(&mut self) -> Vec<u64> {
        let batch = self.batch.clamp(1, 16) as u64;
        let base = if self.seed_mode == SeedMode::Random { random_seed() } else { self.seed };
        self.seed = match self.seed_mode {
            SeedMode::Random | SeedMode::Fixed => base,
            SeedMode::Increment => base.wrapping_add(batch),
        };
        (0..batch).map(|i| base.wrapping_add(i)).collect()
    }

    pub fn request(&self) -> Request {
        Request {
            prompt: self.prompt.clone(),
            negative: self.negative.clone(),
            steps: self.steps.clamp(1, 150),
            cfg: self.cfg,
            strength: self.strength.clamp(0.0, 1.0),
            sampler: self.sampler_kind(),
            seed: self.seed,
            clip_skip: self.clip_skip.clamp(1, 12),
            ..Request::default()
        }
    }

    /// The ControlNet guide for the next job, if it is on and complete; `layer` is the source (`None`: the
    /// visible picture).
    pub fn guide(&self, layer: Option<oekaki::doc::LayerId>) -> Option<Guide> {
        let model = self.guide_model.clone().filter(|_| self.guide)?;
        Some(Guide {
            layer,
            preprocess: preprocess::Kind::parse(&self.guide_preprocess).ok(),
            options: preprocess::Options::default(),
            model,
            scale: self.guide_scale,
            start: self.guide_start.clamp(0.0, 1.0),
            end: self.guide_end.clamp(self.guide_start.clamp(0.0, 1.0), 1.0),
        })
    }

    pub fn options(&self) -> EditOptions {
        EditOptions { padding: self.padding, grow: self.grow, feather: self.feather, ..EditOptions::default() }
    }

    /// Take a model's recommended settings: its quality tags go into the prompt, its negative prompt replaces
    /// an empty one.
    pub fn use_preset(&mut self, p: &Preset) {
        self.prompt = p.decorate(&self.prompt);
        if self.negative.trim().is_empty() {
            self.negative = p.negative.clone();
        }
        if let Some(s) = p.sampler_kind() {
            self.sampler = s.name().into();
        }
        if let Some(v) = p.steps {
            self.steps = v;
        }
        if let Some(v) = p.cfg {
            self.cfg = v;
        }
        if let Some(v) = p.clip_skip {
            self.clip_skip = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_modes_move_the_seed_as_named() {
        let mut p = AiParams { seed: 100, batch: 3, seed_mode: SeedMode::Increment, ..AiParams::default() };
        assert_eq!(p.next_seeds(), vec![100, 101, 102]);
        assert_eq!(p.next_seeds(), vec![103, 104, 105]);
        p.seed_mode = SeedMode::Fixed;
        assert_eq!(p.next_seeds(), vec![106, 107, 108]);
        assert_eq!(p.next_seeds(), vec![106, 107, 108]);
        p.seed_mode = SeedMode::Random;
        let a = p.next_seeds();
        assert_eq!(p.seed, a[0], "the used seed is shown");
        assert!(a[0] < 1 << 32);
        assert_ne!(p.next_seeds(), a);
    }
}
