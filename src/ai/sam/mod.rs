//! Segment Anything: an image encoder run once per picture, and a prompt decoder run per click.
//!
//! Model folders hold `*encoder*.onnx` and `*decoder*.onnx`, as samexporter / AnyLabeling write them (SAM v1
//! ViT-B/L/H and MobileSAM share the interface). The family is read from the graphs' inputs, never from file
//! names: the decoder's `image_embeddings` + `orig_im_size` is the official SAM v1 export; an encoder whose
//! input has rank 3 (`[h, w, 3]`, RGB 0–255) normalizes and pads in the graph, rank 4 (`[1, 3, 1024, 1024]`)
//! wants that done here. SAM2 (samexporter's `export_sam2.py`: `image_embed` + `high_res_feats_0/1`) is the
//! second family; EfficientSAM (its own export: `batched_images`, `batched_point_coords`) the third.
//!
//! Preprocessing follows each family's own predictor. SAM v1 (`SamPredictor`): long side to 1024
//! (`frame::Frame`), bilinear with PIL's antialiasing when shrinking, `(x − mean) / std` on 0–255, zero padding
//! after normalization. SAM2 (`SAM2ImagePredictor`): a plain resize to 1024², RGB / 255 with ImageNet's mean
//! and std; its decoder gives 256² logits that are resized to the image here (bilinear, half-pixel centres).
//! EfficientSAM: RGB / 255 at the image's size (its graph resizes and normalizes); clicks in image pixels.

pub mod frame;
pub mod prompt;
pub mod proposal;

use std::path::{Path, PathBuf};

pub use frame::Frame;
pub use prompt::{Point, Prompt};
pub use proposal::{Proposal, Upscale, resize_logits};

use super::AiError;
use super::pipeline::Pixels;
use super::session::{Device, Feed, Model, Output};

const PIXEL_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
const PIXEL_STD: [f32; 3] = [58.395, 57.12, 57.375];
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
const INPUT_SIDE: usize = 1024;
/// EfficientSAM's `decoder_max_num_input_points`: more would be cut off in the graph.
const EFFICIENT_SAM_MAX_POINTS: usize = 6;

/// Which exporter's interface a folder's graphs have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// SAM v1 / MobileSAM: official `SamOnnxModel` decoder; the encoder normalizes and pads in the graph
    /// (samexporter `--use-preprocess`) or not.
    SamV1 { preprocess_in_graph: bool },
    /// SAM2 / SAM2.1 (samexporter): multimask decoder with the high-resolution features.
    Sam2,
    /// EfficientSAM (its own `export_to_onnx.py`): the encoder resizes and normalizes in the graph, the decoder
    /// takes image-pixel coordinates (at most six points) and has no mask input.
    EfficientSam,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::SamV1 { .. } => "SAM (v1 / MobileSAM)",
            Family::Sam2 => "SAM2",
            Family::EfficientSam => "EfficientSAM",
        }
    }
}

/// An encoded image: what the decoder needs besides the prompt (the encoder's outputs, by name).
#[derive(Debug, Clone)]
pub struct Embedding {
    pub frame: Frame,
    pub tensors: Vec<(String, Output)>,
}

impl Embedding {
    pub fn get(&self, name: &str) -> Result<&Output, AiError> {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| AiError::Model(format!("the encoder gave no \"{name}\"")))
    }
}

/// A loaded SAM: encoder and decoder sessions.
pub struct SamModel {
    pub dir: PathBuf,
    pub family: Family,
    encoder: Model,
    decoder: Model,
}

