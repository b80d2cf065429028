//! Prompt text: A1111's attention syntax, the CLIP tokenizer, and 75-token chunks with emphasis multipliers.

pub mod chunks;
pub mod prompt;
pub mod tokenizer;
pub mod weight;

pub use chunks::{Chunk, chunk_prompt};
pub use prompt::parse_attention;
pub use tokenizer::ClipTokenizer;
pub use weight::adjust_weight;
