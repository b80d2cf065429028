//! The studio window: a thin egui layer over the core. Input becomes strokes and commands on an
//! [`Editor`]; every change recomposites only its dirty area and uploads only the tiles that changed.

mod gpu_canvas;
mod panels;

use std::path::PathBuf;

use eframe::egui;
use oekaki::color::Color;
use oekaki::doc::composite::CompositeCache;
use oekaki::doc::{Document, PaintTarget};
use oekaki::geom::{Rect, TileKey};
use oekaki::history::Editor;
use oekaki::paint::brush::builtin_presets;
use oekaki::paint::{Brush, InputSample};
use oekaki::view::View;

use gpu_canvas::GpuCanvas;

/// Default canvas for a new document.
pub const DEFAULT_SIZE: (u32, u32) = (2048, 2048);

pub struct Studio {
    pub editor: Editor,
    pub cache: CompositeCache,
    pub view: Option<View>,
    pub brush: Brush,
    pub presets: Vec<Brush>,
    pub color: Color,
    /// The layer strokes go to.
    pub active: Option<oekaki::doc::LayerId>,
    pub status: String,
    /// Where the canvas widget was last drawn (screen points).
    pub canvas_rect: Option<egui::Rect>,
    gpu: Option<GpuCanvas>,
    /// Tiles changed since the GPU last saw them (kept when no GPU is attached, e.g. in tests).
    pending: Vec<TileKey>,
}

impl Studio {
    pub fn new(doc: Document) -> Studio {
        let presets = builtin_presets();
        let brush = presets.iter().find(|b| b.name == "G-Pen").cloned().unwrap_or_default();
        let active = doc.layers.last().map(|l| l.id);
        let mut s = Studio {
            editor: Editor::new(doc),
            cache: CompositeCache::default(),
            view: None,
            brush,
            presets,
            color: Color::BLACK,
            active,
            status: String::new(),
            canvas_rect: None,
            gpu: None,
            pending: Vec::new(),
        };
        let all = s.editor.doc.bounds();
        s.refresh(all);
        s
    }

    /// A blank white document with one empty layer above the paper.
    pub fn blank() -> Result<Studio, oekaki::doc::DocError> {
        let (w, h) = DEFAULT_SIZE;
        let mut doc = Document::new(w, h)?;
        let mut paper = oekaki::raster::Surface::new([0; 4]);
        paper.write_rect(doc.bounds(), &vec![[255; 4]; doc.bounds().area()]);
        let paper = doc.new_raster_layer("Paper", paper);
        let ink = doc.new_raster_layer("Layer 1", oekaki::raster::Surface::new([0; 4]));
        doc.layers = vec![paper, ink];
        Ok(Studio::new(doc))
    }

    pub fn attach_gpu(&mut self, rs: &eframe::egui_wgpu::RenderState) {
        self.gpu = Some(GpuCanvas::new(rs));
        self.flush_uploads();
    }

    /// Recomposites `dirty` and sends the changed tiles to the GPU right away.
    fn refresh(&mut self, dirty: Rect) {
        if dirty.is_empty() {
            return;
        }
        let keys = self.cache.update(&self.editor.doc, dirty);
        self.pending.extend(keys);
        self.flush_uploads();
    }

    fn flush_uploads(&mut self) {
        if let (Some(gpu), Some(surface)) = (self.gpu.as_mut(), self.cache.surface.as_ref()) {
            gpu.upload(surface, &self.pending);
            self.pending.clear();
        }
    }

    pub(crate) fn report(&mut self, r: Result<Rect, oekaki::doc::DocError>) {
        match r {
            Ok(dirty) => self.refresh(dirty),
            Err(e) => self.status = e.to_string(),
        }
    }

    pub fn undo(&mut self) {
        let r = self.editor.undo().map(|d| d.unwrap_or(Rect::EMPTY));
        self.report(r);
    }

    pub fn redo(&mut self) {
        let r = self.editor.redo().map(|d| d.unwrap_or(Rect::EMPTY));
        self.report(r);
    }

