//! Stage: pixels ↔ latents. Images go in as RGB in [−1, 1] (NCHW), masks are binarised as diffusers'
//! `VaeImageProcessor` does, and decoded images come out as 8-bit RGB rounded the way `numpy_to_pil` rounds.

use crate::ai::AiError;
use crate::ai::rng::TorchRng;
use crate::ai::session::{Feed, Model};

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

/// Encode an image to latents.
pub fn encode(
    vae_encoder: &mut Model,
    image: &Latents,
    sampling: Sampling,
    scaling: f32,
    rng: &mut TorchRng,
) -> Result<Latents, AiError> {
    let output_name = if vae_encoder.has_output("latent_parameters") {
        "latent_parameters"
    } else if vae_encoder.has_output("latent_sample") {
        "latent_sample"
    } else {
        return Err(AiError::Model("the VAE encoder has neither latent_parameters nor latent_sample".into()));
    };
    let out =
        vae_encoder.run(vec![("sample", Feed::F32(image.shape(), image.data.clone()))], &[output_name])?.remove(0);
    if out.shape.len() != 4 {
        return Err(AiError::Model("the VAE encoder returned an unexpected shape".into()));
    }
    let (c, h, w) = (out.shape[1], out.shape[2], out.shape[3]);
    let mut lat = if output_name == "latent_sample" {
        // Old exports sample inside the graph (not reproducible from the seed); take it as it is.
        Latents { channels: c, height: h, width: w, data: out.data }
    } else {
        let half = c / 2;
        let n = half * h * w;
        let (mean, logvar) = out.data.split_at(n);
        match sampling {
            Sampling::Mode => Latents { channels: half, height: h, width: w, data: mean.to_vec() },
            Sampling::Sample => {
                let noise = rng.randn_f32(n);
                let data = mean
                    .iter()
                    .zip(logvar)
                    .zip(noise)
                    .map(|((m, lv), z)| m + (0.5 * lv.clamp(-30.0, 20.0)).exp() * z)
                    .collect();
                Latents { channels: half, height: h, width: w, data }
            }
        }
    };
    if sampling == Sampling::Sample {
        lat.data.iter_mut().for_each(|v| *v *= scaling);
    }
    Ok(lat)
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
