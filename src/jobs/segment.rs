//! The Smart select worker: one thread that owns a SAM model and the embedding of the area being selected in.
//! Encoding (seconds) happens once per area and document state; each click then only runs the decoder
//! (milliseconds). Requests that pile up while the worker is busy are coalesced: only the newest encode and
//! the newest decode run, so a burst of clicks costs one decode.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Instant;

use crate::ai::AiError;
use crate::ai::pipeline::Pixels;
use crate::ai::sam::{Embedding, Point, Prompt, Proposal, SamModel};
use crate::ai::session::Device;
use crate::doc::{Document, LayerId};
use crate::geom::Rect;

/// Masks are worked out at most this many pixels on the long side of the area (SAM sees 1024 anyway); the
/// selection is then made at full resolution from the logits.
pub const MAX_WORK_SIDE: usize = 2048;

/// The document area an embedding covers and the size it was encoded at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub rect: Rect,
    pub work_width: usize,
    pub work_height: usize,
}

impl Area {
    pub fn new(rect: Rect) -> Area {
        let (w, h) = (rect.width().max(1) as usize, rect.height().max(1) as usize);
        let scale = (MAX_WORK_SIDE as f64 / w.max(h) as f64).min(1.0);
        let size = |v: usize| ((v as f64 * scale).round() as usize).max(1);
        Area { rect, work_width: size(w), work_height: size(h) }
    }

    /// A document point in the working image.
    pub fn to_work(&self, x: f32, y: f32) -> (f32, f32) {
        let sx = self.work_width as f32 / self.rect.width() as f32;
        let sy = self.work_height as f32 / self.rect.height() as f32;
        ((x - self.rect.x0 as f32) * sx, (y - self.rect.y0 as f32) * sy)
    }

    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.rect.x0 as f32 && y >= self.rect.y0 as f32 && x < self.rect.x1 as f32 && y < self.rect.y1 as f32
    }
}

/// What to encode: the visible picture (`layer` None) or one layer, under `rect`, of this document state.
#[derive(Clone)]
pub struct Source {
    pub doc: Document,
    pub layer: Option<LayerId>,
    pub rect: Rect,
}

pub enum SegmentEvent {
    Encoded {
        key: u64,
        area: Area,
        providers: String,
        seconds: f32,
    },
    /// `previews`: each candidate as `Proposal::preview` draws it, made here so the UI only uploads them.
    Proposal {
        key: u64,
        seq: u64,
        area: Area,
        proposal: Arc<Proposal>,
        previews: Vec<Vec<u8>>,
    },
    Failed {
        key: u64,
        error: String,
    },
}

enum Job {
    Encode {
        key: u64,
        model: PathBuf,
        device: Device,
        source: Box<Source>,
    },
    /// Points and box in document coordinates; `previous` = low-res logits of the mask being refined.
    Decode {
        key: u64,
        seq: u64,
        points: Vec<Point>,
        bbox: Option<[f32; 4]>,
        previous: Option<Arc<Vec<f32>>>,
    },
}

/// Handle to the worker thread; dropping it ends the thread once its current job is done.
pub struct Segmenter {
    jobs: Sender<Job>,
    events: Receiver<SegmentEvent>,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    pub fn new() -> Segmenter {
        let (jobs, job_rx) = channel();
        let (event_tx, events) = channel();
        std::thread::Builder::new()
            .name("smart-select".into())
            .spawn(move || worker(job_rx, event_tx))
            .expect("spawn the smart-select thread");
        Segmenter { jobs, events }
    }

    /// Encode `source` under `key` (any decode for an older key is then dropped).
    pub fn encode(&self, key: u64, model: PathBuf, device: Device, source: Source) {
        let _ = self.jobs.send(Job::Encode { key, model, device, source: Box::new(source) });
    }

    pub fn decode(
        &self,
        key: u64,
        seq: u64,
        points: Vec<Point>,
        bbox: Option<[f32; 4]>,
        previous: Option<Arc<Vec<f32>>>,
    ) {
        let _ = self.jobs.send(Job::Decode { key, seq, points, bbox, previous });
    }

    /// Events since the last call, oldest first.
    pub fn poll(&self) -> Vec<SegmentEvent> {
        self.events.try_iter().collect()
    }

    /// Waits for the next event (tests and the CLI).
    pub fn wait(&self, timeout: std::time::Duration) -> Option<SegmentEvent> {
        self.events.recv_timeout(timeout).ok()
    }
}

struct State {
    model: Option<(PathBuf, Device, SamModel)>,
    embedding: Option<(u64, Area, Embedding)>,
}

