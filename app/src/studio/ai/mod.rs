//! AI editing in the studio: the model list, the job queue and its cards (progress, previews, candidates), and
//! applying a chosen candidate as one undoable command. Jobs run in the core's [`JobQueue`] on a snapshot of the
//! document; nothing changes until the artist applies a result. The panel itself is in [`panel`].

mod panel;
pub mod params;
mod prompt_box;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use oekaki::ai::edit::{self, EditKind, Guide};
use oekaki::ai::library::{self, ModelEntry};
use oekaki::doc::Document;
use oekaki::geom::Rect;
use oekaki::history::Command;
use oekaki::jobs::{Candidate, EditJob, JobEvent, JobId, JobQueue, Prelude, Stage};

pub use panel::show as panel;
pub use params::AiParams;

use super::{Done, Studio};

/// Whether ONNX Runtime could be loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeStatus {
    Unknown,
    Checking,
    Ready(String),
    Missing(String),
}

/// Results of the panel's background work.
pub enum AiDone {
    Runtime(Result<String, String>),
    /// A scan's models, the folder just added (if any), and which scan it was.
    Models(Vec<ModelEntry>, Option<PathBuf>, u64),
    /// The guide's control image over the whole canvas.
    GuidePreview(Result<oekaki::ai::pipeline::Pixels, String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Running,
    Done,
    Cancelled,
    Failed { error: String, retry_on_cpu: bool },
}

pub struct CandidateView {
    pub candidate: Candidate,
    /// The result layer's pixels over `candidate.rect` (premultiplied), for the canvas overlay and thumbnail.
    pub texture: egui::TextureHandle,
    pub applied: bool,
}

/// One job as the panel shows it.
pub struct JobCard {
    pub id: JobId,
    pub title: String,
    /// What was submitted (kept to retry on the CPU).
    pub job: EditJob,
    pub stage: Stage,
    pub eta: Option<Duration>,
    pub state: JobState,
    pub preview: Option<(Rect, egui::TextureHandle)>,
    pub candidates: Vec<CandidateView>,
}

/// Document revision, source layer and preprocessor: what a control-image preview depends on.
type GuidePreviewKey = (u64, Option<oekaki::doc::LayerId>, String);

#[derive(Default)]
pub struct AiState {
    pub runtime: Option<RuntimeStatus>,
    pub models: Vec<ModelEntry>,
    pub scanning: bool,
    /// The newest scan asked for: results of older scans that finish later are dropped.
    scan_generation: u64,
    pub cards: Vec<JobCard>,
    /// The candidate drawn over the canvas: (job, index).
    pub shown: Option<(JobId, usize)>,
    /// Execution providers of the last result, e.g. "CUDA" or "CPU".
    pub ran_on: Option<String>,
    /// Why the last job's `auto` ran on the CPU.
    pub gpu_fallback: Option<String>,
    /// The layer guiding generations (usually the sketch); `None`: the visible picture.
    pub guide_layer: Option<oekaki::doc::LayerId>,
    /// The guide's control image drawn over the canvas ("Show control image").
    pub guide_preview: Option<egui::TextureHandle>,
    pub guide_preview_on: bool,
    /// What the newest control-image preview was asked for; a different one makes it stale.
    guide_preview_key: Option<GuidePreviewKey>,
    guide_preview_busy: bool,
    queue: Option<JobQueue>,
}

impl AiState {
    pub fn runtime(&self) -> RuntimeStatus {
        self.runtime.clone().unwrap_or(RuntimeStatus::Unknown)
    }

    pub fn card(&self, id: JobId) -> Option<&JobCard> {
        self.cards.iter().find(|c| c.id == id)
    }

    pub fn running(&self) -> bool {
        self.cards.iter().any(|c| c.state == JobState::Running)
    }

    fn card_mut(&mut self, id: JobId) -> Option<&mut JobCard> {
        self.cards.iter_mut().find(|c| c.id == id)
    }

