//! Work the UI thread must not wait for (file dialogs, opening, saving, decoding dropped or pasted images,
//! writing settings) runs on short-lived threads; results come back through a channel that the studio drains
//! once per frame. Each finished job wakes the UI.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui;
use oekaki::doc::Document;
use oekaki::history::Command;

/// What a background job produced.
pub enum Done {
    /// A file dialog closed (`None`: cancelled).
    Picked {
        purpose: Pick,
        path: Option<PathBuf>,
    },
    Opened {
        path: Option<PathBuf>,
        doc: Box<Document>,
        warnings: Vec<String>,
        recovered: bool,
    },
    /// An image decoded to go in as a new layer at canvas point `at` (its centre).
    LayerImage {
        name: String,
        image: image::RgbaImage,
        at: Option<[f32; 2]>,
    },
    /// A save or export finished; `revision` is the editor revision the snapshot was taken at.
    Saved {
        path: PathBuf,
        revision: u64,
        export: bool,
    },
    Failed(String),
    /// The AI panel's runtime check or model scan.
    Ai(super::ai::AiDone),
    /// A free-transform preview built off the UI thread (see `TransformPreview`).
    TransformPreview {
        generation: u64,
        /// The editor revision the document snapshot was taken at.
        revision: u64,
        state: super::tools::TransformState,
        cmd: Result<Command, String>,
    },
    /// An edit built from a snapshot taken at editor revision `revision` (see `Studio::apply_in_background`).
    Built {
        cmd: Result<Command, String>,
        revision: u64,
        build: Build,
        /// The history label ("Fill", "Selection").
        label: &'static str,
    },
    /// Nothing to report (settings written).
    Quiet,
}

/// Builds a command from a document snapshot, off the UI thread; kept to build again if the document changed.
pub type Build = std::sync::Arc<dyn Fn(&Document) -> Result<Command, oekaki::doc::DocError> + Send + Sync>;

/// Why a file dialog was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    Open,
    SaveAs,
    Export,
    ImportLayer,
    ModelFolder,
}

pub struct Background {
    tx: Sender<Done>,
    rx: Receiver<Done>,
    ctx: Option<egui::Context>,
    running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Background {
    fn default() -> Self {
        let (tx, rx) = channel();
        Background { tx, rx, ctx: None, running: Default::default() }
    }
}

impl Background {
    /// The context to wake when a job finishes.
    pub fn set_context(&mut self, ctx: &egui::Context) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
    }

    /// The window's context once the first frame has run (to wake it from other threads).
    pub fn context(&self) -> Option<egui::Context> {
        self.ctx.clone()
    }

    /// Runs `job` on its own thread.
    pub fn spawn(&self, name: &str, job: impl FnOnce() -> Done + Send + 'static) {
        use std::sync::atomic::Ordering;
        let (tx, ctx, running) = (self.tx.clone(), self.ctx.clone(), self.running.clone());
        running.fetch_add(1, Ordering::SeqCst);
        let counter = running.clone();
        let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or_else(|_| Done::Failed("internal error in a background job".into()));
            // Result first, then the count: whoever sees no job running finds its result waiting.
            let _ = tx.send(done);
            running.fetch_sub(1, Ordering::SeqCst);
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
        if let Err(e) = spawned {
            counter.fetch_sub(1, Ordering::SeqCst);
            let _ = self.tx.send(Done::Failed(format!("cannot start a background job: {e}")));
        }
    }

    /// Results that arrived since the last call.
    pub fn finished(&self) -> Vec<Done> {
        self.rx.try_iter().collect()
    }

    /// Jobs still running (the status bar shows a spinner).
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }
}
