//! One job, run on a blocking thread: load (or reuse) the model, plan the edit, then one candidate per seed,
//! reporting each step with an ETA and a preview.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::preview::Previewer;
use super::{Candidate, EditJob, JobEvent, JobId, Stage, Wake};
use crate::ai::AiError;
use crate::ai::edit;
use crate::ai::pipeline::{Engine, Progress};
use crate::ai::session::Device;

#[derive(Clone)]
pub(super) struct Sender {
    pub id: JobId,
    pub tx: UnboundedSender<JobEvent>,
    pub wake: Wake,
}

impl Sender {
    pub fn send(&self, e: JobEvent) {
        // The receiver only goes away with the queue; then nobody is listening.
        let _ = self.tx.send(e);
        (self.wake)();
    }

    fn progress(&self, stage: Stage, eta: Option<Duration>) {
        self.send(JobEvent::Progress { id: self.id, stage, eta });
    }
}

/// Seconds per step so far, for the ETA of what is left.
struct Pace {
    started: Option<Instant>,
    steps: usize,
}

impl Pace {
    fn step(&mut self) {
        self.started.get_or_insert_with(Instant::now);
        self.steps += 1;
    }

    fn eta(&self, steps_left: usize) -> Option<Duration> {
        let started = self.started?;
        // The first step's own time is not measured (it starts the clock); the rest give the pace.
        (self.steps > 1).then(|| started.elapsed().div_f64((self.steps - 1) as f64).mul_f64(steps_left as f64))
    }
}

/// Runs `job`; returns the engine for the next job (kept unless the failure may have come from it).
pub(super) fn run(engine: Option<Engine>, job: EditJob, cancel: &AtomicBool, send: &Sender) -> Option<Engine> {
    let mut engine = match engine {
        Some(e) if e.device() == job.device => e,
        _ => Engine::new(job.device),
    };
    let (id, device) = (send.id, job.device);
    match candidates(&mut engine, job, cancel, send) {
        Ok(()) => send.send(JobEvent::Finished { id }),
        Err(AiError::Cancelled) => send.send(JobEvent::Cancelled { id }),
        Err(e) => {
            // Bad input fails the same way on every provider; the rest may be the GPU's doing.
            let input = matches!(e, AiError::Input(_));
            let retry_on_cpu = device != Device::Cpu && !input;
            send.send(JobEvent::Failed { id, error: explain(&e, device), retry_on_cpu });
            if !input {
                // Sessions that failed (memory, provider) are not trusted with the next job.
                return None;
            }
        }
    }
    Some(engine)
}

fn explain(e: &AiError, device: Device) -> String {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("out of memory") || lower.contains("failed to allocate") || lower.contains("bad_alloc") {
        format!("out of memory on {device:?}: try a smaller selection, fewer candidates or the CPU ({text})")
    } else {
        text
    }
}

fn candidates(engine: &mut Engine, mut job: EditJob, cancel: &AtomicBool, send: &Sender) -> Result<(), AiError> {
    let live = || !cancel.load(Ordering::Relaxed);
    let mut loading = |p: &Progress| {
        if let Progress::Loading { part, index, count } = *p {
            send.progress(Stage::Loading { part, index, count }, None);
        }
        live()
    };
    let mut prepared = edit::prepare(engine, &job.model, &job.doc, job.kind, &job.options, &job.request, &mut loading)?;
    if let Some(guide) = &job.guide {
        prepared.request.controls = vec![guide.control(&job.doc, &prepared.region)?];
    }
    let mut previewer = Previewer::for_model(&job.model, job.device);
    let n = job.seeds.len();
    // Rects are reported in the live document's coordinates.
    let [ox, oy] = job.prelude.as_ref().map_or([0, 0], |p| p.offset);
    let shown = prepared.region.context.translate(-ox, -oy);
    let mut pace = Pace { started: None, steps: 0 };
    for (i, &seed) in job.seeds.iter().enumerate() {
        let started = Instant::now();
        let candidate = i + 1;
        let mut on_step = |p: &Progress| {
            if let Progress::Step { step, total, latents } = *p {
                pace.step();
                let left = (total - step) + (n - candidate) * total;
                send.progress(Stage::Step { candidate, candidates: n, step, total }, pace.eta(left));
                if live() {
                    let image = previewer.image(latents, &prepared.region);
                    send.send(JobEvent::Preview { id: send.id, rect: shown, image });
                }
            }
            live()
        };
        let result = prepared.generate(engine, &job.model, &mut job.doc, seed, &mut on_step)?;
        send.progress(Stage::Finishing { candidate, candidates: n }, None);
        let candidate = Candidate {
            seed,
            command: result.command,
            prelude: job.prelude.as_ref().map(|p| p.command.clone()),
            rect: shown,
            layer_rect: result.region.context,
            providers: result.generated.providers.clone(),
            gpu_fallback: result.generated.gpu_fallback.clone(),
            seconds: started.elapsed().as_secs_f64(),
        };
        send.send(JobEvent::Candidate { id: send.id, candidate: Box::new(candidate) });
        if !live() {
            return Err(AiError::Cancelled);
        }
    }
    Ok(())
}
