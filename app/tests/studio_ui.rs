//! The real studio driven headlessly with egui_kittest: painting, layers, shortcuts, dropped files, the
//! new-document dialog, selections, free transform, and (on wgpu, lavapipe in CI) the canvas pixels against
//! the core compositor.

mod common;
use common::Dropped;

use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use oekaki::doc::{BlendMode, Document};
use oekaki::view::View;
use oekaki_app::studio::{Studio, Tool};

const SIZE: egui::Vec2 = egui::vec2(1100.0, 760.0);

fn harness(doc: Document) -> Harness<'static, Studio> {
    let mut h = Harness::builder().with_size(SIZE).build_eframe(move |_| Studio::new(doc));
    h.run_steps(2);
    h
}

/// Screen position of canvas point (x, y).
fn at(h: &Harness<Studio>, x: f32, y: f32) -> egui::Pos2 {
    let s = h.state();
    let (rect, view) = (s.canvas_rect.unwrap(), s.view.unwrap());
    let p = view.to_screen([x, y]);
    egui::pos2(rect.min.x + p[0], rect.min.y + p[1])
}

fn press(pos: egui::Pos2, pressed: bool, modifiers: Modifiers) -> egui::Event {
    egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed, modifiers }
}

/// A drag over several frames, as a hand makes it.
fn drag(h: &mut Harness<Studio>, from: [f32; 2], to: [f32; 2], modifiers: Modifiers) {
    h.event(egui::Event::ModifiersChanged(modifiers));
    let a = at(h, from[0], from[1]);
    h.event(egui::Event::PointerMoved(a));
    h.event(press(a, true, modifiers));
    h.step();
    for i in 1..=12 {
        let t = i as f32 / 12.0;
        let p = at(h, from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t);
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    h.event(press(at(h, to[0], to[1]), false, modifiers));
    h.run_steps(2);
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    h.step();
}

/// A `side`² document whose one layer is `color` inside `rect`.
fn one_layer_with_rect(side: u32, rect: oekaki::geom::Rect, color: [u8; 4]) -> Document {
    let mut doc = Document::with_layer(side, side).unwrap();
    doc.layers[0].surface_mut().unwrap().write_rect(rect, &vec![color; rect.area()]);
    doc
}

fn alpha(s: &Studio, layer: usize, x: i32, y: i32) -> u8 {
    s.editor.doc.layers[layer].surface().unwrap().get(x, y)[3]
}

#[test]
fn a_drag_paints_and_shortcuts_undo_and_redo() {
    let mut h = harness(Document::with_layer(256, 256).unwrap());
    drag(&mut h, [40.0, 128.0], [220.0, 128.0], Modifiers::NONE);
    assert!(alpha(h.state(), 0, 128, 128) > 200, "the stroke painted the middle of the line");
    assert_eq!(alpha(h.state(), 0, 10, 128), 0, "and nothing left of where it began");
    assert_eq!(h.state().editor.history.undo_len(), 1);
    assert!(h.state().cache.surface.as_ref().unwrap().get(128, 128)[3] > 200, "the composite follows");

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(alpha(h.state(), 0, 128, 128), 0, "Ctrl+Z took the stroke back");
    assert_eq!(h.state().cache.surface.as_ref().unwrap().get(128, 128)[3], 0);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert!(alpha(h.state(), 0, 128, 128) > 200, "Ctrl+Shift+Z brought it back");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert!(alpha(h.state(), 0, 128, 128) > 200, "Ctrl+Y redoes too");
}

#[test]
fn strokes_within_one_frame_are_not_lost() {
    let mut h = harness(Document::with_layer(256, 256).unwrap());
    let flick = vec![
        egui::Event::PointerMoved(at(&h, 30.0, 60.0)),
        press(at(&h, 30.0, 60.0), true, Modifiers::NONE),
        egui::Event::PointerMoved(at(&h, 120.0, 60.0)),
        egui::Event::PointerMoved(at(&h, 200.0, 60.0)),
        press(at(&h, 200.0, 60.0), false, Modifiers::NONE),
    ];
    h.input_mut().events.extend(flick);
    h.step();
    assert!(alpha(h.state(), 0, 110, 60) > 200, "the flick painted");
    let click = vec![
        egui::Event::PointerMoved(at(&h, 60.0, 200.0)),
        press(at(&h, 60.0, 200.0), true, Modifiers::NONE),
        press(at(&h, 60.0, 200.0), false, Modifiers::NONE),
    ];
    h.input_mut().events.extend(click);
    h.step();
    assert!(alpha(h.state(), 0, 60, 200) > 200, "the click left a dab");
    assert_eq!(h.state().editor.history.undo_len(), 2);
}

/// The events a Wayland tablet produces, through the same translation the studio's octotablet hook uses: the
/// stroke is thin where the pen pressed lightly and full size where it pressed hard.
#[test]
fn tablet_pen_pressure_shapes_the_stroke() {
    use oekaki_app::studio::pen::{PenEvent, PenTranslator};
    let mut h = harness(Document::with_layer(256, 256).unwrap());
    h.state_mut().tools.brush.diameter = 24.0;
    h.state_mut().tools.brush.pressure_size = Some(oekaki::paint::curve::Curve::linear());
    let mut pen = PenTranslator::default();
    let mut send = |h: &mut Harness<Studio>, e: PenEvent| {
        let mut out = Vec::new();
        pen.translate(e, 1.0, Modifiers::NONE, &mut out);
        h.input_mut().events.extend(out);
    };
    let pose = |h: &Harness<Studio>, x: f32, p: f32| {
        let s = at(h, x, 128.0);
        PenEvent::Pose { pos: [s.x, s.y], pressure: Some(p) }
    };
    let e = pose(&h, 20.0, 0.0);
    send(&mut h, e);
    send(&mut h, PenEvent::Frame);
    h.step();
    send(&mut h, PenEvent::Down);
    let e = pose(&h, 20.0, 0.1);
    send(&mut h, e);
    send(&mut h, PenEvent::Frame);
    h.step();
    for i in 1..=20 {
        let t = i as f32 / 20.0;
        let e = pose(&h, 20.0 + 210.0 * t, 0.1 + 0.9 * t);
        send(&mut h, e);
        send(&mut h, PenEvent::Frame);
        h.step();
    }
    send(&mut h, PenEvent::Up);
    send(&mut h, PenEvent::Out);
    h.run_steps(2);
    let s = h.state();
    let height = |x: i32| (0..256).filter(|&y| alpha(s, 0, x, y) > 128).count();
    let (light, hard) = (height(35), height(220));
    assert!(light > 0 && light <= 8, "a light press paints thin: {light} px");
    assert!(hard >= 18, "a hard press paints the full 24 px: {hard} px");
    assert!(s.tools.pressure_seen && s.tools.pressure > 0.9, "the pressure readout follows the pen");
    assert_eq!(s.editor.history.undo_len(), 1, "one stroke");
}

#[test]
fn wheel_zooms_at_the_cursor_and_view_keys_turn_and_flip() {
    let mut h = harness(Document::with_layer(512, 512).unwrap());
    let (rect, before) = (h.state().canvas_rect.unwrap(), h.state().view.unwrap());
    let cursor = rect.center();
    let local = [cursor.x - rect.min.x, cursor.y - rect.min.y];
    let anchor = before.to_canvas(local);
    for _ in 0..5 {
        h.event(egui::Event::PointerMoved(cursor));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 120.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: Default::default(),
        });
        h.step();
    }
    let after = h.state().view.unwrap();
    assert!(after.zoom > before.zoom, "zoomed in: {} -> {}", before.zoom, after.zoom);
    let still = after.to_canvas(local);
    assert!((still[0] - anchor[0]).abs() < 0.5 && (still[1] - anchor[1]).abs() < 0.5);

    h.key_press(Key::Num6);
    h.key_press(Key::F);
    h.step();
    let v = h.state().view.unwrap();
    assert!(v.flip && v.rotation != 0.0, "{v:?}");
    h.key_press(Key::Num5);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num1);
    h.step();
    let v = h.state().view.unwrap();
    assert_eq!((v.rotation, v.zoom), (0.0, 1.0));
}

