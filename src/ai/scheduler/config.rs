//! `scheduler/scheduler_config.json`, resolved per sampler the way diffusers' `Sampler.from_config(config)`
//! does it: keys present in the file win, absent keys take the defaults of the sampler's own class (so an SD1.5
//! config without `timestep_spacing` means "leading" for DDIM and LCM but "linspace" for Euler and DPM++).

use serde::Deserialize;

use super::{SamplerKind, SchedulerError};

/// The file as written; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SchedulerConfigFile {
    pub num_train_timesteps: Option<usize>,
    pub beta_start: Option<f64>,
    pub beta_end: Option<f64>,
    pub beta_schedule: Option<String>,
    pub trained_betas: Option<Vec<f64>>,
    pub prediction_type: Option<String>,
    pub timestep_spacing: Option<String>,
    pub steps_offset: Option<usize>,
    pub set_alpha_to_one: Option<bool>,
    pub clip_sample: Option<bool>,
    pub clip_sample_range: Option<f64>,
    pub original_inference_steps: Option<usize>,
    pub timestep_scaling: Option<f64>,
    pub rescale_betas_zero_snr: Option<bool>,
}

impl SchedulerConfigFile {
    pub fn from_json(text: &str) -> Result<Self, SchedulerError> {
        serde_json::from_str(text).map_err(|e| SchedulerError::Config(e.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredCosCapV2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    VPrediction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Linspace,
    Leading,
    Trailing,
}

/// A config with every value decided for one sampler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: BetaSchedule,
    pub trained_betas: Option<Vec<f64>>,
    pub prediction: Prediction,
    pub spacing: Spacing,
    pub steps_offset: usize,
    pub set_alpha_to_one: bool,
    pub clip_sample: bool,
    pub clip_sample_range: f64,
    pub original_inference_steps: usize,
    pub timestep_scaling: f64,
    pub rescale_betas_zero_snr: bool,
}

impl SchedulerConfig {
    /// Fill the gaps of `file` with `kind`'s class defaults (diffusers 0.39).
    pub fn resolve(file: &SchedulerConfigFile, kind: SamplerKind) -> Result<Self, SchedulerError> {
        let class_spacing = match kind {
            SamplerKind::Ddim | SamplerKind::Lcm => "leading",
            SamplerKind::Euler | SamplerKind::EulerAncestral | SamplerKind::DpmPp2mKarras => "linspace",
        };
        let class_alpha_to_one = matches!(kind, SamplerKind::Ddim | SamplerKind::Lcm);
        let class_clip_sample = matches!(kind, SamplerKind::Ddim);
        let beta_schedule = match file.beta_schedule.as_deref().unwrap_or("linear") {
            "linear" => BetaSchedule::Linear,
            "scaled_linear" => BetaSchedule::ScaledLinear,
            "squaredcos_cap_v2" => BetaSchedule::SquaredCosCapV2,
            other => return Err(SchedulerError::Config(format!("unsupported beta_schedule \"{other}\""))),
        };
        let prediction = match file.prediction_type.as_deref().unwrap_or("epsilon") {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::VPrediction,
            other => return Err(SchedulerError::Config(format!("unsupported prediction_type \"{other}\""))),
        };
        let spacing = match file.timestep_spacing.as_deref().unwrap_or(class_spacing) {
            "linspace" => Spacing::Linspace,
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            other => return Err(SchedulerError::Config(format!("unsupported timestep_spacing \"{other}\""))),
        };
        let num_train_timesteps = file.num_train_timesteps.unwrap_or(1000);
        if !(2..=100_000).contains(&num_train_timesteps) {
            return Err(SchedulerError::Config(format!("num_train_timesteps {num_train_timesteps} is out of range")));
        }
        if let Some(b) = &file.trained_betas
            && b.len() != num_train_timesteps
        {
            return Err(SchedulerError::Config("trained_betas must have num_train_timesteps entries".into()));
        }
        Ok(SchedulerConfig {
            num_train_timesteps,
            beta_start: file.beta_start.unwrap_or(0.0001),
            beta_end: file.beta_end.unwrap_or(0.02),
            beta_schedule,
            trained_betas: file.trained_betas.clone(),
            prediction,
            spacing,
            steps_offset: file.steps_offset.unwrap_or(0),
            set_alpha_to_one: file.set_alpha_to_one.unwrap_or(class_alpha_to_one),
            clip_sample: file.clip_sample.unwrap_or(class_clip_sample),
            clip_sample_range: file.clip_sample_range.unwrap_or(1.0),
            original_inference_steps: file.original_inference_steps.unwrap_or(50),
            timestep_scaling: file.timestep_scaling.unwrap_or(10.0),
            rescale_betas_zero_snr: file.rescale_betas_zero_snr.unwrap_or(false),
        })
    }
}
