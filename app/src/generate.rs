//! `oekaki generate` and `oekaki edit`: Stable Diffusion jobs from the command line, through the core engine
//! (`ai::pipeline` and `ai::edit`, the same operations the studio runs). The flag names are a contract other
//! tools rely on (see README).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use oekaki::ai::controlnet::Control;
use oekaki::ai::edit::{self, EditKind, EditOptions};
use oekaki::ai::pipeline::{Engine, Generated, Pixels, Progress, Request};
use oekaki::ai::preprocess;
use oekaki::ai::scheduler::SamplerKind;
use oekaki::ai::session::Device;
use oekaki::doc::Selection;
use oekaki::history::Editor;
use oekaki::io::Limits;
use oekaki::raster::GrayBuf;

/// Options shared by every generation command.
#[derive(Args, Debug)]
pub struct GenOptions {
    /// Model folder (optimum / diffusers ONNX layout).
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value = "")]
    negative: String,
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
    /// A1111 numbering: 1 = last layer, 2 = penultimate.
    #[arg(long, default_value_t = 1)]
    clip_skip: usize,
    /// auto | cpu | cuda | directml | coreml
    #[arg(long, default_value = "auto")]
    ep: String,
    /// Write per-stage wall times as JSON.
    #[arg(long)]
    timings: Option<PathBuf>,
    /// ControlNet control image (repeatable: the n-th goes with the n-th --control-model).
    #[arg(long)]
    control: Vec<PathBuf>,
    /// ControlNet folder (model.onnx + config.json); the base model needs controlnet/model.onnx.
    #[arg(long)]
    control_model: Vec<PathBuf>,
    /// ControlNet strength: one value for all, or one per --control (default 1).
    #[arg(long)]
    control_scale: Vec<f32>,
    /// Fraction of the steps where ControlNet guidance starts: one value or one per --control (default 0).
    #[arg(long)]
    control_start: Vec<f64>,
    /// Fraction of the steps where it ends: one value or one per --control (default 1).
    #[arg(long)]
    control_end: Vec<f64>,
}

/// One value for every ControlNet, or one each.
fn per_control<T: Copy>(values: &[T], n: usize, default: T, flag: &str) -> Result<Vec<T>> {
    match values.len() {
        0 => Ok(vec![default; n]),
        1 => Ok(vec![values[0]; n]),
        k if k == n => Ok(values.to_vec()),
        k => bail!("{k} values of --{flag} for {n} --control images: give one, or one per --control"),
    }
}

