//! Stage: the denoising loop shared by every pipeline. Per step it builds the UNet batch (latents, plus the mask
//! and masked-image latents of 9-channel inpainting UNets or the image latents of InstructPix2Pix UNets), runs the
//! UNet, combines the predictions (classifier-free guidance, InstructPix2Pix 3-way guidance, or none), steps the
//! sampler, and for inpainting with an ordinary UNet puts the re-noised original back outside the mask.

use std::time::Instant;

use super::prompt_encoder::Conditioning;
use super::vae::Latents;
use crate::ai::AiError;
use crate::ai::rng::TorchRng;
use crate::ai::scheduler::Scheduler;
use crate::ai::session::{Elem, Feed, Model};

/// How the UNet's predictions are combined.
#[derive(Clone, Copy)]
pub enum Guidance<'a> {
    /// One prediction (LCM, or CFG scale ≤ 1).
    None { cond: &'a Conditioning },
    /// `u + g·(c − u)`, batch order [uncond, cond] as diffusers.
    Cfg { cond: &'a Conditioning, uncond: &'a Conditioning, scale: f32 },
    /// InstructPix2Pix: `u + g·(c − i) + g_img·(i − u)` over [cond+image, uncond+image, uncond+zeros].
    Instruct { cond: &'a Conditioning, uncond: &'a Conditioning, scale: f32, image_scale: f32 },
}

/// Channels appended after the latents in the UNet input.
pub enum Extra<'a> {
    None,
    /// 9-channel inpainting: mask (1) ‖ masked-image latents (4), the same for every batch entry.
    Inpaint {
        mask: &'a Latents,
        masked: &'a Latents,
    },
    /// 8-channel InstructPix2Pix: image latents (4); zeros for the unconditional-image entry.
    Instruct {
        image: &'a Latents,
    },
}

/// Ordinary-UNet inpainting: keep the original (re-noised to the current level) where the mask is 0.
pub struct Blend<'a> {
    pub mask: &'a Latents,
    pub image_latents: &'a Latents,
    pub noise: &'a [f32],
}

/// One step's report; return `false` from the callback to cancel.
pub struct StepInfo<'a> {
    pub step: usize,
    pub total: usize,
    pub latents: &'a Latents,
}

pub struct Denoise<'a> {
    pub unet: &'a mut Model,
    pub scheduler: &'a mut Scheduler,
    pub guidance: Guidance<'a>,
    pub extra: Extra<'a>,
    pub blend: Option<Blend<'a>>,
    /// LCM guidance embedding `[1, d]`.
    pub timestep_cond: Option<Vec<f32>>,
}

/// Wall time of each UNet step.
pub struct LoopResult {
    pub latents: Latents,
    pub step_times: Vec<f64>,
}

fn timestep_feed(unet: &Model, t: f64) -> Feed {
    let shape = unet.input("timestep").map(|s| s.shape.clone()).unwrap_or_default();
    match shape.as_slice() {
        [] => Feed::F32(vec![], vec![t as f32]),
        [n] if *n > 1 => Feed::F32(vec![*n as usize], vec![t as f32; *n as usize]),
        _ => Feed::F32(vec![1], vec![t as f32]),
    }
}