#[test]
fn the_layers_panel_adds_reorders_and_hides_layers() {
    let mut h = harness(Studio::blank_document(128, 128, true).unwrap());
    h.get_by_label("New").click();
    h.run_steps(2);
    let names = |s: &Studio| s.editor.doc.layers.iter().map(|l| l.props.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(h.state()), ["Paper", "Layer 1", "Layer 3"]);
    assert_eq!(h.state().active, Some(h.state().editor.doc.layers[2].id), "the new layer is active");

    h.get_by_label("Down").click();
    h.run_steps(2);
    assert_eq!(names(h.state()), ["Paper", "Layer 3", "Layer 1"], "moved below Layer 1");

    h.get_by_label("visible: Layer 1").click();
    h.run_steps(2);
    assert!(!h.state().editor.doc.layers[2].props.visible, "hidden through its eye checkbox");
    assert_eq!(h.state().editor.history.undo_len(), 3, "add, move and hide are three undo steps");

    h.get_by_label("Layer 1").click();
    h.run_steps(1);
    h.get_by_label("Delete").click();
    h.run_steps(2);
    assert_eq!(names(h.state()), ["Paper", "Layer 3"]);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(names(h.state()), ["Paper", "Layer 3", "Layer 1"], "delete undone");
}

/// The layers panel's "::" handle dragged onto another row puts the layer just above it, as one step.
#[test]
fn dragging_a_layer_by_its_handle_reorders_it() {
    let mut h = harness(Studio::blank_document(128, 128, true).unwrap());
    h.get_by_label("New").click();
    h.run_steps(2);
    let names = |s: &Studio| s.editor.doc.layers.iter().map(|l| l.props.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(h.state()), ["Paper", "Layer 1", "Layer 3"]);
    // Rows are listed top first: Layer 3, Layer 1, Paper.
    let from = h.query_all_by_label("::").nth(2).unwrap().rect().center();
    let to = h.get_by_label("visible: Layer 3").rect().center();
    h.event(egui::Event::PointerMoved(from));
    h.event(press(from, true, Modifiers::NONE));
    h.step();
    for i in 1..=10 {
        h.event(egui::Event::PointerMoved(from.lerp(to, i as f32 / 10.0)));
        h.step();
    }
    h.event(press(to, false, Modifiers::NONE));
    h.run_steps(3);
    assert_eq!(names(h.state()), ["Layer 1", "Layer 3", "Paper"], "Paper now sits above Layer 3");
    assert_eq!(h.state().editor.history.undo_len(), 2, "the new layer, then one move");
}

