//! DDIM with η = 0 (`DDIMScheduler`; the pipelines pass η = 0).

use super::config::{Prediction, SchedulerConfig};

/// ᾱ at a timestep, or the final ᾱ for the step past 0.
pub fn alpha_at(cfg: &SchedulerConfig, alphas_cumprod: &[f32], t: i64) -> f32 {
    if t >= 0 {
        alphas_cumprod[t as usize]
    } else if cfg.set_alpha_to_one {
        1.0
    } else {
        alphas_cumprod[0]
    }
}

/// (x₀, ε) from the model output at ᾱ.
pub fn predict(prediction: Prediction, alpha: f32, x: f32, out: f32) -> (f32, f32) {
    let beta = 1.0 - alpha;
    match prediction {
        Prediction::Epsilon => ((x - beta.sqrt() * out) / alpha.sqrt(), out),
        Prediction::VPrediction => (alpha.sqrt() * x - beta.sqrt() * out, alpha.sqrt() * out + beta.sqrt() * x),
    }
}

pub fn step(cfg: &SchedulerConfig, alphas_cumprod: &[f32], t: usize, prev: i64, model_output: &[f32], x: &mut [f32]) {
    let alpha = alphas_cumprod[t];
    let alpha_prev = alpha_at(cfg, alphas_cumprod, prev);
    let range = cfg.clip_sample_range as f32;
    let dir = (1.0 - alpha_prev).sqrt();
    for (v, &o) in x.iter_mut().zip(model_output) {
        let (mut x0, eps) = predict(cfg.prediction, alpha, *v, o);
        if cfg.clip_sample {
            x0 = x0.clamp(-range, range);
        }
        *v = alpha_prev.sqrt() * x0 + dir * eps;
    }
}
