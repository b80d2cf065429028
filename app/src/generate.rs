//! `oekaki generate`: one Stable Diffusion job from the command line, through the core engine.
//! The flag names are a contract other tools rely on (see README).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use oekaki::ai::pipeline::{Engine, Pixels, Progress, Request};
use oekaki::ai::scheduler::SamplerKind;
use oekaki::ai::session::Device;
use oekaki::io::Limits;
use oekaki::io::params::GenerationParams;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model folder (optimum / diffusers ONNX layout).
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value = "")]
    negative: String,
    /// Init image: img2img, or InstructPix2Pix when the UNet has 8 input channels.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Mask (white = repaint): inpainting.
    #[arg(long)]
    mask: Option<PathBuf>,
    #[arg(long)]
    strength: Option<f32>,
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long)]
    cfg: Option<f32>,
    /// InstructPix2Pix image guidance.
    #[arg(long, default_value_t = 1.5)]
    image_cfg: f32,
    /// euler_a | euler | dpmpp_2m_karras | ddim | lcm
    #[arg(long, default_value = "euler_a")]
    sampler: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    width: Option<usize>,
    #[arg(long)]
    height: Option<usize>,
    /// A1111 numbering: 1 = last layer, 2 = penultimate.
    #[arg(long, default_value_t = 1)]
    clip_skip: usize,
    /// auto | cpu | cuda | directml | coreml
    #[arg(long, default_value = "auto")]
    ep: String,
    /// Write per-stage wall times as JSON.
    #[arg(long)]
    timings: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

fn load_pixels(path: &Path, gray: bool) -> Result<Pixels> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let img = oekaki::io::raster_file::decode_rgba(&bytes, Limits::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let data = if gray {
        // PIL's convert("L"): ITU-R 601-2 luma with rounding.
        img.pixels()
            .map(|p| ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8)
            .collect()
    } else {
        img.pixels().flat_map(|p| [p[0], p[1], p[2]]).collect()
    };
    Ok(Pixels { width: w, height: h, data })
}

pub fn generate(a: GenerateArgs) -> Result<()> {
    let sampler = SamplerKind::parse(&a.sampler)?;
    let device = Device::parse(&a.ep)?;
    if a.mask.is_some() && a.init.is_none() {
        bail!("--mask needs --init");
    }
    let init = a.init.as_deref().map(|p| load_pixels(p, false)).transpose()?;
    let mask = a.mask.as_deref().map(|p| load_pixels(p, true)).transpose()?;
    let folder = oekaki::ai::model::ModelFolder::open(&a.model)?;
    let native = folder.native_size();
    let (width, height) = match (&init, a.width, a.height) {
        (_, Some(w), Some(h)) => (w, h),
        (Some(i), None, None) => (i.width, i.height),
        (_, w, h) => (w.unwrap_or(native), h.unwrap_or(native)),
    };
    let cfg = a.cfg.unwrap_or(if sampler == SamplerKind::Lcm { 1.5 } else { 7.0 });
    let req = Request {
        prompt: a.prompt.clone(),
        negative: a.negative.clone(),
        steps: a.steps,
        cfg,
        image_cfg: a.image_cfg,
        strength: a.strength.unwrap_or(if mask.is_some() { 1.0 } else { 0.75 }),
        sampler,
        seed: a.seed,
        width,
        height,
        clip_skip: a.clip_skip,
        init,
        mask,
    };
    let mut engine = Engine::new(device);
    let quiet = std::env::var_os("OEKAKI_QUIET").is_some();
    let result = engine.generate(&a.model, &req, &mut |p| {
        if !quiet {
            match p {
                Progress::Loading { part, index, count } => eprintln!("loading {part} ({}/{count})", index + 1),
                Progress::Step { step, total, .. } => eprint!("\rstep {step}/{total}"),
            }
        }
        true
    })?;
    if !quiet {
        eprintln!();
        for (part, provider) in &result.providers {
            eprintln!("{part}: {provider}");
        }
    }
    let mut params =
        GenerationParams { prompt: req.prompt.clone(), negative_prompt: req.negative.clone(), settings: Vec::new() };
    params.set("Steps", req.steps.to_string());
    params.set("Sampler", sampler.a1111_name());
    params.set("CFG scale", format!("{}", req.cfg));
    params.set("Seed", req.seed.to_string());
    params.set("Size", format!("{}x{}", result.width, result.height));
    if let Some(name) = a.model.file_name() {
        params.set("Model", name.to_string_lossy());
    }
    if req.init.is_some() {
        params.set("Denoising strength", format!("{}", req.strength));
    }
    if req.clip_skip > 1 {
        params.set("Clip skip", req.clip_skip.to_string());
    }
    let rgba: Vec<u8> = result.rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let png = oekaki::io::png_text::encode_png_rgba8(
        result.width as u32,
        result.height as u32,
        &rgba,
        &[("parameters".to_string(), params.to_text())],
    )?;
    oekaki::io::atomic::write_atomic(&a.out, &png, false)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    if let Some(path) = &a.timings {
        let mut json = serde_json::to_value(&result.timings)?;
        json["providers"] = serde_json::json!(
            result
                .providers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
