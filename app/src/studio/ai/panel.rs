//! The AI panel: runtime status, model picker, prompt and generation settings, the actions, and one card per job
//! (progress with ETA, cancel, candidates to pick and apply, failures with a CPU retry).

use eframe::egui;
use oekaki::ai::edit::{EditKind, Side};
use oekaki::ai::library::{ModelEntry, ModelInfo, ModelKind};
use oekaki::ai::scheduler::SamplerKind;
use oekaki::jobs::{JobId, Stage};

use super::params::{DEVICES, SeedMode};
use super::prompt_box::prompt_box;
use super::{JobState, RuntimeStatus};
use crate::studio::{Pick, Studio};

const RUNTIME_FIX: &str = "Fix: put the ONNX Runtime 1.31 library (libonnxruntime.so / onnxruntime.dll / \
    libonnxruntime.dylib) next to the oekaki program, or set ORT_DYLIB_PATH to it, or connect to the internet \
    once so Oekaki can fetch the pinned build. Painting works without it.";

pub fn show(s: &mut Studio, ui: &mut egui::Ui) {
    s.ai_start();
    let ready = match s.ai.runtime() {
        RuntimeStatus::Ready(_) => true,
        RuntimeStatus::Missing(e) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("AI is off: {e}"));
            ui.label(RUNTIME_FIX);
            false
        }
        RuntimeStatus::Checking | RuntimeStatus::Unknown => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Loading ONNX Runtime…");
            });
            false
        }
    };
    ui.add_enabled_ui(ready, |ui| {
        model_picker(s, ui);
        ui.separator();
        prompt_and_settings(s, ui);
        guide(s, ui);
        ui.separator();
        actions(s, ui);
    });
    job_cards(s, ui);
}

fn chosen_model(s: &Studio) -> Option<&ModelEntry> {
    let dir = s.settings.ai.model.as_ref()?;
    s.ai.models.iter().find(|m| &m.dir == dir)
}

fn chosen_info(s: &Studio) -> Option<&ModelInfo> {
    chosen_model(s).and_then(|m| m.status.as_ref().ok())
}

fn model_picker(s: &mut Studio, ui: &mut egui::Ui) {
    let current = chosen_model(s).map_or_else(|| "(no model)".to_string(), |m| m.name.clone());
    let mut pick = None;
    ui.horizontal(|ui| {
        ui.label("Model");
        egui::ComboBox::from_id_salt("ai model").selected_text(current).width(160.0).show_ui(ui, |ui| {
            for m in &s.ai.models {
                match &m.status {
                    Ok(info) if !info.is_base_model() => {
                        ui.add_enabled(false, egui::Button::new(format!("{} ({})", m.name, info.label())))
                            .on_disabled_hover_text("Used by the Guide section, not a model to generate with");
                    }
                    Ok(info) => {
                        let chosen = s.settings.ai.model.as_ref() == Some(&m.dir);
                        let cn = if info.takes_controlnet { ", ControlNet-ready" } else { "" };
                        if ui.selectable_label(chosen, format!("{} ({}{cn})", m.name, info.label())).clicked() {
                            pick = Some(m.dir.clone());
                        }
                    }
                    Err(e) => {
                        ui.add_enabled(false, egui::Button::new(format!("{} (unusable)", m.name)))
                            .on_disabled_hover_text(e);
                    }
                }
            }
        });
        if s.ai.scanning {
            ui.spinner();
        }
    });
    if let Some(dir) = pick {
        s.settings.ai.model = Some(dir);
        s.save_settings();
    }
    ui.horizontal(|ui| {
        if ui.button("Add model folder...").on_hover_text("Or drop a model folder onto the window").clicked() {
            s.pick(Pick::ModelFolder);
        }
        if ui.button("Rescan").clicked() {
            s.ai_rescan();
        }
    });
    if let Some(info) = chosen_info(s) {
        let cn = if info.takes_controlnet { " · takes ControlNets" } else { "" };
        let v = if info.v_prediction { " · v-prediction" } else { "" };
        ui.label(format!("{}{v} · native {} px{cn}", info.label(), info.native_size));
        for n in &info.notes {
            ui.colored_label(ui.visuals().warn_fg_color, n);
        }
    } else if !s.ai.scanning && !s.ai.models.iter().any(|m| m.status.as_ref().is_ok_and(|i| i.is_base_model())) {
        ui.label("No Stable Diffusion models yet: add a folder of ONNX models (optimum / diffusers layout).");
    }
    let broken: Vec<&ModelEntry> = s.ai.models.iter().filter(|m| m.status.is_err()).collect();
    if !broken.is_empty() {
        egui::CollapsingHeader::new(format!("Problems ({})", broken.len())).id_salt("ai problems").show(ui, |ui| {
            for m in broken {
                if let Err(e) = &m.status {
                    ui.label(format!("{}: {e}", m.name));
                }
            }
        });
    }
}

