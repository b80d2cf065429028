//! The artist's models: model folders found in the model folders (the data dir's `models/` plus folders the
//! artist adds), each checked on the spot and described by its kind, or with a report of everything wrong with it.
//! Also the per-model presets (quality tags, negative prompt, sampler settings from the model's card).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{ModelFolder, UnetKind};
use super::scheduler::SamplerKind;
use super::{controlnet, preprocess, sam};

/// What kind of model a folder holds, as shown to the artist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Text-to-image, img2img, inpainting by latent blending.
    Standard,
    /// A 9-channel inpainting UNet.
    Inpainting,
    Instruct,
    /// A latent-consistency (LCM) distilled UNet: few steps, low CFG.
    Lcm,
    /// A ControlNet (guides a base model that has a ControlNet-capable UNet).
    ControlNet,
    /// A neural ControlNet preprocessor (`family` is its `preprocess::Kind` name).
    Preprocessor,
    /// A Segment Anything encoder + decoder pair (the Smart select tool).
    Segmenter,
}

/// A usable model folder.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub kind: ModelKind,
    /// "SD1.x" or "SD2.x" (see `sd_family`); a preprocessor's kind.
    pub family: &'static str,
    /// The scheduler config asks for v-prediction (SD 2.x 768-v models and their fine-tunes).
    pub v_prediction: bool,
    pub native_size: usize,
    /// What the model cannot do (e.g. no VAE encoder: text-to-image only).
    pub notes: Vec<String>,
    pub preset: Preset,
    /// A base model with `controlnet/model.onnx`, so ControlNets can guide it.
    pub takes_controlnet: bool,
}

impl ModelInfo {
    /// "SD1.x inpainting", "InstructPix2Pix", "SD1.x LCM", …
    pub fn label(&self) -> String {
        match self.kind {
            ModelKind::Standard => self.family.to_string(),
            ModelKind::Inpainting => format!("{} inpainting", self.family),
            ModelKind::Instruct => "InstructPix2Pix".to_string(),
            ModelKind::Lcm => format!("{} LCM", self.family),
            ModelKind::ControlNet => format!("{} ControlNet", self.family),
            ModelKind::Preprocessor => format!("{} preprocessor", self.family),
            ModelKind::Segmenter => "Segment Anything".to_string(),
        }
    }

    /// A model to generate with (not a ControlNet, preprocessor or segmenter).
    pub fn is_base_model(&self) -> bool {
        !matches!(self.kind, ModelKind::ControlNet | ModelKind::Preprocessor | ModelKind::Segmenter)
    }

    /// Can this model refine or inpaint (it has a VAE encoder)?
    pub fn edits_images(&self) -> bool {
        self.is_base_model() && self.notes.is_empty()
    }
}

/// One entry of the model list: a folder and what it holds, or what is wrong with it.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub dir: PathBuf,
    pub name: String,
    pub status: Result<ModelInfo, String>,
}

/// Settings recommended for a model (its card's quality tags and negative prompt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    #[serde(default, rename = "match")]
    pub words: Vec<String>,
    #[serde(default)]
    pub prompt_prefix: String,
    #[serde(default)]
    pub prompt_suffix: String,
    #[serde(default)]
    pub negative: String,
    pub sampler: Option<String>,
    pub steps: Option<usize>,
    pub cfg: Option<f32>,
    pub clip_skip: Option<usize>,
    /// Only for models of this family ("SD1.x", "SD2.x"); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

impl Preset {
    pub fn sampler_kind(&self) -> Option<SamplerKind> {
        self.sampler.as_deref().and_then(|s| SamplerKind::ALL.into_iter().find(|k| k.name() == s))
    }

    /// A preset that would change nothing (the fallback for models no built-in preset fits).
    pub fn is_empty(&self) -> bool {
        self.prompt_prefix.is_empty()
            && self.prompt_suffix.is_empty()
            && self.negative.is_empty()
            && self.sampler.is_none()
            && self.steps.is_none()
            && self.cfg.is_none()
            && self.clip_skip.is_none()
    }

    /// `prompt` with the preset's quality tags added where the card puts them (once).
    pub fn decorate(&self, prompt: &str) -> String {
        let mut out = prompt.trim().to_string();
        if !self.prompt_prefix.is_empty() && !out.starts_with(&self.prompt_prefix) {
            out = if out.is_empty() { self.prompt_prefix.clone() } else { format!("{}, {out}", self.prompt_prefix) };
        }
        if !self.prompt_suffix.is_empty() && !out.ends_with(&self.prompt_suffix) {
            out = if out.is_empty() { self.prompt_suffix.clone() } else { format!("{out}, {}", self.prompt_suffix) };
        }
        out
    }
}

