//! A Stable Diffusion model folder in the optimum / diffusers ONNX layout (or diffusers' legacy ONNX layout):
//! which files it has, what kind of UNet it is, its native size and the sizes it accepts.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::AiError;
use super::onnx_file;
use super::scheduler::SchedulerConfigFile;

/// What the UNet expects, from its input channels and inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnetKind {
    /// 4 channels: txt2img, img2img, inpainting by latent blending.
    Standard,
    /// 9 channels: latents ‖ mask ‖ masked-image latents.
    Inpainting,
    /// 8 channels: latents ‖ image latents (InstructPix2Pix).
    Instruct,
}

#[derive(Debug, Clone)]
pub struct ModelFolder {
    pub dir: PathBuf,
    /// `true` for diffusers' `OnnxStableDiffusionPipeline` layout.
    pub legacy: bool,
    pub scheduler: SchedulerConfigFile,
    pub tokenizer: PathBuf,
    pub text_encoder: PathBuf,
    pub unet: PathBuf,
    pub vae_encoder: Option<PathBuf>,
    pub vae_decoder: PathBuf,
    pub kind: UnetKind,
    pub unet_channels: usize,
    /// LCM-distilled UNets take a guidance embedding of this width (`timestep_cond`).
    pub time_cond_proj_dim: Option<usize>,
    /// Latent side of the native size (`sample_size`).
    pub sample_size: usize,
    /// Down blocks of the UNet: the latent side must be a multiple of 2^(down blocks − 1).
    pub down_blocks: usize,
    /// Pixels per latent (8 for every SD VAE).
    pub vae_factor: usize,
    pub scaling_factor: f32,
}

fn read_json(path: &Path) -> Result<Option<Value>, AiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AiError::Model(format!("{} is not valid JSON: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AiError::Model(format!("cannot read {}: {e}", path.display()))),
    }
}

fn usize_of(v: Option<&Value>, key: &str) -> Option<usize> {
    v?.get(key)?.as_u64().map(|n| n as usize)
}

fn require(path: PathBuf) -> Result<PathBuf, AiError> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(AiError::Model(format!("not a usable model folder: missing {}", path.display())))
    }
}

