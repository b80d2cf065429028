//! The noise tables every sampler shares, computed with the precisions diffusers uses (float32 tensors, float64
//! numpy where diffusers goes through numpy): betas, ᾱ, the training sigmas, timestep spacing, interpolation
//! of sigmas at fractional timesteps, Karras sigmas and the inverse map σ → t.

use super::config::{BetaSchedule, SchedulerConfig, Spacing};

/// `torch.linspace(start, end, n, dtype=float32)` (ATen computes from both ends towards the middle).
fn torch_linspace_f32(start: f64, end: f64, n: usize) -> Vec<f32> {
    let (start, end) = (start as f32, end as f32);
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    let halfway = n / 2;
    (0..n).map(|i| if i < halfway { start + step * i as f32 } else { end - step * (n - i - 1) as f32 }).collect()
}

/// `numpy.linspace(start, end, n)` in float64 (numpy also fills the last point with `end` exactly).
pub fn np_linspace(start: f64, end: f64, n: usize, endpoint: bool) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let div = if endpoint { n.saturating_sub(1) } else { n };
    if div == 0 {
        return vec![start];
    }
    let step = (end - start) / div as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    if endpoint && n > 1 {
        v[n - 1] = end;
    }
    v
}

/// The betas of the config as float32.
pub fn betas(cfg: &SchedulerConfig) -> Vec<f32> {
    let n = cfg.num_train_timesteps;
    let betas = if let Some(trained) = &cfg.trained_betas {
        trained.iter().map(|&b| b as f32).collect()
    } else {
        match cfg.beta_schedule {
            BetaSchedule::Linear => torch_linspace_f32(cfg.beta_start, cfg.beta_end, n),
            BetaSchedule::ScaledLinear => {
                torch_linspace_f32(cfg.beta_start.sqrt(), cfg.beta_end.sqrt(), n).into_iter().map(|b| b * b).collect()
            }
            BetaSchedule::SquaredCosCapV2 => {
                let alpha_bar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos().powi(2);
                (0..n)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                    })
                    .collect()
            }
        }
    };
    if cfg.rescale_betas_zero_snr { rescale_zero_terminal_snr(&betas) } else { betas }
}

/// `torch.cumprod(1 - betas)`: ATen accumulates float cumulative products in double.
pub fn alphas_cumprod(betas: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    betas
        .iter()
        .map(|&b| {
            acc *= (1.0f32 - b) as f64;
            acc as f32
        })
        .collect()
}

/// diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023), for zero-terminal-SNR models.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let ac = alphas_cumprod(betas);
    let mut sqrt: Vec<f32> = ac.iter().map(|a| a.sqrt()).collect();
    let (first, last) = (sqrt[0], sqrt[sqrt.len() - 1]);
    for s in &mut sqrt {
        *s -= last;
        *s *= first / (first - last);
    }
    let bar: Vec<f32> = sqrt.iter().map(|s| s * s).collect();
    let mut out = Vec::with_capacity(bar.len());
    out.push(1.0 - bar[0]);
    for i in 1..bar.len() {
        out.push(1.0 - bar[i] / bar[i - 1]);
    }
    out
}

/// Training sigmas `√((1−ᾱ)/ᾱ)` in float32.
pub fn training_sigmas(alphas_cumprod: &[f32]) -> Vec<f32> {
    alphas_cumprod.iter().map(|&a| ((1.0 - a) / a).sqrt()).collect()
}

/// `numpy.interp(t, arange(len), sigmas)`.
pub fn interp_sigma(t: f64, sigmas: &[f32]) -> f64 {
    let last = sigmas.len() - 1;
    if t <= 0.0 {
        return sigmas[0] as f64;
    }
    if t >= last as f64 {
        return sigmas[last] as f64;
    }
    let j = t.floor() as usize;
    let (a, b) = (sigmas[j] as f64, sigmas[j + 1] as f64);
    (b - a) * (t - j as f64) + a
}

