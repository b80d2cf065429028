//! Files in and out of the studio: dialogs, open, save, export, recent files, dropped files and the clipboard.
//! Dialogs, reading, decoding, encoding and writing all happen in [`super::Background`] jobs; the UI thread
//! only snapshots the document (cheap: tiles are shared) and applies what comes back.

use std::path::{Path, PathBuf};

use eframe::egui;
use oekaki::history::layer_ops;
use oekaki::io::raster_file::FileKind;
use oekaki::io::{self, Limits};

use super::dialogs::Then;
use super::{Done, Pick, Studio};

const OPEN_TYPES: &[&str] = &["ora", "png", "jpg", "jpeg", "webp"];
const EXPORT_TYPES: &[&str] = &["png", "jpg", "jpeg", "webp"];

impl Studio {
    /// Opens a native file dialog on a background thread.
    pub fn pick(&mut self, purpose: Pick) {
        let start = self.path.as_ref().and_then(|p| p.parent().map(Path::to_path_buf));
        let stem = self
            .path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map_or("Untitled".into(), |s| s.to_string_lossy().into_owned());
        self.background.spawn("file dialog", move || {
            let mut d = rfd::FileDialog::new();
            if let Some(dir) = start {
                d = d.set_directory(dir);
            }
            let path = match purpose {
                Pick::Open => d.add_filter("Images and OpenRaster", OPEN_TYPES).pick_file(),
                Pick::ImportLayer => d.add_filter("Images", EXPORT_TYPES).pick_file(),
                Pick::ModelFolder => d.pick_folder(),
                Pick::SaveAs => d.add_filter("OpenRaster", &["ora"]).set_file_name(format!("{stem}.ora")).save_file(),
                Pick::Export => {
                    d.add_filter("PNG, JPEG, WebP", EXPORT_TYPES).set_file_name(format!("{stem}.png")).save_file()
                }
            };
            Done::Picked { purpose, path }
        });
    }

    pub fn open_in_background(&mut self, path: PathBuf) {
        self.status = format!("opening {}…", path.display());
        self.background.spawn("open", move || match io::open_path_with_warnings(&path, Limits::default()) {
            Ok((doc, warnings)) => Done::Opened { path: Some(path), doc: Box::new(doc), warnings, recovered: false },
            Err(e) => Done::Failed(format!("{}: {e}", path.display())),
        });
    }

    /// Reads an image file as a new layer centred on canvas point `at` (or at the origin).
    pub fn import_layer_in_background(&mut self, path: PathBuf, at: Option<[f32; 2]>) {
        self.background.spawn("import", move || {
            let read = std::fs::read(&path).map_err(|e| e.to_string());
            let decoded =
                read.and_then(|b| io::raster_file::decode_rgba(&b, Limits::default()).map_err(|e| e.to_string()));
            match decoded {
                Ok(image) => {
                    let name = path.file_stem().map_or("Image".into(), |s| s.to_string_lossy().into_owned());
                    Done::LayerImage { name, image, at }
                }
                Err(e) => Done::Failed(format!("{}: {e}", path.display())),
            }
        });
    }

    pub fn recover(&mut self, r: &oekaki::io::autosave::Recoverable) {
        let (file, source, id) = (r.path.clone(), r.source.clone(), r.id.clone());
        let store = self.autosave.as_ref().map(|(_, s)| s.clone());
        self.background.spawn("recover", move || match io::open_path_with_warnings(&file, Limits::default()) {
            Ok((doc, warnings)) => {
                // The recovered document is autosaved again under this run's id once it changes.
                if let Some(store) = store {
                    store.discard(&id);
                }
                Done::Opened { path: source, doc: Box::new(doc), warnings, recovered: true }
            }
            Err(e) => Done::Failed(format!("recovery copy {}: {e}", file.display())),
        });
    }

    /// Ctrl+S: saves to the document's ORA file, or asks where.
    pub fn save(&mut self) {
        match self.path.clone().filter(|p| FileKind::from_path(p).is_ok_and(|k| k == FileKind::Ora)) {
            Some(path) => self.write_in_background(path, false),
            None => self.pick(Pick::SaveAs),
        }
    }

