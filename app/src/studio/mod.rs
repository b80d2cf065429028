//! The studio window: a thin egui layer over the core. Input becomes commands on an [`Editor`]; every change
//! recomposites only its dirty area and uploads only the tiles that changed. File I/O, dialogs and decoding run
//! in the background ([`background`]); the UI thread only applies their results.

pub mod ai;
mod background;
mod canvas;
mod dialogs;
mod files;
mod frame_time;
mod gpu_canvas;
mod overlays;
mod panels;
pub mod pen;
pub mod settings;
mod shortcuts;
mod smart_select;
pub mod tools;

use std::path::PathBuf;

use eframe::egui;
use oekaki::doc::composite::CompositeCache;
use oekaki::doc::{Document, LayerId, PaintTarget};
use oekaki::geom::{Rect, TileKey};
use oekaki::history::Editor;
use oekaki::io::autosave::{Autosaver, Recoverable, RecoveryStore};
use oekaki::view::View;

pub use background::{Background, Done, Pick};
use dialogs::Dialog;
use frame_time::FrameTimes;
use gpu_canvas::GpuCanvas;
use settings::Settings;
pub use tools::{Tool, ToolBox};

/// Default canvas for a new document.
pub const DEFAULT_SIZE: (u32, u32) = (2048, 2048);

pub struct Studio {
    pub editor: Editor,
    pub cache: CompositeCache,
    pub view: Option<View>,
    pub tools: ToolBox,
    /// The layer painting and layer commands go to.
    pub active: Option<LayerId>,
    /// Where the document was opened from or last saved to.
    pub path: Option<PathBuf>,
    /// Editor revision at the last open or save: anything newer is unsaved.
    pub saved_revision: u64,
    /// One-line message for the status bar (errors and what just happened).
    pub status: String,
    /// Where the canvas widget was last drawn (screen points).
    pub canvas_rect: Option<egui::Rect>,
    /// Panels hidden with Tab.
    pub panels_hidden: bool,
    pub settings: Settings,
    /// Where settings are written (`None`: not persisted, e.g. in tests).
    pub settings_dir: Option<PathBuf>,
    pub dialog: Option<Dialog>,
    pub background: Background,
    pub frame_times: FrameTimes,
    pub ai: ai::AiState,
    pub smart: smart_select::SmartSelect,
    /// Pen tablet input where winit reports none (Wayland); say how pressure arrives.
    pub pen: pen::PenTablet,
    overlays: overlays::Overlays,
    thumbnails: panels::Thumbnails,
    autosave: Option<(Autosaver, RecoveryStore)>,
    autosaved_revision: u64,
    /// The user confirmed closing the window (or nothing was unsaved).
    close_confirmed: bool,
    /// What to do once the save in progress has finished (from the unsaved-changes prompt).
    after_save: Option<dialogs::Then>,
    gpu: Option<GpuCanvas>,
    /// The canvas size the composite was made for.
    composited_size: (u32, u32),
    /// Tiles changed since the GPU last saw them (kept when no GPU is attached, e.g. in tests).
    pending: Vec<TileKey>,
}

impl Studio {
    pub fn new(doc: Document) -> Studio {
        let active = doc.layers.last().map(|l| l.id);
        let mut s = Studio {
            editor: Editor::new(doc),
            cache: CompositeCache::default(),
            view: None,
            tools: ToolBox::default(),
            active,
            path: None,
            saved_revision: 0,
            status: String::new(),
            canvas_rect: None,
            panels_hidden: false,
            settings: Settings::default(),
            settings_dir: None,
            dialog: None,
            background: Background::default(),
            frame_times: FrameTimes::default(),
            ai: Default::default(),
            smart: Default::default(),
            pen: Default::default(),
            overlays: Default::default(),
            thumbnails: Default::default(),
            autosave: None,
            autosaved_revision: 0,
            close_confirmed: false,
            after_save: None,
            gpu: None,
            pending: Vec::new(),
            composited_size: (0, 0),
        };
        let all = s.editor.doc.bounds();
        s.refresh(all);
        s
    }

