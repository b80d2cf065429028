//! The menu bar: every action is also reachable here, with its shortcut shown.

use eframe::egui;

use super::super::dialogs::Then;
use super::super::settings::Theme;
use super::super::shortcuts::{Action, SHORTCUTS, describe};
use super::super::{Pick, Studio};

fn item(s: &mut Studio, ui: &mut egui::Ui, label: &str, action: Action) {
    let key = SHORTCUTS.iter().find(|(_, _, a, _)| *a == action).map(|(m, k, ..)| describe(*m, *k));
    let button = egui::Button::new(label).shortcut_text(key.unwrap_or_default());
    if ui.add(button).clicked() {
        s.run_action(action, ui.ctx());
        ui.close();
    }
}

pub fn menu_bar(s: &mut Studio, ui: &mut egui::Ui) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            item(s, ui, "New…", Action::New);
            item(s, ui, "Open…", Action::Open);
            ui.menu_button("Open recent", |ui| {
                if s.settings.recent.is_empty() {
                    ui.label("(none yet)");
                }
                for p in s.settings.recent.clone() {
                    if ui.button(p.display().to_string()).clicked() {
                        s.confirm_then(Then::OpenPath(p));
                        ui.close();
                    }
                }
            });
            if ui.button("Import image as layer…").clicked() {
                s.pick(Pick::ImportLayer);
                ui.close();
            }
            ui.separator();
            item(s, ui, "Save", Action::Save);
            item(s, ui, "Save as…", Action::SaveAs);
            item(s, ui, "Export…", Action::Export);
            ui.separator();
            if ui.button("Quit").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                ui.close();
            }
        });
        ui.menu_button("Edit", |ui| {
            item(s, ui, "Undo", Action::Undo);
            item(s, ui, "Redo", Action::Redo);
            ui.separator();
            // Ctrl+C reaches the studio as a copy event (handle_clipboard), not as a key.
            if ui.add(egui::Button::new("Copy layer").shortcut_text("Ctrl+C")).clicked() {
                s.copy_layer(ui.ctx());
                ui.close();
            }
            item(s, ui, "Copy merged", Action::CopyMerged);
            item(s, ui, "Clear", Action::ClearSelected);
            item(s, ui, "Free transform", Action::Transform);
        });
        ui.menu_button("Select", |ui| {
            item(s, ui, "All", Action::SelectAll);
            item(s, ui, "Deselect", Action::Deselect);
            item(s, ui, "Invert", Action::InvertSelection);
            ui.separator();
            let amount = &mut s.tools.modify_amount;
            ui.add(egui::Slider::new(amount, 1..=200).text("px"));
            let canvas = s.editor.doc.bounds();
            let n = *amount;
            let sel = &s.editor.doc.selection;
            let changed = if ui.button("Grow").clicked() {
                Some(sel.grown(n, canvas))
            } else if ui.button("Shrink").clicked() {
                Some(sel.shrunk(n, canvas))
            } else if ui.button("Feather").clicked() {
                Some(sel.feathered(n as f32, canvas))
            } else {
                None
            };
            if let Some(sel) = changed {
                s.apply(oekaki::history::Command::SetSelection(Box::new(sel)));
            }
        });
        ui.menu_button("View", |ui| {
            item(s, ui, "Fit in window", Action::FitView);
            item(s, ui, "100 %", Action::ActualPixels);
            item(s, ui, "Zoom in", Action::ZoomIn);
            item(s, ui, "Zoom out", Action::ZoomOut);
            ui.separator();
            item(s, ui, "Rotate left", Action::RotateLeft);
            item(s, ui, "Rotate right", Action::RotateRight);
            item(s, ui, "Reset rotation", Action::ResetRotation);
            item(s, ui, "Flip left–right", Action::FlipView);
            ui.separator();
            item(s, ui, "Hide panels", Action::TogglePanels);
            let mut changed = ui.checkbox(&mut s.settings.ai_panel, "AI panel").changed();
            ui.horizontal(|ui| {
                changed |= ui.radio_value(&mut s.settings.theme, Theme::Dark, "Dark").changed();
                changed |= ui.radio_value(&mut s.settings.theme, Theme::Light, "Light").changed();
            });
            changed |= ui.add(egui::Slider::new(&mut s.settings.ui_scale, 0.5..=3.0).text("UI scale")).drag_stopped();
            let secs = egui::Slider::new(&mut s.settings.autosave_seconds, 10..=600).text("autosave every (s)");
            changed |= ui.add(secs).drag_stopped();
            if changed {
                s.apply_look(ui.ctx());
                s.save_settings();
            }
        });
        ui.menu_button("Help", |ui| item(s, ui, "Keyboard shortcuts", Action::Help));
    });
}

impl Studio {
    /// Theme and UI scale from the settings.
    pub fn apply_look(&self, ctx: &egui::Context) {
        ctx.set_theme(match self.settings.theme {
            Theme::Dark => egui::Theme::Dark,
            Theme::Light => egui::Theme::Light,
        });
        ctx.set_zoom_factor(self.settings.ui_scale);
    }
}
