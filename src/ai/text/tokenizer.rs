//! The CLIP BPE tokenizer of a model folder, through the `tokenizers` crate: `tokenizer.json` when the folder
//! has one, otherwise built from `vocab.json` + `merges.txt` with the pipeline of `CLIPTokenizerFast` (NFC,
//! whitespace collapse, lowercase, CLIP's split regex, byte-level, BPE with `</w>`). Start, end and pad tokens
//! are read from the files, never assumed (SD1.x pads with `<|endoftext|>`, SD2.x and SDXL's second with `!`).

use std::path::Path;

use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, NFC, Replace, Sequence as NormSequence, replace::ReplacePattern};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{SplitDelimiterBehavior, Tokenizer};

use crate::ai::AiError;

const CLIP_SPLIT: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
const START: &str = "<|startoftext|>";
const END: &str = "<|endoftext|>";

/// A CLIP tokenizer and its special ids.
pub struct ClipTokenizer {
    inner: Tokenizer,
    pub start: i64,
    pub end: i64,
    pub pad: i64,
    /// `,</w>`, where A1111 prefers to break long prompts.
    pub comma: Option<i64>,
    /// 77 for every CLIP text encoder.
    pub max_length: usize,
}

fn err(dir: &Path, what: impl std::fmt::Display) -> AiError {
    AiError::Model(format!("tokenizer in {}: {what}", dir.display()))
}

/// `"pad_token"` from `special_tokens_map.json` or `tokenizer_config.json` (a string or `{"content": …}`).
pub fn pad_token_name(dir: &Path) -> Option<String> {
    for file in ["special_tokens_map.json", "tokenizer_config.json"] {
        let Ok(text) = std::fs::read_to_string(dir.join(file)) else { continue };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        match json.get("pad_token") {
            Some(serde_json::Value::String(s)) => return Some(s.clone()),
            Some(serde_json::Value::Object(o)) => {
                if let Some(serde_json::Value::String(s)) = o.get("content") {
                    return Some(s.clone());
                }
            }
            _ => {}
        }
    }
    None
}

fn max_length(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j.get("model_max_length").and_then(|v| v.as_u64()))
        .filter(|&n| (3..=1024).contains(&n))
        .map_or(77, |n| n as usize)
}

fn build_from_vocab(dir: &Path) -> Result<Tokenizer, AiError> {
    let vocab = dir.join("vocab.json");
    let merges = dir.join("merges.txt");
    for f in [&vocab, &merges] {
        if !f.is_file() {
            return Err(AiError::Model(format!("missing {}", f.display())));
        }
    }
    let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
        .unk_token(END.into())
        .end_of_word_suffix("</w>".into())
        .build()
        .map_err(|e| err(dir, e))?;
    let mut tok = Tokenizer::new(bpe);
    let collapse = Replace::new(ReplacePattern::Regex(r"\s+".into()), " ").map_err(|e| err(dir, e))?;
    tok.with_normalizer(Some(NormSequence::new(vec![NFC.into(), collapse.into(), Lowercase.into()])));
    let split = Split::new(SplitPattern::Regex(CLIP_SPLIT.into()), SplitDelimiterBehavior::Removed, true)
        .map_err(|e| err(dir, e))?;
    tok.with_pre_tokenizer(Some(PreSequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()])));
    Ok(tok)
}

/// The parts of `ftfy.fix_text` (which CLIP's own tokenizer, and transformers' when ftfy is installed as in
/// A1111, run first) that change prompts people type: fullwidth forms and the ideographic space become ASCII,
/// Latin ligatures are spelled out, and common HTML entities are decoded unless the text has a `<` (ftfy's
/// "auto" rule). ftfy's mojibake repair is not reproduced.
fn fix_text(text: &str) -> String {
    let text = if text.contains('<') { text.to_string() } else { unescape_html(text) };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{FF01}'..='\u{FF5E}' => out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)),
            '\u{3000}' => out.push(' '),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            _ => out.push(c),
        }
    }
    out
}

/// Named entities people paste from web pages, and numeric ones (`&#39;`, `&#x27;`).
fn unescape_html(text: &str) -> String {
    const NAMED: [(&str, &str); 7] =
        [("amp", "&"), ("lt", "<"), ("gt", ">"), ("quot", "\""), ("apos", "'"), ("nbsp", "\u{a0}"), ("hellip", "…")];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let decoded = tail.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &tail[..end];
            let ch = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(num, 16).ok().and_then(char::from_u32).map(String::from)
            } else if let Some(num) = name.strip_prefix('#') {
                num.parse::<u32>().ok().and_then(char::from_u32).map(String::from)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push_str(&c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

impl ClipTokenizer {
    /// Load the tokenizer of a model folder's `tokenizer/` directory.
    pub fn load(dir: &Path) -> Result<Self, AiError> {
        let json = dir.join("tokenizer.json");
        let inner =
            if json.is_file() { Tokenizer::from_file(&json).map_err(|e| err(dir, e))? } else { build_from_vocab(dir)? };
        let id = |name: &str| inner.token_to_id(name).map(i64::from);
        let start = id(START).ok_or_else(|| err(dir, format!("no {START} token")))?;
        let end = id(END).ok_or_else(|| err(dir, format!("no {END} token")))?;
        let pad = match pad_token_name(dir) {
            Some(name) => id(&name).ok_or_else(|| err(dir, format!("pad token {name:?} is not in the vocabulary")))?,
            None => end,
        };
        let comma = id(",</w>");
        Ok(ClipTokenizer { inner, start, end, pad, comma, max_length: max_length(dir) })
    }

    /// Token ids of `text` without start/end tokens and without truncation.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, AiError> {
        let text = fix_text(text);
        let enc = self.inner.encode(text.as_str(), false).map_err(|e| AiError::Model(format!("tokenizer: {e}")))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// Tokens per chunk between start and end (75 for CLIP).
    pub fn chunk_length(&self) -> usize {
        self.max_length - 2
    }
}