    /// Save (then continue with `then` once the file is written).
    pub(crate) fn save_then(&mut self, then: Then) {
        self.after_save = Some(then);
        self.save();
    }

    /// Writes a snapshot of the document; `export` writes a flattened image and keeps the document's own path.
    pub fn write_in_background(&mut self, path: PathBuf, export: bool) {
        self.cancel_gesture();
        let doc = self.editor.doc.clone();
        let revision = self.editor.revision();
        self.status = format!("saving {}…", path.display());
        self.background.spawn("save", move || match io::save_path(&doc, &path) {
            Ok(()) => Done::Saved { path, revision, export },
            Err(e) => Done::Failed(format!("{}: {e}", path.display())),
        });
    }

    /// Applies what background jobs produced since the last frame.
    pub(crate) fn handle_finished_jobs(&mut self) {
        for done in self.background.finished() {
            self.finished(done);
        }
    }

    pub fn finished(&mut self, done: Done) {
        match done {
            Done::Picked { path: None, .. } => self.after_save = None,
            Done::Picked { purpose, path: Some(path) } => match purpose {
                Pick::Open => self.open_in_background(path),
                Pick::ImportLayer => self.import_layer_in_background(path, None),
                Pick::ModelFolder => self.ai_add_folder(path),
                Pick::SaveAs => self.write_in_background(with_extension(path, "ora"), false),
                Pick::Export => self.write_in_background(path, true),
            },
            Done::Opened { path, doc, warnings, recovered } => {
                self.replace_document(*doc, path.clone());
                if recovered {
                    // Not saved anywhere yet: unsaved, and copied again by this run's autosave.
                    self.saved_revision = u64::MAX;
                    self.autosaved_revision = u64::MAX;
                }
                if let Some(p) = path.filter(|_| !recovered) {
                    self.settings.add_recent(&p);
                    self.save_settings();
                }
                self.status = if warnings.is_empty() { "opened".into() } else { warnings.join("; ") };
            }
            Done::LayerImage { name, image, at } => self.add_image_layer(&name, &image, at),
            Done::Saved { path, revision, export } => {
                if !export {
                    self.path = Some(path.clone());
                    self.saved_revision = revision;
                    self.settings.add_recent(&path);
                    self.save_settings();
                }
                self.status = format!("{} {}", if export { "exported" } else { "saved" }, path.display());
                if let Some(then) = self.after_save.take() {
                    self.proceed(then);
                }
            }
            Done::Failed(e) => {
                self.after_save = None;
                self.status = e;
            }
            Done::Ai(d) => self.ai_finished(d),
            Done::Built { cmd, revision, build, label } => self.built(cmd, revision, build, label),
            Done::TransformPreview { generation, revision, state, cmd } => {
                self.transform_preview_ready(generation, revision, state, cmd)
            }
            Done::Quiet => {}
        }
    }

    /// An image as a new layer above the active one, centred on `at` (canvas point) or at the origin.
    pub fn add_image_layer(&mut self, name: &str, image: &image::RgbaImage, at: Option<[f32; 2]>) {
        let (x, y) = match at {
            Some([cx, cy]) => {
                ((cx - image.width() as f32 * 0.5).round() as i32, (cy - image.height() as f32 * 0.5).round() as i32)
            }
            None => (0, 0),
        };
        let cmd = layer_ops::image_layer(&mut self.editor.doc, name, image, x, y);
        let new_id = match &cmd {
            oekaki::history::Command::AddLayer { layer, .. } => Some(layer.id),
            _ => None,
        };
        self.apply(cmd);
        if new_id.is_some() {
            self.active = new_id;
        }
    }

