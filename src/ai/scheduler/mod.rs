//! Samplers built from a model's `scheduler_config.json`, matching diffusers 0.39 step for step: Euler,
//! Euler Ancestral, DPM++ 2M Karras, DDIM (η = 0) and LCM. Formulas: ../shared/reference §7.
//!
//! A [`Scheduler`] is made for one run (`steps`, optional img2img `strength`); the denoise loop asks it for the
//! timestep to give the UNet, the input scale, and then `step`s the latents with the UNet's prediction.

pub mod config;
mod ddim;
mod dpm;
mod euler;
mod lcm;
pub mod tables;

pub use config::{Prediction, SchedulerConfig, SchedulerConfigFile, Spacing};

use super::rng::TorchRng;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("scheduler config: {0}")]
    Config(String),
    #[error("unknown sampler \"{0}\" (choose euler_a, euler, dpmpp_2m_karras, ddim or lcm)")]
    UnknownSampler(String),
    #[error("steps must be between 1 and 1000 (got {0})")]
    Steps(usize),
}

/// The most sampling steps a job takes.
pub const MAX_STEPS: usize = 1000;

/// The samplers on offer, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamplerKind {
    EulerAncestral,
    Euler,
    DpmPp2mKarras,
    Ddim,
    Lcm,
}

impl SamplerKind {
    pub const ALL: [SamplerKind; 5] = [
        SamplerKind::EulerAncestral,
        SamplerKind::Euler,
        SamplerKind::DpmPp2mKarras,
        SamplerKind::Ddim,
        SamplerKind::Lcm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::EulerAncestral => "euler_a",
            SamplerKind::Euler => "euler",
            SamplerKind::DpmPp2mKarras => "dpmpp_2m_karras",
            SamplerKind::Ddim => "ddim",
            SamplerKind::Lcm => "lcm",
        }
    }

    /// The name A1111 writes in its "parameters" text.
    pub fn a1111_name(self) -> &'static str {
        match self {
            SamplerKind::EulerAncestral => "Euler a",
            SamplerKind::Euler => "Euler",
            SamplerKind::DpmPp2mKarras => "DPM++ 2M Karras",
            SamplerKind::Ddim => "DDIM",
            SamplerKind::Lcm => "LCM",
        }
    }

    pub fn parse(name: &str) -> Result<Self, SchedulerError> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| SchedulerError::UnknownSampler(name.into()))
    }
}

/// Per-sampler state carried between steps.
#[derive(Debug, Clone)]
enum State {
    None,
    Dpm(dpm::History),
}

/// One sampling run's schedule and state.
#[derive(Debug, Clone)]
pub struct Scheduler {
    kind: SamplerKind,
    cfg: SchedulerConfig,
    alphas_cumprod: Vec<f32>,
    /// Timesteps given to the UNet, after any img2img trimming.
    timesteps: Vec<f64>,
    /// σ per step (+ the final σ) for the σ-parameterised samplers; empty for DDIM/LCM.
    sigmas: Vec<f32>,
    init_noise_sigma: f32,
    /// Steps of the full schedule (DDIM's step size and LCM's last step depend on it).
    num_inference_steps: usize,
    /// Index into the untrimmed schedule of `timesteps[0]`.
    begin: usize,
    state: State,
}

/// What a step returns besides the new latents: LCM's denoised estimate, which its pipeline decodes.
pub struct StepOutput {
    pub denoised: Option<Vec<f32>>,
}