fn one_file(dir: &Path, part: &str) -> Result<PathBuf, AiError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AiError::Model(format!("{}: {e}", dir.display())))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
            name.ends_with(".onnx") && name.contains(part) && p.is_file()
        })
        .collect();
    found.sort();
    // AnyLabeling ships `x.encoder.quant.onnx` beside `x.encoder.onnx`: prefer full precision.
    if found.len() > 1 {
        let plain: Vec<PathBuf> = found.iter().filter(|p| !p.to_string_lossy().contains("quant")).cloned().collect();
        if !plain.is_empty() {
            found = plain;
        }
    }
    match found.len() {
        0 => Err(AiError::Model(format!(
            "{}: no *{part}*.onnx (a SAM folder holds an encoder and a decoder)",
            dir.display()
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(AiError::Model(format!(
            "{}: several {part} files ({}); keep one",
            dir.display(),
            found.iter().filter_map(|p| p.file_name()?.to_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl SamModel {
    /// The encoder and decoder files of a SAM folder, or what is missing.
    pub fn files(dir: &Path) -> Result<(PathBuf, PathBuf), AiError> {
        if !dir.is_dir() {
            return Err(AiError::Model(format!("{} is not a folder", dir.display())));
        }
        let encoder = one_file(dir, "encoder");
        let decoder = one_file(dir, "decoder");
        match (encoder, decoder) {
            (Ok(e), Ok(d)) => Ok((e, d)),
            (Err(_), Err(_)) => Err(AiError::Model(format!(
                "{}: no *encoder*.onnx and no *decoder*.onnx (a SAM folder holds both)",
                dir.display()
            ))),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    pub fn load(dir: &Path, device: Device) -> Result<Self, AiError> {
        let (encoder_file, decoder_file) = Self::files(dir)?;
        // SAM v1 decoders also resize every candidate to the image in the graph; we scale the low-resolution
        // logits ourselves when a mask is wanted, so load the graph without those resizes (it keeps every input,
        // so the family still reads off it). Other families need their other outputs: load them whole.
        let mut decoder = Model::load_for_outputs(&decoder_file, device, &["iou_predictions", "low_res_masks"])?;
        let family = detect(&decoder, dir)?;
        if decoder.rewritten && !matches!(family, Family::SamV1 { .. }) {
            decoder = Model::load(&decoder_file, device)?;
        }
        let encoder = Model::load(&encoder_file, device)?;
        let input = encoder
            .inputs
            .first()
            .ok_or_else(|| AiError::Model(format!("{}: the encoder has no input", dir.display())))?;
        let family = match (family, input.shape.len()) {
            (Family::SamV1 { .. }, 3) => Family::SamV1 { preprocess_in_graph: true },
            (Family::SamV1 { .. }, 4) => Family::SamV1 { preprocess_in_graph: false },
            (Family::Sam2, 4) => Family::Sam2,
            (Family::EfficientSam, 4) => Family::EfficientSam,
            (_, rank) => {
                return Err(AiError::Model(format!(
                    "{}: the encoder's input \"{}\" has rank {rank}; SAM encoders take [h, w, 3] or [1, 3, 1024, 1024]",
                    encoder_file.display(),
                    input.name
                )));
            }
        };
        Ok(SamModel { dir: dir.to_path_buf(), family, encoder, decoder })
    }

    /// The decoder session's outputs (SAM v1: pruned to the low-resolution logits and scores where it can be).
    pub fn decoder_outputs(&self) -> &[String] {
        &self.decoder.outputs
    }

    /// Execution providers that run the encoder and the decoder.
    pub fn providers(&self) -> String {
        if self.encoder.provider == self.decoder.provider {
            self.encoder.provider.to_string()
        } else {
            format!("{} + {}", self.encoder.provider, self.decoder.provider)
        }
    }

    /// Run the encoder on an RGB (or grey) image.
    pub fn encode(&mut self, img: &Pixels) -> Result<Embedding, AiError> {
        let rgb = to_rgb(img)?;
        let frame = match self.family {
            Family::SamV1 { .. } => Frame::longest_side(img.width, img.height, INPUT_SIDE),
            Family::Sam2 => Frame::stretched(img.width, img.height, INPUT_SIDE),
            Family::EfficientSam => Frame::as_is(img.width, img.height, INPUT_SIDE),
        };
        let resized = if (frame.resized_width, frame.resized_height) == (img.width, img.height) {
            rgb
        } else {
            image::imageops::resize(
                &rgb,
                frame.resized_width as u32,
                frame.resized_height as u32,
                image::imageops::FilterType::Triangle,
            )
        };
        let (rw, rh) = (frame.resized_width, frame.resized_height);
        let feed = match self.family {
            Family::SamV1 { preprocess_in_graph: true } => {
                Feed::F32(vec![rh, rw, 3], resized.as_raw().iter().map(|&v| v as f32).collect())
            }
            Family::SamV1 { preprocess_in_graph: false } => {
                Feed::F32(vec![1, 3, INPUT_SIDE, INPUT_SIDE], normalized_padded(&resized, 1.0, PIXEL_MEAN, PIXEL_STD))
            }
            Family::Sam2 => Feed::F32(
                vec![1, 3, INPUT_SIDE, INPUT_SIDE],
                normalized_padded(&resized, 255.0, IMAGENET_MEAN, IMAGENET_STD),
            ),
            Family::EfficientSam => Feed::F32(vec![1, 3, rh, rw], planar_unit(&resized)),
        };
        let input = self.encoder.inputs[0].name.clone();
        let names = self.encoder.outputs.clone();
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let outputs = self.encoder.run(vec![(&input, feed)], &wanted)?;
        Ok(Embedding { frame, tensors: names.into_iter().zip(outputs).collect() })
    }

    /// Candidate masks for a prompt; `previous` is the low-resolution logits of the mask being refined.
    pub fn decode(&mut self, emb: &Embedding, prompt: &Prompt, previous: Option<&[f32]>) -> Result<Proposal, AiError> {
        let frame = emb.frame;
        prompt.check(frame.width, frame.height)?;
        let main = emb.get(if self.family == Family::Sam2 { "image_embed" } else { "image_embeddings" })?;
        if main.shape.len() != 4 {
            return Err(AiError::Model("the image embeddings are not [1, C, H, W]".into()));
        }
        let low_side = 4 * main.shape[2];
        if low_side == 0 {
            return Err(AiError::Model("the image embeddings are empty".into()));
        }
        // SAM v1 wants the padding point from us; SAM2's and EfficientSAM's decoders pad themselves.
        let labelled = match self.family {
            Family::SamV1 { .. } => prompt.labelled(),
            Family::Sam2 | Family::EfficientSam => prompt.labelled_box_first(),
        };
        let n = labelled.len();
        let mut coords = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for ([x, y], label) in &labelled {
            let [mx, my] = if *label < 0.0 { [*x, *y] } else { frame.to_model(*x, *y) };
            coords.extend([mx, my]);
            labels.push(*label);
        }
        // SAM v1 and SAM2: the clicks, and the mask being refined (zeros and a 0 flag when there is none).
        let prompt_feeds = || -> Result<Vec<(&'static str, Feed)>, AiError> {
            let (mask_input, has_mask) = match previous {
                Some(logits) if logits.len() == low_side * low_side => (logits.to_vec(), 1.0),
                Some(_) => return Err(AiError::Input("the mask to refine has the wrong size".into())),
                None => (vec![0.0; low_side * low_side], 0.0),
            };
            Ok(vec![
                ("point_coords", Feed::F32(vec![1, n, 2], coords.clone())),
                ("point_labels", Feed::F32(vec![1, n], labels.clone())),
                ("mask_input", Feed::F32(vec![1, 1, low_side, low_side], mask_input)),
                ("has_mask_input", Feed::F32(vec![1], vec![has_mask])),
            ])
        };
        match self.family {
            Family::SamV1 { .. } => {
                let mut feeds = prompt_feeds()?;
                feeds.push(("image_embeddings", borrowed(main)));
                feeds.push(("orig_im_size", Feed::F32(vec![2], vec![frame.height as f32, frame.width as f32])));
                self.decode_v1(feeds, frame, low_side, n)
            }
            Family::Sam2 => {
                let mut feeds = prompt_feeds()?;
                feeds.push(("image_embed", borrowed(main)));
                feeds.push(("high_res_feats_0", borrowed(emb.get("high_res_feats_0")?)));
                feeds.push(("high_res_feats_1", borrowed(emb.get("high_res_feats_1")?)));
                self.decode_sam2(feeds, frame, low_side)
            }
            Family::EfficientSam => {
                // No mask input: a refinement is the clicks alone. Coordinates stay in image pixels.
                if n > EFFICIENT_SAM_MAX_POINTS {
                    return Err(AiError::Input(format!(
                        "EfficientSAM takes at most {EFFICIENT_SAM_MAX_POINTS} points (a box counts as two); clear some"
                    )));
                }
                let feeds = vec![
                    ("image_embeddings", borrowed(main)),
                    ("batched_point_coords", Feed::F32(vec![1, 1, n, 2], coords)),
                    ("batched_point_labels", Feed::F32(vec![1, 1, n], labels)),
                    ("orig_im_size", Feed::I64(vec![2], vec![frame.height as i64, frame.width as i64])),
                ];
                self.decode_efficient_sam(feeds, frame)
            }
        }
    }

    fn bad_masks(&self, masks: &Output, frame: Frame) -> AiError {
        AiError::Model(format!(
            "{}: the decoder gave masks of shape {:?} for a {}×{} image",
            self.dir.display(),
            masks.shape,
            frame.width,
            frame.height
        ))
    }

    /// The official decoder: four tokens (1–3 multimask, 0 single) or one. The low-resolution logits are
    /// kept (and scaled as `Sam.postprocess_masks` does when asked for); an export without them gives masks at
    /// the image size, which cannot be refined.
    fn decode_v1(
        &mut self,
        feeds: Vec<(&str, Feed)>,
        frame: Frame,
        low_side: usize,
        n: usize,
    ) -> Result<Proposal, AiError> {
        let refinable = self.decoder.has_output("low_res_masks");
        let (name, upscale, (lw, lh)) = if refinable {
            // SamPredictor crops to its `input_size` (the frame's resized size, in double precision); the exported
            // graph computes it in float32, which can differ by a pixel in rare exact-half cases.
            let crop = Upscale::PaddedFrame {
                side: frame.side,
                crop_width: frame.resized_width,
                crop_height: frame.resized_height,
            };
            ("low_res_masks", crop, (low_side, low_side))
        } else {
            ("masks", Upscale::None, (frame.width, frame.height))
        };
        let mut out = self.decoder.run(feeds, &[name, "iou_predictions"])?;
        let masks = out.remove(0);
        let scores = out.remove(0);
        let k = scores.data.len();
        let plane = lw * lh;
        if k == 0 || masks.data.len() != k * plane {
            return Err(self.bad_masks(&masks, frame));
        }
        // Four tokens: 1–3 are the multimask candidates, token 0 the single mask; put it last.
        let order: Vec<usize> = if k == 4 { vec![1, 2, 3, 0] } else { (0..k).collect() };
        let (multimask, single) = if k == 4 { (3, Some(3)) } else { (0, None) };
        let scores: Vec<f32> = order.iter().map(|&t| scores.data[t]).collect();
        let best = Proposal::pick_best(&scores, multimask, single, n);
        Ok(Proposal {
            width: frame.width,
            height: frame.height,
            logits: order.iter().map(|&t| masks.data[t * plane..(t + 1) * plane].to_vec()).collect(),
            logit_width: lw,
            logit_height: lh,
            upscale,
            refinable,
            scores,
            multimask,
            best,
        })
    }

    /// SAM2: three low-resolution candidates, resized to the image as `SAM2Transforms.postprocess_masks` does.
    fn decode_sam2(&mut self, feeds: Vec<(&str, Feed)>, frame: Frame, low_side: usize) -> Result<Proposal, AiError> {
        let mut out = self.decoder.run(feeds, &["masks", "iou_predictions"])?;
        let masks = out.remove(0);
        let scores = out.remove(0).data;
        let k = scores.len();
        let low_plane = low_side * low_side;
        if k == 0 || masks.data.len() != k * low_plane {
            return Err(self.bad_masks(&masks, frame));
        }
        let best = Proposal::pick_best(&scores, k, None, 0);
        Ok(Proposal {
            width: frame.width,
            height: frame.height,
            logits: masks.data.chunks_exact(low_plane).map(<[f32]>::to_vec).collect(),
            logit_width: low_side,
            logit_height: low_side,
            upscale: Upscale::Bilinear,
            refinable: true,
            scores,
            multimask: k,
            best,
        })
    }

    /// EfficientSAM: three candidates at the image size (`output_masks [1, 1, 3, H, W]`), no refinement logits.
    fn decode_efficient_sam(&mut self, feeds: Vec<(&str, Feed)>, frame: Frame) -> Result<Proposal, AiError> {
        let mut out = self.decoder.run(feeds, &["output_masks", "iou_predictions"])?;
        let masks = out.remove(0);
        let scores = out.remove(0).data;
        let plane = frame.width * frame.height;
        let k = scores.len();
        if k == 0 || masks.data.len() != k * plane {
            return Err(self.bad_masks(&masks, frame));
        }
        let best = Proposal::pick_best(&scores, k, None, 0);
        Ok(Proposal {
            width: frame.width,
            height: frame.height,
            logits: masks.data.chunks_exact(plane).map(<[f32]>::to_vec).collect(),
            logit_width: frame.width,
            logit_height: frame.height,
            upscale: Upscale::None,
            refinable: false,
            scores,
            multimask: k,
            best,
        })
    }
}

/// The family a decoder's inputs say it belongs to.
fn detect(decoder: &Model, dir: &Path) -> Result<Family, AiError> {
    let has = |name: &str| decoder.input(name).is_some();
    if has("image_embeddings") && has("point_coords") && has("point_labels") && has("orig_im_size") {
        return Ok(Family::SamV1 { preprocess_in_graph: false });
    }
    let names = decoder.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
    if has("image_embed") && has("high_res_feats_0") && has("high_res_feats_1") && has("point_coords") {
        return Ok(Family::Sam2);
    }
    if has("image_embeddings") && has("batched_point_coords") && has("batched_point_labels") && has("orig_im_size") {
        return Ok(Family::EfficientSam);
    }
    Err(AiError::Model(format!(
        "{}: the decoder's inputs ({names}) are not a SAM decoder's (image_embeddings, point_coords, point_labels, \
         mask_input, has_mask_input, orig_im_size)",
        dir.display()
    )))
}

fn to_rgb(img: &Pixels) -> Result<image::RgbImage, AiError> {
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 {
        return Err(AiError::Input("the image to segment is empty".into()));
    }
    let data = if img.data.len() == w * h * 3 {
        img.data.clone()
    } else if img.data.len() == w * h {
        img.data.iter().flat_map(|&v| [v, v, v]).collect()
    } else {
        return Err(AiError::Input("the image to segment is malformed".into()));
    };
    image::RgbImage::from_raw(w as u32, h as u32, data)
        .ok_or_else(|| AiError::Input("the image to segment is malformed".into()))
}

/// RGB / 255, NCHW, at the image's own size (EfficientSAM resizes and normalizes in its graph).
fn planar_unit(img: &image::RgbImage) -> Vec<f32> {
    let plane = (img.width() * img.height()) as usize;
    let mut x = vec![0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            x[c * plane + i] = p[c] as f32 / 255.0;
        }
    }
    x
}

/// `(x / scale − mean) / std`, NCHW, then zero padding to 1024² (so SAM v1's padding equals the mean colour).
fn normalized_padded(img: &image::RgbImage, scale: f32, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let plane = INPUT_SIDE * INPUT_SIDE;
    let mut x = vec![0f32; 3 * plane];
    for (px, py, p) in img.enumerate_pixels() {
        let i = py as usize * INPUT_SIDE + px as usize;
        for c in 0..3 {
            x[c * plane + i] = (p[c] as f32 / scale - mean[c]) / std[c];
        }
    }
    x
}

/// An embedding output fed to the decoder without a copy (it is reused for every click).
fn borrowed(t: &Output) -> Feed<'_> {
    Feed::F32Ref(t.shape.clone(), &t.data)
}
