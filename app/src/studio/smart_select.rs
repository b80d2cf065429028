//! The Smart select tool (S): Segment Anything. Picking the tool starts encoding the picture (or the active
//! layer) on the Smart select worker; a click adds a foreground point (Alt or right click: background), a
//! drag draws a box, and each change runs only the decoder. The proposal shows as a tint; C cycles SAM's
//! candidates, Enter makes it the selection (as the tool options say; Shift+Enter adds, Alt+Enter subtracts) as
//! one undoable command, Esc drops the points.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use oekaki::ai::library::ModelKind;
use oekaki::ai::sam::{Point, Proposal};
use oekaki::doc::LayerId;
use oekaki::geom::Rect;
use oekaki::jobs::segment::{Area, SegmentEvent, Segmenter, Source, selection_command};

use super::Studio;
use super::tools::Tool;

/// Canvases up to this side are encoded whole (panning then never re-encodes); bigger ones around the view.
const WHOLE_CANVAS_SIDE: u32 = 4096;

/// What an embedding was made from: model, source layer and area (the pixels are in `SmartSelect::snapshot`).
#[derive(Clone, PartialEq)]
struct Encoded {
    model: PathBuf,
    layer: Option<LayerId>,
    rect: Rect,
}

#[derive(Default)]
pub struct SmartSelect {
    worker: Option<Segmenter>,
    key: u64,
    requested: Option<Encoded>,
    /// The layers as they were encoded (tiles shared): selection changes and undo of them do not re-encode.
    snapshot: Vec<oekaki::doc::Layer>,
    /// The editor revision the snapshot was last compared at (no command since: nothing to compare).
    compared_at: u64,
    /// The area of the embedding ready on the worker (for `key`).
    pub area: Option<Area>,
    pub encoding: bool,
    /// Clicks and box, in document coordinates.
    pub points: Vec<Point>,
    pub bbox: Option<[f32; 4]>,
    seq: u64,
    pub proposal: Option<(Arc<Proposal>, Area)>,
    /// The proposal's candidates at `Proposal::preview_size`, for the tint.
    previews: Vec<Vec<u8>>,
    pub candidate: usize,
    /// Encode from the active layer instead of the visible picture.
    pub use_layer: bool,
    pub info: String,
    texture: Option<((u64, usize), egui::TextureHandle)>,
    shown_seq: u64,
}

impl SmartSelect {
    pub fn has_prompt(&self) -> bool {
        !self.points.is_empty() || self.bbox.is_some()
    }
}

impl Studio {
    /// The SAM folder Smart select uses: the one picked in its options, else the first in the model list.
    pub fn smart_model(&self) -> Option<PathBuf> {
        let sams = || self.ai.models.iter().filter(|m| m.status.as_ref().is_ok_and(|i| i.kind == ModelKind::Segmenter));
        let picked = self.settings.ai.sam_model.as_ref().filter(|p| sams().any(|m| &m.dir == *p));
        picked.cloned().or_else(|| sams().next().map(|m| m.dir.clone()))
    }

    /// The area to encode: the whole canvas when it is small enough, else the visible part of it.
    fn smart_area(&self) -> Rect {
        let canvas = self.editor.doc.bounds();
        if self.editor.doc.width.max(self.editor.doc.height) <= WHOLE_CANVAS_SIDE {
            return canvas;
        }
        let (Some(v), Some(r)) = (self.view.as_ref(), self.canvas_rect) else { return canvas };
        v.visible_rect([r.width(), r.height()]).intersect(&canvas)
    }

