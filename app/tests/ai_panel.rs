//! The AI panel driven with egui_kittest on the tiny fixture models: inpaint a rectangular selection, watch the
//! progress reach the last step with previews over the canvas, apply the candidate and undo it; cancel a job
//! midway and find the document unchanged; a model folder dropped on the window is added; Ctrl+Up weights words.

mod common;
use common::Dropped;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use oekaki::color::premultiply;
use oekaki::doc::selection::{Combine, Shape};
use oekaki::doc::{Document, Selection};
use oekaki::history::Command;
use oekaki::jobs::Stage;
use oekaki::raster::Surface;
use oekaki_app::studio::Studio;
use oekaki_app::studio::ai::params::SeedMode;
use oekaki_app::studio::ai::{JobState, RuntimeStatus};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sd")
}

fn picture() -> Document {
    let mut doc = Document::new(192, 128).unwrap();
    let mut base = Surface::new([0; 4]);
    let px: Vec<_> = (0..192 * 128).map(|i| premultiply([(i % 192) as u8, (i / 192) as u8, 90, 255])).collect();
    base.write_rect(doc.bounds(), &px);
    let base = doc.new_raster_layer("base", base);
    doc.layers = vec![base];
    doc
}

/// Layers (id, name) and the flattened picture.
fn fingerprint(doc: &Document) -> (Vec<(u64, String)>, Vec<[u8; 4]>) {
    (doc.layers.iter().map(|l| (l.id, l.props.name.clone())).collect(), oekaki::doc::composite::flatten(doc))
}

/// A studio whose model folder is the fixtures, with `model` chosen and `steps` steps.
fn harness(model: &str, steps: usize) -> Harness<'static, Studio> {
    let model = fixtures().join(model);
    let mut h = Harness::builder().with_size(egui::vec2(1280.0, 900.0)).build_eframe(move |_| {
        let mut s = Studio::new(picture());
        let ai = &mut s.settings.ai;
        ai.model_folders = vec![fixtures()];
        ai.model = Some(model);
        ai.steps = steps;
        ai.seed = 42;
        ai.seed_mode = SeedMode::Fixed;
        ai.device = "cpu".into();
        ai.prompt = "a red scarf".into();
        s
    });
    wait(&mut h, "the runtime and the model list", |s| {
        matches!(s.ai.runtime(), RuntimeStatus::Ready(_)) && !s.ai.models.is_empty() && !s.ai.scanning
    });
    h
}