/// A clipboard image (egui's PasteImage, which eframe reads through arboard) becomes a new layer centred in
/// the view, one undo step.
#[test]
fn a_pasted_image_becomes_a_layer_in_the_middle_of_the_view() {
    let mut h = harness(Document::with_layer(200, 200).unwrap());
    let green = egui::Color32::from_rgb(0, 200, 0);
    h.event(egui::Event::PasteImage(Arc::new(egui::ColorImage::filled([20, 10], green))));
    h.run_steps(2);
    let s = h.state();
    assert_eq!(s.editor.doc.layers.len(), 2);
    let top = s.editor.doc.layers.last().unwrap();
    assert_eq!(top.props.name, "Pasted");
    let centre =
        s.view.unwrap().to_canvas([s.canvas_rect.unwrap().width() / 2.0, s.canvas_rect.unwrap().height() / 2.0]);
    let (cx, cy) = (centre[0] as i32, centre[1] as i32);
    assert_eq!(top.surface().unwrap().get(cx, cy), [0, 200, 0, 255], "the pasted pixels are at the view's centre");
    assert_eq!(top.surface().unwrap().get(cx + 15, cy), [0; 4], "and only 20 px wide");
    assert_eq!(s.editor.history.undo_len(), 1);
}

fn wait_for_jobs(h: &mut Harness<Studio>) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        h.step();
        if h.state().background.running() == 0 {
            // A finished job's result is handled on the next frames and may start another (a stale fill).
            h.run_steps(2);
            if h.state().background.running() == 0 {
                return;
            }
        }
        assert!(Instant::now() < end, "background jobs did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dropped_images_open_or_become_layers_at_the_drop_point() {
    let dir = tempfile::tempdir().unwrap();
    let red = dir.path().join("red.png");
    image::RgbaImage::from_pixel(40, 30, image::Rgba([255, 0, 0, 255])).save(&red).unwrap();
    let blue = dir.path().join("blue.png");
    image::RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 255, 255])).save(&blue).unwrap();

    let mut h = harness(Studio::blank_document(256, 256, true).unwrap());
    h.input_mut().dropped_files.push(Arc::new(Dropped(red.clone())));
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!((s.editor.doc.width, s.editor.doc.height), (40, 30), "an untouched blank document is replaced");
    assert_eq!(s.path.as_deref(), Some(red.as_path()));

    // Now the document is someone's work: a second image becomes a layer centred where it was dropped.
    h.event(egui::Event::PointerMoved(at(&h, 20.0, 15.0)));
    h.step();
    h.input_mut().dropped_files.push(Arc::new(Dropped(blue)));
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!(s.editor.doc.layers.len(), 2);
    let top = s.editor.doc.layers[1].surface().unwrap();
    assert_eq!(top.get(20, 15), [0, 0, 255, 255]);
    assert_eq!(top.get(14, 15), [0, 0, 0, 0]);

    // A broken file is one line in the status bar and changes nothing.
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let before = h.state().editor.doc.clone();
    h.input_mut().dropped_files.push(Arc::new(Dropped(bad)));
    wait_for_jobs(&mut h);
    assert!(h.state().status.contains("bad.png"), "{}", h.state().status);
    assert!(h.state().editor.doc == before);
}

#[test]
fn the_new_document_dialog_asks_about_unsaved_changes_and_creates_the_size() {
    let mut h = harness(Document::with_layer(256, 256).unwrap());
    drag(&mut h, [40.0, 40.0], [200.0, 200.0], Modifiers::NONE);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    // Windows fade in over a few frames before they can be clicked.
    h.run_steps(10);
    h.get_by_label("Discard changes").click();
    h.run_steps(10);
    h.get_by_label("1024 × 1024").click();
    h.run_steps(2);
    h.get_by_label("Create").click();
    h.run_steps(2);
    let s = h.state();
    assert_eq!((s.editor.doc.width, s.editor.doc.height), (1024, 1024));
    assert_eq!(s.editor.doc.layers.len(), 2, "paper and an empty layer");
    assert!(s.dialog.is_none() && !s.dirty());
}

#[test]
fn selection_tools_shortcuts_and_clear() {
    let mut doc = Document::with_layer(200, 200).unwrap();
    let full = vec![[0, 0, 0, 255]; 200 * 200];
    let all = doc.bounds();
    doc.layers[0].surface_mut().unwrap().write_rect(all, &full);
    let mut h = harness(doc);
    h.key_press(Key::M);
    h.step();
    assert_eq!(h.state().tools.tool, Tool::SelectRect);
    drag(&mut h, [20.0, 30.0], [120.0, 90.0], Modifiers::NONE);
    let sel = &h.state().editor.doc.selection;
    assert!(sel.active && sel.coverage(60, 60) == 255 && sel.coverage(150, 60) == 0);
    // Shift adds an ellipse.
    h.key_press_modifiers(Modifiers::SHIFT, Key::M);
    h.step();
    assert_eq!(h.state().tools.tool, Tool::SelectEllipse);
    drag(&mut h, [130.0, 130.0], [190.0, 190.0], Modifiers::SHIFT);
    let sel = &h.state().editor.doc.selection;
    assert!(sel.coverage(60, 60) == 255 && sel.coverage(160, 160) == 255 && sel.coverage(132, 132) == 0);
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert_eq!(alpha(h.state(), 0, 60, 60), 0, "Delete cleared the selected pixels");
    assert_eq!(alpha(h.state(), 0, 150, 60), 255, "and nothing else");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::I);
    h.step();
    assert_eq!(h.state().editor.doc.selection.coverage(150, 60), 255, "inverted");
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.step();
    assert!(!h.state().editor.doc.selection.active, "deselected");
}

