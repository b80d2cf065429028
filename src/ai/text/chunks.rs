//! A1111's `tokenize_line`: a parsed prompt becomes 77-token chunks (start + 75 + end, padded), each token
//! carrying its emphasis multiplier. A chunk that would overflow moves the words after a nearby comma (within
//! 20 tokens) to the next chunk, and `BREAK` starts a new chunk.

use super::prompt::Weighted;
use super::tokenizer::ClipTokenizer;
use crate::ai::AiError;

/// A1111's default `comma_padding_backtrack`.
const COMMA_BACKTRACK: usize = 20;

/// One chunk of `max_length` token ids and their multipliers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub ids: Vec<i64>,
    pub multipliers: Vec<f32>,
}

impl Chunk {
    /// Whether every multiplier is 1 (emphasis would change nothing).
    pub fn is_plain(&self) -> bool {
        self.multipliers.iter().all(|&m| m == 1.0)
    }
}

struct Builder<'a> {
    tok: &'a ClipTokenizer,
    chunks: Vec<Chunk>,
    ids: Vec<i64>,
    mults: Vec<f32>,
    last_comma: Option<usize>,
}

impl Builder<'_> {
    fn next_chunk(&mut self) {
        let len = self.tok.chunk_length();
        let mut ids = Vec::with_capacity(len + 2);
        ids.push(self.tok.start);
        ids.append(&mut self.ids);
        ids.push(self.tok.end);
        // A1111 pads with the end token, then replaces everything after the first end token with the pad id.
        ids.resize(len + 2, self.tok.pad);
        let mut mults = Vec::with_capacity(len + 2);
        mults.push(1.0);
        mults.append(&mut self.mults);
        mults.resize(len + 2, 1.0);
        self.last_comma = None;
        self.chunks.push(Chunk { ids, multipliers: mults });
    }
}

/// Chunks of a parsed prompt (see [`super::prompt::parse_attention`]).
pub fn chunk_prompt(tok: &ClipTokenizer, parsed: &[Weighted]) -> Result<Vec<Chunk>, AiError> {
    let len = tok.chunk_length();
    let mut b = Builder { tok, chunks: Vec::new(), ids: Vec::new(), mults: Vec::new(), last_comma: None };
    for (text, weight) in parsed {
        if text == "BREAK" && *weight == -1.0 {
            b.next_chunk();
            continue;
        }
        for id in tok.encode(text)? {
            if Some(id) == tok.comma {
                b.last_comma = Some(b.ids.len());
            } else if let Some(comma) = b.last_comma
                && b.ids.len() == len
                && b.ids.len() - comma <= COMMA_BACKTRACK
            {
                let moved_ids = b.ids.split_off(comma + 1);
                let moved_mults = b.mults.split_off(comma + 1);
                b.next_chunk();
                b.ids = moved_ids;
                b.mults = moved_mults;
            }
            if b.ids.len() == len {
                b.next_chunk();
            }
            b.ids.push(id);
            b.mults.push(*weight as f32);
        }
    }
    if !b.ids.is_empty() || b.chunks.is_empty() {
        b.next_chunk();
    }
    Ok(b.chunks)
}