/// Karras et al. (2022) sigmas from `sigma_max` down to `sigma_min`, ρ = 7.
pub fn karras_sigmas(sigma_min: f64, sigma_max: f64, n: usize) -> Vec<f64> {
    let rho = 7.0;
    let (min_inv, max_inv) = (sigma_min.powf(1.0 / rho), sigma_max.powf(1.0 / rho));
    np_linspace(0.0, 1.0, n, true).into_iter().map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho)).collect()
}

/// diffusers' `_sigma_to_t`: log-σ linear interpolation over the training sigmas (`log_sigmas` in float32).
pub fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    let n = log_sigmas.len();
    // The last index whose log-σ is ≤ log_sigma (0 when none is), at most n − 2.
    let low = log_sigmas.iter().rposition(|&l| log_sigma - l as f64 >= 0.0).unwrap_or(0).min(n - 2);
    let (lo, hi) = (log_sigmas[low] as f64, log_sigmas[low + 1] as f64);
    let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * (low + 1) as f64
}

/// The spaced timesteps of Euler-type samplers (float, not rounded for linspace).
pub fn spaced_timesteps(cfg: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let n_train = cfg.num_train_timesteps;
    match cfg.spacing {
        Spacing::Linspace => {
            let mut t = np_linspace(0.0, (n_train - 1) as f64, steps, true);
            t.iter_mut().for_each(|v| *v = *v as f32 as f64);
            t.reverse();
            t
        }
        Spacing::Leading => {
            let ratio = n_train / steps;
            (0..steps).rev().map(|i| (i * ratio + cfg.steps_offset) as f64).collect()
        }
        Spacing::Trailing => trailing(n_train, n_train as f64 / steps as f64),
    }
}

/// Integer timesteps as DDIM spaces them (linspace rounded).
pub fn spaced_timesteps_int(cfg: &SchedulerConfig, steps: usize) -> Vec<f64> {
    let n_train = cfg.num_train_timesteps;
    match cfg.spacing {
        Spacing::Linspace => {
            let mut t: Vec<f64> =
                np_linspace(0.0, (n_train - 1) as f64, steps, true).into_iter().map(round_half_even).collect();
            t.reverse();
            t
        }
        _ => spaced_timesteps(cfg, steps),
    }
}

/// `round(arange(n_train, 0, -ratio)) - 1`.
pub fn trailing(n_train: usize, ratio: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut i = 0usize;
    loop {
        let v = n_train as f64 - i as f64 * ratio;
        if v <= 0.0 {
            break;
        }
        out.push(round_half_even(v) - 1.0);
        i += 1;
    }
    out
}

/// numpy rounds halves to even.
pub fn round_half_even(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 { 2.0 * (v / 2.0).round() } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::scheduler::{SamplerKind, config::SchedulerConfigFile};

    fn sd15() -> SchedulerConfig {
        let file = SchedulerConfigFile {
            beta_start: Some(0.00085),
            beta_end: Some(0.012),
            beta_schedule: Some("scaled_linear".into()),
            steps_offset: Some(1),
            ..Default::default()
        };
        SchedulerConfig::resolve(&file, SamplerKind::Euler).unwrap()
    }

    #[test]
    fn sd15_alphas_and_sigmas_match_the_published_values() {
        let ac = alphas_cumprod(&betas(&sd15()));
        assert!((ac[0] - 0.999_15).abs() < 1e-7);
        assert!((ac[999] - 0.00466010).abs() < 1e-7);
        let s = training_sigmas(&ac);
        assert!((s[0] - 0.029168).abs() < 1e-5 && (s[999] - 14.61465).abs() < 1e-4);
    }

    #[test]
    fn trailing_and_rounding() {
        assert_eq!(trailing(1000, 250.0), vec![999.0, 749.0, 499.0, 249.0]);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-0.4), -0.0);
    }
}
