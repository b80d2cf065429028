//! Modal windows: new document, unsaved changes, crash recovery, and the shortcut list.

use std::path::PathBuf;

use eframe::egui;
use oekaki::io::autosave::Recoverable;

use super::shortcuts::{SHORTCUTS, describe};
use super::{Pick, Studio};

/// What to do once unsaved changes are saved or discarded.
#[derive(Clone, Debug, PartialEq)]
pub enum Then {
    NewDialog,
    OpenDialog,
    OpenPath(PathBuf),
    Close,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewDocument {
    pub width: u32,
    pub height: u32,
    pub white: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    NewDocument(NewDocument),
    /// Save changes before `Then`?
    Unsaved(Then),
    Recovery(Vec<Recoverable>),
    Shortcuts,
}

/// Sizes offered in the new-document dialog.
pub fn presets(screen: Option<[u32; 2]>) -> Vec<(String, u32, u32)> {
    let mut v = vec![
        ("1024 × 1024".to_string(), 1024, 1024),
        ("2048 × 2048".to_string(), 2048, 2048),
        ("A4 portrait, 300 dpi".to_string(), 2480, 3508),
        ("A4 landscape, 300 dpi".to_string(), 3508, 2480),
    ];
    if let Some([w, h]) = screen.filter(|s| s[0] > 0 && s[1] > 0) {
        v.push((format!("Screen ({w} × {h})"), w, h));
    }
    v
}

impl Studio {
    /// Runs `then` now, or first asks what to do with unsaved changes.
    pub fn confirm_then(&mut self, then: Then) {
        if self.dirty() {
            self.dialog = Some(Dialog::Unsaved(then));
        } else {
            self.proceed(then);
        }
    }

    pub(crate) fn proceed(&mut self, then: Then) {
        match then {
            Then::NewDialog => {
                let (width, height) = (self.editor.doc.width, self.editor.doc.height);
                self.dialog = Some(Dialog::NewDocument(NewDocument { width, height, white: true }));
            }
            Then::OpenDialog => self.pick(Pick::Open),
            Then::OpenPath(p) => self.open_in_background(p),
            Then::Close => self.close_confirmed = true,
        }
    }
}

pub fn show(s: &mut Studio, ctx: &egui::Context) {
    let Some(dialog) = s.dialog.take() else { return };
    let mut open = true;
    let mut close = false;
    let mut keep = dialog.clone();
    match dialog {
        Dialog::NewDocument(mut d) => {
            let screen = ctx.input(|i| i.viewport().monitor_size.map(|m| m * i.pixels_per_point()));
            let screen = screen.map(|m| [m.x.round() as u32, m.y.round() as u32]);
            egui::Window::new("New document")
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .collapsible(false)
                .resizable(false)
                .open(&mut open)
                .show(ctx, |ui| {
                    for (name, w, h) in presets(screen) {
                        if ui.selectable_label(d.width == w && d.height == h, name).clicked() {
                            (d.width, d.height) = (w, h);
                        }
                    }
                    ui.separator();
                    let max = oekaki::doc::MAX_CANVAS;
                    ui.horizontal(|ui| {
                        ui.label("Width");
                        ui.add(egui::DragValue::new(&mut d.width).range(1..=max).suffix(" px"));
                        ui.label("Height");
                        ui.add(egui::DragValue::new(&mut d.height).range(1..=max).suffix(" px"));
                    });
                    ui.checkbox(&mut d.white, "White paper layer");
                    ui.horizontal(|ui| {
                        if ui.button("Create").clicked() {
                            match Studio::blank_document(d.width, d.height, d.white) {
                                Ok(doc) => {
                                    s.replace_document(doc, None);
                                    close = true;
                                }
                                Err(e) => s.status = e.to_string(),
                            }
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
            keep = Dialog::NewDocument(d);
        }
        Dialog::Unsaved(then) => {
            egui::Window::new("Unsaved changes")
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .collapsible(false)
                .resizable(false)
                .open(&mut open)
                .show(ctx, |ui| {
                    ui.label("This document has changes that are not saved.");
                    ui.horizontal(|ui| {
                        if ui.button("Save").clicked() {
                            s.save_then(then.clone());
                            close = true;
                        }
                        if ui.button("Discard changes").clicked() {
                            s.proceed(then.clone());
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
        }
        Dialog::Recovery(found) => {
            egui::Window::new("Recover unsaved work?")
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .collapsible(false)
                .open(&mut open)
                .show(ctx, |ui| {
                    ui.label("Oekaki Studio did not close properly last time. These copies were saved automatically:");
                    for r in &found {
                        ui.horizontal(|ui| {
                            let name = r.source.as_ref().map_or("Untitled".into(), |p| p.display().to_string());
                            ui.label(format!("{name} — {}×{}, {}", r.width, r.height, age(r.saved_at)));
                            if ui.button("Recover").clicked() {
                                s.recover(r);
                                close = true;
                            }
                        });
                    }
                    if ui.button("Discard all").clicked() {
                        if let Some((_, store)) = &s.autosave {
                            for r in &found {
                                store.discard(&r.id);
                            }
                        }
                        close = true;
                    }
                });
        }
        Dialog::Shortcuts => {
            egui::Window::new("Keyboard shortcuts")
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .collapsible(false)
                .open(&mut open)
                .show(ctx, |ui| {
                    egui::ScrollArea::vertical().max_height(480.0).show(ui, |ui| {
                        egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                            for (m, k, _, what) in SHORTCUTS {
                                ui.monospace(describe(*m, *k));
                                ui.label(*what);
                                ui.end_row();
                            }
                        });
                    });
                });
        }
    }
    // An action taken in the dialog may have opened the next one (Discard → the new-document dialog).
    if open && !close && s.dialog.is_none() {
        s.dialog = Some(keep);
    }
}

fn age(saved_at: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mins = now.saturating_sub(saved_at) / 60;
    match mins {
        0 => "just now".into(),
        m if m < 120 => format!("{m} min ago"),
        m => format!("{} h ago", m / 60),
    }
}