fn wait(h: &mut Harness<Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", h.state().status);
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

fn select_rect(h: &mut Harness<Studio>) {
    let s = h.state_mut();
    let canvas = s.editor.doc.bounds();
    let sel = Selection::none().with_shape(&Shape::Rect { x: 60, y: 40, w: 50, h: 40 }, Combine::Replace, canvas);
    s.apply(Command::SetSelection(Box::new(sel)));
    h.run_steps(2);
}

#[test]
fn inpainting_a_selection_shows_progress_then_applies_and_undoes() {
    let mut h = harness("tiny-sd15-inpaint", 6);
    select_rect(&mut h);
    let before = fingerprint(&h.state().editor.doc);
    let revision = h.state().editor.revision();
    h.get_by_label("Inpaint selection").click();
    h.run_steps(2);
    assert_eq!(h.state().ai.cards.len(), 1);
    let mut last_step = 0;
    let mut saw_preview = false;
    let deadline = Instant::now() + Duration::from_secs(180);
    while h.state().ai.cards[0].state == JobState::Running {
        assert!(Instant::now() < deadline, "the job did not finish");
        let card = &h.state().ai.cards[0];
        if let Stage::Step { step, total, .. } = card.stage {
            assert_eq!(total, 6);
            last_step = last_step.max(step);
        }
        saw_preview |= card.preview.is_some();
        h.step();
        std::thread::sleep(Duration::from_millis(2));
    }
    h.run_steps(2);
    let s = h.state();
    assert_eq!(s.ai.cards[0].state, JobState::Done, "{}", s.status);
    assert_eq!(last_step, 6, "the progress reached the last step");
    assert!(saw_preview, "a preview was shown over the canvas while it ran");
    assert_eq!(s.ai.cards[0].candidates.len(), 1);
    assert_eq!(s.ai.shown, Some((s.ai.cards[0].id, 0)), "the result is shown over the canvas");
    assert_eq!(s.ai.ran_on.as_deref(), Some("CPU"));
    // Shown is not applied: the document is as it was.
    assert_eq!(s.editor.revision(), revision);
    assert_eq!(fingerprint(&s.editor.doc), before);

    h.get_by_label("Apply").click();
    h.run_steps(2);
    let s = h.state();
    assert_eq!(s.editor.doc.layers.len(), 2);
    let layer = s.editor.doc.layers.last().unwrap();
    assert!(layer.props.name.starts_with("Inpainted: a red scarf"), "{}", layer.props.name);
    assert!(layer.props.params.as_deref().is_some_and(|p| p.contains("Seed: 42")));
    let px = layer.surface().unwrap();
    assert_eq!(px.get(5, 5)[3], 0, "transparent far from the selection");
    assert_eq!(px.get(85, 60)[3], 255, "opaque inside it");
    assert_eq!(s.active, Some(layer.id));

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(fingerprint(&h.state().editor.doc), before);
}

#[test]
fn cancelling_midway_leaves_the_document_unchanged() {
    let mut h = harness("tiny-sd15", 500);
    select_rect(&mut h);
    let before = fingerprint(&h.state().editor.doc);
    h.get_by_label("Refine").click();
    h.run_steps(2);
    wait(&mut h, "the first step", |s| matches!(s.ai.cards[0].stage, Stage::Step { .. }));
    h.get_by_label("Cancel").click();
    wait(&mut h, "the job to stop", |s| s.ai.cards[0].state != JobState::Running);
    let s = h.state();
    assert_eq!(s.ai.cards[0].state, JobState::Cancelled);
    assert!(s.ai.cards[0].candidates.is_empty());
    match s.ai.cards[0].stage {
        Stage::Step { step, total, .. } => assert!(step < total / 5, "stopped at step {step} of {total}"),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(fingerprint(&s.editor.doc), before);
    assert_eq!(s.editor.revision(), 1, "only the selection was recorded");
    h.get_by_label("Dismiss").click();
    h.run_steps(2);
    assert!(h.state().ai.cards.is_empty());
}

#[test]
fn a_dropped_model_folder_is_added_and_chosen() {
    let mut h = harness("tiny-sd15", 2);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("my-lcm");
    copy_dir(&fixtures().join("tiny-sd15-lcm"), &copy);
    h.state_mut().settings.ai.model_folders.clear();
    h.input_mut().dropped_files.push(Arc::new(Dropped(copy.clone())));
    wait(&mut h, "the scan", |s| !s.ai.scanning && s.ai.models.iter().any(|m| m.dir == copy));
    let s = h.state();
    assert_eq!(s.settings.ai.model.as_ref(), Some(&copy));
    assert!(s.status.contains("my-lcm (SD1.x LCM)"), "{}", s.status);
    assert_eq!(s.settings.ai.model_folders, vec![copy.clone()]);
    // The LCM preset sets the sampler and the few steps LCM needs.
    h.get_by_label("Use preset: LCM").click();
    h.run_steps(2);
    assert_eq!((h.state().settings.ai.sampler.as_str(), h.state().settings.ai.steps), ("lcm", 4));

    // A folder with a broken model is reported by name, with what is missing.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("unet")).unwrap();
    h.input_mut().dropped_files.push(Arc::new(Dropped(broken.clone())));
    wait(&mut h, "the second scan", |s| !s.ai.scanning && s.ai.models.iter().any(|m| m.dir == broken));
    assert!(h.state().status.contains("broken: missing model_index.json"), "{}", h.state().status);
}

#[test]
fn an_sd2_v_model_says_so_and_is_not_offered_sd15_settings() {
    let h = harness("tiny-sd2-v", 2);
    h.get_by_label_contains("SD2.x · v-prediction · native 64 px");
    assert!(h.query_by_label_contains("Use preset").is_none(), "no built-in preset fits, so none is offered");
}

#[test]
fn ctrl_up_weights_the_word_under_the_cursor() {
    let mut h = harness("tiny-sd15", 2);
    h.state_mut().settings.ai.prompt = "cat".into();
    h.run_steps(1);
    h.get_by_label("Prompt").click();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::ArrowUp);
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::ArrowUp);
    h.run_steps(1);
    assert_eq!(h.state().settings.ai.prompt, "(cat:1.2)");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn expand_grows_the_canvas_with_the_result_in_one_undo_step() {
    let mut h = harness("tiny-sd15-inpaint", 2);
    h.state_mut().settings.ai.expand_side = "bottom".into();
    h.state_mut().settings.ai.expand_amount = 64;
    let before = fingerprint(&h.state().editor.doc);
    h.get_by_label("Expand").click();
    h.run_steps(2);
    wait(&mut h, "the expansion", |s| s.ai.cards[0].state != JobState::Running);
    let s = h.state();
    assert_eq!(s.ai.cards[0].state, JobState::Done, "{}", s.status);
    let shown = s.ai.cards[0].candidates[0].candidate.rect;
    assert!(shown.y1 > 128, "the result is shown below the canvas: {shown:?}");
    assert_eq!((s.editor.doc.width, s.editor.doc.height), (192, 128), "nothing changes before Apply");
    h.get_by_label("Apply").click();
    h.run_steps(3);
    let s = h.state();
    assert_eq!((s.editor.doc.width, s.editor.doc.height), (192, 192));
    assert_eq!(s.editor.doc.layers.len(), 2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(fingerprint(&h.state().editor.doc), before);
    assert_eq!(h.state().editor.doc.height, 128);
}

#[test]
fn without_onnx_runtime_the_panel_explains_the_fix_and_stays_off() {
    let mut h = Harness::builder().with_size(egui::vec2(1280.0, 900.0)).build_eframe(|_| {
        let mut s = Studio::new(picture());
        s.ai.runtime = Some(RuntimeStatus::Missing("ONNX Runtime: no library found".into()));
        // A usable model is chosen: only the missing runtime keeps Generate off.
        s.ai.models = oekaki::ai::library::scan(&[fixtures()]);
        s.settings.ai.model = Some(fixtures().join("tiny-sd15"));
        s
    });
    h.run_steps(3);
    h.get_by_label_contains("AI is off: ONNX Runtime: no library found");
    h.get_by_label_contains("ORT_DYLIB_PATH");
    h.get_by_label("Generate").click();
    h.run_steps(2);
    assert!(h.state().ai.cards.is_empty(), "a disabled panel queues nothing");
}

#[test]
fn a_provider_failure_offers_to_retry_on_the_cpu() {
    let mut h = harness("tiny-sd15-inpaint", 2);
    // This machine's ONNX Runtime has no CUDA provider: asking for it fails like a GPU failure would.
    h.state_mut().settings.ai.device = "cuda".into();
    select_rect(&mut h);
    h.get_by_label("Inpaint selection").click();
    h.run_steps(2);
    wait(&mut h, "the failure", |s| s.ai.cards[0].state != JobState::Running);
    match &h.state().ai.cards[0].state {
        JobState::Failed { error, retry_on_cpu: true } => assert!(error.contains("CUDA"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(h.state().status.contains("AI job failed"), "{}", h.state().status);
    h.get_by_label("Retry on CPU").click();
    h.run_steps(2);
    wait(&mut h, "the retry", |s| s.ai.cards.iter().all(|c| c.state != JobState::Running));
    let s = h.state();
    assert_eq!(s.ai.cards.len(), 1);
    assert_eq!(s.ai.cards[0].state, JobState::Done);
    assert!(s.ai.cards[0].title.ends_with("(CPU)"));
    assert_eq!(s.ai.cards[0].candidates.len(), 1);
}

#[test]
fn a_sketch_layer_guides_a_generation_through_a_controlnet() {
    let mut h = harness("tiny-sd15", 3);
    // A sketch layer: dark lines on transparent, above the picture.
    let sketch_id = {
        let s = h.state_mut();
        let mut px = Surface::new([0; 4]);
        for x in 20..170 {
            px.write_rect(oekaki::geom::Rect::new(x, 60, x + 1, 63), &[[0, 0, 0, 255]; 3]);
        }
        let layer = s.editor.doc.new_raster_layer("Sketch", px);
        let id = layer.id;
        s.apply(Command::AddLayer { parent: None, index: 1, layer: Box::new(layer) });
        id
    };
    let run = |h: &mut Harness<Studio>| {
        let n = h.state().ai.cards.len();
        h.get_by_label("Generate").click();
        h.run_steps(2);
        wait(h, "the generation", |s| s.ai.cards.len() == n + 1 && s.ai.cards[n].state != JobState::Running);
        let card = &h.state().ai.cards[n];
        assert_eq!(card.state, JobState::Done, "{}", h.state().status);
        card.candidates[0].candidate.clone()
    };
    let plain = run(&mut h);
    {
        let s = h.state_mut();
        s.settings.ai.guide = true;
        s.settings.ai.guide_model = Some(fixtures().join("tiny-controlnet"));
        s.settings.ai.guide_preprocess = "invert".into();
        s.ai.guide_layer = Some(sketch_id);
    }
    h.get_by_label("Guide (ControlNet)").click();
    h.run_steps(2);
    h.get_by_label("Show control image").click();
    wait(&mut h, "the control image", |s| s.ai.guide_preview.is_some());
    let guided = run(&mut h);
    let pixels = |c: &oekaki::jobs::Candidate| match &c.command {
        Command::AddLayer { layer, .. } => layer.surface().unwrap().read_rect(c.layer_rect),
        _ => panic!("not a layer"),
    };
    assert_eq!(plain.seed, guided.seed, "same seed, so only the guide differs");
    let differ = pixels(&plain).iter().zip(pixels(&guided)).filter(|(a, b)| a != &b).count();
    assert!(differ > 1000, "the sketch changed the result ({differ} pixels differ)");
    let id = h.state().ai.cards[1].id;
    h.state_mut().ai_apply(id, 0);
    h.run_steps(2);
    let top = h.state().editor.doc.layers.last().unwrap();
    assert!(top.props.params.as_deref().is_some_and(|p| p.contains("ControlNet 0: \"Model: tiny-controlnet")));
}

/// "Show control image" runs a neural preprocessor found among the model folders (its folder is looked up as for
/// a job), and the control image is rebuilt when the picture changes.
#[test]
fn the_control_image_preview_runs_neural_preprocessors_and_follows_the_picture() {
    let mut h = harness("tiny-sd15", 3);
    {
        let s = h.state_mut();
        s.settings.ai.model_folders.push(fixtures().join("../lineart"));
        s.ai_rescan();
        s.settings.ai.guide = true;
        s.settings.ai.guide_model = None;
        s.settings.ai.guide_preprocess = "lineart".into();
    }
    wait(&mut h, "the lineart preprocessor in the model list", |s| {
        !s.ai.scanning && s.ai.models.iter().any(|m| m.dir.ends_with("tiny-lineart") && m.status.is_ok())
    });
    h.get_by_label("Guide (ControlNet)").click();
    h.run_steps(2);
    // Without a ControlNet the preview says so and switches off; once one is chosen it works.
    h.get_by_label("Show control image").click();
    h.run_steps(2);
    assert!(!h.state().ai.guide_preview_on && h.state().status.contains("choose a ControlNet"), "{}", h.state().status);
    h.state_mut().settings.ai.guide_model = Some(fixtures().join("tiny-controlnet"));
    h.get_by_label("Show control image").click();
    h.run_steps(2);
    wait(&mut h, "the control image", |s| s.ai.guide_preview.is_some() || !s.ai.guide_preview_on);
    assert!(h.state().ai.guide_preview_on, "the preview failed: {}", h.state().status);
    let first = h.state().ai.guide_preview.as_ref().unwrap().id();
    {
        let s = h.state_mut();
        let mut px = Surface::new([0; 4]);
        px.write_rect(oekaki::geom::Rect::new(10, 10, 120, 14), &[[0, 0, 0, 255]; 440]);
        let layer = s.editor.doc.new_raster_layer("Line", px);
        s.apply(Command::AddLayer { parent: None, index: 1, layer: Box::new(layer) });
    }
    wait(&mut h, "the rebuilt control image", |s| s.ai.guide_preview.as_ref().is_some_and(|t| t.id() != first));
}

/// A quick mask painted with the brush is the area to inpaint; a batch of two shows both candidates before
/// anything changes, the second is applied; "auto" on a machine without a GPU provider says it ran on the CPU.
#[test]
fn a_painted_quick_mask_inpaints_a_batch_and_the_picked_candidate_is_applied() {
    let mut h = harness("tiny-sd15-inpaint", 2);
    h.state_mut().settings.ai.batch = 2;
    h.state_mut().settings.ai.device = "auto".into();
    h.state_mut().tools.brush.diameter = 24.0;
    h.key_press(Key::Q);
    h.run_steps(2);
    assert!(h.state().tools.quick_mask, "Q turns the quick mask on");
    let screen = |h: &Harness<Studio>, x: f32, y: f32| {
        let s = h.state();
        let (rect, view) = (s.canvas_rect.unwrap(), s.view.unwrap());
        let p = view.to_screen([x, y]);
        egui::pos2(rect.min.x + p[0], rect.min.y + p[1])
    };
    let press = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    };
    let start = screen(&h, 60.0, 60.0);
    h.event(egui::Event::PointerMoved(start));
    h.event(press(start, true));
    h.step();
    for i in 1..=10 {
        let p = screen(&h, 60.0 + 6.0 * i as f32, 60.0);
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    let end = screen(&h, 120.0, 60.0);
    h.event(press(end, false));
    h.run_steps(2);
    h.key_press(Key::Q);
    h.run_steps(2);
    let sel = &h.state().editor.doc.selection;
    assert!(
        sel.active && sel.coverage(90, 60) == 255 && sel.coverage(90, 100) == 0,
        "the painted stroke is the selection"
    );
    let before = fingerprint(&h.state().editor.doc);

    h.get_by_label("Inpaint selection").click();
    h.run_steps(2);
    wait(&mut h, "the batch", |s| s.ai.cards.first().is_some_and(|c| c.state != JobState::Running));
    h.run_steps(2);
    let card = &h.state().ai.cards[0];
    assert_eq!(card.state, JobState::Done, "{}", h.state().status);
    assert_eq!(card.candidates.iter().map(|c| c.candidate.seed).collect::<Vec<_>>(), [42, 43]);
    assert_eq!(fingerprint(&h.state().editor.doc), before, "candidates are only shown");
    assert!(
        h.query_by_label_contains("no GPU provider was available").is_some(),
        "auto fell back to the CPU and says so (ran on {:?})",
        h.state().ai.ran_on
    );
    // and why: the tests' CPU runtime has no GPU provider at all
    assert!(
        h.query_by_label_contains("has no GPU provider").is_some(),
        "the reason is shown ({:?})",
        h.state().ai.gpu_fallback
    );

    h.get_by_label("candidate 2").click();
    h.run_steps(2);
    h.get_by_label("Apply").click();
    h.run_steps(2);
    let s = h.state();
    assert_eq!(s.editor.doc.layers.len(), 2);
    let layer = s.editor.doc.layers.last().unwrap();
    assert!(layer.props.params.as_deref().is_some_and(|p| p.contains("Seed: 43")), "the second candidate");
    let px = layer.surface().unwrap();
    assert_eq!(px.get(90, 60)[3], 255, "painted where the quick mask was");
    assert_eq!(px.get(90, 110)[3], 0, "transparent far from it");
}