impl Scheduler {
    /// A schedule of `steps` steps. `strength` < 1 keeps only the last part (img2img), as the diffusers
    /// pipelines' `get_timesteps` does for every sampler.
    pub fn new(
        kind: SamplerKind,
        file: &SchedulerConfigFile,
        steps: usize,
        strength: Option<f32>,
    ) -> Result<Self, SchedulerError> {
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(SchedulerError::Steps(steps));
        }
        let cfg = SchedulerConfig::resolve(file, kind)?;
        let mut alphas_cumprod = tables::alphas_cumprod(&tables::betas(&cfg));
        if cfg.rescale_betas_zero_snr && matches!(kind, SamplerKind::Euler | SamplerKind::EulerAncestral) {
            // diffusers' Euler keeps the last σ finite this way.
            if let Some(last) = alphas_cumprod.last_mut() {
                *last = 2f32.powi(-24);
            }
        }
        let (timesteps, sigmas, init_noise_sigma) = match kind {
            SamplerKind::Euler | SamplerKind::EulerAncestral => euler::schedule(&cfg, &alphas_cumprod, steps),
            SamplerKind::DpmPp2mKarras => dpm::schedule(&alphas_cumprod, steps),
            SamplerKind::Ddim => (tables::spaced_timesteps_int(&cfg, steps), Vec::new(), 1.0),
            SamplerKind::Lcm => (lcm::timesteps(&cfg, steps), Vec::new(), 1.0),
        };
        let state = match kind {
            SamplerKind::DpmPp2mKarras => State::Dpm(dpm::History::default()),
            _ => State::None,
        };
        let num_inference_steps = timesteps.len();
        let mut s = Scheduler {
            kind,
            cfg,
            alphas_cumprod,
            timesteps,
            sigmas,
            init_noise_sigma,
            num_inference_steps,
            begin: 0,
            state,
        };
        if let Some(strength) = strength {
            let init = ((steps as f32 * strength.clamp(0.0, 1.0)) as usize).min(steps);
            s.begin = steps - init;
            s.timesteps.drain(..s.begin);
        }
        Ok(s)
    }

    pub fn kind(&self) -> SamplerKind {
        self.kind
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// The timesteps of this run, in the order the UNet sees them.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// σ per step of the untrimmed schedule plus the final one (Euler-type and DPM++ only).
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }

    /// What fresh noise is multiplied by before the first step.
    pub fn init_noise_sigma(&self) -> f32 {
        self.init_noise_sigma
    }

    /// Index of step `i` of this run in the untrimmed schedule.
    fn index(&self, i: usize) -> usize {
        self.begin + i
    }

    /// The divisor `scale_model_input` applies at step `i` (1 for DPM++, DDIM and LCM).
    pub fn input_divisor(&self, i: usize) -> f32 {
        match self.kind {
            SamplerKind::Euler | SamplerKind::EulerAncestral => {
                let s = self.sigmas[self.index(i)];
                (s * s + 1.0).sqrt()
            }
            _ => 1.0,
        }
    }

    /// `scheduler.scale_model_input(x, t)` at step `i`.
    pub fn scale_model_input(&self, i: usize, x: &[f32]) -> Vec<f32> {
        let d = self.input_divisor(i);
        if d == 1.0 { x.to_vec() } else { x.iter().map(|v| v / d).collect() }
    }

    /// Advance `x` by step `i` given the (guided) UNet prediction.
    pub fn step(&mut self, i: usize, model_output: &[f32], x: &mut [f32], rng: &mut TorchRng) -> StepOutput {
        let idx = self.index(i);
        let pred = self.cfg.prediction;
        match self.kind {
            SamplerKind::Euler => euler::step(&self.sigmas, idx, pred, model_output, x, None),
            SamplerKind::EulerAncestral => euler::step(&self.sigmas, idx, pred, model_output, x, Some(rng)),
            SamplerKind::DpmPp2mKarras => {
                let last = idx + 1 == self.num_inference_steps;
                if let State::Dpm(history) = &mut self.state {
                    dpm::step(&self.sigmas, idx, pred, model_output, x, history, last);
                }
            }
            SamplerKind::Ddim => {
                let t = self.timesteps[i] as usize;
                let stride = self.cfg.num_train_timesteps / self.num_inference_steps;
                ddim::step(&self.cfg, &self.alphas_cumprod, t, t as i64 - stride as i64, model_output, x);
            }
            SamplerKind::Lcm => {
                let t = self.timesteps[i] as usize;
                let next = self.timesteps.get(i + 1).map(|&v| v as usize);
                let denoised = lcm::step(&self.cfg, &self.alphas_cumprod, t, next, model_output, x, rng);
                return StepOutput { denoised: Some(denoised) };
            }
        }
        StepOutput { denoised: None }
    }

    /// `scheduler.add_noise(original, noise, timesteps[0])`: the starting latents of img2img.
    pub fn add_noise(&self, original: &[f32], noise: &[f32]) -> Vec<f32> {
        self.add_noise_at(original, noise, 0)
    }

    /// Noise `original` to the level of step `i` of this run (inpainting re-noises the kept area each step).
    pub fn add_noise_at(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        match self.kind {
            SamplerKind::Euler | SamplerKind::EulerAncestral => {
                let sigma = self.sigmas[self.index(i)];
                original.iter().zip(noise).map(|(o, n)| o + n * sigma).collect()
            }
            SamplerKind::DpmPp2mKarras => {
                let sigma = self.sigmas[self.index(i)];
                let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
                let s = sigma * alpha;
                original.iter().zip(noise).map(|(o, n)| alpha * o + s * n).collect()
            }
            SamplerKind::Ddim | SamplerKind::Lcm => {
                let a = self.alphas_cumprod[self.timesteps[i] as usize];
                let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
                original.iter().zip(noise).map(|(o, n)| sa * o + sb * n).collect()
            }
        }
    }
}