fn worker(jobs: Receiver<Job>, events: Sender<SegmentEvent>) {
    let mut state = State { model: None, embedding: None };
    while let Ok(first) = jobs.recv() {
        // Coalesce what has piled up: the newest encode, then the newest decode for a key still wanted.
        let mut encode = None;
        let mut decode = None;
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Encode { .. } => {
                    encode = Some(job);
                    decode = None;
                }
                Job::Decode { .. } => decode = Some(job),
            }
            next = match jobs.try_recv() {
                Ok(j) => Some(j),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            };
        }
        for job in [encode, decode].into_iter().flatten() {
            let event = match job {
                Job::Encode { key, model, device, source } => run_encode(&mut state, key, model, device, &source)
                    .unwrap_or_else(|e| SegmentEvent::Failed { key, error: e.to_string() }),
                Job::Decode { key, seq, points, bbox, previous } => {
                    match run_decode(&mut state, key, seq, points, bbox, previous.as_deref()) {
                        Ok(Some(e)) => e,
                        Ok(None) => continue,
                        Err(e) => SegmentEvent::Failed { key, error: e.to_string() },
                    }
                }
            };
            if events.send(event).is_err() {
                return;
            }
        }
    }
}

fn run_encode(
    state: &mut State,
    key: u64,
    model: PathBuf,
    device: Device,
    source: &Source,
) -> Result<SegmentEvent, AiError> {
    let start = Instant::now();
    state.embedding = None;
    if !matches!(&state.model, Some((dir, dev, _)) if *dir == model && *dev == device) {
        state.model = None; // the old sessions go before the new ones load
        state.model = Some((model.clone(), device, SamModel::load(&model, device)?));
    }
    let Some((_, _, sam)) = state.model.as_mut() else {
        return Err(AiError::Model("no Segment Anything model loaded".into()));
    };
    let rect = source.rect.intersect(&source.doc.bounds());
    if rect.is_empty() {
        return Err(AiError::Input("nothing of the canvas is in view to select from".into()));
    }
    let area = Area::new(rect);
    let mut img = crate::ai::edit::guide_source(&source.doc, source.layer, rect)?;
    if (img.width() as usize, img.height() as usize) != (area.work_width, area.work_height) {
        img = image::imageops::resize(
            &img,
            area.work_width as u32,
            area.work_height as u32,
            image::imageops::FilterType::Triangle,
        );
    }
    let pixels = Pixels { width: area.work_width, height: area.work_height, data: img.into_raw() };
    let embedding = sam.encode(&pixels)?;
    let providers = sam.providers();
    state.embedding = Some((key, area, embedding));
    Ok(SegmentEvent::Encoded { key, area, providers, seconds: start.elapsed().as_secs_f32() })
}

fn run_decode(
    state: &mut State,
    key: u64,
    seq: u64,
    points: Vec<Point>,
    bbox: Option<[f32; 4]>,
    previous: Option<&Vec<f32>>,
) -> Result<Option<SegmentEvent>, AiError> {
    let (Some((_, _, sam)), Some((have, area, embedding))) = (state.model.as_mut(), state.embedding.as_ref()) else {
        return Ok(None);
    };
    if *have != key {
        return Ok(None); // an area that is no longer wanted
    }
    let area = *area;
    let outside = points.iter().any(|p| !area.contains(p.x, p.y))
        || bbox.is_some_and(|[x0, y0, x1, y1]| !area.contains(x0, y0) || !area.contains(x1 - 0.001, y1 - 0.001));
    if outside {
        return Err(AiError::Input(
            "that point is outside the area Smart select has looked at; click inside it".into(),
        ));
    }
    let prompt = Prompt {
        points: points
            .iter()
            .map(|p| {
                let (x, y) = area.to_work(p.x, p.y);
                Point { x, y, foreground: p.foreground }
            })
            .collect(),
        bbox: bbox.map(|[x0, y0, x1, y1]| {
            let (a, b) = area.to_work(x0, y0);
            let (c, d) = area.to_work(x1, y1);
            [a, b, c.min(area.work_width as f32), d.min(area.work_height as f32)]
        }),
    };
    let proposal = sam.decode(embedding, &prompt, previous.map(|v| v.as_slice()))?;
    let previews = (0..proposal.candidates()).map(|i| proposal.preview(i)).collect();
    Ok(Some(SegmentEvent::Proposal { key, seq, area, proposal: Arc::new(proposal), previews }))
}

/// Candidate `i` as a document-space mask over `area.rect`: the logits are scaled bilinearly to full
/// resolution before thresholding, so edges stay smooth when the area was worked on smaller.
pub fn mask_in_document(proposal: &Proposal, i: usize, area: &Area) -> Option<crate::raster::GrayBuf> {
    let (w, h) = (area.rect.width() as usize, area.rect.height() as usize);
    let full = proposal.logits_at(i, w, h)?;
    let data = full.into_iter().map(|v| if v > 0.0 { 255 } else { 0 }).collect();
    Some(crate::raster::GrayBuf { rect: area.rect, data })
}

/// The selection command for candidate `i`, combined with the current selection (replace / add / subtract).
pub fn selection_command(
    doc: &Document,
    proposal: &Proposal,
    i: usize,
    area: &Area,
    how: crate::doc::selection::Combine,
) -> Option<crate::history::Command> {
    let mask = mask_in_document(proposal, i, area)?;
    let sel = doc.selection.combined(&mask, how, doc.bounds());
    Some(crate::history::Command::SetSelection(Box::new(sel)))
}
