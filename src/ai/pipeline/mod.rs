//! Stable Diffusion pipelines composed from shared stages (prompt encoding → latents → denoising → decoding),
//! reproducing diffusers' `StableDiffusion{,Img2Img,Inpaint,InstructPix2Pix}Pipeline` and
//! `LatentConsistencyModelPipeline`, including the order of every random draw.
//!
//! [`Engine`] keeps the sessions of the last model folder loaded, so repeated jobs do not reload it.

pub mod denoise;
pub mod prompt_encoder;
pub mod vae;

use std::path::{Path, PathBuf};
use std::time::Instant;

use denoise::{Blend, ControlStage, Denoise, Extra, Guidance, StepInfo};
use prompt_encoder::{Conditioning, FinalNorm, PromptEncoder};
use vae::{Latents, Sampling};

use super::AiError;
use super::controlnet::{self, CONTROL_UNET, Control};
use super::model::{ModelFolder, UnetKind};
use super::rng::TorchRng;
use super::scheduler::{SamplerKind, Scheduler};
use super::session::{Device, Model};
use super::text::ClipTokenizer;

/// An 8-bit image handed to a pipeline: RGB (3 bytes per pixel) or grey (1 byte per pixel).
#[derive(Debug, Clone)]
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// Everything one generation needs besides the model.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: String,
    pub negative: String,
    pub steps: usize,
    pub cfg: f32,
    /// InstructPix2Pix image guidance.
    pub image_cfg: f32,
    /// img2img / inpainting strength (1 = start from pure noise).
    pub strength: f32,
    pub sampler: SamplerKind,
    pub seed: u64,
    pub width: usize,
    pub height: usize,
    /// A1111 numbering (1 = last layer).
    pub clip_skip: usize,
    /// RGB init image (img2img, inpainting, InstructPix2Pix).
    pub init: Option<Pixels>,
    /// Grey mask, white = repaint.
    pub mask: Option<Pixels>,
    /// ControlNets guiding the generation (their residuals are summed).
    pub controls: Vec<Control>,
}

impl Default for Request {
    /// A1111's defaults for what a request leaves out: Euler a, CFG 7, 20 steps, full strength, CLIP skip 1; size 0
    /// (the caller or the edit decides), no images or ControlNets.
    fn default() -> Self {
        Request {
            prompt: String::new(),
            negative: String::new(),
            steps: 20,
            cfg: 7.0,
            image_cfg: 1.5,
            strength: 1.0,
            sampler: SamplerKind::EulerAncestral,
            seed: 0,
            width: 0,
            height: 0,
            clip_skip: 1,
            init: None,
            mask: None,
            controls: Vec::new(),
        }
    }
}

impl Request {
    /// The A1111 "parameters" text for an image this request made at `width × height` with `model`.
    pub fn a1111_parameters(&self, model: &Path, width: usize, height: usize) -> String {
        let mut p = crate::io::params::GenerationParams {
            prompt: self.prompt.clone(),
            negative_prompt: self.negative.clone(),
            settings: Vec::new(),
        };
        p.set("Steps", self.steps.to_string());
        p.set("Sampler", self.sampler.a1111_name());
        p.set("CFG scale", format!("{}", self.cfg));
        p.set("Seed", self.seed.to_string());
        p.set("Size", format!("{width}x{height}"));
        if let Some(name) = model.file_name() {
            p.set("Model", name.to_string_lossy());
        }
        if self.init.is_some() {
            p.set("Denoising strength", format!("{}", self.strength));
        }
        if self.clip_skip > 1 {
            p.set("Clip skip", self.clip_skip.to_string());
        }
        for (i, c) in self.controls.iter().enumerate() {
            let name = c.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // As A1111's ControlNet extension writes it; `set` quotes the value (it holds commas).
            let text =
                format!("Model: {name}, Weight: {}, Guidance Start: {}, Guidance End: {}", c.scale, c.start, c.end);
            p.set(&format!("ControlNet {i}"), text);
        }
        p.to_text()
    }
}

/// Which pipeline a request runs, decided by its images and the UNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Txt2Img,
    Img2Img,
    Inpaint,
    Instruct,
}

