//! DPM++ 2M with Karras sigmas (`DPMSolverMultistepScheduler`, `algorithm_type="dpmsolver++"`, order 2,
//! midpoint, `lower_order_final`, final σ = 0). The Karras range is the model's full σ range and the timesteps
//! are rounded to integers, as diffusers does (A1111 feeds fractional timesteps instead).

use super::config::Prediction;
use super::tables;

pub fn schedule(alphas_cumprod: &[f32], steps: usize) -> (Vec<f64>, Vec<f32>, f32) {
    let all = tables::training_sigmas(alphas_cumprod);
    let log_sigmas: Vec<f32> = all.iter().map(|s| s.ln()).collect();
    let sigma_min = all[0] as f64;
    let sigma_max = all[all.len() - 1] as f64;
    let karras = tables::karras_sigmas(sigma_min, sigma_max, steps);
    let timesteps: Vec<f64> =
        karras.iter().map(|&s| tables::round_half_even(tables::sigma_to_t(s, &log_sigmas))).collect();
    let mut sigmas: Vec<f32> = karras.iter().map(|&s| s as f32).collect();
    sigmas.push(0.0);
    (timesteps, sigmas, 1.0)
}

/// What a multistep solver remembers: the previous step's data prediction.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub previous_x0: Option<Vec<f32>>,
}

/// (α, σ) of the variance-preserving form at a VE σ.
fn alpha_sigma(sigma: f32) -> (f32, f32) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

fn lambda(sigma: f32) -> f32 {
    let (a, s) = alpha_sigma(sigma);
    a.ln() - s.ln()
}

/// One step. The last step is always first order (`lower_order_final` with a final σ of 0); with fewer than
/// 15 steps diffusers also caps the second-to-last step at order 2, which changes nothing for a 2M solver.
pub fn step(
    sigmas: &[f32],
    idx: usize,
    prediction: Prediction,
    model_output: &[f32],
    x: &mut [f32],
    history: &mut History,
    last: bool,
) {
    let (alpha_s0, sigma_s0) = alpha_sigma(sigmas[idx]);
    let x0: Vec<f32> = x
        .iter()
        .zip(model_output)
        .map(|(&v, &o)| match prediction {
            Prediction::Epsilon => (v - sigma_s0 * o) / alpha_s0,
            Prediction::VPrediction => alpha_s0 * v - sigma_s0 * o,
        })
        .collect();
    let (alpha_t, sigma_t) = alpha_sigma(sigmas[idx + 1]);
    let lambda_t = lambda(sigmas[idx + 1]);
    let lambda_s0 = lambda(sigmas[idx]);
    let h = lambda_t - lambda_s0;
    let ratio = sigma_t / sigma_s0;
    let phi = alpha_t * ((-h).exp() - 1.0);
    match history.previous_x0.as_ref() {
        Some(prev) if !last => {
            let lambda_s1 = lambda(sigmas[idx - 1]);
            let r0 = (lambda_s0 - lambda_s1) / h;
            for ((v, &m0), &m1) in x.iter_mut().zip(&x0).zip(prev) {
                let d1 = (1.0 / r0) * (m0 - m1);
                *v = ratio * *v - phi * m0 - 0.5 * phi * d1;
            }
        }
        _ => {
            for (v, &m0) in x.iter_mut().zip(&x0) {
                *v = ratio * *v - phi * m0;
            }
        }
    }
    history.previous_x0 = Some(x0);
}
