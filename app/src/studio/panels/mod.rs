//! The panels around the canvas: menu bar, toolbox, the side panel (tool options, colour, layers, history)
//! and the status bar.

mod colour;
mod history;
mod layers;
mod menu;
mod tool_options;

use eframe::egui;

pub use layers::Thumbnails;
pub use menu::menu_bar;

use super::Studio;
use super::tools::Tool;

pub fn toolbox(s: &mut Studio, ui: &mut egui::Ui) {
    ui.vertical_centered_justified(|ui| {
        for t in Tool::ALL {
            let key = super::shortcuts::SHORTCUTS
                .iter()
                .find(|(_, _, a, _)| *a == super::shortcuts::Action::Tool(t))
                .map(|(m, k, ..)| super::shortcuts::describe(*m, *k));
            let r = ui.selectable_label(s.tools.tool == t, t.label());
            let r = match key {
                Some(k) => r.on_hover_text(format!("{} ({k})", t.label())),
                None => r,
            };
            if r.clicked() {
                s.run_action(super::shortcuts::Action::Tool(t), ui.ctx());
                if t == Tool::Transform && s.tools.transform.is_none() {
                    s.begin_transform();
                }
            }
        }
        ui.separator();
        let qm = ui.selectable_label(s.tools.quick_mask, "Quick mask").on_hover_text("Paint the selection (Q)");
        if qm.clicked() {
            s.tools.quick_mask = !s.tools.quick_mask;
        }
    });
}

/// The right-hand panel.
pub fn side(s: &mut Studio, ui: &mut egui::Ui) {
    // Tool options and colour on top, layers and history below, each scrolling on its own.
    let half = ui.available_height() * 0.5;
    egui::ScrollArea::vertical().id_salt("upper").max_height(half).show(ui, |ui| {
        egui::CollapsingHeader::new("Tool options").default_open(true).show(ui, |ui| tool_options::show(s, ui));
        egui::CollapsingHeader::new("Colour").default_open(true).show(ui, |ui| colour::show(s, ui));
    });
    ui.separator();
    egui::ScrollArea::vertical().id_salt("lower").show(ui, |ui| {
        egui::CollapsingHeader::new("Layers").default_open(true).show(ui, |ui| layers::show(s, ui));
        egui::CollapsingHeader::new("History").default_open(false).show(ui, |ui| history::show(s, ui));
    });
}

pub fn status_bar(s: &mut Studio, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        if let Some(v) = s.view {
            ui.label(format!("{:.0} %", v.zoom * 100.0));
            if v.rotation != 0.0 {
                ui.label(format!("{:.0}°", v.rotation));
            }
            if v.flip {
                ui.label("flipped");
            }
        }
        ui.label(format!("{} × {}", s.editor.doc.width, s.editor.doc.height));
        if let (Some(w), Some(f)) = (s.frame_times.work(), s.frame_times.interval()) {
            ui.label(format!(
                "frame: studio {:.1} ms (max {:.1}) · interval {:.1} ms",
                w.median_ms, w.max_ms, f.median_ms
            ))
            .on_hover_text(
                "Median over the last frames of the studio's own work per frame, and the time between frames",
            );
        }
        if s.background.running() > 0 {
            ui.spinner();
        }
        if !s.status.is_empty() {
            ui.separator();
            ui.label(&s.status);
        }
    });
}
