//! Stage 1: prompt → conditioning, as A1111 computes it: parse attention, tokenize into 77-token chunks,
//! run the text encoder per chunk (CLIP skip: `hidden_states[-k]` through the final LayerNorm), apply the
//! emphasis multipliers with A1111's mean-restoring normalisation, and concatenate the chunks.

use std::path::Path;

use crate::ai::AiError;
use crate::ai::onnx_file;
use crate::ai::session::{Feed, Model};
use crate::ai::text::{ClipTokenizer, chunk_prompt, parse_attention};

/// Token embeddings `[tokens, width]` for one prompt.
#[derive(Debug, Clone)]
pub struct Conditioning {
    pub tokens: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

/// The final LayerNorm of a CLIP text encoder, read from its ONNX weights (needed for CLIP skip ≥ 2).
pub struct FinalNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl FinalNorm {
    pub fn load(text_encoder: &Path) -> Result<Self, AiError> {
        let tensors = onnx_file::tensors(text_encoder)?;
        let find = |suffix: &str| tensors.iter().find(|t| t.name.ends_with(suffix));
        match (find("final_layer_norm.weight"), find("final_layer_norm.bias")) {
            (Some(w), Some(b)) => Ok(FinalNorm {
                weight: onnx_file::read_floats(text_encoder, w)?,
                bias: onnx_file::read_floats(text_encoder, b)?,
            }),
            _ => Err(AiError::Model(format!(
                "{}: no final_layer_norm weights found, so CLIP skip cannot be applied",
                text_encoder.display()
            ))),
        }
    }

    /// LayerNorm over the last axis (ε = 1e-5, CLIP's).
    fn apply(&self, rows: &mut [f32]) {
        let w = self.weight.len();
        for row in rows.chunks_exact_mut(w) {
            let mean = row.iter().sum::<f32>() / w as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / w as f32;
            let inv = 1.0 / (var + 1e-5).sqrt();
            for (i, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) * inv * self.weight[i] + self.bias[i];
            }
        }
    }
}

/// Prompt encoding with one tokenizer and text encoder.
pub struct PromptEncoder<'a> {
    pub tokenizer: &'a ClipTokenizer,
    pub text_encoder: &'a mut Model,
    /// A1111 numbering: 1 = last layer, 2 = penultimate, …
    pub clip_skip: usize,
    pub final_norm: Option<&'a FinalNorm>,
    /// Time spent parsing and tokenizing so far.
    pub tokenize_time: std::time::Duration,
}

impl PromptEncoder<'_> {
    /// The hidden-state output CLIP skip reads, e.g. `hidden_states.11` of 13 for skip 2 on SD1.5.
    fn skip_output(&self) -> Result<Option<String>, AiError> {
        if self.clip_skip <= 1 {
            return Ok(None);
        }
        let count = self.text_encoder.outputs.iter().filter(|o| o.starts_with("hidden_states.")).count();
        if count == 0 {
            return Err(AiError::Model(format!(
                "{} was exported without hidden states, so CLIP skip {} is not possible; re-export it with onnx/export_diffusers.py",
                self.text_encoder.path.display(),
                self.clip_skip
            )));
        }
        if self.clip_skip >= count {
            return Err(AiError::Input(format!(
                "CLIP skip {} is more than the text encoder's {} layers",
                self.clip_skip,
                count - 1
            )));
        }
        Ok(Some(format!("hidden_states.{}", count - self.clip_skip)))
    }

    /// Encode one prompt in A1111's way.
    pub fn encode(&mut self, prompt: &str) -> Result<Conditioning, AiError> {
        let start = std::time::Instant::now();
        let chunks = chunk_prompt(self.tokenizer, &parse_attention(prompt))?;
        if chunks.iter().flat_map(|c| &c.multipliers).any(|m| !m.is_finite()) {
            return Err(AiError::Input("a prompt weight is too large (too many nested brackets)".into()));
        }
        self.tokenize_time += start.elapsed();
        let skip = self.skip_output()?;
        let output = skip.clone().unwrap_or_else(|| "last_hidden_state".into());
        let mut data = Vec::new();
        let mut width = 0;
        let mut tokens = 0;
        for chunk in &chunks {
            let n = chunk.ids.len();
            let mut out = self
                .text_encoder
                .run(vec![("input_ids", Feed::I64(vec![1, n], chunk.ids.clone()))], &[output.as_str()])?
                .remove(0);
            width = *out.shape.last().unwrap_or(&0);
            if width == 0 || out.data.len() != n * width {
                return Err(AiError::Model("the text encoder returned an unexpected shape".into()));
            }
            if skip.is_some() {
                let norm =
                    self.final_norm.ok_or_else(|| AiError::Model("CLIP skip needs the final LayerNorm".into()))?;
                norm.apply(&mut out.data);
            }
            if !chunk.is_plain() {
                emphasize(&mut out.data, &chunk.multipliers, width);
            }
            data.extend_from_slice(&out.data);
            tokens += n;
        }
        Ok(Conditioning { tokens, width, data })
    }
}

/// A1111's "Original" emphasis: scale each token's embedding by its multiplier, then restore the mean.
fn emphasize(z: &mut [f32], multipliers: &[f32], width: usize) {
    let mean = |z: &[f32]| (z.iter().map(|&v| v as f64).sum::<f64>() / z.len() as f64) as f32;
    let original = mean(z);
    for (row, &m) in z.chunks_exact_mut(width).zip(multipliers) {
        row.iter_mut().for_each(|v| *v *= m);
    }
    let new = mean(z);
    let k = original / new;
    z.iter_mut().for_each(|v| *v *= k);
}