    /// A blank white document with one empty layer above the paper.
    pub fn blank_document(w: u32, h: u32, white: bool) -> Result<Document, oekaki::doc::DocError> {
        let mut doc = Document::new(w, h)?;
        let mut layers = Vec::new();
        if white {
            let mut paper = oekaki::raster::Surface::new([0; 4]);
            paper.write_rect(doc.bounds(), &vec![[255; 4]; doc.bounds().area()]);
            layers.push(doc.new_raster_layer("Paper", paper));
        }
        layers.push(doc.new_raster_layer("Layer 1", oekaki::raster::Surface::new([0; 4])));
        doc.layers = layers;
        Ok(doc)
    }

    pub fn blank() -> Result<Studio, oekaki::doc::DocError> {
        Ok(Studio::new(Studio::blank_document(DEFAULT_SIZE.0, DEFAULT_SIZE.1, true)?))
    }

    /// Applies persisted settings (brushes, palette, recent files) and remembers where to write them back.
    pub fn with_settings(mut self, settings: Settings, dir: Option<PathBuf>) -> Studio {
        if let Some(b) = &settings.brush {
            self.tools.brush = b.clone();
        }
        if let Some(b) = &settings.eraser {
            self.tools.eraser = b.clone();
        }
        self.tools.presets.extend(settings.custom_brushes.iter().cloned());
        self.settings = settings;
        self.settings_dir = dir;
        self
    }

    /// Starts background recovery copies into `store`.
    pub fn with_autosave(mut self, store: RecoveryStore) -> Studio {
        let interval = std::time::Duration::from_secs(self.settings.autosave_seconds as u64);
        self.autosave = Some((Autosaver::start(store.clone(), RecoveryStore::new_id(), interval), store));
        self
    }

    /// Offers the recovery copies in `store` (a crash left them; not when files were opened on the command
    /// line), then autosaves into it.
    pub fn with_recovery(mut self, store: RecoveryStore, files_opened: bool) -> Studio {
        let found: Vec<Recoverable> = store.list();
        if !found.is_empty() && !files_opened {
            self.dialog = Some(Dialog::Recovery(found));
        }
        self.with_autosave(store)
    }

    pub fn attach_gpu(&mut self, rs: &eframe::egui_wgpu::RenderState) {
        self.gpu = Some(GpuCanvas::new(rs));
        let all = self.editor.doc.bounds();
        self.pending = all.tiles().collect();
        self.flush_uploads();
    }

    /// Swaps in another document (opened, new, recovered): history, view and selection state start afresh.
    pub fn replace_document(&mut self, doc: Document, path: Option<PathBuf>) {
        self.cancel_gesture();
        self.ai_forget_guide_preview();
        self.editor = Editor::new(doc);
        self.cache = CompositeCache::default();
        self.active = self.editor.doc.layers.last().map(|l| l.id);
        self.view = None;
        self.path = path;
        self.saved_revision = self.editor.revision();
        self.autosaved_revision = self.editor.revision();
        self.overlays = Default::default();
        // Results belong to the document they were made from.
        for id in self.ai.cards.iter().map(|c| c.id).collect::<Vec<_>>() {
            self.ai_dismiss(id);
        }
        if let Some(gpu) = self.gpu.as_mut() {
            gpu.clear();
        }
        let all = self.editor.doc.bounds();
        self.refresh(all);
    }

    pub fn dirty(&self) -> bool {
        self.editor.revision() != self.saved_revision || self.tools.transform_preview.committing.is_some()
    }