/// A group's free transform moves every child together (the box fits all their pixels), as one step.
#[test]
fn a_group_transforms_with_all_its_children() {
    let mut doc = Document::new(200, 200).unwrap();
    let square = |doc: &mut Document, name: &str, x: i32, c: [u8; 4]| {
        let mut px = oekaki::raster::Surface::new([0; 4]);
        px.write_rect(oekaki::geom::Rect::new(x, 40, x + 20, 100), &[c; 1200]);
        doc.new_raster_layer(name, px)
    };
    let a = square(&mut doc, "a", 40, [200, 0, 0, 255]);
    let b = square(&mut doc, "b", 100, [0, 0, 200, 255]);
    let group = doc.new_group("pair", vec![a, b]);
    let gid = group.id;
    doc.layers = vec![group];
    let mut h = harness(doc);
    h.state_mut().active = Some(gid);
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    h.step();
    let t = h.state().tools.transform.clone().expect("a group can be transformed");
    assert_eq!(t.bounds, [40.0, 40.0, 120.0, 100.0], "the box fits both children");
    drag(&mut h, [80.0, 70.0], [80.0, 130.0], Modifiers::NONE);
    h.key_press(Key::Enter);
    wait_for_jobs(&mut h);
    let s = h.state();
    let child = |i: usize| match &s.editor.doc.layers[0].content {
        oekaki::doc::LayerContent::Group(c) => c[i].surface().unwrap().clone(),
        _ => panic!("not a group"),
    };
    assert_eq!((child(0).get(50, 150)[3], child(0).get(50, 50)[3]), (255, 0), "a moved down");
    assert_eq!((child(1).get(110, 150)[3], child(1).get(110, 50)[3]), (255, 0), "b moved with it");
    assert_eq!(s.editor.history.labels().0, ["Transform"]);
}

/// Enter before the preview has caught up with the box: the box is resampled in the background and lands as one
/// "Transform" step, exactly the transform built directly; a key pressed meanwhile comes after it (Ctrl+Z then
/// undoes that very step).
#[test]
fn enter_before_the_preview_lands_commits_in_the_background() {
    use oekaki_app::studio::tools::transform_command;
    // Big enough that resampling takes longer than a frame, even in release.
    let original = one_layer_with_rect(1200, oekaki::geom::Rect::new(100, 100, 1100, 1100), [200, 30, 30, 255]);
    for undo_at_once in [false, true] {
        let mut h = harness(original.clone());
        h.key_press_modifiers(Modifiers::COMMAND, Key::T);
        h.step();
        // The box where a quick drag left it; no preview was built for it.
        let mut t = h.state().tools.transform.clone().unwrap();
        t.scale = [1.4, 1.4];
        t.degrees = 25.0;
        h.state_mut().tools.transform = Some(t.clone());
        let expected = {
            let mut d = original.clone();
            transform_command(&d, &t).unwrap().apply(&mut d).unwrap();
            d
        };
        h.key_press(Key::Enter);
        h.step();
        assert!(h.state().tools.transform_preview.committing.is_some(), "no preview was current: it resamples");
        assert!(h.state().dirty(), "a transform on its way counts as unsaved (closing asks first)");
        if undo_at_once {
            h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
            h.step();
            assert!(h.state().editor.doc == original, "the key waited for the transform, then undid it");
        }
        wait_for_jobs(&mut h);
        let s = h.state();
        assert!(s.tools.transform.is_none() && s.tools.transform_preview.committing.is_none());
        if undo_at_once {
            assert!(s.editor.doc == original, "Ctrl+Z undid the transform it waited for");
            assert_eq!(s.editor.history.labels().1, ["Transform"], "and it can be redone");
        } else {
            assert_eq!(s.editor.history.labels().0, ["Transform"]);
            assert!(s.editor.doc == expected, "the background commit is the transform of the box");
        }
    }
}

