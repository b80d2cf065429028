//! Local AI: ONNX Runtime (loaded at run time), Stable Diffusion model folders, prompts, samplers and the
//! pipelines built from shared stages. Everything here is headless; the studio and the CLI call the same code.

pub mod controlnet;
pub mod edit;
pub mod library;
pub mod model;
pub mod onnx_edit;
pub mod onnx_file;
pub mod pipeline;
pub mod preprocess;
pub mod rng;
pub mod runtime;
pub mod sam;
pub mod scheduler;
pub mod session;
pub mod text;

/// What can go wrong in the AI engine. Messages are one line, meant for the artist.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("model: {0}")]
    Model(String),
    #[error("{0}")]
    Scheduler(#[from] scheduler::SchedulerError),
    #[error("{0}")]
    Input(String),
    #[error("cancelled")]
    Cancelled,
}