    /// Recomposites `dirty` and sends the changed tiles to the GPU right away.
    pub(crate) fn refresh(&mut self, mut dirty: Rect) {
        if dirty.is_empty() {
            return;
        }
        let size = (self.editor.doc.width, self.editor.doc.height);
        if self.cache.surface.is_some() && self.composited_size != size {
            // The canvas was resized (expanded, or that undone): start the composite and the GPU tiles afresh.
            self.cache = CompositeCache::default();
            if let Some(gpu) = self.gpu.as_mut() {
                gpu.clear();
            }
            self.view = None;
            dirty = self.editor.doc.bounds();
        }
        self.composited_size = size;
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

    /// Shows the outcome of an edit: refreshes what changed, or puts the error in the status bar.
    pub(crate) fn report(&mut self, r: Result<Rect, oekaki::doc::DocError>) {
        match r {
            Ok(dirty) => self.refresh(dirty),
            Err(e) => self.status = e.to_string(),
        }
    }

    pub fn apply(&mut self, cmd: oekaki::history::Command) {
        let r = self.editor.apply(cmd);
        self.report(r);
    }

    /// Heavy edits (bucket fill, magic wand) are built from a snapshot on a background thread and applied when
    /// ready, so a big canvas never stalls the pen; if the document changed meanwhile they are built again.
    pub fn apply_in_background(&mut self, label: &'static str, build: background::Build) {
        let doc = self.editor.doc.clone();
        let revision = self.editor.revision();
        let b = build.clone();
        self.background.spawn("edit", move || Done::Built {
            cmd: b(&doc).map_err(|e| e.to_string()),
            revision,
            build,
            label,
        });
    }

    pub(crate) fn built(
        &mut self,
        cmd: Result<oekaki::history::Command, String>,
        revision: u64,
        build: background::Build,
        label: &'static str,
    ) {
        if revision != self.editor.revision() || self.editor.stroking() {
            self.apply_in_background(label, build);
            return;
        }
        match cmd {
            Ok(c) => {
                let r = self.editor.apply_as(label, c);
                self.report(r);
            }
            Err(e) => self.status = e,
        }
    }

    pub fn undo(&mut self) {
        self.cancel_gesture();
        let r = self.editor.undo().map(|d| d.unwrap_or(Rect::EMPTY));
        self.report(r);
    }

    pub fn redo(&mut self) {
        self.cancel_gesture();
        let r = self.editor.redo().map(|d| d.unwrap_or(Rect::EMPTY));
        self.report(r);
    }

    /// Where painting goes now: the selection in quick-mask mode, the active layer's mask while it is being
    /// edited, otherwise the active layer.
    pub fn paint_target(&self) -> Option<PaintTarget> {
        if self.tools.quick_mask {
            return Some(PaintTarget::Selection);
        }
        let id = self.active?;
        Some(if self.tools.edit_mask { PaintTarget::Mask(id) } else { PaintTarget::Layer(id) })
    }

    /// The window title: file name and an unsaved marker.
    pub fn title(&self) -> String {
        let name = self
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or("Untitled".into(), |n| n.to_string_lossy().into_owned());
        format!("{}{} — Oekaki Studio", if self.dirty() { "● " } else { "" }, name)
    }

    /// One frame of the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let started = std::time::Instant::now();
        let ctx = ui.ctx().clone();
        self.background.set_context(&ctx);
        self.handle_finished_jobs();
        self.ai_poll(&ctx);
        self.ai_refresh_guide_preview();
        self.smart_prepare();
        self.smart_poll(&ctx);
        self.finish_transform_commit_before_input(&ctx);
        self.handle_dropped_files(&ctx);
        self.handle_clipboard(&ctx);
        self.handle_close_request(&ctx);
        self.shortcuts(&ctx);
        self.keep_autosave();

        egui::Panel::top("menu").show(ui, |ui| panels::menu_bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| panels::status_bar(self, ui));
        if !self.panels_hidden {
            egui::Panel::left("toolbox").resizable(false).exact_size(118.0).show(ui, |ui| panels::toolbox(self, ui));
            egui::Panel::right("panels").resizable(true).default_size(290.0).show(ui, |ui| panels::side(self, ui));
            if self.settings.ai_panel {
                egui::Panel::right("ai").resizable(true).default_size(300.0).show(ui, |ui| {
                    egui::ScrollArea::vertical().id_salt("ai scroll").show(ui, |ui| ai::panel(self, ui));
                });
            }
        }
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
        dialogs::show(self, &ctx);
        self.frame_times.record(started.elapsed());
    }

    fn keep_autosave(&mut self) {
        let rev = self.editor.revision();
        if rev != self.autosaved_revision && !self.editor.stroking() && !self.editor.previewing() {
            if let Some((saver, _)) = &self.autosave {
                saver.changed(&self.editor.doc, self.path.as_deref());
            }
            self.autosaved_revision = rev;
        }
    }