impl Denoise<'_> {
    /// One UNet evaluation per entry of (input channels, conditioning); entries with equal prompt lengths run
    /// as one batch.
    fn predict(
        &mut self,
        t: f64,
        entries: &[(Vec<f32>, &Conditioning)],
        shape: [usize; 3],
    ) -> Result<Vec<Vec<f32>>, AiError> {
        let [c, h, w] = shape;
        let same = entries.windows(2).all(|p| p[0].1.tokens == p[1].1.tokens && p[0].1.width == p[1].1.width);
        let groups: Vec<&[(Vec<f32>, &Conditioning)]> = if same { vec![entries] } else { entries.chunks(1).collect() };
        let mut out = Vec::with_capacity(entries.len());
        for group in groups {
            let b = group.len();
            let sample: Vec<f32> = group.iter().flat_map(|(x, _)| x.iter().copied()).collect();
            let cond0 = group[0].1;
            let hidden: Vec<f32> = group.iter().flat_map(|(_, c)| c.data.iter().copied()).collect();
            let mut feeds = vec![
                ("sample", Feed::F32(vec![b, c, h, w], sample)),
                ("timestep", timestep_feed(self.unet, t)),
                ("encoder_hidden_states", Feed::F32(vec![b, cond0.tokens, cond0.width], hidden)),
            ];
            if let Some(tc) = &self.timestep_cond {
                let d = tc.len();
                let rep: Vec<f32> = (0..b).flat_map(|_| tc.iter().copied()).collect();
                feeds.push(("timestep_cond", Feed::F32(vec![b, d], rep)));
            }
            let result = self.unet.run(feeds, &["out_sample"])?.remove(0);
            let per = result.data.len() / b;
            if per * b != result.data.len() || per != 4 * h * w {
                return Err(AiError::Model("the UNet returned an unexpected shape".into()));
            }
            out.extend(result.data.chunks_exact(per).map(|s| s.to_vec()));
        }
        Ok(out)
    }

    fn with_extra(&self, x: &[f32], zero_image: bool) -> Vec<f32> {
        let mut v = x.to_vec();
        match &self.extra {
            Extra::None => {}
            Extra::Inpaint { mask, masked } => {
                v.extend_from_slice(&mask.data);
                v.extend_from_slice(&masked.data);
            }
            Extra::Instruct { image } => {
                if zero_image {
                    v.extend(std::iter::repeat_n(0.0, image.data.len()));
                } else {
                    v.extend_from_slice(&image.data);
                }
            }
        }
        v
    }

    fn channels(&self) -> usize {
        4 + match &self.extra {
            Extra::None => 0,
            Extra::Inpaint { mask, masked } => mask.channels + masked.channels,
            Extra::Instruct { image } => image.channels,
        }
    }

    /// Run every step from `latents`.
    pub fn run(
        mut self,
        mut latents: Latents,
        rng: &mut TorchRng,
        on_step: &mut dyn FnMut(&StepInfo) -> bool,
    ) -> Result<LoopResult, AiError> {
        if self.unet.input("sample").is_some_and(|s| s.elem == Elem::Other) {
            return Err(AiError::Model("the UNet's sample input has an unsupported element type".into()));
        }
        let total = self.scheduler.timesteps().len();
        let shape = [self.channels(), latents.height, latents.width];
        let mut step_times = Vec::with_capacity(total);
        for i in 0..total {
            let start = Instant::now();
            let t = self.scheduler.timesteps()[i];
            let x = self.scheduler.scale_model_input(i, &latents.data);
            let eps: Vec<f32> = match self.guidance {
                Guidance::None { cond } => {
                    let entries = [(self.with_extra(&x, false), cond)];
                    self.predict(t, &entries, shape)?.remove(0)
                }
                Guidance::Cfg { cond, uncond, scale } => {
                    let entries = [(self.with_extra(&x, false), uncond), (self.with_extra(&x, false), cond)];
                    let p = self.predict(t, &entries, shape)?;
                    p[0].iter().zip(&p[1]).map(|(u, c)| u + scale * (c - u)).collect()
                }
                Guidance::Instruct { cond, uncond, scale, image_scale } => {
                    let entries = [
                        (self.with_extra(&x, false), cond),
                        (self.with_extra(&x, false), uncond),
                        (self.with_extra(&x, true), uncond),
                    ];
                    let p = self.predict(t, &entries, shape)?;
                    (0..p[0].len())
                        .map(|k| {
                            let (text, image, none) = (p[0][k], p[1][k], p[2][k]);
                            none + scale * (text - image) + image_scale * (image - none)
                        })
                        .collect()
                }
            };
            self.scheduler.step(i, &eps, &mut latents.data, rng);
            if let Some(blend) = &self.blend {
                let original = if i + 1 < total {
                    self.scheduler.add_noise_at(&blend.image_latents.data, blend.noise, i + 1)
                } else {
                    blend.image_latents.data.clone()
                };
                let plane = latents.height * latents.width;
                for (k, v) in latents.data.iter_mut().enumerate() {
                    let m = blend.mask.data[k % plane];
                    *v = (1.0 - m) * original[k] + m * *v;
                }
            }
            step_times.push(start.elapsed().as_secs_f64());
            if !on_step(&StepInfo { step: i + 1, total, latents: &latents }) {
                return Err(AiError::Cancelled);
            }
        }
        Ok(LoopResult { latents, step_times })
    }
}