    /// The whole window: tool panel on the left, canvas in the middle.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.shortcuts(ui.ctx());
        egui::Panel::left("tools").resizable(true).default_size(220.0).show(ui, |ui| panels::tools(self, ui));
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let (undo, redo) = ctx.input_mut(|i| {
            let redo = i.consume_key(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z)
                || i.consume_key(egui::Modifiers::COMMAND, egui::Key::Y);
            let undo = i.consume_key(egui::Modifiers::COMMAND, egui::Key::Z);
            (undo, redo)
        });
        if redo {
            self.redo();
        } else if undo {
            self.undo();
        }
    }

    fn canvas(&mut self, ui: &mut egui::Ui) {
        let rect = ui.available_rect_before_wrap();
        self.canvas_rect = Some(rect);
        let response = ui.allocate_rect(rect, egui::Sense::click_and_drag());
        let (w, h) = (self.editor.doc.width as f32, self.editor.doc.height as f32);
        let view = *self.view.get_or_insert_with(|| View::fit([w, h], [rect.width(), rect.height()]));
        let local = |p: egui::Pos2| [p.x - rect.min.x, p.y - rect.min.y];

        // Pan with the middle button or Space+drag; zoom at the cursor with the wheel or a pinch.
        let (space, scroll, pinch, hover) = ui
            .input(|i| (i.key_down(egui::Key::Space), i.smooth_scroll_delta.y, i.zoom_delta(), i.pointer.hover_pos()));
        let mut v = view;
        if response.dragged_by(egui::PointerButton::Middle) || (space && response.dragged()) {
            v.pan([response.drag_delta().x, response.drag_delta().y]);
        }
        if let Some(p) = hover.filter(|p| rect.contains(*p)) {
            let factor = pinch * (scroll * 0.002).exp();
            if factor != 1.0 {
                v.zoom_at(factor, local(p));
            }
        }
        self.view = Some(v);

        if !space {
            self.paint_input(ui, &response, rect, &v);
        }

        // Paper-grey surround, the canvas itself, then the GPU tiles on top.
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui::Color32::from_gray(60));
        let c0 = v.to_screen([0.0, 0.0]);
        let c1 = v.to_screen([w, h]);
        let canvas_rect = egui::Rect::from_min_max(
            egui::pos2(rect.min.x + c0[0], rect.min.y + c0[1]),
            egui::pos2(rect.min.x + c1[0], rect.min.y + c1[1]),
        );
        painter.rect_filled(canvas_rect, 0.0, egui::Color32::from_gray(200));
        if let Some(gpu) = self.gpu.as_mut() {
            painter.add(gpu.callback(rect, &v, self.editor.doc.width, self.editor.doc.height));
        }
        if let Some(p) = hover.filter(|p| rect.contains(*p)) {
            let r = self.brush.diameter * 0.5 * v.zoom;
            painter.circle_stroke(p, r.max(1.5), egui::Stroke::new(1.0, egui::Color32::from_gray(128)));
        }
    }

    /// Pen and mouse input on the canvas becomes a live stroke on the active layer. Raw events are replayed in
    /// order, so a press, moves and release arriving within one frame still make their stroke.
    fn paint_input(&mut self, ui: &egui::Ui, response: &egui::Response, rect: egui::Rect, v: &View) {
        let to_canvas = |p: egui::Pos2, pressure: f32| {
            let c = v.to_canvas([p.x - rect.min.x, p.y - rect.min.y]);
            InputSample { x: c[0], y: c[1], pressure }
        };
        let events = ui.input(|i| i.events.clone());
        let over_canvas = response.contains_pointer() || self.editor.stroking();
        // Pen pressure arrives as touch force where the platform reports it; the mouse paints at full pressure.
        let mut pressure = 1.0;
        let mut samples = Vec::new();
        for e in &events {
            match e {
                egui::Event::Touch { force: Some(f), pos, .. } => {
                    pressure = f.clamp(0.0, 1.0);
                    if self.editor.stroking() {
                        samples.push(to_canvas(*pos, pressure));
                    }
                }
                egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: true, .. }
                    if over_canvas && rect.contains(*pos) && !self.editor.stroking() =>
                {
                    let Some(active) = self.active else { continue };
                    let r = self.editor.begin_stroke(PaintTarget::Layer(active), self.brush.clone(), self.color);
                    match r {
                        Ok(()) => samples.push(to_canvas(*pos, pressure)),
                        Err(e) => self.status = e.to_string(),
                    }
                }
                egui::Event::PointerMoved(pos) if self.editor.stroking() => samples.push(to_canvas(*pos, pressure)),
                egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: false, .. }
                    if self.editor.stroking() =>
                {
                    samples.push(to_canvas(*pos, pressure));
                    let r = self.editor.stroke_to(&std::mem::take(&mut samples));
                    self.report(r);
                    let r = self.editor.end_stroke();
                    self.report(r);
                }
                _ => {}
            }
        }
        if self.editor.stroking() && !samples.is_empty() {
            let r = self.editor.stroke_to(&samples);
            self.report(r);
        }
    }
}