    /// A clean exit: this run's recovery copy is no longer needed; settings are written.
    pub fn shutdown(&mut self) {
        self.ai.shutdown();
        if let Some((saver, store)) = self.autosave.take() {
            let id = saver.id().to_string();
            drop(saver);
            store.discard(&id);
        }
        if let Some(dir) = self.settings_dir.clone()
            && let Err(e) = self.remember_brushes().save(&dir)
        {
            eprintln!("oekaki: {e}");
        }
    }

    fn remember_brushes(&mut self) -> &Settings {
        self.settings.brush = Some(self.tools.brush.clone());
        self.settings.eraser = Some(self.tools.eraser.clone());
        &self.settings
    }

    /// Writes settings in the background (after the recent list or preferences changed).
    /// Keeps the current brush as the artist's own preset `name` (replacing an own preset of that name).
    pub fn save_brush_preset(&mut self, name: &str) {
        let name = name.trim();
        let builtin = oekaki::paint::brush::builtin_presets().iter().any(|b| b.name == name);
        if name.is_empty() || builtin {
            self.status = format!("\"{name}\" is a built-in preset's name; pick another");
            return;
        }
        let mut preset = self.tools.brush.clone();
        preset.name = name.to_string();
        self.settings.custom_brushes.retain(|b| b.name != name);
        self.settings.custom_brushes.push(preset.clone());
        self.tools.presets.retain(|b| b.name != name);
        self.tools.presets.push(preset.clone());
        self.tools.brush = preset;
        self.tools.new_preset_name.clear();
        self.status = format!("brush preset \"{name}\" saved");
        self.save_settings();
    }

    /// Removes one of the artist's own presets (built-in ones stay).
    pub fn delete_brush_preset(&mut self, name: &str) {
        self.settings.custom_brushes.retain(|b| b.name != name);
        let builtin = oekaki::paint::brush::builtin_presets();
        self.tools.presets.retain(|b| b.name != name || builtin.iter().any(|p| p.name == name));
        self.status = format!("brush preset \"{name}\" deleted");
        self.save_settings();
    }

    pub fn save_settings(&mut self) {
        let Some(dir) = self.settings_dir.clone() else { return };
        let settings = self.remember_brushes().clone();
        self.background.spawn("settings", move || match settings.save(&dir) {
            Ok(()) => Done::Quiet,
            Err(e) => Done::Failed(e),
        });
    }
}

impl eframe::App for Studio {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
        if std::env::var_os("OEKAKI_EXIT_AFTER_FIRST_FRAME").is_some() {
            // Smoke checks: one real frame was laid out and handed to the renderer; leave cleanly.
            println!("oekaki: first frame drawn");
            self.close_confirmed = true;
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn raw_input_hook(&mut self, ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        self.pen.pump(ctx, raw_input);
    }

    fn on_exit(&mut self) {
        self.pen.disconnect();
        self.shutdown();
    }
}

/// Opens the studio window, with the given files or a blank canvas (or the recovery prompt after a crash).
pub fn run(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let dir = Settings::dir();
    let (settings, warning) = dir.as_deref().map(Settings::load).unwrap_or_default();
    let mut studio = match files.first() {
        Some(path) => {
            let (doc, warnings) = oekaki::io::open_path_with_warnings(path, oekaki::io::Limits::default())
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let mut s = Studio::new(doc);
            s.path = Some(path.clone());
            s.status = warnings.join("; ");
            s
        }
        None => Studio::blank()?,
    }
    .with_settings(settings, dir);
    if let Some(w) = warning {
        studio.status = w;
    }
    if let Some(path) = &studio.path.clone() {
        studio.settings.add_recent(path);
    }
    if let Some(store) = RecoveryStore::default_location() {
        studio = studio.with_recovery(store, !files.is_empty());
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(studio.title())
            .with_inner_size([1280.0, 800.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "Oekaki Studio",
        options,
        Box::new(move |cc| {
            let mut studio = studio;
            studio.apply_look(&cc.egui_ctx);
            studio.pen = pen::PenTablet::connect(cc);
            if let Some(rs) = cc.wgpu_render_state.as_ref() {
                studio.attach_gpu(rs);
            }
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the studio window: {e}"))
}