#[derive(Deserialize)]
struct PresetFile {
    presets: Vec<Preset>,
}

const BUILT_IN: &str = include_str!("../../assets/models/presets.json");

/// A folder's own preset file, which wins over the built-in ones.
pub const PRESET_FILE: &str = "oekaki-preset.json";

fn built_in() -> Vec<Preset> {
    serde_json::from_str::<PresetFile>(BUILT_IN).map(|f| f.presets).unwrap_or_default()
}

fn fallback() -> Preset {
    Preset {
        name: "Stable Diffusion".into(),
        words: Vec::new(),
        prompt_prefix: String::new(),
        prompt_suffix: String::new(),
        negative: String::new(),
        sampler: None,
        steps: None,
        cfg: None,
        clip_skip: None,
        family: None,
    }
}

/// The preset for a model: its own `oekaki-preset.json`, else by kind (LCM, InstructPix2Pix), else the first
/// built-in of the model's family (or of any) whose words occur in the folder name.
pub fn preset_for(dir: &Path, kind: ModelKind, family: &str) -> Preset {
    if let Ok(text) = std::fs::read_to_string(dir.join(PRESET_FILE))
        && let Ok(p) = serde_json::from_str::<Preset>(&text)
    {
        return p;
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let all = built_in();
    let by_name = |p: &&Preset| {
        p.family.as_deref().is_none_or(|f| f == family) && p.words.iter().any(|w| name.contains(w.as_str()))
    };
    let by_kind = match kind {
        ModelKind::Lcm => all.iter().find(|p| p.sampler.as_deref() == Some("lcm")),
        ModelKind::Instruct => all.iter().find(|p| p.words.iter().any(|w| w == "pix2pix")),
        _ => None,
    };
    by_kind.or_else(|| all.iter().find(by_name)).cloned().unwrap_or_else(fallback)
}

/// The default model folder, `<data dir>/models`.
pub fn default_folder() -> Option<PathBuf> {
    crate::paths::project_dirs().map(|d| d.data_dir().join("models"))
}

/// Check one model folder.
pub fn inspect(dir: &Path) -> ModelEntry {
    let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    if let Some(kind) = preprocessor_kind(dir) {
        let status = preprocess::model_file(kind, dir)
            .map(|_| ModelInfo {
                kind: ModelKind::Preprocessor,
                family: kind.name(),
                v_prediction: false,
                native_size: 512,
                notes: Vec::new(),
                preset: fallback(),
                takes_controlnet: false,
            })
            .map_err(|e| e.to_string());
        return ModelEntry { dir: dir.to_path_buf(), name, status };
    }
    if controlnet::is_controlnet(dir) {
        let status = controlnet::model_file(dir).map(|_| describe_controlnet(dir)).map_err(|e| e.to_string());
        return ModelEntry { dir: dir.to_path_buf(), name, status };
    }
    if sam::SamModel::files(dir).is_ok() {
        let info = ModelInfo {
            kind: ModelKind::Segmenter,
            family: "SAM",
            v_prediction: false,
            native_size: 1024,
            notes: Vec::new(),
            preset: fallback(),
            takes_controlnet: false,
        };
        return ModelEntry { dir: dir.to_path_buf(), name, status: Ok(info) };
    }
    let status = match ModelFolder::open(dir) {
        Ok(folder) => Ok(describe(&folder)),
        Err(e) => {
            let missing = missing_parts(dir);
            Err(if missing.len() > 1 { format!("missing {}", missing.join(", ")) } else { e.to_string() })
        }
    };
    ModelEntry { dir: dir.to_path_buf(), name, status }
}

/// The kind of a neural preprocessor folder (its config.json names it).
fn preprocessor_kind(dir: &Path) -> Option<preprocess::Kind> {
    let cfg = read_config(&dir.join("config.json"))?;
    preprocess::Kind::parse(cfg.get("kind")?.as_str()?).ok().filter(|k| k.needs_model())
}

fn read_config(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn describe_controlnet(dir: &Path) -> ModelInfo {
    let cfg = read_config(&dir.join("config.json"));
    let get = |k: &str| cfg.as_ref().and_then(|c| c.get(k)).and_then(serde_json::Value::as_u64);
    ModelInfo {
        kind: ModelKind::ControlNet,
        family: if get("cross_attention_dim") == Some(1024) { SD2 } else { SD1 },
        v_prediction: false,
        native_size: get("sample_size").unwrap_or(64) as usize * 8,
        notes: Vec::new(),
        preset: fallback(),
        takes_controlnet: false,
    }
}

const SD1: &str = "SD1.x";
const SD2: &str = "SD2.x";

/// SD 2.x has a 1024-wide OpenCLIP text encoder, whose tokenizer pads with "!" (SD 1.x's CLIP pads with
/// `<|endoftext|>`); the pad token also tells legacy folders, which have no text encoder config.
fn sd_family(folder: &ModelFolder) -> &'static str {
    let width = read_config(&folder.dir.join("text_encoder").join("config.json"))
        .and_then(|v| v.get("hidden_size").and_then(serde_json::Value::as_u64));
    let pads_with_bang = crate::ai::text::tokenizer::pad_token_name(&folder.tokenizer).as_deref() == Some("!");
    if width == Some(1024) || pads_with_bang { SD2 } else { SD1 }
}

fn describe(folder: &ModelFolder) -> ModelInfo {
    let kind = match folder.kind {
        UnetKind::Inpainting => ModelKind::Inpainting,
        UnetKind::Instruct => ModelKind::Instruct,
        UnetKind::Standard if folder.time_cond_proj_dim.is_some() => ModelKind::Lcm,
        UnetKind::Standard => ModelKind::Standard,
    };
    let family = sd_family(folder);
    let mut notes = Vec::new();
    if folder.vae_encoder.is_none() {
        notes.push("no vae_encoder/model.onnx: text-to-image only".to_string());
    }
    ModelInfo {
        kind,
        family,
        v_prediction: folder.scheduler.prediction_type.as_deref() == Some("v_prediction"),
        native_size: folder.native_size(),
        notes,
        preset: preset_for(&folder.dir, kind, family),
        takes_controlnet: folder.dir.join(controlnet::CONTROL_UNET).is_file(),
    }
}

/// Every required part a folder lacks, for a report that names them all at once.
pub fn missing_parts(dir: &Path) -> Vec<String> {
    let required = [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/model.onnx",
        "unet/model.onnx",
        "vae_decoder/model.onnx",
    ];
    let mut missing: Vec<String> = required.iter().filter(|p| !dir.join(p).is_file()).map(|p| p.to_string()).collect();
    let tok = dir.join("tokenizer");
    if !tok.join("vocab.json").is_file() && !tok.join("tokenizer.json").is_file() {
        missing.push("tokenizer/vocab.json".into());
    }
    missing
}

/// What a file that is not a model folder is, when it looks like a model.
fn loose_file_report(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_string_lossy().to_lowercase();
    Some(match ext.as_str() {
        "safetensors" => {
            "a single-file checkpoint: convert it to an ONNX model folder with onnx/export_checkpoint.py".into()
        }
        "ckpt" | "pt" | "pth" | "bin" => {
            "a pickle checkpoint: refused (it can run code); use the model's safetensors or ONNX release".into()
        }
        "onnx" => "a loose ONNX file: a model is a folder with model_index.json, unet/, vae_decoder/, …".into(),
        _ => return None,
    })
}

/// Does `dir` look like an attempt at a model folder (so a broken one is reported, not silently skipped)?
fn looks_like_model(dir: &Path) -> bool {
    ["model_index.json", "unet", "text_encoder", "vae_decoder"].iter().any(|p| dir.join(p).exists())
        || controlnet::is_controlnet(dir)
        || preprocessor_kind(dir).is_some()
        || sam::SamModel::files(dir).is_ok()
}

/// All models in `folders`: each folder is a model folder itself or holds model folders (one level down).
/// Broken model folders and loose checkpoints are listed with what is wrong. Sorted by name.
pub fn scan(folders: &[PathBuf]) -> Vec<ModelEntry> {
    let mut out = Vec::new();
    for folder in folders {
        if looks_like_model(folder) {
            out.push(inspect(folder));
            continue;
        }
        let Ok(rd) = std::fs::read_dir(folder) else { continue };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() && looks_like_model(&p) {
                out.push(inspect(&p));
            } else if p.is_file()
                && let Some(report) = loose_file_report(&p)
            {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                out.push(ModelEntry { dir: p, name, status: Err(report) });
            }
        }
    }
    out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.dir.cmp(&b.dir)));
    out.dedup_by(|a, b| a.dir == b.dir);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sd")
    }

    #[test]
    fn sam_folders_are_listed_as_segmenters_not_base_models() {
        let sam = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sam");
        let found = scan(&[sam]);
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["tiny-efficientsam", "tiny-sam", "tiny-sam-plain", "tiny-sam2"],
            "reference folders are not models"
        );
        for m in &found {
            let info = m.status.as_ref().unwrap();
            assert_eq!(
                (info.kind, info.label().as_str(), info.is_base_model()),
                (ModelKind::Segmenter, "Segment Anything", false)
            );
        }
    }

    #[test]
    fn the_fixture_folder_lists_each_model_with_its_kind() {
        let entries = scan(&[fixtures()]);
        let label = |name: &str| {
            let e = entries.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name} not listed"));
            e.status.as_ref().map(ModelInfo::label).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(label("tiny-sd15"), "SD1.x");
        assert_eq!(label("tiny-sd15-inpaint"), "SD1.x inpainting");
        assert_eq!(label("tiny-sd15-ip2p"), "InstructPix2Pix");
        assert_eq!(label("tiny-sd15-lcm"), "SD1.x LCM");
        assert_eq!(label("tiny-sd15-legacy"), "SD1.x");
        assert_eq!(label("tiny-sd2-v"), "SD2.x");
        let info = |name: &str| entries.iter().find(|e| e.name == name).unwrap().status.clone().unwrap();
        assert!(info("tiny-sd2-v").v_prediction && !info("tiny-sd15").v_prediction);
        assert_eq!(label("tiny-controlnet"), "SD1.x ControlNet");
        let takes =
            |name: &str| entries.iter().find(|e| e.name == name).unwrap().status.as_ref().unwrap().takes_controlnet;
        assert!(takes("tiny-sd15") && !takes("tiny-sd15-inpaint"));
        // folders that are not models (inputs/, reference/) are not listed
        assert!(entries.iter().all(|e| e.name.starts_with("tiny-")), "{:?}", entries.iter().map(|e| &e.name));
        // a model folder given directly is one entry
        let one = scan(&[fixtures().join("tiny-sd15")]);
        assert_eq!(one.len(), 1);
        // neural preprocessors are listed with their kind
        let pre = scan(&[fixtures().join("../lineart")]);
        let labels: Vec<String> = pre.iter().map(|e| e.status.as_ref().unwrap().label()).collect();
        assert_eq!(labels, ["lineart preprocessor", "lineart_anime preprocessor"]);
    }

    #[test]
    fn broken_folders_and_loose_checkpoints_are_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("half-copied");
        std::fs::create_dir_all(broken.join("unet")).unwrap();
        std::fs::write(broken.join("unet/model.onnx"), b"").unwrap();
        std::fs::write(dir.path().join("anything-v5.ckpt"), b"").unwrap();
        std::fs::write(dir.path().join("animagine.safetensors"), b"").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        let entries = scan(&[dir.path().to_path_buf()]);
        assert_eq!(entries.len(), 3, "{entries:?}");
        let err = |name: &str| entries.iter().find(|e| e.name == name).unwrap().status.clone().unwrap_err();
        let report = err("half-copied");
        for part in ["model_index.json", "scheduler/", "text_encoder/", "vae_decoder/", "tokenizer/"] {
            assert!(report.contains(part), "{report}");
        }
        assert!(!report.contains("unet/"), "{report}");
        assert!(err("anything-v5.ckpt").contains("refused"));
        assert!(err("animagine.safetensors").contains("export_checkpoint.py"));
    }

    #[test]
    fn presets_come_from_the_folder_then_the_kind_then_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let animagine = dir.path().join("animagine-xl-3.1");
        std::fs::create_dir(&animagine).unwrap();
        let p = preset_for(&animagine, ModelKind::Standard, SD1);
        assert_eq!(p.name, "Animagine XL 3.x");
        assert_eq!(p.decorate("1girl, solo"), "1girl, solo, masterpiece, best quality, very aesthetic, absurdres");
        assert_eq!(p.decorate(&p.decorate("1girl")), p.decorate("1girl"), "tags are added once");
        assert_eq!(preset_for(&animagine, ModelKind::Lcm, SD1).sampler_kind(), Some(SamplerKind::Lcm));
        let anything = preset_for(Path::new("/m/Anything-V5"), ModelKind::Standard, SD1);
        assert_eq!(anything.decorate("cat ears"), "masterpiece, best quality, cat ears");
        assert_eq!(anything.clip_skip, Some(2));
        std::fs::write(
            animagine.join(PRESET_FILE),
            r#"{"name": "mine", "prompt_prefix": "sketch", "negative": "blurry", "steps": 12}"#,
        )
        .unwrap();
        let own = preset_for(&animagine, ModelKind::Standard, SD1);
        assert_eq!((own.name.as_str(), own.steps, own.sampler_kind()), ("mine", Some(12), None));
        assert_eq!(preset_for(Path::new("/m/some-model"), ModelKind::Standard, SD1).name, "Stable Diffusion 1.5");
        // SD 1.5's catch-all tags are not offered to an SD 2.x model
        let sd2 = preset_for(Path::new("/m/some-model"), ModelKind::Standard, SD2);
        assert!(sd2.is_empty() && !anything.is_empty(), "{sd2:?}");
    }
}