    /// Files dropped on the window: an ORA (or any image while the document is untouched) opens; other images
    /// become layers at the drop point.
    pub(crate) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let (dropped, pos) = ctx.input(|i| (i.raw.dropped_files.clone(), i.pointer.hover_pos()));
        if dropped.is_empty() {
            return;
        }
        let at = pos.and_then(|p| self.canvas_point(p));
        for f in dropped {
            let path = f.path().to_path_buf();
            if path.is_dir() {
                self.ai_add_folder(path);
                continue;
            }
            let kind = FileKind::from_path(&path);
            let pristine = self.path.is_none() && self.editor.revision() == 0;
            match kind {
                Ok(FileKind::Ora) => self.confirm_then(Then::OpenPath(path)),
                Ok(_) if pristine => self.open_in_background(path),
                Ok(_) => self.import_layer_in_background(path, at),
                Err(e) => self.status = format!("{}: {e}", path.display()),
            }
        }
    }

    /// Canvas point under screen point `p`, if `p` is over the canvas widget.
    pub fn canvas_point(&self, p: egui::Pos2) -> Option<[f32; 2]> {
        let (rect, view) = (self.canvas_rect?, self.view?);
        rect.contains(p).then(|| view.to_canvas([p.x - rect.min.x, p.y - rect.min.y]))
    }

    /// Ctrl+V with an image on the clipboard pastes it as a new layer in the middle of the view.
    pub(crate) fn handle_clipboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (images, copy) = ctx.input(|i| {
            let images: Vec<_> = i
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::PasteImage(img) => Some(img.clone()),
                    _ => None,
                })
                .collect();
            (images, i.events.iter().any(|e| matches!(e, egui::Event::Copy)))
        });
        let centre = self.canvas_rect.and_then(|r| self.canvas_point(r.center()));
        for img in images {
            let [w, h] = img.size;
            let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_srgba_unmultiplied()).collect();
            match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
                Some(rgba) => self.add_image_layer("Pasted", &rgba, centre),
                None => self.status = "the clipboard image could not be read".into(),
            }
        }
        if copy {
            self.copy_layer(ctx);
        }
    }

    /// Ctrl+C: the active layer's pixels inside the selection (or all of them), as Photoshop and Krita copy.
    pub fn copy_layer(&mut self, ctx: &egui::Context) {
        self.copy(ctx, true);
    }

    /// Copies the visible image (inside the selection, if any) to the clipboard.
    pub fn copy_merged(&mut self, ctx: &egui::Context) {
        self.copy(ctx, false);
    }

    fn copy(&mut self, ctx: &egui::Context, layer: bool) {
        match self.clipboard_image(layer) {
            Ok(image) => {
                self.status = format!("copied {}×{}", image.size[0], image.size[1]);
                ctx.copy_image(image);
            }
            Err(e) => self.status = e,
        }
    }

    /// What a copy puts on the clipboard: the active layer (`layer`) or the visible picture, inside the
    /// selection (or the whole canvas), with the selection's soft edge as alpha.
    pub fn clipboard_image(&self, layer: bool) -> Result<egui::ColorImage, String> {
        let doc = &self.editor.doc;
        let surface = if layer {
            let active = self.active.and_then(|id| doc.layer(id));
            active.and_then(|l| l.surface()).ok_or("the active layer is a group: use Copy merged (Ctrl+Shift+C)")?
        } else {
            self.cache.surface.as_ref().ok_or("nothing to copy yet")?
        };
        let area = doc.selection.bounds(doc.bounds());
        if area.is_empty() {
            return Err("nothing selected to copy".into());
        }
        let pixels = surface.read_rect(area);
        let colors = pixels
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (x, y) =
                    (area.x0 + (i % area.width() as usize) as i32, area.y0 + (i / area.width() as usize) as i32);
                let k = doc.selection.coverage(x, y) as u32;
                let s = |c: u8| ((c as u32 * k + 127) / 255) as u8;
                egui::Color32::from_rgba_premultiplied(s(p[0]), s(p[1]), s(p[2]), s(p[3]))
            })
            .collect();
        Ok(egui::ColorImage::new([area.width() as usize, area.height() as usize], colors))
    }

    /// The window's close button: ask about unsaved changes first.
    pub(crate) fn handle_close_request(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && !self.close_confirmed && self.dirty() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.dialog = Some(super::Dialog::Unsaved(Then::Close));
        }
        if self.close_confirmed {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        let title = self.title();
        if ctx.input(|i| i.viewport().title.as_deref() != Some(title.as_str())) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
        }
    }
}

fn with_extension(path: PathBuf, ext: &str) -> PathBuf {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) { path } else { path.with_extension(ext) }
}
