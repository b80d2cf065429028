//! Options of the active tool: brush settings and presets, pressure, fill/wand tolerance, gradient kind,
//! selection mode, transform buttons.

use eframe::egui;
use oekaki::doc::selection::Combine;
use oekaki::paint::Curve;
use oekaki::paint::gradient::GradientKind;

use super::super::Studio;
use super::super::pen::PenSupport;
use super::super::tools::{AreaOptions, Tool};

pub fn show(s: &mut Studio, ui: &mut egui::Ui) {
    match s.tools.tool {
        Tool::Brush | Tool::Eraser => brush(s, ui),
        Tool::Fill => area(&mut s.tools.fill, ui, true),
        Tool::Wand => {
            area(&mut s.tools.wand, ui, false);
            select_mode(&mut s.tools.select_mode, ui);
        }
        Tool::SelectRect | Tool::SelectEllipse | Tool::Lasso => select_mode(&mut s.tools.select_mode, ui),
        Tool::SmartSelect => smart_select(s, ui),
        Tool::Gradient => {
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.tools.gradient, GradientKind::Linear, "Linear");
                ui.radio_value(&mut s.tools.gradient, GradientKind::Radial, "Radial");
            });
            ui.label("Drag from the foreground to the background colour.");
        }
        Tool::Transform => {
            ui.label("Drag inside to move, a corner to scale, an edge to stretch, outside to rotate.");
            ui.horizontal(|ui| {
                if ui.add_enabled(s.tools.transform.is_some(), egui::Button::new("Apply")).clicked() {
                    s.commit_transform();
                }
                if ui.add_enabled(s.tools.transform.is_some(), egui::Button::new("Cancel")).clicked() {
                    s.cancel_transform();
                }
            });
        }
        Tool::Move => {
            ui.label("Drag to move the active layer.");
        }
        Tool::Eyedropper => {
            ui.label("Click or drag to pick the visible colour. Alt+click while painting does the same.");
        }
        Tool::Hand => {
            ui.label("Drag to pan.");
        }
        Tool::Zoom => {
            ui.label("Click to zoom in, Alt+click to zoom out.");
        }
    }
}

fn brush(s: &mut Studio, ui: &mut egui::Ui) {
    let eraser = s.tools.tool == Tool::Eraser;
    if !eraser {
        ui.horizontal_wrapped(|ui| {
            for p in s.tools.presets.clone() {
                let custom = s.settings.custom_brushes.iter().any(|c| c.name == p.name);
                let r = ui.selectable_label(s.tools.brush.name == p.name, &p.name);
                if r.clicked() {
                    s.tools.brush = p.clone();
                }
                if custom {
                    r.context_menu(|ui| {
                        if ui.button("Delete preset").clicked() {
                            s.delete_brush_preset(&p.name);
                        }
                    });
                }
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("New preset");
            let field = egui::TextEdit::singleline(&mut s.tools.new_preset_name).hint_text("name").desired_width(90.0);
            ui.add(field).labelled_by(label.id);
            let name = s.tools.new_preset_name.trim().to_string();
            if ui.add_enabled(!name.is_empty(), egui::Button::new("Save preset")).clicked() {
                s.save_brush_preset(&name);
            }
        });
    }
    let b = s.tools.current_brush_mut();
    ui.add(egui::Slider::new(&mut b.diameter, 1.0..=1000.0).logarithmic(true).text("size"));
    ui.add(egui::Slider::new(&mut b.opacity, 0.0..=1.0).text("opacity"));
    ui.add(egui::Slider::new(&mut b.flow, 0.01..=1.0).text("flow"));
    ui.add(egui::Slider::new(&mut b.hardness, 0.0..=1.0).text("hardness"));
    ui.add(egui::Slider::new(&mut b.spacing, 0.02..=2.0).logarithmic(true).text("spacing"));
    ui.add(egui::Slider::new(&mut b.stabilizer, 0.0..=1.0).text("stabilizer"));
    ui.label("Pressure controls");
    for (label, curve) in
        [("size", &mut b.pressure_size), ("opacity", &mut b.pressure_opacity), ("flow", &mut b.pressure_flow)]
    {
        pressure_curve(ui, label, curve);
    }
    pressure_test(s, ui);
}

/// Off, linear, soft (more effect at light pressure) or firm.
fn pressure_curve(ui: &mut egui::Ui, label: &str, curve: &mut Option<Curve>) {
    type Points = Option<Vec<(f32, f32)>>;
    let presets: [(&str, Points); 4] = [
        ("off", None),
        ("linear", Some(vec![(0.0, 0.0), (1.0, 1.0)])),
        ("soft", Some(vec![(0.0, 0.0), (0.3, 0.6), (1.0, 1.0)])),
        ("firm", Some(vec![(0.0, 0.0), (0.7, 0.4), (1.0, 1.0)])),
    ];
    let current = curve.as_ref().map(|c| c.points().to_vec());
    let name = presets.iter().find(|(_, p)| *p == current).map_or("custom", |(n, _)| *n);
    egui::ComboBox::from_label(format!("pressure to {label}")).selected_text(name).show_ui(ui, |ui| {
        for (n, p) in &presets {
            if ui.selectable_label(*n == name, *n).clicked() {
                *curve = p.clone().and_then(|p| Curve::new(p).ok());
            }
        }
    });
}

/// How pen pressure reaches the studio, the last pressure reported, and a pad to scribble in: its line is as
/// wide as the pen presses.
fn pressure_test(s: &mut Studio, ui: &mut egui::Ui) {
    let support = s.pen.support();
    if let Some(support) = support {
        ui.weak(support.describe());
    }
    if s.tools.pressure_seen {
        ui.add(egui::ProgressBar::new(s.tools.pressure).text(format!("pen pressure {:.2}", s.tools.pressure)));
    } else if !matches!(support, Some(PenSupport::Unavailable(_))) {
        ui.weak("No pen pressure reported yet: mouse and pens without pressure paint at full pressure.");
    }
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), 48.0), egui::Sense::click_and_drag());
    let response = response.on_hover_text("Pressure test: scribble here with the pen");
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let mut pressure = s.tools.current_pressure();
    let events = ui.input(|i| i.events.clone());
    for e in &events {
        match e {
            egui::Event::Touch { force: Some(f), .. } => pressure = s.tools.pen_force(*f),
            egui::Event::PointerButton { pos, pressed: true, button: egui::PointerButton::Primary, .. }
                if rect.contains(*pos) =>
            {
                s.tools.pressure_trail = vec![([pos.x - rect.min.x, pos.y - rect.min.y], pressure)];
            }
            egui::Event::PointerMoved(pos)
                if response.is_pointer_button_down_on() && s.tools.pressure_trail.len() < 2000 =>
            {
                s.tools.pressure_trail.push(([pos.x - rect.min.x, pos.y - rect.min.y], pressure));
            }
            _ => {}
        }
    }
    let at = |p: [f32; 2]| rect.min + egui::vec2(p[0], p[1]);
    let ink = ui.visuals().strong_text_color();
    for pair in s.tools.pressure_trail.windows(2) {
        let width = 1.0 + 11.0 * pair[1].1;
        painter.line_segment([at(pair[0].0), at(pair[1].0)], egui::Stroke::new(width, ink));
    }
    if let [(p, f)] = s.tools.pressure_trail.as_slice() {
        painter.circle_filled(at(*p), 0.5 + 5.5 * f, ink);
    }
}

