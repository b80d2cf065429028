//! LCM (`LCMScheduler`): a few steps picked from a 50-step "origin" schedule, consistency boundary scalings.

use super::config::SchedulerConfig;
use super::ddim;
use crate::ai::rng::TorchRng;

/// Timesteps for `steps` steps picked from the origin schedule (`set_timesteps` with strength 1, as the
/// ordinary pipelines call it).
pub fn timesteps(cfg: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let original = cfg.original_inference_steps.max(1);
    let k = cfg.num_train_timesteps / original;
    let count = original;
    let origin: Vec<usize> = (1..=count).rev().map(|i| i * k - 1).collect();
    let steps = steps.min(origin.len());
    super::tables::np_linspace(0.0, origin.len() as f64, steps, false)
        .into_iter()
        .map(|i| origin[(i.floor() as usize).min(origin.len() - 1)] as f64)
        .collect()
}

/// One step; returns the denoised estimate (what the pipeline decodes after the last step).
pub fn step(
    cfg: &SchedulerConfig,
    alphas_cumprod: &[f32],
    t: usize,
    next: Option<usize>,
    model_output: &[f32],
    x: &mut [f32],
    rng: &mut TorchRng,
) -> Vec<f32> {
    let prev = next.unwrap_or(t);
    let alpha = alphas_cumprod[t];
    let alpha_prev = ddim::alpha_at(cfg, alphas_cumprod, prev as i64);
    let scaled = (t as f64 * cfg.timestep_scaling) as i64;
    let scaled_sq = (scaled * scaled) as f32;
    let c_skip = 0.25 / (scaled_sq + 0.25);
    let c_out = scaled as f32 / (scaled_sq + 0.25).sqrt();
    let denoised: Vec<f32> = x
        .iter()
        .zip(model_output)
        .map(|(&v, &o)| {
            let (x0, _) = ddim::predict(cfg.prediction, alpha, v, o);
            c_out * x0 + c_skip * v
        })
        .collect();
    if next.is_some() {
        let noise = rng.randn_f32(x.len());
        let (a, b) = (alpha_prev.sqrt(), (1.0 - alpha_prev).sqrt());
        for ((v, d), n) in x.iter_mut().zip(&denoised).zip(noise) {
            *v = a * d + b * n;
        }
    } else {
        x.copy_from_slice(&denoised);
    }
    denoised
}
