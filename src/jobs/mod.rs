//! Background jobs: a queue (tokio) that runs AI edits one after another off the caller's thread. Each job works
//! on a snapshot of the document (tiles are shared, so it is cheap) and reports progress, previews and results
//! as [`JobEvent`]s; cancelling stops a job within one denoising step. Results are commands: the caller decides
//! whether the document changes.

pub mod preview;
mod run;
pub mod segment;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::ai::edit::{EditKind, EditOptions};
use crate::ai::pipeline::{Engine, Request};
use crate::ai::session::Device;
use crate::doc::Document;
use crate::geom::Rect;
use crate::history::Command;

pub type JobId = u64;

/// An AI edit to run: the document as it was when the job was asked for, and one candidate per seed.
#[derive(Clone)]
pub struct EditJob {
    pub doc: Document,
    pub model: PathBuf,
    pub device: Device,
    pub kind: EditKind,
    pub options: EditOptions,
    pub request: Request,
    /// One candidate per seed (the batch).
    pub seeds: Vec<u64>,
    /// A canvas change the result depends on (expanding the canvas); `doc` already shows it.
    pub prelude: Option<Prelude>,
    /// A ControlNet guiding the edit by a layer or the picture.
    pub guide: Option<crate::ai::edit::Guide>,
}

/// A change applied together with a candidate's layer, e.g. the canvas resize of an expansion.
#[derive(Clone)]
pub struct Prelude {
    pub command: Command,
    /// Where the live document's origin lands in the job's document.
    pub offset: [i32; 2],
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Queued,
    Loading {
        part: &'static str,
        index: usize,
        count: usize,
    },
    /// Denoising step `step` of `total` (1-based) of candidate `candidate` of `candidates` (1-based).
    Step {
        candidate: usize,
        candidates: usize,
        step: usize,
        total: usize,
    },
    /// Decoding and placing a candidate.
    Finishing {
        candidate: usize,
        candidates: usize,
    },
}

impl Stage {
    /// Fraction done, 0..=1.
    pub fn fraction(&self) -> f32 {
        match *self {
            Stage::Queued => 0.0,
            Stage::Loading { index, count, .. } => 0.05 * index as f32 / count.max(1) as f32,
            Stage::Step { candidate, candidates, step, total } => {
                let per = 1.0 / candidates.max(1) as f32;
                0.05 + 0.95 * per * ((candidate - 1) as f32 + step as f32 / total.max(1) as f32)
            }
            Stage::Finishing { candidate, candidates } => 0.05 + 0.95 * candidate as f32 / candidates.max(1) as f32,
        }
    }
}

/// One finished candidate: the command that adds its layer, and how it was made.
#[derive(Clone)]
pub struct Candidate {
    pub seed: u64,
    /// Adds the result layer (after the prelude, if any).
    pub command: Command,
    pub prelude: Option<Command>,
    /// The area the layer covers, in the live document's coordinates (outside the canvas when expanding).
    pub rect: Rect,
    /// `rect` in the job's document (where the layer's pixels are).
    pub layer_rect: Rect,
    /// (model part, execution provider) of each session used.
    pub providers: Vec<(&'static str, &'static str)>,
    /// Why `auto` ran on the CPU, when it did.
    pub gpu_fallback: Option<String>,
    pub seconds: f64,
}

impl Candidate {
    /// The command that adds this candidate's layer on top of `doc`. The job built it against a snapshot, so
    /// the layer gets an id that is fresh in the live document (which may have gained layers meanwhile).
    pub fn command_for(&self, doc: &Document) -> Command {
        let mut cmd = self.command.clone();
        if let Command::AddLayer { parent, index, layer } = &mut cmd {
            layer.id = doc.next_free_id();
            *parent = None;
            *index = doc.layers.len();
        }
        match &self.prelude {
            Some(p) => Command::Batch(vec![p.clone(), cmd]),
            None => cmd,
        }
    }
}