#[test]
fn free_transform_previews_escape_restores_and_enter_is_one_step() {
    let original = one_layer_with_rect(200, oekaki::geom::Rect::new(50, 50, 100, 100), [0, 0, 255, 255]);
    let mut h = harness(original.clone());
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    h.step();
    assert!(h.state().tools.transform.is_some());
    drag(&mut h, [75.0, 75.0], [95.0, 75.0], Modifiers::NONE);
    wait_for_jobs(&mut h); // the preview is resampled off the UI thread
    assert_eq!(h.state().editor.doc.layers[0].surface().unwrap().get(115, 75)[3], 255, "the preview moved");
    assert_eq!(h.state().editor.history.undo_len(), 0, "nothing recorded yet");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().editor.doc == original, "Esc put the layer back");

    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    h.step();
    drag(&mut h, [75.0, 75.0], [95.0, 75.0], Modifiers::NONE);
    wait_for_jobs(&mut h);
    h.key_press(Key::Enter);
    h.run_steps(2);
    let s = h.state();
    assert_eq!(s.editor.history.undo_len(), 1);
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(115, 75)[3], 255);
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(55, 75)[3], 0);

    // With a selection, only the selected part moves (and the selection with it), as one step.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.state_mut().tools.tool = Tool::SelectRect;
    drag(&mut h, [40.0, 40.0], [75.0, 110.0], Modifiers::NONE); // the left half of the square
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    h.step();
    let t = h.state().tools.transform.clone().unwrap();
    assert_eq!(t.bounds, [40.0, 40.0, 75.0, 110.0], "the box fits the selection");
    drag(&mut h, [60.0, 75.0], [60.0, 135.0], Modifiers::NONE);
    h.key_press(Key::Enter);
    wait_for_jobs(&mut h); // Enter may come before the preview: the transform then lands from the background
    let s = h.state();
    let px = |x, y| s.editor.doc.layers[0].surface().unwrap().get(x, y)[3];
    assert_eq!((px(60, 75), px(60, 135), px(90, 75)), (0, 255, 255), "the left half moved down, the right stayed");
    assert_eq!(s.editor.doc.selection.coverage(60, 135), 255, "the selection went along");
    assert_eq!(s.editor.history.undo_len(), 2, "selection + transform");
    assert_eq!(s.editor.history.undo_label(), Some("Transform"));
}

/// The canvas as the GPU draws it (wgpu; lavapipe on CI) equals the core compositor's output within 1/255,
/// straight, turned 90° and mirrored; zoomed out, the mip levels average instead of aliasing.
#[test]
fn the_gpu_canvas_shows_what_the_compositor_computes() {
    let (w, h_) = (192u32, 160u32);
    let mut doc = Studio::blank_document(w, h_, true).unwrap();
    let ink = doc.layers[1].surface_mut().unwrap();
    for y in 0..h_ as i32 {
        for x in 0..w as i32 {
            let a = ((x * 3 + y) % 256) as u8;
            let c = |v: i32| ((v % 256) as u32 * a as u32 / 255) as u8;
            ink.set(x, y, [c(x * 5), c(y * 7), c(x + y), a]);
        }
    }
    let mut top = oekaki::raster::Surface::new([0; 4]);
    top.write_rect(oekaki::geom::Rect::new(20, 30, 150, 120), &vec![[40, 120, 200, 255]; 130 * 90]);
    let mut layer = doc.new_raster_layer("multiply", top);
    layer.props.blend = BlendMode::Multiply;
    layer.props.opacity = 0.6;
    doc.layers.push(layer);

    let mut h = Harness::builder().with_size(SIZE).wgpu().build_eframe(move |cc| {
        let mut s = Studio::new(doc);
        s.panels_hidden = true;
        s.attach_gpu(cc.wgpu_render_state.as_ref().expect("a wgpu renderer"));
        s
    });
    h.run_steps(2);
    let composite = h.state().cache.surface.clone().unwrap();
    let rect = h.state().canvas_rect.unwrap();
    let origin = [rect.min.x.ceil() + 20.0, rect.min.y.ceil() + 20.0];
    let check = |h: &mut Harness<Studio>, view: View, map: &dyn Fn(i32, i32) -> (i32, i32)| {
        h.state_mut().view = Some(view);
        h.run_steps(1);
        let img = h.render().expect("render");
        let mut worst = 0;
        for y in 0..h_ as i32 {
            for x in 0..w as i32 {
                let (sx, sy) = map(x, y);
                let got = img.get_pixel(sx as u32, sy as u32).0;
                let want = composite.get(x, y);
                for i in 0..3 {
                    worst = worst.max((got[i] as i32 - want[i] as i32).abs());
                }
            }
        }
        worst
    };
    let (ox, oy) = (origin[0] - rect.min.x, origin[1] - rect.min.y);
    let plain = View { offset: [ox, oy], zoom: 1.0, rotation: 0.0, flip: false };
    let (mx, my) = (origin[0] as i32, origin[1] as i32);
    assert!(check(&mut h, plain, &|x, y| (mx + x, my + y)) <= 1, "straight view");
    // Turned 90° clockwise about the origin: canvas (x, y) lands on screen (-y, x); shift it into the widget.
    let turned = View { offset: [ox + h_ as f32, oy], zoom: 1.0, rotation: 90.0, flip: false };
    assert!(check(&mut h, turned, &|x, y| (mx + h_ as i32 - 1 - y, my + x)) <= 1, "turned view");
    let flipped = View { offset: [ox + w as f32, oy], zoom: 1.0, rotation: 0.0, flip: true };
    assert!(check(&mut h, flipped, &|x, y| (mx + w as i32 - 1 - x, my + y)) <= 1, "mirrored view");

    // A one-pixel checkerboard at 25 %: mip levels give an even grey, not a moiré of black and white.
    let mut board = oekaki::raster::Surface::new([0; 4]);
    let px: Vec<[u8; 4]> =
        (0..256 * 256).map(|i| if (i % 256 + i / 256) % 2 == 0 { [0, 0, 0, 255] } else { [255; 4] }).collect();
    board.write_rect(oekaki::geom::Rect::new(0, 0, 256, 256), &px);
    let mut doc = Document::new(256, 256).unwrap();
    let l = doc.new_raster_layer("board", board);
    doc.layers = vec![l];
    h.state_mut().replace_document(doc, None);
    h.state_mut().view = Some(View { offset: [ox, oy], zoom: 0.25, rotation: 0.0, flip: false });
    h.run_steps(2);
    let img = h.render().unwrap();
    for (x, y) in [(10, 10), (30, 40), (50, 20)] {
        let g = img.get_pixel(mx as u32 + x, my as u32 + y).0[0] as i32;
        assert!((g - 128).abs() <= 24, "zoomed-out checkerboard at ({x},{y}) reads {g}");
    }
}