/// The ControlNets asked for on the command line.
fn controls(g: &GenOptions) -> Result<Vec<Control>> {
    let n = g.control.len();
    if n != g.control_model.len() {
        bail!("{n} --control images but {} --control-model folders: give one model per image", g.control_model.len());
    }
    let scale = per_control(&g.control_scale, n, 1.0, "control-scale")?;
    let start = per_control(&g.control_start, n, 0.0, "control-start")?;
    let end = per_control(&g.control_end, n, 1.0, "control-end")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if !(0.0..=1.0).contains(&start[i]) || !(0.0..=1.0).contains(&end[i]) || start[i] >= end[i] {
            bail!("--control-start and --control-end must satisfy 0 <= start < end <= 1");
        }
        oekaki::ai::controlnet::model_file(&g.control_model[i])?;
        let image = load_pixels(&g.control[i], false)?;
        out.push(Control { image, model: g.control_model[i].clone(), scale: scale[i], start: start[i], end: end[i] });
    }
    Ok(out)
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    common: GenOptions,
    /// Init image: img2img, or InstructPix2Pix when the UNet has 8 input channels.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Mask (white = repaint): inpainting.
    #[arg(long)]
    mask: Option<PathBuf>,
    #[arg(long)]
    width: Option<usize>,
    #[arg(long)]
    height: Option<usize>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EditWhat {
    /// Inpaint the mask area; the result becomes a new layer masked by the grown, feathered mask.
    Inpaint,
    /// img2img of the mask area (or the whole picture) into a new layer.
    Refine,
    /// txt2img into the mask's bounding box (or the whole canvas) as a new layer.
    Generate,
    /// Extend the canvas on one side (--side, --amount) and inpaint the new area.
    Expand,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    what: EditWhat,
    /// Document to edit (ORA, PNG, JPEG, WebP).
    #[arg(long)]
    doc: PathBuf,
    /// Grey mask of the document's size (white = selected), used as the selection.
    #[arg(long)]
    mask: Option<PathBuf>,
    #[command(flatten)]
    common: GenOptions,
    /// Context kept around the mask, in pixels.
    #[arg(long, default_value_t = 32)]
    padding: u32,
    /// Grow the mask by this many pixels before inpainting.
    #[arg(long, default_value_t = 4)]
    grow: u32,
    /// Feather (blur) radius of the pasted result's edge.
    #[arg(long, default_value_t = 4.0)]
    feather: f32,
    /// expand: the side to extend (left, right, top, bottom).
    #[arg(long, default_value = "right")]
    side: String,
    /// expand: how many pixels to add.
    #[arg(long, default_value_t = 128)]
    amount: u32,
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

/// A request from the shared options (images and size are filled in by the caller).
fn base_request(g: &GenOptions, sampler: SamplerKind, default_strength: f32) -> Result<Request> {
    Ok(Request {
        prompt: g.prompt.clone(),
        negative: g.negative.clone(),
        steps: g.steps,
        cfg: g.cfg.unwrap_or(if sampler == SamplerKind::Lcm { 1.5 } else { 7.0 }),
        image_cfg: g.image_cfg,
        strength: g.strength.unwrap_or(default_strength),
        sampler,
        seed: g.seed,
        clip_skip: g.clip_skip,
        controls: controls(g)?,
        ..Request::default()
    })
}

/// Progress on stderr unless OEKAKI_QUIET is set.
fn report(p: &Progress) -> bool {
    if std::env::var_os("OEKAKI_QUIET").is_none() {
        match p {
            Progress::Loading { part, index, count } => eprintln!("loading {part} ({}/{count})", index + 1),
            Progress::Step { step, total, .. } => {
                eprint!("\rstep {step}/{total}{}", if step == total { "\n" } else { "" })
            }
        }
    }
    true
}

/// Which provider ran each model (and why not a GPU), on stderr.
fn report_providers(out: &Generated) {
    if std::env::var_os("OEKAKI_QUIET").is_none() {
        for (part, provider) in &out.providers {
            eprintln!("{part}: {provider}");
        }
        if let Some(why) = &out.gpu_fallback {
            eprintln!("on the CPU: {why}");
        }
    }
}

/// Checks `--out` (where it goes; its kind is the caller's) and `--timings` before anything runs.
fn check_outputs(g: &GenOptions, out: &Path) -> Result<()> {
    crate::outputs::check_place(out)?;
    if let Some(path) = &g.timings {
        crate::outputs::check(path, &["json"])?;
        if path == out {
            bail!("--timings and --out name the same file");
        }
    }
    Ok(())
}

/// The `--timings` report: per-stage times and the provider of each model, as JSON.
fn timings_report<'a>(g: &'a GenOptions, out: &Generated) -> Result<Option<(&'a Path, String)>> {
    let Some(path) = &g.timings else { return Ok(None) };
    let mut json = serde_json::to_value(&out.timings)?;
    let providers: std::collections::BTreeMap<String, String> =
        out.providers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    json["providers"] = serde_json::json!(providers);
    Ok(Some((path.as_path(), serde_json::to_string_pretty(&json)?)))
}

pub fn generate(a: GenerateArgs) -> Result<()> {
    crate::outputs::check(&a.out, &["png"])?;
    check_outputs(&a.common, &a.out)?;
    let sampler = SamplerKind::parse(&a.common.sampler)?;
    let device = Device::parse(&a.common.ep)?;
    if a.mask.is_some() && a.init.is_none() {
        bail!("--mask needs --init");
    }
    let init = a.init.as_deref().map(|p| load_pixels(p, false)).transpose()?;
    let mask = a.mask.as_deref().map(|p| load_pixels(p, true)).transpose()?;
    let folder = oekaki::ai::model::ModelFolder::open(&a.common.model)?;
    let native = folder.native_size();
    let (width, height) = match (&init, a.width, a.height) {
        (_, Some(w), Some(h)) => (w, h),
        (Some(i), None, None) => (i.width, i.height),
        (_, w, h) => (w.unwrap_or(native), h.unwrap_or(native)),
    };
    let req = Request { width, height, ..base_request(&a.common, sampler, if mask.is_some() { 1.0 } else { 0.75 })? };
    let req = Request { init, mask, ..req };
    let result = Engine::new(device).generate(&a.common.model, &req, &mut report)?;
    let rgba: Vec<u8> = result.rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let text = [("parameters".to_string(), req.a1111_parameters(&a.common.model, result.width, result.height))];
    let png = oekaki::io::png_text::encode_png_rgba8(result.width as u32, result.height as u32, &rgba, &text)?;
    report_providers(&result);
    crate::outputs::write_with_report(timings_report(&a.common, &result)?, || crate::outputs::write(&a.out, &png))
}