/// What the queue reports.
pub enum JobEvent {
    Progress {
        id: JobId,
        stage: Stage,
        eta: Option<Duration>,
    },
    /// A preview of the picture being denoised over `rect` (straight RGBA, alpha from the paste mask).
    Preview {
        id: JobId,
        rect: Rect,
        image: image::RgbaImage,
    },
    Candidate {
        id: JobId,
        candidate: Box<Candidate>,
    },
    Finished {
        id: JobId,
    },
    Cancelled {
        id: JobId,
    },
    /// `retry_on_cpu`: it ran on a GPU provider, and the CPU might manage.
    Failed {
        id: JobId,
        error: String,
        retry_on_cpu: bool,
    },
}

impl JobEvent {
    pub fn id(&self) -> JobId {
        match self {
            JobEvent::Progress { id, .. }
            | JobEvent::Preview { id, .. }
            | JobEvent::Candidate { id, .. }
            | JobEvent::Finished { id }
            | JobEvent::Cancelled { id }
            | JobEvent::Failed { id, .. } => *id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start the job runner: {0}")]
pub struct JobError(String);

struct Submitted {
    id: JobId,
    job: EditJob,
    cancel: Arc<AtomicBool>,
}

/// The job queue. Owned by the UI (or a test); drained with [`JobQueue::events`].
pub struct JobQueue {
    runtime: tokio::runtime::Runtime,
    submit: UnboundedSender<Submitted>,
    events: UnboundedReceiver<JobEvent>,
    cancels: HashMap<JobId, Arc<AtomicBool>>,
    next: JobId,
}

/// Called after each event is sent (e.g. to repaint the window).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

impl JobQueue {
    pub fn new(wake: Wake) -> Result<JobQueue, JobError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("oekaki-jobs")
            .build()
            .map_err(|e| JobError(e.to_string()))?;
        let (submit, mut inbox) = unbounded_channel::<Submitted>();
        let (tx, events) = unbounded_channel::<JobEvent>();
        runtime.spawn(async move {
            let mut engine: Option<Engine> = None;
            while let Some(Submitted { id, job, cancel }) = inbox.recv().await {
                let send = run::Sender { id, tx: tx.clone(), wake: wake.clone() };
                if cancel.load(Ordering::Relaxed) {
                    send.send(JobEvent::Cancelled { id });
                    continue;
                }
                let reporter = send.clone();
                let taken = engine.take();
                match tokio::task::spawn_blocking(move || run::run(taken, job, &cancel, &send)).await {
                    Ok(kept) => engine = kept,
                    // A panic inside a job: report it, and start the next job with fresh sessions.
                    Err(e) => reporter.send(JobEvent::Failed {
                        id,
                        error: format!("the job stopped unexpectedly ({e})"),
                        retry_on_cpu: false,
                    }),
                }
            }
        });
        Ok(JobQueue { runtime, submit, events, cancels: HashMap::new(), next: 1 })
    }

    /// Queue a job; it starts when the ones before it are done.
    pub fn submit(&mut self, job: EditJob) -> JobId {
        let id = self.next;
        self.next += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancels.insert(id, cancel.clone());
        if self.submit.send(Submitted { id, job, cancel }).is_err() {
            // The runner is gone (it only stops with the queue); nothing will report on this job.
            self.cancels.remove(&id);
        }
        id
    }

    /// Ask a job to stop; it reports `Cancelled` within one step (or at once if it has not started).
    pub fn cancel(&mut self, id: JobId) {
        if let Some(flag) = self.cancels.get(&id) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Every event reported since the last call.
    pub fn events(&mut self) -> Vec<JobEvent> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            if matches!(e, JobEvent::Finished { .. } | JobEvent::Cancelled { .. } | JobEvent::Failed { .. }) {
                self.cancels.remove(&e.id());
            }
            out.push(e);
        }
        out
    }

    /// Jobs submitted and not yet finished, cancelled or failed (as far as drained events tell).
    pub fn pending(&self) -> usize {
        self.cancels.len()
    }

    /// Stops all jobs and waits (at most `timeout`) for the one running to notice.
    pub fn shutdown(self, timeout: Duration) {
        for flag in self.cancels.values() {
            flag.store(true, Ordering::Relaxed);
        }
        drop(self.submit);
        self.runtime.shutdown_timeout(timeout);
    }
}