/// A click at canvas point (x, y) with the current tool.
fn click(h: &mut Harness<Studio>, x: f32, y: f32) {
    let p = at(h, x, y);
    h.event(egui::Event::PointerMoved(p));
    h.event(press(p, true, Modifiers::NONE));
    h.step();
    h.event(press(p, false, Modifiers::NONE));
    h.step();
}

#[test]
fn fill_and_magic_wand_work_off_the_ui_thread_and_land_as_one_step() {
    // Two halves: black on the left, transparent on the right.
    let mut doc = Document::with_layer(256, 128).unwrap();
    let left = oekaki::geom::Rect::new(0, 0, 128, 128);
    doc.layers[0].surface_mut().unwrap().write_rect(left, &vec![[0, 0, 0, 255]; 128 * 128]);
    let mut h = harness(doc);
    h.state_mut().tools.tool = Tool::Wand;
    click(&mut h, 40.0, 40.0);
    wait_for_jobs(&mut h);
    let sel = &h.state().editor.doc.selection;
    assert!(sel.active && sel.coverage(100, 100) == 255 && sel.coverage(200, 40) == 0, "the wand took the left half");

    h.state_mut().tools.tool = Tool::Fill;
    h.state_mut().tools.fg = oekaki::color::Color::rgb(1.0, 0.0, 0.0);
    h.state_mut().editor.doc.selection = oekaki::doc::Selection::none();
    let before = h.state().editor.doc.clone();
    let undo_len = h.state().editor.history.undo_len();
    click(&mut h, 200.0, 40.0);
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(200, 40), [255, 0, 0, 255], "filled");
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(40, 40), [0, 0, 0, 255], "only the clicked area");
    assert_eq!(s.editor.history.undo_len(), undo_len + 1, "one undo step");
    assert_eq!(s.editor.history.undo_label(), Some("Fill"), "named as the artist made it");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(h.state().editor.doc == before, "undo restores the layer exactly");

    // The document changes while a fill is being worked out: it is worked out again on the new document.
    click(&mut h, 200.0, 40.0);
    {
        let s = h.state_mut();
        let l = s.editor.doc.new_raster_layer("meanwhile", oekaki::raster::Surface::new([0; 4]));
        s.apply(oekaki::history::Command::AddLayer { parent: None, index: 1, layer: Box::new(l) });
    }
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!(s.editor.doc.layers.len(), 2, "the layer added meanwhile is kept");
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(200, 40), [255, 0, 0, 255], "and the fill landed");
}

#[test]
fn ctrl_c_copies_the_active_layer_and_copy_merged_the_picture() {
    // A red bottom layer under a half-covering blue top layer (the active one).
    let mut doc = Document::with_layer(64, 64).unwrap();
    let all = doc.bounds();
    doc.layers[0].surface_mut().unwrap().write_rect(all, &vec![[255, 0, 0, 255]; 64 * 64]);
    let mut top = oekaki::raster::Surface::new([0; 4]);
    top.write_rect(oekaki::geom::Rect::new(0, 0, 32, 64), &vec![[0, 0, 255, 255]; 32 * 64]);
    let top = doc.new_raster_layer("top", top);
    doc.layers.push(top);
    let mut h = harness(doc);
    h.event(egui::Event::Copy);
    h.run_steps(1);
    assert_eq!(h.state().status, "copied 64×64");
    let layer = h.state().clipboard_image(true).unwrap();
    assert_eq!(layer.size, [64, 64]);
    assert_eq!(layer.pixels[40], egui::Color32::TRANSPARENT, "the layer alone: nothing right of its half");
    assert_eq!(layer.pixels[0], egui::Color32::from_rgb(0, 0, 255));
    let merged = h.state().clipboard_image(false).unwrap();
    assert_eq!(merged.pixels[40], egui::Color32::from_rgb(255, 0, 0), "the picture: red shows there");
}

fn wait_until(h: &mut Harness<Studio>, what: &str, done: impl Fn(&Studio) -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < end, "timed out waiting for {what} ({})", h.state().smart.info);
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