/// Wall times of each stage, in seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub load: f64,
    /// Prompt parsing and tokenization.
    pub tokenize: f64,
    /// The whole prompt stage (tokenize, text encoder, CLIP skip, emphasis).
    pub tokenize_and_encode: f64,
    pub text_encoder: f64,
    pub vae_encode: f64,
    pub unet_steps: Vec<f64>,
    pub vae_decode: f64,
    pub total: f64,
    /// Time inside ONNX Runtime's `run` during this generation.
    pub onnx_runtime: f64,
}

/// A finished image.
#[derive(Debug, Clone)]
pub struct Generated {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    pub mode: Mode,
    pub timings: Timings,
    /// (model part, execution provider) for each session used.
    pub providers: Vec<(&'static str, &'static str)>,
    /// With `--ep auto` on the CPU: why no GPU provider took.
    pub gpu_fallback: Option<String>,
}

/// What a job reports while it runs; the callback returns `false` to cancel (honoured within one step).
pub enum Progress<'a> {
    Loading { part: &'static str, index: usize, count: usize },
    Step { step: usize, total: usize, latents: &'a Latents },
}

/// The sessions of one model folder.
pub struct Loaded {
    pub folder: ModelFolder,
    pub tokenizer: ClipTokenizer,
    pub text_encoder: Model,
    /// The plain UNet, or the ControlNet-capable one while ControlNets are used: they hold the same weights,
    /// so only one is kept in memory (`None` only while switching).
    unet: Option<Model>,
    unet_takes_residuals: bool,
    pub vae_encoder: Option<Model>,
    pub vae_decoder: Model,
    final_norm: Option<FinalNorm>,
    device: Device,
    controlnets: Vec<(PathBuf, Model)>,
}

impl Loaded {
    fn models(&self) -> Vec<&Model> {
        let mut v = vec![&self.text_encoder, &self.vae_decoder];
        v.extend(self.unet.as_ref());
        v.extend(self.vae_encoder.as_ref());
        v
    }

    /// The UNet for a request with (`control`) or without ControlNets. Switching releases the other one first,
    /// so a full-size model and its ControlNet UNet are never both in memory.
    fn use_unet(&mut self, control: bool) -> Result<&mut Model, AiError> {
        if self.unet.is_none() || self.unet_takes_residuals != control {
            let path = if control { self.folder.dir.join(CONTROL_UNET) } else { self.folder.unet.clone() };
            if control && !path.is_file() {
                return Err(AiError::Model(format!(
                    "this model has no ControlNet-capable UNet: missing {}",
                    path.display()
                )));
            }
            self.unet = None;
            self.unet = Some(Model::load(&path, self.device)?);
            self.unet_takes_residuals = control;
        }
        self.unet.as_mut().ok_or_else(|| AiError::Model("unet failed to load".into()))
    }

    fn ort_seconds(&self) -> f64 {
        self.models().iter().map(|m| m.ort_time.as_secs_f64()).sum()
    }
}

/// Loads model folders and runs pipelines, keeping the last model's sessions for the next job.
pub struct Engine {
    device: Device,
    loaded: Option<Loaded>,
}

impl Engine {
    pub fn new(device: Device) -> Self {
        Engine { device, loaded: None }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The sessions already loaded for `dir` on this engine's device, if any.
    fn loaded_for(&self, dir: &Path) -> Option<&Loaded> {
        self.loaded.as_ref().filter(|l| l.folder.dir == dir && l.device == self.device)
    }

    /// Load (or reuse) the sessions of a model folder.
    pub fn load(&mut self, dir: &Path, progress: &mut dyn FnMut(&Progress) -> bool) -> Result<&mut Loaded, AiError> {
        if self.loaded_for(dir).is_none() {
            self.load_opened(ModelFolder::open(dir)?, progress)?;
        }
        self.loaded.as_mut().ok_or_else(|| AiError::Model("no model loaded".into()))
    }

    /// Load the sessions of an opened model folder, replacing whatever was loaded.
    fn load_opened(&mut self, folder: ModelFolder, progress: &mut dyn FnMut(&Progress) -> bool) -> Result<(), AiError> {
        self.loaded = None;
        let tokenizer = ClipTokenizer::load(&folder.tokenizer)?;
        let mut parts: Vec<(&'static str, PathBuf)> = vec![
            ("text_encoder", folder.text_encoder.clone()),
            ("unet", folder.unet.clone()),
            ("vae_decoder", folder.vae_decoder.clone()),
        ];
        if let Some(enc) = &folder.vae_encoder {
            parts.push(("vae_encoder", enc.clone()));
        }
        let count = parts.len();
        let mut models = Vec::with_capacity(count);
        for (index, (part, path)) in parts.into_iter().enumerate() {
            if !progress(&Progress::Loading { part, index, count }) {
                return Err(AiError::Cancelled);
            }
            models.push(match part {
                "vae_encoder" => vae::load_encoder(&path, self.device)?,
                _ => Model::load(&path, self.device)?,
            });
        }
        let vae_encoder = if count == 4 { models.pop() } else { None };
        let vae_decoder = models.pop().ok_or_else(|| AiError::Model("vae_decoder failed to load".into()))?;
        let unet = models.pop().ok_or_else(|| AiError::Model("unet failed to load".into()))?;
        let text_encoder = models.pop().ok_or_else(|| AiError::Model("text_encoder failed to load".into()))?;
        let final_norm = FinalNorm::load(&folder.text_encoder).ok();
        self.loaded = Some(Loaded {
            folder,
            tokenizer,
            text_encoder,
            unet: Some(unet),
            unet_takes_residuals: false,
            vae_encoder,
            vae_decoder,
            final_norm,
            device: self.device,
            controlnets: Vec::new(),
        });
        Ok(())
    }

    /// Run one generation with the model in `dir`.
    pub fn generate(
        &mut self,
        dir: &Path,
        req: &Request,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<Generated, AiError> {
        let start = Instant::now();
        // A bad request is refused before any model loads (the folder's configs are enough to judge it).
        let mode = match self.loaded_for(dir) {
            Some(l) => check_request(&l.folder, req)?,
            None => {
                let folder = ModelFolder::open(dir)?;
                let mode = check_request(&folder, req)?;
                self.load_opened(folder, progress)?;
                mode
            }
        };
        let loaded = self.loaded.as_mut().ok_or_else(|| AiError::Model("no model loaded".into()))?;
        let load = start.elapsed().as_secs_f64();
        let mut out = run(loaded, req, mode, progress)?;
        out.timings.load = load;
        out.timings.total = start.elapsed().as_secs_f64();
        Ok(out)
    }
}

fn check_request(folder: &ModelFolder, req: &Request) -> Result<Mode, AiError> {
    folder.check_size(req.width, req.height)?;
    for (what, img) in [("--init", &req.init), ("--mask", &req.mask)] {
        if let Some(img) = img
            && (img.width != req.width || img.height != req.height)
        {
            return Err(AiError::Input(format!(
                "{what} image is {}×{} but the output is {}×{}; they must match",
                img.width, img.height, req.width, req.height
            )));
        }
    }
    if !(1..=super::scheduler::MAX_STEPS).contains(&req.steps) {
        return Err(super::scheduler::SchedulerError::Steps(req.steps).into());
    }
    let ranges = [
        ("strength", req.strength, 0.0, 1.0),
        ("CFG scale", req.cfg, 0.0, 100.0),
        ("image CFG scale", req.image_cfg, 0.0, 100.0),
    ];
    let controls = req.controls.iter().map(|c| ("ControlNet scale", c.scale, 0.0, 10.0));
    for (what, value, lo, hi) in ranges.into_iter().chain(controls) {
        if !(lo..=hi).contains(&value) {
            return Err(AiError::Input(format!("{what} must be between {lo} and {hi} (got {value})")));
        }
    }
    let mode = match (&req.init, &req.mask, folder.kind) {
        (None, None, UnetKind::Standard) => Mode::Txt2Img,
        (None, Some(_), _) => return Err(AiError::Input("a mask needs an init image (--init)".into())),
        (None, None, UnetKind::Inpainting) => {
            return Err(AiError::Input("this is an inpainting model: give --init and --mask".into()));
        }
        (None, None, UnetKind::Instruct) => {
            return Err(AiError::Input("this is an InstructPix2Pix model: give --init".into()));
        }
        (Some(_), None, UnetKind::Instruct) => Mode::Instruct,
        (Some(_), None, UnetKind::Standard) => Mode::Img2Img,
        (Some(_), None, UnetKind::Inpainting) => {
            return Err(AiError::Input("this is an inpainting model: give a --mask too".into()));
        }
        (Some(_), Some(_), UnetKind::Instruct) => {
            return Err(AiError::Input("InstructPix2Pix models do not take a mask".into()));
        }
        (Some(_), Some(_), _) => Mode::Inpaint,
    };
    if mode != Mode::Txt2Img && folder.vae_encoder.is_none() {
        return Err(AiError::Model(format!(
            "not a usable model folder for this job: missing {}",
            folder.dir.join("vae_encoder/model.onnx").display()
        )));
    }
    Ok(mode)
}

/// Loads the ControlNet-capable UNet and the request's ControlNets (kept for later jobs) and checks that they
/// fit together; `false` when the request has none.
fn load_controls(loaded: &mut Loaded, req: &Request, mode: Mode) -> Result<bool, AiError> {
    if req.controls.is_empty() {
        return Ok(false);
    }
    if mode == Mode::Instruct {
        return Err(AiError::Input("ControlNet does not combine with InstructPix2Pix models".into()));
    }
    let files = req.controls.iter().map(|c| controlnet::model_file(&c.model)).collect::<Result<Vec<_>, _>>()?;
    // The UNet switches first, so the plain one is released before the ControlNets load.
    loaded.use_unet(true)?;
    loaded.controlnets.retain(|(p, _)| req.controls.iter().any(|c| &c.model == p));
    for (c, file) in req.controls.iter().zip(files) {
        if !loaded.controlnets.iter().any(|(p, _)| p == &c.model) {
            let net = Model::load(&file, loaded.device)?;
            loaded.controlnets.push((c.model.clone(), net));
        }
    }
    if let Some(unet) = &loaded.unet {
        for (_, net) in &loaded.controlnets {
            controlnet::check_fit(net, unet)?;
        }
    }
    Ok(true)
}

fn control_stage<'a>(controlnets: &'a mut [(PathBuf, Model)], req: &'a Request) -> Result<ControlStage<'a>, AiError> {
    let mut nets = Vec::new();
    let mut controls = Vec::new();
    let mut used: Vec<&PathBuf> = Vec::new();
    for (path, net) in controlnets.iter_mut() {
        if req.controls.iter().any(|c| &c.model == path) {
            used.push(path);
            nets.push(net);
        }
    }
    for c in &req.controls {
        let index =
            used.iter().position(|p| *p == &c.model).ok_or_else(|| AiError::Model("ControlNet not loaded".into()))?;
        controls.push((index, c, c.tensor(req.width, req.height)?));
    }
    Ok(ControlStage { nets, controls, size: [req.height, req.width] })
}

/// LCM's guidance-scale embedding (`get_guidance_scale_embedding`).
fn guidance_embedding(cfg: f32, dim: usize) -> Vec<f32> {
    let w = (cfg - 1.0) * 1000.0;
    let half = dim / 2;
    let step = (10000f32).ln() / (half as f32 - 1.0).max(1.0);
    let freqs: Vec<f32> = (0..half).map(|k| (k as f32 * -step).exp()).collect();
    let mut v: Vec<f32> = freqs.iter().map(|f| (w * f).sin()).collect();
    v.extend(freqs.iter().map(|f| (w * f).cos()));
    v.resize(dim, 0.0);
    v
}

/// One generation on loaded sessions; `mode` is what `check_request` made of the request.
fn run(
    loaded: &mut Loaded,
    req: &Request,
    mode: Mode,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Generated, AiError> {
    let start = Instant::now();
    let ort_before = loaded.ort_seconds();
    // Switching between the plain and the ControlNet UNet reloads it: say so (and allow cancelling first).
    let wants_control = !req.controls.is_empty();
    let switching = loaded.unet_takes_residuals != wants_control;
    if switching && !progress(&Progress::Loading { part: "unet", index: 0, count: 1 }) {
        return Err(AiError::Cancelled);
    }
    let control = load_controls(loaded, req, mode)?;
    if !control {
        loaded.controlnets.clear();
        loaded.use_unet(false)?;
    }
    let folder = loaded.folder.clone();
    let mut timings = Timings::default();
    let mut rng = TorchRng::new(req.seed);

    // Prompt encoding. LCM UNets (guidance embedded) and CFG ≤ 1 run without an unconditional branch.
    let lcm_dim = folder.time_cond_proj_dim.or_else(|| {
        loaded.unet.as_ref()?.input("timestep_cond").and_then(|s| s.shape.get(1).copied()).map(|d| d as usize)
    });
    let cfg_active = match mode {
        Mode::Instruct => req.cfg > 1.0 && req.image_cfg >= 1.0,
        _ => req.cfg > 1.0 && lcm_dim.is_none(),
    };
    let t0 = Instant::now();
    let ort0 = loaded.text_encoder.ort_time;
    let (cond, uncond): (Conditioning, Option<Conditioning>) = {
        let mut enc = PromptEncoder {
            tokenizer: &loaded.tokenizer,
            text_encoder: &mut loaded.text_encoder,
            clip_skip: req.clip_skip.max(1),
            final_norm: loaded.final_norm.as_ref(),
            tokenize_time: std::time::Duration::ZERO,
        };
        let cond = enc.encode(&req.prompt)?;
        let uncond = if cfg_active { Some(enc.encode(&req.negative)?) } else { None };
        timings.tokenize = enc.tokenize_time.as_secs_f64();
        (cond, uncond)
    };
    timings.tokenize_and_encode = t0.elapsed().as_secs_f64();
    timings.text_encoder = (loaded.text_encoder.ort_time - ort0).as_secs_f64();

    let f = folder.vae_factor;
    let (lh, lw) = (req.height / f, req.width / f);
    let strength = if mode == Mode::Img2Img || mode == Mode::Inpaint { req.strength } else { 1.0 };
    let mut scheduler =
        Scheduler::new(req.sampler, &folder.scheduler, req.steps, (strength < 1.0).then_some(strength))?;
    if scheduler.timesteps().is_empty() {
        return Err(AiError::Input(format!(
            "strength {} with {} steps leaves no step to run",
            req.strength, req.steps
        )));
    }
    let n = 4 * lh * lw;
    let scale = folder.scaling_factor;
    let t_vae = Instant::now();

    // Latents and the extra UNet inputs, in diffusers' order of random draws.
    let mut image_latents = None;
    let mut mask_latents = None;
    let mut masked_latents = None;
    let mut blend_noise = None;
    let latents: Latents = match mode {
        Mode::Txt2Img => {
            let noise = rng.randn_f32(n);
            let s = scheduler.init_noise_sigma();
            Latents { channels: 4, height: lh, width: lw, data: noise.into_iter().map(|v| v * s).collect() }
        }
        Mode::Img2Img => {
            let init = req.init.as_ref().ok_or_else(|| AiError::Input("--init is required".into()))?;
            let enc = loaded.vae_encoder.as_mut().ok_or_else(|| AiError::Model("no VAE encoder".into()))?;
            let image = vae::rgb_to_tensor(init.width, init.height, &init.data);
            let lat = vae::encode(enc, &image, Sampling::Sample, scale, &mut rng)?;
            let noise = rng.randn_f32(n);
            Latents { data: scheduler.add_noise(&lat.data, &noise), ..lat }
        }
        Mode::Inpaint => {
            let init = req.init.as_ref().ok_or_else(|| AiError::Input("--init is required".into()))?;
            let mask = req.mask.as_ref().ok_or_else(|| AiError::Input("--mask is required".into()))?;
            let enc = loaded.vae_encoder.as_mut().ok_or_else(|| AiError::Model("no VAE encoder".into()))?;
            let image = vae::rgb_to_tensor(init.width, init.height, &init.data);
            let mask_full = vae::mask_to_tensor(mask.width, mask.height, &mask.data);
            let four = folder.kind == UnetKind::Standard;
            let strength_max = strength >= 1.0;
            if four || !strength_max {
                image_latents = Some(vae::encode(enc, &image, Sampling::Sample, scale, &mut rng)?);
            }
            let noise = rng.randn_f32(n);
            let latents = match (&image_latents, strength_max) {
                (Some(il), false) => scheduler.add_noise(&il.data, &noise),
                _ => {
                    let s = scheduler.init_noise_sigma();
                    noise.iter().map(|v| v * s).collect()
                }
            };
            // The masked image (repaint area set to 0) is encoded even for 4-channel UNets, as diffusers does.
            let mut masked = image.clone();
            let plane = image.width * image.height;
            for (k, v) in masked.data.iter_mut().enumerate() {
                if mask_full.data[k % plane] >= 0.5 {
                    *v = 0.0;
                }
            }
            masked_latents = Some(vae::encode(enc, &masked, Sampling::Sample, scale, &mut rng)?);
            mask_latents = Some(vae::downsample_mask(&mask_full, f));
            blend_noise = Some(noise);
            Latents { channels: 4, height: lh, width: lw, data: latents }
        }
        Mode::Instruct => {
            let init = req.init.as_ref().ok_or_else(|| AiError::Input("--init is required".into()))?;
            let enc = loaded.vae_encoder.as_mut().ok_or_else(|| AiError::Model("no VAE encoder".into()))?;
            let image = vae::rgb_to_tensor(init.width, init.height, &init.data);
            image_latents = Some(vae::encode(enc, &image, Sampling::Mode, scale, &mut rng)?);
            let noise = rng.randn_f32(n);
            let s = scheduler.init_noise_sigma();
            Latents { channels: 4, height: lh, width: lw, data: noise.into_iter().map(|v| v * s).collect() }
        }
    };
    timings.vae_encode = if mode == Mode::Txt2Img { 0.0 } else { t_vae.elapsed().as_secs_f64() };

    let guidance = match (&uncond, mode) {
        (None, _) => Guidance::None { cond: &cond },
        (Some(u), Mode::Instruct) => {
            Guidance::Instruct { cond: &cond, uncond: u, scale: req.cfg, image_scale: req.image_cfg }
        }
        (Some(u), _) => Guidance::Cfg { cond: &cond, uncond: u, scale: req.cfg },
    };
    let extra = match (folder.kind, &mask_latents, &masked_latents, &image_latents) {
        (UnetKind::Inpainting, Some(mask), Some(masked), _) => Extra::Inpaint { mask, masked },
        (UnetKind::Instruct, _, _, Some(image)) => Extra::Instruct { image },
        _ => Extra::None,
    };
    let blend = match (folder.kind, mode, &mask_latents, &image_latents, &blend_noise) {
        (UnetKind::Standard, Mode::Inpaint, Some(mask), Some(image_latents), Some(noise)) => {
            Some(Blend { mask, image_latents, noise })
        }
        _ => None,
    };
    let timestep_cond = lcm_dim.map(|d| guidance_embedding(req.cfg, d));
    let control = control.then(|| control_stage(&mut loaded.controlnets, req)).transpose()?;
    let result = Denoise {
        unet: loaded.unet.as_mut().ok_or_else(|| AiError::Model("no UNet loaded".into()))?,
        scheduler: &mut scheduler,
        guidance,
        extra,
        blend,
        timestep_cond,
        control,
    }
    .run(latents, &mut rng, &mut |s: &StepInfo| {
        progress(&Progress::Step { step: s.step, total: s.total, latents: s.latents })
    })?;
    timings.unet_steps = result.step_times;

    let t_dec = Instant::now();
    // LCM's last step returns its denoised estimate as the latents, so this is also what LCM pipelines decode.
    let (width, height, rgb) = vae::decode(&mut loaded.vae_decoder, &result.latents, scale)?;
    timings.vae_decode = t_dec.elapsed().as_secs_f64();
    timings.total = start.elapsed().as_secs_f64();
    timings.onnx_runtime = loaded.ort_seconds() - ort_before;

    let mut providers = vec![
        ("text_encoder", loaded.text_encoder.provider),
        ("unet", loaded.unet.as_ref().map_or("CPU", |u| u.provider)),
    ];
    if let Some(e) = &loaded.vae_encoder {
        providers.push(("vae_encoder", e.provider));
    }
    providers.push(("vae_decoder", loaded.vae_decoder.provider));
    let gpu_fallback = [Some(&loaded.text_encoder), loaded.unet.as_ref(), Some(&loaded.vae_decoder)]
        .into_iter()
        .flatten()
        .find_map(|m| m.gpu_fallback.clone());
    Ok(Generated { width, height, rgb, mode, timings, providers, gpu_fallback })
}