    /// Stops every job (window closing).
    pub fn shutdown(&mut self) {
        if let Some(q) = self.queue.take() {
            q.shutdown(Duration::from_secs(2));
        }
    }
}

/// The folders searched for models: the default one, then the artist's.
pub fn model_folders(p: &AiParams) -> Vec<PathBuf> {
    library::default_folder().into_iter().chain(p.model_folders.iter().cloned()).collect()
}

/// Pixels of a candidate's layer as a texture (at most 2048 on a side).
fn candidate_texture(ctx: &egui::Context, c: &Candidate) -> egui::TextureHandle {
    let pixels = match &c.command {
        Command::AddLayer { layer, .. } => match &layer.content {
            oekaki::doc::LayerContent::Raster(s) => s.read_rect(c.layer_rect),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let (w, h) = (c.rect.width() as usize, c.rect.height() as usize);
    let step = (w.max(h)).div_ceil(2048).max(1);
    let (tw, th) = (w.div_ceil(step), h.div_ceil(step));
    let mut out = Vec::with_capacity(tw * th);
    for y in 0..th {
        for x in 0..tw {
            let p = pixels.get(y * step * w + x * step).copied().unwrap_or([0; 4]);
            out.push(egui::Color32::from_rgba_premultiplied(p[0], p[1], p[2], p[3]));
        }
    }
    ctx.load_texture(format!("candidate {}", c.seed), egui::ColorImage::new([tw, th], out), Default::default())
}

impl Studio {
    /// Looks for ONNX Runtime (and fetches it on first use) and lists the models, in the background.
    pub(crate) fn ai_start(&mut self) {
        if self.ai.runtime.is_none() {
            self.ai.runtime = Some(RuntimeStatus::Checking);
            self.background.spawn("onnx runtime", || {
                let found = oekaki::ai::runtime::locate().and_then(|path| {
                    oekaki::ai::runtime::environment()?;
                    Ok(path)
                });
                Done::Ai(AiDone::Runtime(found.map(|p| p.display().to_string()).map_err(|e| e.to_string())))
            });
            self.ai_rescan();
        }
    }

    pub fn ai_rescan(&mut self) {
        self.ai_scan(None);
    }

    /// Lists the models in the background; `added` is a folder just added, reported on when the list is in.
    fn ai_scan(&mut self, added: Option<PathBuf>) {
        self.ai.scanning = true;
        self.ai.scan_generation += 1;
        let generation = self.ai.scan_generation;
        let folders = model_folders(&self.settings.ai);
        self.background
            .spawn("model scan", move || Done::Ai(AiDone::Models(library::scan(&folders), added, generation)));
    }

    /// Adds a folder of models (or one model folder, which is then chosen) and rescans.
    pub fn ai_add_folder(&mut self, dir: PathBuf) {
        if !self.settings.ai.model_folders.contains(&dir) {
            self.settings.ai.model_folders.push(dir.clone());
            self.save_settings();
        }
        self.status = format!("looking for models in {}…", dir.display());
        self.ai_scan(Some(dir));
    }

    /// The guide the next job or preview uses, with a neural preprocessor's folder found among the models.
    fn ai_guide(&self) -> Result<Option<Guide>, String> {
        let Some(mut guide) = self.settings.ai.guide(self.ai.guide_layer) else { return Ok(None) };
        if let Some(kind) = guide.preprocess.filter(|k| k.needs_model()) {
            let folder = self.ai.models.iter().find(|m| {
                m.status.as_ref().is_ok_and(|i| i.kind == library::ModelKind::Preprocessor && i.family == kind.name())
            });
            let Some(folder) = folder else {
                return Err(format!(
                    "no {} preprocessor found: export one with onnx/export_lineart.py and add its folder",
                    kind.name()
                ));
            };
            guide.options.model = Some(folder.dir.clone());
        }
        Ok(Some(guide))
    }

    fn guide_preview_key(&self) -> GuidePreviewKey {
        (self.editor.revision(), self.ai.guide_layer, self.settings.ai.guide_preprocess.clone())
    }

    /// Rebuilds the shown control image in the background when the picture, source or preprocessor changed.
    pub(crate) fn ai_refresh_guide_preview(&mut self) {
        // While a stroke is being painted, the picture changes every frame: rebuild once it is done.
        if !self.ai.guide_preview_on || self.ai.guide_preview_busy || self.editor.stroking() {
            return;
        }
        let key = self.guide_preview_key();
        if self.ai.guide_preview_key.as_ref() == Some(&key) {
            return;
        }
        self.ai.guide_preview_key = Some(key);
        let guide = match self.ai_guide() {
            Ok(Some(g)) => g,
            Ok(None) => return self.guide_preview_failed("choose a ControlNet for the guide first".into()),
            Err(e) => return self.guide_preview_failed(e),
        };
        self.ai.guide_preview_busy = true;
        let doc = self.editor.doc.clone();
        self.background.spawn("guide preview", move || {
            // Whatever happens inside, the answer comes back as a preview result, so `busy` always clears.
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guide.preview(&doc, 1024)));
            Done::Ai(AiDone::GuidePreview(match built {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("the control image could not be made (internal error)".into()),
            }))
        });
    }

    /// The preview is switched off with the reason; switching it on again rebuilds it.
    fn guide_preview_failed(&mut self, why: String) {
        self.ai.guide_preview_on = false;
        self.ai.guide_preview_key = None;
        self.status = why;
    }

    /// "Show control image": on builds it afresh (settings the key does not cover may have changed), off hides it.
    pub fn ai_toggle_guide_preview(&mut self) {
        self.ai.guide_preview_on = !self.ai.guide_preview_on;
        self.ai.guide_preview_key = None;
    }

    /// A new document: the old control image is not its own.
    pub(crate) fn ai_forget_guide_preview(&mut self) {
        self.ai.guide_preview = None;
        self.ai.guide_preview_key = None;
    }

    pub(crate) fn ai_finished(&mut self, done: AiDone) {
        match done {
            AiDone::GuidePreview(Err(e)) => {
                self.ai.guide_preview_busy = false;
                self.guide_preview_failed(e);
            }
            AiDone::GuidePreview(Ok(p)) => {
                self.ai.guide_preview_busy = false;
                let rgba: Vec<u8> = p.data.chunks_exact(3).flat_map(|c| [c[0], c[1], c[2], 200]).collect();
                let img = egui::ColorImage::from_rgba_unmultiplied([p.width, p.height], &rgba);
                if let Some(ctx) = self.background.context() {
                    self.ai.guide_preview = Some(ctx.load_texture("guide", img, egui::TextureOptions::LINEAR));
                }
            }
            AiDone::Runtime(r) => {
                self.ai.runtime = Some(match r {
                    Ok(path) => RuntimeStatus::Ready(path),
                    Err(e) => RuntimeStatus::Missing(e),
                })
            }
            AiDone::Models(_, _, generation) if generation != self.ai.scan_generation => {}
            AiDone::Models(models, added, _) => {
                self.ai.scanning = false;
                if let Some(dir) = added {
                    let found: Vec<&ModelEntry> = models.iter().filter(|m| m.dir.starts_with(&dir)).collect();
                    self.status = match found.as_slice() {
                        [] => format!("{}: no models found in this folder", dir.display()),
                        [one] => match &one.status {
                            Ok(info) => {
                                if info.is_base_model() {
                                    self.settings.ai.model = Some(one.dir.clone());
                                }
                                format!("model added: {} ({})", one.name, info.label())
                            }
                            Err(e) => format!("{}: {e}", one.name),
                        },
                        many => format!("{} models found in {}", many.len(), dir.display()),
                    };
                }
                let known = self.settings.ai.model.as_ref().is_some_and(|p| models.iter().any(|m| &m.dir == p));
                if !known {
                    let base = |m: &&ModelEntry| m.status.as_ref().is_ok_and(|i| i.is_base_model());
                    self.settings.ai.model = models.iter().find(base).map(|m| m.dir.clone());
                }
                self.ai.models = models;
            }
        }
    }

    /// Queues an edit of the document as it is now.
    pub fn ai_submit(&mut self, kind: EditKind) {
        let verb = match kind {
            EditKind::Generate => "Generate",
            EditKind::Refine => "Refine",
            EditKind::Inpaint => "Inpaint",
        };
        let doc = self.editor.doc.clone();
        self.ai_submit_on(verb, kind, doc, None);
    }

    /// Extends the canvas on the chosen side and inpaints the new strip; the resize and the result layer are
    /// applied together.
    pub fn ai_expand(&mut self) {
        let p = &self.settings.ai;
        let side = edit::Side::parse(&p.expand_side).unwrap_or(edit::Side::Right);
        match edit::expand(&self.editor.doc, side, p.expand_amount) {
            Ok(x) => {
                let prelude = Prelude { command: x.resize, offset: x.offset };
                self.ai_submit_on(&format!("Expand {}", side.name()), EditKind::Inpaint, x.doc, Some(prelude));
            }
            Err(e) => self.status = e.to_string(),
        }
    }

    fn ai_submit_on(&mut self, verb: &str, kind: EditKind, doc: Document, prelude: Option<Prelude>) {
        let Some(model) = self.settings.ai.model.clone() else {
            self.status = "choose a model first".into();
            return;
        };
        if self.settings.ai.guide && self.settings.ai.guide_model.is_none() {
            self.status = "choose a ControlNet for the guide (or turn the guide off)".into();
            return;
        }
        // The model works on about its native area (512² for SD1.5, 768² for SD2).
        let native =
            self.ai.models.iter().find(|m| m.dir == model).and_then(|m| m.status.as_ref().ok()).map(|i| i.native_size);
        let guide = match self.ai_guide() {
            Ok(g) => g,
            Err(e) => {
                self.status = e;
                return;
            }
        };
        let seeds = self.settings.ai.next_seeds();
        let p = &self.settings.ai;
        // Strength is Refine's: generating and inpainting repaint their area fully (as Krita's Fill does);
        // refining a selection is how to change it partly.
        let strength = if kind == EditKind::Refine { p.strength } else { 1.0 };
        let job = EditJob {
            doc,
            model,
            device: p.device(),
            kind,
            options: oekaki::ai::edit::EditOptions { work_area: native.map_or(512 * 512, |n| n * n), ..p.options() },
            request: oekaki::ai::pipeline::Request { strength, ..p.request() },
            seeds,
            prelude,
            guide,
        };
        let words: String = p.prompt.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(32).collect();
        self.ai_enqueue(format!("{verb}: {words}"), job);
        self.save_settings();
    }

    fn ai_enqueue(&mut self, title: String, job: EditJob) {
        if self.ai.queue.is_none() {
            // Inference leaves one core to painting, so the canvas keeps its pace while a job runs.
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            oekaki::ai::session::set_intra_op_threads(cores.saturating_sub(1).max(1));
            let ctx = self.background.context();
            let wake = std::sync::Arc::new(move || {
                if let Some(c) = &ctx {
                    c.request_repaint();
                }
            });
            match JobQueue::new(wake) {
                Ok(q) => self.ai.queue = Some(q),
                Err(e) => {
                    self.status = e.to_string();
                    return;
                }
            }
        }
        let Some(q) = self.ai.queue.as_mut() else { return };
        let id = q.submit(job.clone());
        self.ai.cards.push(JobCard {
            id,
            title,
            job,
            stage: Stage::Queued,
            eta: None,
            state: JobState::Running,
            preview: None,
            candidates: Vec::new(),
        });
    }

    pub fn ai_cancel(&mut self, id: JobId) {
        if let Some(q) = self.ai.queue.as_mut() {
            q.cancel(id);
        }
    }

    /// Runs a failed job again on the CPU.
    pub fn ai_retry_on_cpu(&mut self, id: JobId) {
        let Some(card) = self.ai.card(id) else { return };
        let job = EditJob { device: oekaki::ai::session::Device::Cpu, ..card.job.clone() };
        let title = format!("{} (CPU)", card.title);
        self.ai_dismiss(id);
        self.ai_enqueue(title, job);
    }

    /// Removes a card (cancelling its job if it still runs).
    pub fn ai_dismiss(&mut self, id: JobId) {
        self.ai_cancel(id);
        self.ai.cards.retain(|c| c.id != id);
        if self.ai.shown.is_some_and(|(j, _)| j == id) {
            self.ai.shown = None;
        }
    }

    /// Adds the candidate's layer to the document: one undoable step.
    pub fn ai_apply(&mut self, id: JobId, index: usize) {
        let Some(cmd) =
            self.ai.card(id).and_then(|c| c.candidates.get(index)).map(|c| c.candidate.command_for(&self.editor.doc))
        else {
            return;
        };
        self.cancel_gesture();
        let before = self.editor.revision();
        self.apply(cmd);
        if self.editor.revision() != before {
            self.active = self.editor.doc.layers.last().map(|l| l.id);
            if let Some(c) = self.ai.card_mut(id).and_then(|c| c.candidates.get_mut(index)) {
                c.applied = true;
            }
            self.ai.shown = None;
            self.status = "AI result added as a new layer".into();
        }
    }

    /// Applies what the job queue reported since the last frame.
    pub(crate) fn ai_poll(&mut self, ctx: &egui::Context) {
        let Some(q) = self.ai.queue.as_mut() else { return };
        for event in q.events() {
            let id = event.id();
            match event {
                JobEvent::Progress { stage, eta, .. } => {
                    if let Some(c) = self.ai.card_mut(id) {
                        c.stage = stage;
                        c.eta = eta;
                    }
                }
                JobEvent::Preview { rect, image, .. } => {
                    let size = [image.width() as usize, image.height() as usize];
                    let img = egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw());
                    if let Some(c) = self.ai.card_mut(id) {
                        match &mut c.preview {
                            Some((r, tex)) if tex.size() == size => {
                                *r = rect;
                                tex.set(img, egui::TextureOptions::LINEAR);
                            }
                            _ => {
                                c.preview =
                                    Some((rect, ctx.load_texture("ai preview", img, egui::TextureOptions::LINEAR)))
                            }
                        }
                    }
                }
                JobEvent::Candidate { candidate, .. } => {
                    let texture = candidate_texture(ctx, &candidate);
                    let eps: Vec<&str> = candidate.providers.iter().map(|(_, ep)| *ep).collect();
                    let mut eps_unique = eps.clone();
                    eps_unique.dedup();
                    self.ai.ran_on = Some(eps_unique.join(", "));
                    self.ai.gpu_fallback = candidate.gpu_fallback.clone();
                    if let Some(c) = self.ai.card_mut(id) {
                        c.candidates.push(CandidateView { candidate: *candidate, texture, applied: false });
                        c.preview = None;
                        if c.candidates.len() == 1 {
                            self.ai.shown = Some((id, 0));
                        }
                    }
                }
                JobEvent::Finished { .. } => self.ai_end(id, JobState::Done),
                JobEvent::Cancelled { .. } => self.ai_end(id, JobState::Cancelled),
                JobEvent::Failed { error, retry_on_cpu, .. } => {
                    self.status = format!("AI job failed: {error}");
                    self.ai_end(id, JobState::Failed { error, retry_on_cpu });
                }
            }
        }
    }

    fn ai_end(&mut self, id: JobId, state: JobState) {
        if let Some(c) = self.ai.card_mut(id) {
            c.state = state;
            c.preview = None;
        }
    }

    /// The guide's control image (when shown), running jobs' previews and the chosen candidate, over the canvas.
    pub(crate) fn ai_overlays(&self) -> Vec<(Rect, egui::TextureId)> {
        let mut out: Vec<(Rect, egui::TextureId)> = Vec::new();
        if self.ai.guide_preview_on
            && let Some(t) = &self.ai.guide_preview
        {
            out.push((self.editor.doc.bounds(), t.id()));
        }
        out.extend(self.ai.cards.iter().filter_map(|c| c.preview.as_ref().map(|(r, t)| (*r, t.id()))));
        if let Some((id, i)) = self.ai.shown
            && let Some(v) = self.ai.card(id).and_then(|c| c.candidates.get(i))
        {
            out.push((v.candidate.rect, v.texture.id()));
        }
        out
    }
}