/// Smart select with the tiny SAM (tests/fixtures/sam): S encodes the picture in the background, a click
/// proposes the decoder's mask (the same as calling the model directly), C cycles the candidates, Esc drops
/// the points, Enter makes the mask the selection as one undoable step.
#[test]
fn smart_select_proposes_sam_masks_and_enter_selects_one_as_one_step() {
    use oekaki::ai::sam::{Prompt, SamModel};
    use oekaki::ai::session::Device;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("tests/fixtures/sam");
    let bytes = std::fs::read(root.join("reference/image.png")).unwrap();
    let doc = oekaki::io::raster_file::open_image(&bytes, "picture", oekaki::io::Limits::default()).unwrap();
    let mut h = harness(doc);
    h.state_mut().ai_add_folder(root.join("tiny-sam"));
    wait_until(&mut h, "the model scan", |s| s.smart_model().is_some());
    h.key_press(Key::S);
    h.run_steps(2);
    assert_eq!(h.state().tools.tool, Tool::SmartSelect);
    wait_until(&mut h, "the picture to be encoded", |s| s.smart.area.is_some());
    assert!(h.state().smart.info.starts_with("Ready (CPU"), "{}", h.state().smart.info);

    click(&mut h, 132.0, 101.0);
    wait_until(&mut h, "a proposal", |s| s.smart.proposal.is_some());
    let (points, candidate) = (h.state().smart.points.clone(), h.state().smart.candidate);
    assert_eq!(points.len(), 1);
    let mut model = SamModel::load(&root.join("tiny-sam"), Device::Cpu).unwrap();
    let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let emb = model.encode(&oekaki::ai::pipeline::Pixels { width: 331, height: 229, data: img.into_raw() }).unwrap();
    let direct = model.decode(&emb, &Prompt { points: points.clone(), bbox: None }, None).unwrap();
    assert_eq!(candidate, direct.best, "the demo's pick is shown first");
    let shown = h.state().smart.proposal.clone().unwrap().0;
    assert_eq!(shown.mask(candidate), direct.mask(direct.best));

    h.key_press(Key::C);
    h.run_steps(2);
    assert_eq!(h.state().smart.candidate, (candidate + 1) % 4, "C shows the next candidate");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().smart.points.is_empty() && h.state().smart.proposal.is_none());
    assert!(!h.state().editor.doc.selection.active, "Esc selects nothing");

    // Choose the first multimask candidate (non-trivial for this model) and select it.
    click(&mut h, 132.0, 101.0);
    wait_until(&mut h, "a proposal", |s| s.smart.proposal.is_some());
    h.state_mut().smart.candidate = 0;
    h.key_press(Key::Enter);
    wait_for_jobs(&mut h); // the full-resolution mask is worked out in the background
    let mask = direct.mask(0);
    let s = h.state();
    assert!(s.editor.doc.selection.active && s.smart.proposal.is_none());
    assert!(!s.smart.encoding, "a selection change leaves the picture's embedding as it is");
    let differ = (0..229)
        .flat_map(|y| (0..331).map(move |x| (x, y)))
        .filter(|&(x, y)| s.editor.doc.selection.coverage(x, y) != mask[(y * 331 + x) as usize])
        .count();
    assert_eq!(differ, 0, "the selection is the proposed mask");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(!h.state().editor.doc.selection.active, "one undo step takes the selection back");

    // On a turned view the click still lands on the same picture point; Alt+Enter subtracts the mask.
    h.key_press(Key::Num4);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(2);
    click(&mut h, 132.0, 101.0);
    wait_until(&mut h, "a proposal", |s| s.smart.proposal.is_some());
    let p = h.state().smart.points[0];
    assert!((p.x - 132.0).abs() < 1.0 && (p.y - 101.0).abs() < 1.0, "rotated click at {},{}", p.x, p.y);
    h.state_mut().smart.candidate = 0;
    let mask = h.state().smart.proposal.clone().unwrap().0.mask(0);
    h.key_press_modifiers(Modifiers::ALT, Key::Enter);
    wait_for_jobs(&mut h);
    let s = h.state();
    let differ = (0..229)
        .flat_map(|y| (0..331).map(move |x| (x, y)))
        .filter(|&(x, y)| s.editor.doc.selection.coverage(x, y) != 255 - mask[(y * 331 + x) as usize])
        .count();
    assert_eq!(differ, 0, "all, minus the mask");
    assert!(!h.state().smart.encoding, "selection changes leave the embedding alone");

    // New pixels (a layer added) are looked at again.
    {
        let s = h.state_mut();
        let l = s.editor.doc.new_raster_layer("more", oekaki::raster::Surface::new([0; 4]));
        s.apply(oekaki::history::Command::AddLayer { parent: None, index: 1, layer: Box::new(l) });
    }
    h.step();
    assert!(h.state().smart.encoding, "a picture change is encoded again");
    wait_until(&mut h, "the new encoding", |s| s.smart.area.is_some());
}

/// A canvas wider than Smart select encodes whole: at 100 % only the part in view is encoded, clicks inside it
/// work, and the selection stays within it.
#[test]
fn smart_select_on_a_big_canvas_encodes_the_part_in_view() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("tests/fixtures/sam");
    let mut doc = Document::with_layer(6000, 300).unwrap();
    let stripe = oekaki::geom::Rect::new(2900, 100, 3100, 200);
    doc.layers[0].surface_mut().unwrap().write_rect(stripe, &vec![[200, 40, 40, 255]; 200 * 100]);
    let mut h = harness(doc);
    h.state_mut().ai_add_folder(root.join("tiny-sam"));
    wait_until(&mut h, "the model scan", |s| s.smart_model().is_some());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num1); // 100 %, centred
    h.key_press(Key::S);
    wait_until(&mut h, "the view to be encoded", |s| s.smart.area.is_some());
    let area = h.state().smart.area.unwrap();
    assert!(area.rect.width() < 2000 && area.rect.height() == 300, "only the part in view: {:?}", area.rect);
    assert!(area.rect.contains(3000, 150), "the view's centre is covered: {:?}", area.rect);
    assert!(h.state().smart.info.contains(&format!("covers {}×300 at {},0", area.rect.width(), area.rect.x0)));

    click(&mut h, 3000.0, 150.0);
    wait_until(&mut h, "a proposal", |s| s.smart.proposal.is_some());
    h.state_mut().smart.candidate = 0;
    h.key_press(Key::Enter);
    wait_for_jobs(&mut h);
    let sel = &h.state().editor.doc.selection;
    assert!(sel.active);
    let r = area.rect;
    let inside = (0..300).flat_map(|y| (r.x0..r.x1).map(move |x| (x, y))).filter(|&(x, y)| sel.coverage(x, y) > 0);
    assert!(inside.count() > 100, "something inside the area is selected");
    for y in 0..300 {
        for x in [0, r.x0 - 1, r.x1, 5999] {
            assert_eq!(sel.coverage(x, y), 0, "({x}, {y}) is outside the encoded area {r:?}");
        }
    }
}