impl eframe::App for Studio {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Opens the studio window, with the given files or a blank canvas.
pub fn run(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let studio = match files.first() {
        Some(path) => Studio::new(oekaki::io::open_path(path, oekaki::io::Limits::default())?),
        None => Studio::blank()?,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("Oekaki Studio").with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Oekaki Studio",
        options,
        Box::new(move |cc| {
            let mut studio = studio;
            if let Some(rs) = cc.wgpu_render_state.as_ref() {
                studio.attach_gpu(rs);
            }
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the studio window: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ctx: &egui::Context, studio: &mut Studio, events: Vec<egui::Event>) {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1000.0, 700.0))),
            events,
            ..Default::default()
        };
        // No renderer here: the font atlas updates are dropped on purpose.
        ctx.run_ui(input, |ui| studio.show(ui)).textures_delta.clear();
    }

    fn press(pos: egui::Pos2, pressed: bool) -> egui::Event {
        egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed, modifiers: Default::default() }
    }

    /// Drives the real studio UI without a window: a drag on the canvas paints the active layer, Ctrl+Z undoes.
    #[test]
    fn a_drag_paints_and_ctrl_z_undoes() {
        let mut doc = Document::with_layer(256, 256).unwrap();
        doc.layers[0].props.name = "ink".into();
        let mut studio = Studio::new(doc);
        let ctx = egui::Context::default();
        frame(&ctx, &mut studio, vec![]);
        let (rect, view) = (studio.canvas_rect.unwrap(), studio.view.unwrap());
        let at = |x: f32, y: f32| {
            let s = view.to_screen([x, y]);
            egui::pos2(rect.min.x + s[0], rect.min.y + s[1])
        };
        frame(&ctx, &mut studio, vec![egui::Event::PointerMoved(at(40.0, 128.0))]);
        frame(&ctx, &mut studio, vec![press(at(40.0, 128.0), true)]);
        for i in 1..=20 {
            let x = 40.0 + i as f32 * 9.0;
            frame(&ctx, &mut studio, vec![egui::Event::PointerMoved(at(x, 128.0))]);
        }
        frame(&ctx, &mut studio, vec![press(at(220.0, 128.0), false)]);
        let painted = |s: &Studio, x: i32| s.editor.doc.layers[0].surface().unwrap().get(x, 128)[3];
        assert!(painted(&studio, 128) > 200, "the stroke painted the middle of the line");
        assert_eq!(painted(&studio, 10), 0, "and nothing left of where it began");
        assert_eq!(studio.editor.history.undo_len(), 1);
        let composite = studio.cache.surface.as_ref().unwrap().get(128, 128);
        assert!(composite[3] > 200, "the canvas composite follows the stroke");

        let undo = egui::Event::Key {
            key: egui::Key::Z,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers: egui::Modifiers::COMMAND,
        };
        frame(&ctx, &mut studio, vec![undo]);
        assert_eq!(painted(&studio, 128), 0, "Ctrl+Z took the stroke back");
        assert_eq!(studio.cache.surface.as_ref().unwrap().get(128, 128)[3], 0);
    }

    /// A quick flick (press, moves and release inside one frame) and a single click both leave paint.
    #[test]
    fn strokes_within_one_frame_are_not_lost() {
        let mut studio = Studio::new(Document::with_layer(256, 256).unwrap());
        let ctx = egui::Context::default();
        frame(&ctx, &mut studio, vec![]);
        let (rect, view) = (studio.canvas_rect.unwrap(), studio.view.unwrap());
        let at = |x: f32, y: f32| {
            let s = view.to_screen([x, y]);
            egui::pos2(rect.min.x + s[0], rect.min.y + s[1])
        };
        let flick = vec![
            egui::Event::PointerMoved(at(30.0, 60.0)),
            press(at(30.0, 60.0), true),
            egui::Event::PointerMoved(at(120.0, 60.0)),
            egui::Event::PointerMoved(at(200.0, 60.0)),
            press(at(200.0, 60.0), false),
        ];
        frame(&ctx, &mut studio, flick);
        let alpha = |s: &Studio, x: i32, y: i32| s.editor.doc.layers[0].surface().unwrap().get(x, y)[3];
        assert!(alpha(&studio, 110, 60) > 200, "the flick painted");
        frame(&ctx, &mut studio, vec![egui::Event::PointerMoved(at(60.0, 200.0))]);
        frame(&ctx, &mut studio, vec![press(at(60.0, 200.0), true), press(at(60.0, 200.0), false)]);
        assert!(alpha(&studio, 60, 200) > 200, "the click left a dab");
        assert_eq!(studio.editor.history.undo_len(), 2);
    }

    #[test]
    fn wheel_zooms_at_the_cursor() {
        let mut studio = Studio::new(Document::with_layer(512, 512).unwrap());
        let ctx = egui::Context::default();
        frame(&ctx, &mut studio, vec![]);
        let (rect, before) = (studio.canvas_rect.unwrap(), studio.view.unwrap());
        let cursor = rect.center();
        let local = [cursor.x - rect.min.x, cursor.y - rect.min.y];
        let anchor = before.to_canvas(local);
        let wheel = egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 120.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: Default::default(),
        };
        for _ in 0..5 {
            frame(&ctx, &mut studio, vec![egui::Event::PointerMoved(cursor), wheel.clone()]);
        }
        let after = studio.view.unwrap();
        assert!(after.zoom > before.zoom, "zoomed in: {} -> {}", before.zoom, after.zoom);
        let still = after.to_canvas(local);
        assert!((still[0] - anchor[0]).abs() < 0.5 && (still[1] - anchor[1]).abs() < 0.5);
    }
}
