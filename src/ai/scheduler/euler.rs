//! Euler and Euler Ancestral (`EulerDiscreteScheduler`, `EulerAncestralDiscreteScheduler`, linear
//! interpolation, final σ = 0, no churn).

use super::config::{Prediction, SchedulerConfig, Spacing};
use super::tables;
use crate::ai::rng::TorchRng;

/// Timesteps, σ per step + final 0, and the initial noise σ.
pub fn schedule(cfg: &SchedulerConfig, alphas_cumprod: &[f32], steps: usize) -> (Vec<f64>, Vec<f32>, f32) {
    let all = tables::training_sigmas(alphas_cumprod);
    let timesteps: Vec<f64> = tables::spaced_timesteps(cfg, steps).into_iter().map(|t| t as f32 as f64).collect();
    let mut sigmas: Vec<f32> = timesteps.iter().map(|&t| tables::interp_sigma(t, &all) as f32).collect();
    sigmas.push(0.0);
    let max = sigmas.iter().copied().fold(0.0f32, f32::max);
    let init = match cfg.spacing {
        Spacing::Linspace | Spacing::Trailing => max,
        Spacing::Leading => (max * max + 1.0).sqrt(),
    };
    (timesteps, sigmas, init)
}

/// The data prediction x₀ from the model output at σ.
pub fn predict_x0(prediction: Prediction, sigma: f32, x: f32, out: f32) -> f32 {
    match prediction {
        Prediction::Epsilon => x - sigma * out,
        Prediction::VPrediction => out * (-sigma / (sigma * sigma + 1.0).sqrt()) + x / (sigma * sigma + 1.0),
    }
}

/// One Euler step; with `rng` the ancestral variant (noise drawn every step, as diffusers does).
pub fn step(
    sigmas: &[f32],
    idx: usize,
    prediction: Prediction,
    model_output: &[f32],
    x: &mut [f32],
    rng: Option<&mut TorchRng>,
) {
    let sigma = sigmas[idx];
    let sigma_next = sigmas[idx + 1];
    match rng {
        None => {
            let dt = sigma_next - sigma;
            for (v, &o) in x.iter_mut().zip(model_output) {
                let d = (*v - predict_x0(prediction, sigma, *v, o)) / sigma;
                *v += d * dt;
            }
        }
        Some(rng) => {
            let (from2, to2) = (sigma * sigma, sigma_next * sigma_next);
            let sigma_up = (to2 * (from2 - to2) / from2).sqrt();
            let sigma_down = (to2 - sigma_up * sigma_up).sqrt();
            let dt = sigma_down - sigma;
            let noise = rng.randn_f32(x.len());
            for ((v, &o), n) in x.iter_mut().zip(model_output).zip(noise) {
                let d = (*v - predict_x0(prediction, sigma, *v, o)) / sigma;
                *v = (*v + d * dt) + n * sigma_up;
            }
        }
    }
}