/// The artist's own brush presets: typed name + "Save preset" keeps the current brush, it survives a restart
/// through the settings file, and its context menu deletes it. Built-in names are not taken over.
#[test]
fn own_brush_presets_are_saved_kept_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::builder().with_size(SIZE).build_eframe({
        let dir = dir.path().to_path_buf();
        move |_| Studio::new(Document::with_layer(64, 64).unwrap()).with_settings(Default::default(), Some(dir))
    });
    h.run_steps(2);
    h.state_mut().tools.brush.diameter = 37.0;
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "New preset").focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "New preset").type_text("Inking pen");
    h.run_steps(2);
    h.get_by_label("Save preset").click();
    h.run_steps(2);
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!(s.tools.brush.name, "Inking pen");
    assert_eq!(s.settings.custom_brushes.len(), 1);
    assert_eq!(s.settings.custom_brushes[0].diameter, 37.0);

    // A restart: the preset comes back from the settings file, after the built-in ones.
    let (settings, warning) = oekaki_app::studio::settings::Settings::load(dir.path());
    assert!(warning.is_none());
    let restarted = Studio::new(Document::with_layer(64, 64).unwrap()).with_settings(settings, None);
    let names: Vec<&str> = restarted.tools.presets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"Inking pen"), "{names:?}");
    assert_eq!(restarted.tools.presets.iter().find(|b| b.name == "Inking pen").unwrap().diameter, 37.0);

    h.state_mut().save_brush_preset("G-Pen");
    assert!(h.state().status.contains("built-in"), "{}", h.state().status);
    assert_eq!(h.state().tools.presets.iter().filter(|b| b.name == "G-Pen").count(), 1);

    h.get_by_label("Inking pen").click_secondary();
    h.run_steps(2);
    h.get_by_label("Delete preset").click();
    h.run_steps(2);
    wait_for_jobs(&mut h);
    assert!(h.state().settings.custom_brushes.is_empty());
    assert!(h.state().tools.presets.iter().all(|b| b.name != "Inking pen"));
    let (settings, _) = oekaki_app::studio::settings::Settings::load(dir.path());
    assert!(settings.custom_brushes.is_empty(), "the deletion is saved too");
}

/// After a crash the studio offers the autosaved copies: Recover opens one (and drops its copy), Discard all
/// drops the rest; files opened on the command line skip the question.
#[test]
fn crash_recovery_offers_the_autosaved_copies() {
    use oekaki::io::autosave::RecoveryStore;
    let dir = tempfile::tempdir().unwrap();
    let store = RecoveryStore::at(dir.path());
    let mut lost = Document::with_layer(80, 60).unwrap();
    lost.layers[0].surface_mut().unwrap().write_rect(oekaki::geom::Rect::new(10, 10, 30, 30), &[[0, 90, 0, 255]; 400]);
    store.save("crashed-1", &lost, None).unwrap();
    store.save("crashed-2", &Document::with_layer(40, 40).unwrap(), None).unwrap();

    let skipped = Studio::new(Document::with_layer(8, 8).unwrap()).with_recovery(store.clone(), true);
    assert!(skipped.dialog.is_none(), "files were opened: no question");

    let mut h = Harness::builder().with_size(SIZE).build_eframe({
        let store = store.clone();
        move |_| Studio::new(Document::with_layer(8, 8).unwrap()).with_recovery(store, false)
    });
    h.run_steps(3);
    h.get_by_label_contains("did not close properly");
    h.get_by_label_contains("80×60");
    let row = store.list().iter().position(|r| r.width == 80).unwrap();
    h.query_all_by_label("Recover").nth(row).unwrap().click();
    h.run_steps(2);
    wait_for_jobs(&mut h);
    let s = h.state();
    assert_eq!((s.editor.doc.width, s.editor.doc.height), (80, 60));
    assert_eq!(s.editor.doc.layers[0].surface().unwrap().get(20, 20), [0, 90, 0, 255], "the lost strokes are back");
    assert!(s.dialog.is_none());
    let left: Vec<String> = store.list().into_iter().map(|r| r.id).collect();
    assert!(!left.contains(&"crashed-1".to_string()), "the recovered copy is dropped: {left:?}");
    assert!(left.contains(&"crashed-2".to_string()), "the other one is still offered next time");
}
