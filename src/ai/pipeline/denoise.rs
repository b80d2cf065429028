//! Stage: the denoising loop shared by every pipeline. Per step it builds the UNet batch (latents, plus the mask
//! and masked-image latents of 9-channel inpainting UNets or the image latents of InstructPix2Pix UNets), runs the
//! UNet, combines the predictions (classifier-free guidance, InstructPix2Pix 3-way guidance, or none), steps the
//! sampler, and for inpainting with an ordinary UNet puts the re-noised original back outside the mask.
//! With ControlNets the UNet is the ControlNet-capable one: every step runs the ControlNets first (at scale 0
//! outside their window, as diffusers does) and feeds it their summed residuals. Plain generations never run one.

use std::time::Instant;

use super::prompt_encoder::Conditioning;
use super::vae::Latents;
use crate::ai::AiError;
use crate::ai::controlnet::{Control, residual_names};
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

/// ControlNet guidance for the loop (the `Denoise` UNet must then be the ControlNet-capable one).
pub struct ControlStage<'a> {
    /// The ControlNet sessions, one per distinct folder.
    pub nets: Vec<&'a mut Model>,
    /// (index into `nets`, the request's control, its image as `[3, H, W]` in [0, 1]).
    pub controls: Vec<(usize, &'a Control, Vec<f32>)>,
    /// Control image size (the generation size).
    pub size: [usize; 2],
}

pub struct Denoise<'a> {
    pub unet: &'a mut Model,
    pub scheduler: &'a mut Scheduler,
    pub guidance: Guidance<'a>,
    pub extra: Extra<'a>,
    pub blend: Option<Blend<'a>>,
    /// LCM guidance embedding `[1, d]`.
    pub timestep_cond: Option<Vec<f32>>,
    pub control: Option<ControlStage<'a>>,
}

/// Wall time of each UNet step.
pub struct LoopResult {
    pub latents: Latents,
    pub step_times: Vec<f64>,
}

/// A scalar for `input`, shaped as the model declares it (`[]`, `[1]` or `[n]`).
fn scalar_feed(model: &Model, input: &str, v: f32) -> Feed<'static> {
    let shape = model.input(input).map(|s| s.shape.clone()).unwrap_or_default();
    match shape.as_slice() {
        [] => Feed::F32(vec![], vec![v]),
        [n] if *n > 1 => Feed::F32(vec![*n as usize], vec![v; *n as usize]),
        _ => Feed::F32(vec![1], vec![v]),
    }
}

/// One extra UNet input made by the ControlNets.
struct Residual {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// What the UNet is about to see for one batch: the latents (without extra channels) and the text.
struct UnetBatch<'b> {
    sample: &'b [f32],
    sample_shape: [usize; 4],
    hidden: &'b [f32],
    hidden_shape: [usize; 3],
}

impl ControlStage<'_> {
    /// The summed residuals of the ControlNets at step `[i, n]` for one UNet batch; outside its window a
    /// ControlNet runs at scale 0 (zeros of the right shapes, as diffusers does).
    fn residuals(&mut self, [i, n]: [usize; 2], t: f64, batch: &UnetBatch) -> Result<Vec<Residual>, AiError> {
        let b = batch.sample_shape[0];
        let [h, w] = self.size;
        let mut sum: Option<Vec<Residual>> = None;
        for (net, control, image) in &self.controls {
            let scale = if control.active(i, n) { control.scale } else { 0.0 };
            let model = &mut *self.nets[*net];
            let names = residual_names(model.outputs.iter().map(String::as_str));
            let cond: Vec<f32> = (0..b).flat_map(|_| image.iter().copied()).collect();
            let feeds = vec![
                ("sample", Feed::F32(batch.sample_shape.to_vec(), batch.sample.to_vec())),
                ("timestep", scalar_feed(model, "timestep", t as f32)),
                ("encoder_hidden_states", Feed::F32(batch.hidden_shape.to_vec(), batch.hidden.to_vec())),
                ("controlnet_cond", Feed::F32(vec![b, 3, h, w], cond)),
                ("conditioning_scale", scalar_feed(model, "conditioning_scale", scale)),
            ];
            let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
            let outs = model.run(feeds, &wanted)?;
            match &mut sum {
                None => {
                    let all = names.into_iter().zip(outs);
                    sum = Some(all.map(|(name, o)| Residual { name, shape: o.shape, data: o.data }).collect());
                }
                Some(acc) => {
                    for (r, o) in acc.iter_mut().zip(outs) {
                        r.data.iter_mut().zip(o.data).for_each(|(x, y)| *x += y);
                    }
                }
            }
        }
        sum.ok_or_else(|| AiError::Input("a ControlNet stage without ControlNets".into()))
    }
}

impl Denoise<'_> {
    /// One UNet evaluation per entry of (input channels, conditioning); entries with equal prompt lengths run
    /// as one batch.
    fn predict(
        &mut self,
        step: [usize; 2],
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
            let hidden_shape = [b, cond0.tokens, cond0.width];
            // ControlNets see the latents only (no inpainting / instruct channels).
            let residuals = match self.control.as_mut() {
                Some(stage) => {
                    let latents: Vec<f32> = group.iter().flat_map(|(x, _)| x[..4 * h * w].iter().copied()).collect();
                    let batch =
                        UnetBatch { sample: &latents, sample_shape: [b, 4, h, w], hidden: &hidden, hidden_shape };
                    stage.residuals(step, t, &batch)?
                }
                None => Vec::new(),
            };
            let unet = &mut *self.unet;
            let names: Vec<String> = residuals.iter().map(|r| r.name.clone()).collect();
            let mut feeds = vec![
                ("sample", Feed::F32(vec![b, c, h, w], sample)),
                ("timestep", scalar_feed(unet, "timestep", t as f32)),
                ("encoder_hidden_states", Feed::F32(hidden_shape.to_vec(), hidden)),
            ];
            if let Some(tc) = &self.timestep_cond {
                let d = tc.len();
                let rep: Vec<f32> = (0..b).flat_map(|_| tc.iter().copied()).collect();
                feeds.push(("timestep_cond", Feed::F32(vec![b, d], rep)));
            }
            for (r, name) in residuals.into_iter().zip(&names) {
                feeds.push((name.as_str(), Feed::F32(r.shape, r.data)));
            }
            let result = unet.run(feeds, &["out_sample"])?.remove(0);
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
                    self.predict([i, total], t, &entries, shape)?.remove(0)
                }
                Guidance::Cfg { cond, uncond, scale } => {
                    let entries = [(self.with_extra(&x, false), uncond), (self.with_extra(&x, false), cond)];
                    let p = self.predict([i, total], t, &entries, shape)?;
                    p[0].iter().zip(&p[1]).map(|(u, c)| u + scale * (c - u)).collect()
                }
                Guidance::Instruct { cond, uncond, scale, image_scale } => {
                    let entries = [
                        (self.with_extra(&x, false), cond),
                        (self.with_extra(&x, false), uncond),
                        (self.with_extra(&x, true), uncond),
                    ];
                    let p = self.predict([i, total], t, &entries, shape)?;
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