fn prompt_and_settings(s: &mut Studio, ui: &mut egui::Ui) {
    let preset = chosen_info(s).map(|i| i.preset.clone()).filter(|p| !p.is_empty());
    let p = &mut s.settings.ai;
    prompt_box(ui, "Prompt", &mut p.prompt, "Ctrl+Up/Down changes the weight of the selected words", 3);
    prompt_box(ui, "Negative prompt", &mut p.negative, "What to avoid", 2);
    if let Some(preset) = preset
        && ui
            .button(format!("Use preset: {}", preset.name))
            .on_hover_text("Add the model's quality tags, its negative prompt and recommended settings")
            .clicked()
    {
        p.use_preset(&preset);
    }
    egui::Grid::new("ai settings").num_columns(2).show(ui, |ui| {
        ui.label("Sampler");
        egui::ComboBox::from_id_salt("ai sampler").selected_text(p.sampler_kind().a1111_name()).show_ui(ui, |ui| {
            for k in SamplerKind::ALL {
                ui.selectable_value(&mut p.sampler, k.name().to_string(), k.a1111_name());
            }
        });
        ui.end_row();
        ui.label("Steps");
        ui.add(egui::DragValue::new(&mut p.steps).range(1..=150));
        ui.end_row();
        ui.label("CFG");
        ui.add(egui::DragValue::new(&mut p.cfg).range(0.0..=30.0).speed(0.1));
        ui.end_row();
        ui.label("Strength");
        ui.add(egui::Slider::new(&mut p.strength, 0.0..=1.0)).on_hover_text("How much Refine changes (1 = all)");
        ui.end_row();
        ui.label("Seed");
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut p.seed).range(0..=u32::MAX as u64));
            egui::ComboBox::from_id_salt("ai seed mode").selected_text(p.seed_mode.label()).show_ui(ui, |ui| {
                for m in SeedMode::ALL {
                    ui.selectable_value(&mut p.seed_mode, m, m.label());
                }
            });
        });
        ui.end_row();
        ui.label("CLIP skip");
        ui.add(egui::DragValue::new(&mut p.clip_skip).range(1..=12));
        ui.end_row();
        ui.label("Batch");
        ui.add(egui::DragValue::new(&mut p.batch).range(1..=16)).on_hover_text("Candidates per job");
        ui.end_row();
        ui.label("Device");
        let label = DEVICES.iter().find(|(k, _)| *k == p.device).map_or("Auto", |(_, l)| l);
        egui::ComboBox::from_id_salt("ai device").selected_text(label).show_ui(ui, |ui| {
            for (key, label) in DEVICES {
                ui.selectable_value(&mut p.device, key.to_string(), label);
            }
        });
        ui.end_row();
    });
    egui::CollapsingHeader::new("Inpaint area").id_salt("ai inpaint area").show(ui, |ui| {
        egui::Grid::new("ai area").num_columns(2).show(ui, |ui| {
            ui.label("Padding");
            ui.add(egui::DragValue::new(&mut p.padding).range(0..=512).suffix(" px"));
            ui.end_row();
            ui.label("Grow");
            ui.add(egui::DragValue::new(&mut p.grow).range(0..=128).suffix(" px"));
            ui.end_row();
            ui.label("Feather");
            ui.add(egui::DragValue::new(&mut p.feather).range(0.0..=64.0).speed(0.2).suffix(" px"));
            ui.end_row();
        });
    });
    if let Some(ran) = &s.ai.ran_on {
        let gpu_asked = !matches!(s.settings.ai.device.as_str(), "cpu");
        if gpu_asked && ran.contains("CPU") {
            ui.colored_label(ui.visuals().warn_fg_color, format!("Ran on {ran}: no GPU provider was available"));
            if let Some(why) = &s.ai.gpu_fallback {
                ui.small(why.as_str());
            }
        } else {
            ui.label(format!("Ran on {ran}"));
        }
    }
}