impl ModelFolder {
    pub fn open(dir: &Path) -> Result<Self, AiError> {
        if !dir.exists() {
            return Err(AiError::Model(format!("{} does not exist", dir.display())));
        }
        if !dir.is_dir() {
            return Err(AiError::Model(format!("{} is not a folder", dir.display())));
        }
        let index = read_json(&dir.join("model_index.json"))?
            .ok_or_else(|| AiError::Model(format!("not a model folder: {} has no model_index.json", dir.display())))?;
        let class = index.get("_class_name").and_then(Value::as_str).unwrap_or_default();
        let legacy = class.starts_with("Onnx");
        if class.contains("XL") || dir.join("text_encoder_2").exists() {
            return Err(AiError::Model(format!(
                "{} is an SDXL model (two text encoders); SDXL is not supported yet: use an SD 1.x or 2.x model",
                dir.display()
            )));
        }
        let sched_path = dir.join("scheduler").join("scheduler_config.json");
        let sched_text = std::fs::read_to_string(&sched_path)
            .map_err(|_| AiError::Model(format!("not a usable model folder: missing {}", sched_path.display())))?;
        let scheduler = SchedulerConfigFile::from_json(&sched_text)?;
        let tokenizer = dir.join("tokenizer");
        if !tokenizer.join("vocab.json").is_file() && !tokenizer.join("tokenizer.json").is_file() {
            return Err(AiError::Model(format!(
                "not a usable model folder: missing {}",
                tokenizer.join("vocab.json").display()
            )));
        }
        let text_encoder = require(dir.join("text_encoder").join("model.onnx"))?;
        let unet = require(dir.join("unet").join("model.onnx"))?;
        let vae_decoder = require(dir.join("vae_decoder").join("model.onnx"))?;
        let vae_encoder = Some(dir.join("vae_encoder").join("model.onnx")).filter(|p| p.is_file());

        let unet_cfg = read_json(&dir.join("unet").join("config.json"))?;
        let vae_cfg = read_json(&dir.join("vae_decoder").join("config.json"))?;
        // The legacy layout has no config.json: read the UNet's shape from its graph instead.
        let graph = if unet_cfg.is_none() { Some(UnetGraph::read(&unet)?) } else { None };
        let unet_channels = match (usize_of(unet_cfg.as_ref(), "in_channels"), &graph) {
            (Some(c), _) => c,
            (None, Some(g)) => g.in_channels,
            (None, None) => return Err(AiError::Model(format!("{}: no in_channels in config.json", unet.display()))),
        };
        let kind = match unet_channels {
            4 => UnetKind::Standard,
            9 => UnetKind::Inpainting,
            8 => UnetKind::Instruct,
            other => {
                return Err(AiError::Model(format!(
                    "{}: a UNet with {other} input channels is not a Stable Diffusion UNet (expected 4, 8 or 9)",
                    unet.display()
                )));
            }
        };
        let down_blocks = unet_cfg
            .as_ref()
            .and_then(|c| c.get("down_block_types"))
            .and_then(Value::as_array)
            .map(|a| a.len().max(1))
            .or(graph.as_ref().map(|g| g.down_blocks))
            .unwrap_or(4);
        let vae_factor = vae_cfg
            .as_ref()
            .and_then(|c| c.get("block_out_channels"))
            .and_then(Value::as_array)
            .map_or(8, |a| 1usize << (a.len().clamp(1, 6) - 1));
        let scaling_factor = vae_cfg
            .as_ref()
            .and_then(|c| c.get("scaling_factor"))
            .and_then(Value::as_f64)
            .map_or(0.18215, |v| v as f32);
        Ok(ModelFolder {
            dir: dir.to_path_buf(),
            legacy,
            scheduler,
            tokenizer,
            text_encoder,
            unet,
            vae_encoder,
            vae_decoder,
            kind,
            unet_channels,
            time_cond_proj_dim: usize_of(unet_cfg.as_ref(), "time_cond_proj_dim"),
            sample_size: usize_of(unet_cfg.as_ref(), "sample_size").unwrap_or(64),
            down_blocks,
            vae_factor,
            scaling_factor,
        })
    }

    /// The size the model was trained at, in pixels.
    pub fn native_size(&self) -> usize {
        self.sample_size * self.vae_factor
    }

    /// Width and height must be multiples of this many pixels.
    pub fn size_multiple(&self) -> usize {
        self.vae_factor << (self.down_blocks - 1)
    }

    /// A clear error for sizes the exported UNet cannot take.
    pub fn check_size(&self, width: usize, height: usize) -> Result<(), AiError> {
        let m = self.size_multiple();
        if width == 0 || height == 0 || !width.is_multiple_of(m) || !height.is_multiple_of(m) {
            return Err(AiError::Input(format!(
                "{width}×{height} does not suit this model: width and height must be multiples of {m} pixels"
            )));
        }
        if width > 4096 || height > 4096 {
            return Err(AiError::Input(format!("{width}×{height} is larger than the 4096×4096 limit")));
        }
        Ok(())
    }
}

/// What a UNet graph without a config.json tells about itself.
struct UnetGraph {
    /// The second dimension of `conv_in.weight`.
    in_channels: usize,
    /// How many `down_blocks.N.` prefixes its weights use.
    down_blocks: usize,
}

impl UnetGraph {
    fn read(unet: &Path) -> Result<Self, AiError> {
        let tensors = onnx_file::tensors(unet)?;
        let in_channels = tensors
            .iter()
            .find(|t| t.name == "conv_in.weight" && t.dims.len() == 4)
            .map(|t| t.dims[1] as usize)
            .ok_or_else(|| AiError::Model(format!("{}: cannot tell the UNet's input channels", unet.display())))?;
        let down_blocks = tensors
            .iter()
            .filter_map(|t| t.name.strip_prefix("down_blocks.")?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(4, |n| n + 1);
        Ok(UnetGraph { in_channels, down_blocks })
    }
}