    /// Each frame while the tool is active: (re-)encode when the picture, the source or the area changed.
    pub(crate) fn smart_prepare(&mut self) {
        if self.tools.tool != Tool::SmartSelect {
            if self.smart.has_prompt() || self.smart.proposal.is_some() {
                self.smart_discard();
            }
            return;
        }
        if self.ai.models.is_empty() {
            self.ai_start(); // the model list is filled in the background, once
        }
        let Some(model) = self.smart_model() else {
            self.smart.info = "Add a Segment Anything model folder (AI panel: Add folder) to use Smart select.".into();
            return;
        };
        let layer = if self.smart.use_layer { self.active } else { None };
        let mut wanted = Encoded { model: model.clone(), layer, rect: self.smart_area() };
        let layers = &self.editor.doc.layers;
        let revision = self.editor.revision();
        let same_pixels = revision == self.smart.compared_at
            || (layers.len() == self.smart.snapshot.len()
                && layers.iter().zip(&self.smart.snapshot).all(|(now, then)| now.unchanged_since(then)));
        self.smart.compared_at = revision;
        // Moving the view only matters when the click would fall outside what was encoded.
        if let (Some(had), Some(area)) = (&self.smart.requested, self.smart.area)
            && had.model == wanted.model
            && had.layer == wanted.layer
            && self.smart.points.iter().all(|p| area.contains(p.x, p.y))
        {
            wanted.rect = had.rect;
        }
        if (same_pixels && self.smart.requested.as_ref() == Some(&wanted)) || wanted.rect.is_empty() {
            return;
        }
        self.smart.snapshot = layers.clone();
        self.smart.key += 1;
        let source = Source { doc: self.editor.doc.clone(), layer, rect: wanted.rect };
        self.smart.requested = Some(wanted);
        self.smart.area = None;
        self.smart.encoding = true;
        self.smart.info = "Looking at the picture…".into();
        let device = self.settings.ai.device();
        self.smart.worker.get_or_insert_with(Segmenter::new).encode(self.smart.key, model, device, source);
    }

    pub(crate) fn smart_poll(&mut self, ctx: &egui::Context) {
        let Some(worker) = self.smart.worker.as_ref() else { return };
        let events = worker.poll();
        if self.smart.encoding || self.smart.seq != self.smart.shown_seq {
            ctx.request_repaint_after(std::time::Duration::from_millis(30));
        }
        for event in events {
            match event {
                SegmentEvent::Encoded { key, area, providers, seconds } if key == self.smart.key => {
                    self.smart.area = Some(area);
                    self.smart.encoding = false;
                    let r = area.rect;
                    self.smart.info = format!(
                        "Ready ({providers}, {seconds:.1} s): covers {}×{} at {},{}",
                        r.width(),
                        r.height(),
                        r.x0,
                        r.y0
                    );
                    if self.smart.has_prompt() {
                        self.smart_decode();
                    }
                }
                SegmentEvent::Proposal { key, seq, area, proposal, previews }
                    if key == self.smart.key && seq == self.smart.seq =>
                {
                    self.smart.candidate = proposal.best;
                    self.smart.proposal = Some((proposal, area));
                    self.smart.previews = previews;
                    self.smart.shown_seq = seq;
                }
                SegmentEvent::Failed { key, error } if key == self.smart.key => {
                    self.smart.encoding = false;
                    self.smart.shown_seq = self.smart.seq;
                    self.status = format!("Smart select: {error}");
                    self.smart.info = error;
                }
                _ => {}
            }
        }
    }

    /// Send the current prompt to the decoder; adding to an existing mask feeds its low-resolution logits back
    /// (SAM's refinement), except when a box was drawn.
    fn smart_decode(&mut self) {
        if self.smart.area.is_none() || !self.smart.has_prompt() {
            return;
        }
        let Some(worker) = self.smart.worker.as_ref() else { return };
        self.smart.seq += 1;
        let previous = match &self.smart.proposal {
            Some((p, _)) if self.smart.points.len() > 1 && self.smart.bbox.is_none() => {
                p.low_res(self.smart.candidate).map(|l| Arc::new(l.to_vec()))
            }
            _ => None,
        };
        worker.decode(self.smart.key, self.smart.seq, self.smart.points.clone(), self.smart.bbox, previous);
    }