/// ControlNet guidance: which ControlNet, which layer (or the picture) through which preprocessor, how much.
fn guide(s: &mut Studio, ui: &mut egui::Ui) {
    let takes = chosen_info(s).is_some_and(|i| i.takes_controlnet);
    let nets: Vec<(std::path::PathBuf, String)> =
        s.ai.models
            .iter()
            .filter(|m| m.status.as_ref().is_ok_and(|i| i.kind == ModelKind::ControlNet))
            .map(|m| (m.dir.clone(), m.name.clone()))
            .collect();
    let layers: Vec<(oekaki::doc::LayerId, String)> =
        s.editor.doc.layers.iter().rev().map(|l| (l.id, l.props.name.clone())).collect();
    if s.ai.guide_layer.is_some_and(|id| s.editor.doc.layer(id).is_none()) {
        s.ai.guide_layer = None;
    }
    egui::CollapsingHeader::new("Guide (ControlNet)").id_salt("ai guide").show(ui, |ui| {
        let p = &mut s.settings.ai;
        ui.checkbox(&mut p.guide, "Guide with a ControlNet");
        if p.guide && !takes {
            ui.colored_label(ui.visuals().warn_fg_color, "This model has no ControlNet UNet (controlnet/model.onnx)");
        }
        if nets.is_empty() {
            ui.label("No ControlNet found: add a folder holding one (model.onnx + config.json).");
        }
        egui::Grid::new("ai guide grid").num_columns(2).show(ui, |ui| {
            ui.label("ControlNet");
            let current = nets.iter().find(|(d, _)| Some(d) == p.guide_model.as_ref()).map_or("(none)", |(_, n)| n);
            egui::ComboBox::from_id_salt("ai guide model").selected_text(current).show_ui(ui, |ui| {
                for (dir, name) in &nets {
                    ui.selectable_value(&mut p.guide_model, Some(dir.clone()), name);
                }
            });
            ui.end_row();
            ui.label("Source");
            let current =
                layers.iter().find(|(id, _)| Some(*id) == s.ai.guide_layer).map_or("Visible image", |(_, n)| n);
            egui::ComboBox::from_id_salt("ai guide source").selected_text(current).show_ui(ui, |ui| {
                ui.selectable_value(&mut s.ai.guide_layer, None, "Visible image");
                for (id, name) in &layers {
                    ui.selectable_value(&mut s.ai.guide_layer, Some(*id), name);
                }
            });
            ui.end_row();
            ui.label("Preprocessor");
            egui::ComboBox::from_id_salt("ai guide pre").selected_text(p.guide_preprocess.clone()).show_ui(ui, |ui| {
                ui.selectable_value(&mut p.guide_preprocess, "none".to_string(), "none");
                for k in oekaki::ai::preprocess::Kind::ALL {
                    ui.selectable_value(&mut p.guide_preprocess, k.name().to_string(), k.name());
                }
            });
            ui.end_row();
            ui.label("Strength");
            ui.add(egui::Slider::new(&mut p.guide_scale, 0.0..=2.0));
            ui.end_row();
            ui.label("Start");
            ui.add(egui::Slider::new(&mut p.guide_start, 0.0..=1.0));
            ui.end_row();
            ui.label("End");
            ui.add(egui::Slider::new(&mut p.guide_end, 0.0..=1.0));
            ui.end_row();
        });
        let shown = s.ai.guide_preview_on;
        if ui
            .selectable_label(shown, "Show control image")
            .on_hover_text("Over the canvas, as the ControlNet sees it")
            .clicked()
        {
            s.ai_toggle_guide_preview();
        }
    });
}

fn actions(s: &mut Studio, ui: &mut egui::Ui) {
    let kind = chosen_info(s).map(|i| (i.kind, i.edits_images()));
    let selected = s.editor.doc.selection.active;
    let (generate, refine, inpaint) = match kind {
        None | Some((ModelKind::ControlNet | ModelKind::Preprocessor, _)) => (false, false, false),
        Some((ModelKind::Instruct, edits)) => (false, edits, false),
        Some((ModelKind::Inpainting, edits)) => (false, false, edits && selected),
        Some((_, edits)) => (true, edits, edits && selected),
    };
    let instruct = matches!(kind, Some((ModelKind::Instruct, _)));
    ui.horizontal_wrapped(|ui| {
        let hint = if selected { "into the selection's bounds" } else { "over the whole canvas" };
        if ui
            .add_enabled(generate, egui::Button::new("Generate"))
            .on_hover_text(format!("Text to image {hint}"))
            .clicked()
        {
            s.ai_submit(EditKind::Generate);
        }
        let refine_label = if instruct { "Edit" } else { "Refine" };
        let refine_hint = if instruct { "Follow the prompt as an instruction" } else { "Image to image at Strength" };
        if ui.add_enabled(refine, egui::Button::new(refine_label)).on_hover_text(refine_hint).clicked() {
            s.ai_submit(EditKind::Refine);
        }
        let r = ui.add_enabled(inpaint, egui::Button::new("Inpaint selection"));
        let r = if selected { r } else { r.on_disabled_hover_text("Select an area (or paint a quick mask) first") };
        if r.clicked() {
            s.ai_submit(EditKind::Inpaint);
        }
    });
    let expand = matches!(kind, Some((ModelKind::Standard | ModelKind::Inpainting | ModelKind::Lcm, true)));
    ui.horizontal(|ui| {
        let p = &mut s.settings.ai;
        let clicked = ui
            .add_enabled(expand, egui::Button::new("Expand"))
            .on_hover_text("Extend the canvas on a side and paint the new area")
            .clicked();
        egui::ComboBox::from_id_salt("ai expand side").selected_text(p.expand_side.clone()).show_ui(ui, |ui| {
            for side in Side::ALL {
                ui.selectable_value(&mut p.expand_side, side.name().to_string(), side.name());
            }
        });
        ui.add(egui::DragValue::new(&mut p.expand_amount).range(8..=4096).suffix(" px"));
        if clicked {
            s.ai_expand();
        }
    });
}

