//! Stage: pixels ↔ latents. Images go in as RGB in [−1, 1] (NCHW), masks are binarised as diffusers'
//! `VaeImageProcessor` does, and decoded images come out as 8-bit RGB rounded the way `numpy_to_pil` rounds.

use std::path::Path;

use crate::ai::AiError;
use crate::ai::onnx_edit::{LATENT_MEAN, LATENT_STD, expose_in_graph_sampling};
use crate::ai::rng::TorchRng;
use crate::ai::session::{Device, Feed, Model};

/// A batch-1 NCHW float tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Latents {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Latents {
    pub fn shape(&self) -> Vec<usize> {
        vec![1, self.channels, self.height, self.width]
    }
}

/// 8-bit RGB pixels → NCHW in [−1, 1] (`x / 255 * 2 − 1`).
pub fn rgb_to_tensor(width: usize, height: usize, rgb: &[u8]) -> Latents {
    let plane = width * height;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = px[c] as f32 / 255.0 * 2.0 - 1.0;
        }
    }
    Latents { channels: 3, height, width, data }
}

/// A grey mask (white = repaint) binarised at 0.5, as a 1-channel tensor of 0/1.
pub fn mask_to_tensor(width: usize, height: usize, gray: &[u8]) -> Latents {
    let data = gray.iter().map(|&v| if v as f32 / 255.0 >= 0.5 { 1.0 } else { 0.0 }).collect();
    Latents { channels: 1, height, width, data }
}

/// `F.interpolate(mask, size=(h/f, w/f))` (nearest: every f-th pixel).
pub fn downsample_mask(mask: &Latents, factor: usize) -> Latents {
    let (h, w) = (mask.height / factor, mask.width / factor);
    let mut data = Vec::with_capacity(h * w);
    for y in 0..h {
        for x in 0..w {
            data.push(mask.data[y * factor * mask.width + x * factor]);
        }
    }
    Latents { channels: 1, height: h, width: w, data }
}

/// How the VAE encoder's distribution is turned into latents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// `latent_dist.sample(generator) · scaling` (img2img, inpainting).
    Sample,
    /// `latent_dist.mode()`, unscaled (InstructPix2Pix).
    Mode,
}

/// Load a VAE encoder. One that samples inside its graph (diffusers' legacy exporter) is rewritten to give the
/// distribution's mean and deviation, so that the sample comes from the seed; if that fails it loads as it is.
pub fn load_encoder(path: &Path, device: Device) -> Result<Model, AiError> {
    Model::load_rewritten(path, device, expose_in_graph_sampling)
}

/// What a VAE encoder outputs, in the order we prefer it.
enum Distribution {
    /// optimum: `latent_parameters` = mean and log-variance, stacked on the channel axis.
    Parameters,
    /// A legacy encoder rewritten by `load_encoder`: `latent_mean` and `latent_std`.
    MeanStd,
    /// A legacy encoder as it is: `latent_sample`, drawn inside the graph (not reproducible from the seed).
    Sample,
}

/// Encode an image to latents.
pub fn encode(
    vae_encoder: &mut Model,
    image: &Latents,
    sampling: Sampling,
    scaling: f32,
    rng: &mut TorchRng,
) -> Result<Latents, AiError> {
    let kind = if vae_encoder.has_output("latent_parameters") {
        Distribution::Parameters
    } else if vae_encoder.has_output(LATENT_MEAN) && vae_encoder.has_output(LATENT_STD) {
        Distribution::MeanStd
    } else if vae_encoder.has_output("latent_sample") {
        Distribution::Sample
    } else {
        return Err(AiError::Model("the VAE encoder has neither latent_parameters nor latent_sample".into()));
    };
    let wanted: &[&str] = match kind {
        Distribution::Parameters => &["latent_parameters"],
        Distribution::MeanStd => &[LATENT_MEAN, LATENT_STD],
        Distribution::Sample => &["latent_sample"],
    };
    let mut outs = vae_encoder.run(vec![("sample", Feed::F32(image.shape(), image.data.clone()))], wanted)?;
    let first = outs.remove(0);
    if first.shape.len() != 4 || first.shape[2] * first.shape[3] == 0 || outs.iter().any(|o| o.shape != first.shape) {
        return Err(AiError::Model("the VAE encoder returned an unexpected shape".into()));
    }
    let (c, h, w) = (first.shape[1], first.shape[2], first.shape[3]);
    let (mean, std): (Vec<f32>, Vec<f32>) = match kind {
        Distribution::Sample => {
            let lat = Latents { channels: c, height: h, width: w, data: first.data };
            return Ok(scaled(lat, sampling, scaling));
        }
        Distribution::MeanStd => (first.data, outs.remove(0).data),
        Distribution::Parameters => {
            let (mean, logvar) = first.data.split_at(c / 2 * h * w);
            (mean.to_vec(), logvar.iter().map(|lv| (0.5 * lv.clamp(-30.0, 20.0)).exp()).collect())
        }
    };
    let channels = mean.len() / (h * w);
    let data = match sampling {
        Sampling::Mode => mean,
        Sampling::Sample => {
            let noise = rng.randn_f32(mean.len());
            mean.iter().zip(&std).zip(noise).map(|((m, s), z)| m + s * z).collect()
        }
    };
    Ok(scaled(Latents { channels, height: h, width: w, data }, sampling, scaling))
}

/// `sample · scaling_factor` for sampled latents; InstructPix2Pix's mode stays unscaled, as in diffusers.
fn scaled(mut lat: Latents, sampling: Sampling, scaling: f32) -> Latents {
    if sampling == Sampling::Sample {
        lat.data.iter_mut().for_each(|v| *v *= scaling);
    }
    lat
}

/// Decode latents to 8-bit RGB (row-major, 3 bytes per pixel).
pub fn decode(vae_decoder: &mut Model, latents: &Latents, scaling: f32) -> Result<(usize, usize, Vec<u8>), AiError> {
    let scaled: Vec<f32> = latents.data.iter().map(|v| v / scaling).collect();
    let out = vae_decoder.run(vec![("latent_sample", Feed::F32(latents.shape(), scaled))], &["sample"])?.remove(0);
    if out.shape.len() != 4 || out.shape[1] != 3 {
        return Err(AiError::Model("the VAE decoder returned an unexpected shape".into()));
    }
    let (h, w) = (out.shape[2], out.shape[3]);
    let plane = h * w;
    let mut rgb = vec![0u8; 3 * plane];
    for i in 0..plane {
        for c in 0..3 {
            let v = (out.data[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0);
            rgb[i * 3 + c] = (v * 255.0).round_ties_even() as u8;
        }
    }
    Ok((w, h, rgb))
}

/// A cheap preview of SD1.x latents without the VAE: a linear map of the 4 latent channels to RGB (the factors
/// ComfyUI and A1111 use for their "approx cheap" previews), one pixel per latent.
pub fn preview_rgb(latents: &Latents) -> (usize, usize, Vec<u8>) {
    const FACTORS: [[f32; 3]; 4] =
        [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]];
    let plane = latents.width * latents.height;
    let mut rgb = vec![0u8; plane * 3];
    if latents.channels < 4 {
        return (latents.width, latents.height, rgb);
    }
    for i in 0..plane {
        for c in 0..3 {
            let v: f32 = (0..4).map(|k| latents.data[k * plane + i] * FACTORS[k][c]).sum();
            rgb[i * 3 + c] = (((v + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    (latents.width, latents.height, rgb)
}