    pub(crate) fn smart_click(&mut self, p: [f32; 2], background: bool) {
        if !self.editor.doc.bounds().contains(p[0].floor() as i32, p[1].floor() as i32) {
            return;
        }
        if self.smart_model().is_none() {
            self.status = self.smart.info.clone();
            return;
        }
        self.smart.points.push(Point { x: p[0], y: p[1], foreground: !background });
        self.smart_prepare(); // a click outside the encoded area re-encodes around the view first
        self.smart_decode();
    }

    pub(crate) fn smart_box(&mut self, start: [f32; 2], end: [f32; 2]) {
        let canvas = self.editor.doc.bounds();
        let clamp = |v: f32, hi: i32| v.clamp(0.0, hi as f32);
        let (x0, x1) = (clamp(start[0].min(end[0]), canvas.x1), clamp(start[0].max(end[0]), canvas.x1));
        let (y0, y1) = (clamp(start[1].min(end[1]), canvas.y1), clamp(start[1].max(end[1]), canvas.y1));
        if x1 - x0 < 2.0 || y1 - y0 < 2.0 {
            return;
        }
        if self.smart_model().is_none() {
            self.status = self.smart.info.clone();
            return;
        }
        self.smart.bbox = Some([x0, y0, x1, y1]);
        self.smart_prepare();
        self.smart_decode();
    }

    /// Next of SAM's candidates (C).
    pub(crate) fn smart_cycle(&mut self) {
        if let Some((p, _)) = &self.smart.proposal {
            self.smart.candidate = (self.smart.candidate + 1) % p.candidates().max(1);
        }
    }

    /// Make the proposal the selection (Enter: as the tool options say; Shift+Enter adds, Alt+Enter
    /// subtracts); returns false when there is none. The full-resolution mask is worked out in the background.
    pub(crate) fn smart_apply(&mut self, how: Option<oekaki::doc::selection::Combine>) -> bool {
        let Some((proposal, area)) = self.smart.proposal.clone() else { return false };
        let (how, candidate) = (how.unwrap_or(self.tools.select_mode), self.smart.candidate);
        self.apply_in_background(
            "Selection",
            Arc::new(move |doc: &oekaki::doc::Document| {
                selection_command(doc, &proposal, candidate, &area, how)
                    .ok_or_else(|| oekaki::doc::DocError::Invalid("the Smart select mask is empty".into()))
            }),
        );
        self.smart_discard();
        true
    }

    /// Drop the points and the proposal (Esc); the embedding stays for the next click.
    pub(crate) fn smart_discard(&mut self) {
        self.smart.points.clear();
        self.smart.bbox = None;
        self.smart.proposal = None;
        self.smart.previews.clear();
        self.smart.seq += 1;
        self.smart.shown_seq = self.smart.seq;
    }

    /// The proposal as a tinted texture over its area (the overlay draws it).
    pub(crate) fn smart_overlay(&mut self, ctx: &egui::Context) -> Option<(Rect, egui::TextureId)> {
        let (proposal, area) = self.smart.proposal.as_ref()?;
        let id = (self.smart.shown_seq, self.smart.candidate);
        if self.smart.texture.as_ref().is_none_or(|(had, _)| *had != id) {
            let mask = self.smart.previews.get(self.smart.candidate)?;
            let (w, h) = proposal.preview_size();
            if mask.len() != w * h {
                return None;
            }
            let tint = egui::Color32::from_rgba_unmultiplied(60, 160, 255, 110);
            let pixels = mask.iter().map(|&m| if m > 0 { tint } else { egui::Color32::TRANSPARENT }).collect();
            let image = egui::ColorImage::new([w, h], pixels);
            let tex = ctx.load_texture("smart select", image, egui::TextureOptions::LINEAR);
            self.smart.texture = Some((id, tex));
        }
        self.smart.texture.as_ref().map(|(_, t)| (area.rect, t.id()))
    }
}