fn stage_text(stage: &Stage) -> String {
    match *stage {
        Stage::Queued => "waiting".into(),
        Stage::Loading { part, index, count } => format!("loading {part} ({}/{count})", index + 1),
        Stage::Step { candidate, candidates, step, total } if candidates > 1 => {
            format!("candidate {candidate}/{candidates}: step {step} of {total}")
        }
        Stage::Step { step, total, .. } => format!("step {step} of {total}"),
        Stage::Finishing { .. } => "decoding".into(),
    }
}

fn job_cards(s: &mut Studio, ui: &mut egui::Ui) {
    if s.ai.cards.is_empty() {
        return;
    }
    ui.separator();
    let mut act = None;
    for card in s.ai.cards.iter().rev() {
        let id = card.id;
        ui.group(|ui| {
            ui.horizontal(|ui| {
                ui.strong(&card.title);
                let running = card.state == JobState::Running;
                let (label, tip) = if running { ("Cancel", "Stop this job") } else { ("Dismiss", "Remove this card") };
                if ui.small_button(label).on_hover_text(tip).clicked() {
                    act = Some(if running { CardAction::Cancel(id) } else { CardAction::Dismiss(id) });
                }
            });
            match &card.state {
                JobState::Running => {
                    let eta = card.eta.map(|d| format!(" · {} s left", d.as_secs_f32().ceil())).unwrap_or_default();
                    ui.add(
                        egui::ProgressBar::new(card.stage.fraction()).text(format!("{}{eta}", stage_text(&card.stage))),
                    );
                }
                JobState::Cancelled => {
                    ui.label("cancelled");
                }
                JobState::Failed { error, retry_on_cpu } => {
                    ui.colored_label(ui.visuals().error_fg_color, error);
                    if *retry_on_cpu && ui.button("Retry on CPU").clicked() {
                        act = Some(CardAction::RetryOnCpu(id));
                    }
                }
                JobState::Done => {}
            }
            ui.horizontal_wrapped(|ui| {
                for (i, c) in card.candidates.iter().enumerate() {
                    let chosen = s.ai.shown == Some((id, i));
                    let img = egui::Image::new(&c.texture).max_size(egui::vec2(64.0, 64.0));
                    let r = ui.add(egui::Button::image(img).selected(chosen));
                    // Screen readers (and the UI tests) know each thumbnail by its number.
                    r.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, format!("candidate {}", i + 1))
                    });
                    let r = r.on_hover_text(format!(
                        "seed {} · {:.1} s{}",
                        c.candidate.seed,
                        c.candidate.seconds,
                        if c.applied { " · applied" } else { "" }
                    ));
                    if r.clicked() {
                        act = Some(CardAction::Show(id, i));
                    }
                }
            });
            if let Some((_, i)) = s.ai.shown.filter(|(j, _)| *j == id)
                && let Some(c) = card.candidates.get(i)
            {
                ui.horizontal(|ui| {
                    ui.label(format!("seed {}", c.candidate.seed));
                    if ui
                        .add_enabled(!c.applied, egui::Button::new("Apply"))
                        .on_hover_text("Add as a new layer")
                        .clicked()
                    {
                        act = Some(CardAction::Apply(id, i));
                    }
                    let seed = c.candidate.seed;
                    if ui.small_button("Use seed").on_hover_text("Fix the seed to this one").clicked() {
                        act = Some(CardAction::UseSeed(seed));
                    }
                });
            }
        });
    }
    match act {
        Some(CardAction::Cancel(id)) => s.ai_cancel(id),
        Some(CardAction::Dismiss(id)) => s.ai_dismiss(id),
        Some(CardAction::RetryOnCpu(id)) => s.ai_retry_on_cpu(id),
        Some(CardAction::Show(id, i)) => s.ai.shown = if s.ai.shown == Some((id, i)) { None } else { Some((id, i)) },
        Some(CardAction::Apply(id, i)) => s.ai_apply(id, i),
        Some(CardAction::UseSeed(seed)) => {
            s.settings.ai.seed = seed;
            s.settings.ai.seed_mode = SeedMode::Fixed;
        }
        None => {}
    }
}

/// What a click on a job card asks for (done after the cards are drawn).
enum CardAction {
    Cancel(JobId),
    Dismiss(JobId),
    RetryOnCpu(JobId),
    Show(JobId, usize),
    Apply(JobId, usize),
    UseSeed(u64),
}
