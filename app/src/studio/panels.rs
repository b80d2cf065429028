//! The tool panel: brush presets and settings, colour, layers, history.

use eframe::egui;
use oekaki::doc::LayerProps;
use oekaki::history::Command;

use super::Studio;

pub fn tools(s: &mut Studio, ui: &mut egui::Ui) {
    ui.heading("Brush");
    ui.horizontal_wrapped(|ui| {
        for p in s.presets.clone() {
            if ui.selectable_label(s.brush.name == p.name, &p.name).clicked() {
                s.brush = p;
            }
        }
    });
    ui.add(egui::Slider::new(&mut s.brush.diameter, 1.0..=500.0).logarithmic(true).text("size"));
    ui.add(egui::Slider::new(&mut s.brush.opacity, 0.0..=1.0).text("opacity"));
    ui.add(egui::Slider::new(&mut s.brush.flow, 0.01..=1.0).text("flow"));
    ui.add(egui::Slider::new(&mut s.brush.hardness, 0.0..=1.0).text("hardness"));
    ui.add(egui::Slider::new(&mut s.brush.stabilizer, 0.0..=1.0).text("stabilizer"));
    ui.checkbox(&mut s.brush.eraser, "eraser");

    ui.separator();
    ui.heading("Colour");
    let mut rgb = [s.color.r, s.color.g, s.color.b];
    if ui.color_edit_button_rgb(&mut rgb).changed() {
        s.color = oekaki::color::Color::rgb(rgb[0], rgb[1], rgb[2]);
    }

    ui.separator();
    ui.heading("Layers");
    if ui.button("+ New layer").clicked() {
        let n = s.editor.doc.layer_ids().len() + 1;
        let layer = s.editor.doc.new_raster_layer(&format!("Layer {n}"), oekaki::raster::Surface::new([0; 4]));
        let id = layer.id;
        let index = s.editor.doc.layers.len();
        let r = s.editor.apply(Command::AddLayer { parent: None, index, layer: Box::new(layer) });
        s.report(r);
        s.active = Some(id);
    }
    let rows: Vec<(oekaki::doc::LayerId, LayerProps)> =
        s.editor.doc.layers.iter().rev().map(|l| (l.id, l.props.clone())).collect();
    for (id, props) in rows {
        ui.horizontal(|ui| {
            let mut visible = props.visible;
            if ui.checkbox(&mut visible, "").changed() {
                let r = s.editor.apply(Command::SetProps { id, props: LayerProps { visible, ..props.clone() } });
                s.report(r);
            }
            if ui.selectable_label(s.active == Some(id), &props.name).clicked() {
                s.active = Some(id);
            }
        });
    }

    ui.separator();
    ui.horizontal(|ui| {
        if ui.add_enabled(s.editor.history.undo_len() > 0, egui::Button::new("Undo")).clicked() {
            s.undo();
        }
        if ui.add_enabled(s.editor.history.redo_len() > 0, egui::Button::new("Redo")).clicked() {
            s.redo();
        }
    });
    if !s.status.is_empty() {
        ui.colored_label(egui::Color32::LIGHT_RED, &s.status);
    }
}