fn area(o: &mut AreaOptions, ui: &mut egui::Ui, fill: bool) {
    ui.add(egui::Slider::new(&mut o.tolerance, 0..=255).text("tolerance"));
    ui.checkbox(&mut o.contiguous, "contiguous");
    ui.checkbox(&mut o.sample_all, "sample all layers");
    if fill {
        ui.add(egui::Slider::new(&mut o.close_gaps, 0..=20).text("close gaps"));
        ui.add(egui::Slider::new(&mut o.expand, 0..=8).text("expand"));
    }
}

fn select_mode(mode: &mut Combine, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.radio_value(mode, Combine::Replace, "Replace");
        ui.radio_value(mode, Combine::Add, "Add");
        ui.radio_value(mode, Combine::Subtract, "Subtract");
        ui.radio_value(mode, Combine::Intersect, "Intersect");
    });
    ui.weak("Shift adds, Alt subtracts. A click without dragging deselects.");
}

fn smart_select(s: &mut Studio, ui: &mut egui::Ui) {
    let sams: Vec<(std::path::PathBuf, String)> =
        s.ai.models
            .iter()
            .filter(|m| m.status.as_ref().is_ok_and(|i| i.kind == oekaki::ai::library::ModelKind::Segmenter))
            .map(|m| (m.dir.clone(), m.name.clone()))
            .collect();
    let current = s.smart_model();
    let name = sams.iter().find(|(d, _)| Some(d) == current.as_ref()).map_or("none found", |(_, n)| n.as_str());
    egui::ComboBox::from_label("Model").selected_text(name).show_ui(ui, |ui| {
        for (dir, name) in &sams {
            if ui.selectable_label(current.as_ref() == Some(dir), name).clicked() {
                s.settings.ai.sam_model = Some(dir.clone());
            }
        }
    });
    ui.horizontal(|ui| {
        ui.radio_value(&mut s.smart.use_layer, false, "Visible picture");
        ui.radio_value(&mut s.smart.use_layer, true, "Active layer");
    });
    select_mode(&mut s.tools.select_mode, ui);
    ui.label("Click: this. Alt/right click: not this. Drag: a box.");
    if !s.smart.info.is_empty() {
        ui.small(s.smart.info.clone());
    }
    let candidates: Vec<f32> = s.smart.proposal.as_ref().map(|(p, _)| p.scores.clone()).unwrap_or_default();
    if !candidates.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Mask (C):");
            for (i, score) in candidates.iter().enumerate() {
                let text = format!("{} · {score:.2}", i + 1);
                if ui.selectable_label(s.smart.candidate == i, text).clicked() {
                    s.smart.candidate = i;
                }
            }
        });
    }
    ui.horizontal(|ui| {
        if ui.add_enabled(s.smart.proposal.is_some(), egui::Button::new("Select (Enter)")).clicked() {
            s.smart_apply(None);
        }
        if ui.add_enabled(s.smart.has_prompt(), egui::Button::new("Clear (Esc)")).clicked() {
            s.smart_discard();
        }
    });
}