pub fn edit(a: EditArgs) -> Result<()> {
    oekaki::io::raster_file::FileKind::from_path(&a.out)?; // a document format, as saving will need
    check_outputs(&a.common, &a.out)?;
    let sampler = SamplerKind::parse(&a.common.sampler)?;
    let device = Device::parse(&a.common.ep)?;
    let mut doc =
        oekaki::io::open_path(&a.doc, Limits::default()).with_context(|| format!("cannot open {}", a.doc.display()))?;
    if let Some(path) = &a.mask {
        let m = load_pixels(path, true)?;
        if (m.width as u32, m.height as u32) != (doc.width, doc.height) {
            bail!(
                "the mask is {}×{} but the document is {}×{}; they must match",
                m.width,
                m.height,
                doc.width,
                doc.height
            );
        }
        doc.selection = Selection::from_gray(&GrayBuf { rect: doc.bounds(), data: m.data });
    }
    let kind = match a.what {
        EditWhat::Inpaint => EditKind::Inpaint,
        EditWhat::Refine => EditKind::Refine,
        EditWhat::Generate => EditKind::Generate,
        EditWhat::Expand => {
            // The expanded document, with the new strip selected, is what gets inpainted and written.
            doc = edit::expand(&doc, edit::Side::parse(&a.side)?, a.amount)?.doc;
            EditKind::Inpaint
        }
    };
    let base = base_request(&a.common, sampler, if kind == EditKind::Refine { 0.5 } else { 1.0 })?;
    let opts = EditOptions { padding: a.padding, grow: a.grow, feather: a.feather, ..EditOptions::default() };
    let mut engine = Engine::new(device);
    let result = edit::run(&mut engine, &a.common.model, &mut doc, kind, &opts, &base, &mut report)?;
    let mut editor = Editor::new(doc);
    editor.apply(result.command)?;
    let mut doc = editor.doc;
    doc.selection = Selection::none();
    report_providers(&result.generated);
    crate::outputs::write_with_report(timings_report(&a.common, &result.generated)?, || {
        oekaki::io::save_path(&doc, &a.out).with_context(|| format!("cannot write {}", a.out.display()))
    })
}

#[derive(Args, Debug)]
pub struct PreprocessArgs {
    /// invert | scribble | canny | lineart_standard | lineart | lineart_anime
    kind: String,
    /// The drawing or picture (transparent areas count as white paper).
    #[arg(long = "in")]
    input: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// canny: lower hysteresis threshold.
    #[arg(long, default_value_t = 100.0)]
    low: f32,
    /// canny: upper hysteresis threshold.
    #[arg(long, default_value_t = 200.0)]
    high: f32,
    /// scribble: how far strokes are thickened, in pixels.
    #[arg(long, default_value_t = 2)]
    thickness: u32,
    /// lineart / lineart_anime: the preprocessor's folder (model.onnx + config.json, from onnx/export_lineart.py).
    #[arg(long)]
    model: Option<PathBuf>,
}

pub fn preprocess(a: PreprocessArgs) -> Result<()> {
    crate::outputs::check(&a.out, &["png"])?;
    let kind = preprocess::Kind::parse(&a.kind)?;
    let input = open_rgb_over_white(&a.input)?;
    let (w, h) = (input.width, input.height);
    let opts = preprocess::Options { low: a.low, high: a.high, thickness: a.thickness, model: a.model };
    let out = preprocess::run(kind, &input, &opts)?;
    let rgba: Vec<u8> = out.data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let png = oekaki::io::png_text::encode_png_rgba8(w as u32, h as u32, &rgba, &[])?;
    crate::outputs::write(&a.out, &png)
}

/// An image file as RGB over white paper (transparent areas look as a drawing on a transparent layer does).
pub fn open_rgb_over_white(path: &std::path::Path) -> Result<Pixels> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let img = oekaki::io::raster_file::decode_rgba(&bytes, Limits::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let data = img
        .pixels()
        .flat_map(|p| {
            let a = p[3] as u32;
            [0, 1, 2].map(|c| ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8)
        })
        .collect();
    Ok(Pixels { width, height, data })
}
