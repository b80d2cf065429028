//! Frame time while painting: a 4096² document with 10 layers, a long brush stroke fed one pointer move per
//! frame through the real studio (egui_kittest, wgpu device attached so tiles are uploaded), timed by the
//! studio's own frame-time readout. Run: `cargo run --release -p oekaki-app --example paint_frame_time`.
//! With `-- --with-ai-job`, an inpainting job (the tiny fixture model, many steps) runs in the background the
//! whole time, to show the UI keeps its pace while the engine works.

use eframe::egui;
use egui_kittest::Harness;
use oekaki::doc::{BlendMode, Document};
use oekaki::geom::Rect;
use oekaki_app::studio::Studio;

fn document() -> Document {
    let side = 4096;
    let mut doc = Studio::blank_document(side, side, true).unwrap();
    for i in 0..9 {
        let mut s = oekaki::raster::Surface::new([0; 4]);
        // Each layer holds a big band of colour, so compositing has real work under the stroke.
        let band = Rect::new(0, i * 400, side as i32, i * 400 + 1200);
        let c = [(30 * i) as u8, 100, (255 - 20 * i) as u8, 255].map(|v| (v as u32 * 180 / 255) as u8);
        s.write_rect(band, &vec![[c[0], c[1], c[2], 180]; band.area()]);
        let mut layer = doc.new_raster_layer(&format!("Layer {i}"), s);
        layer.props.blend = if i % 3 == 0 { BlendMode::Multiply } else { BlendMode::Normal };
        doc.layers.push(layer);
    }
    doc
}

fn main() {
    let doc = document();
    let mut h = Harness::builder().with_size(egui::vec2(1600.0, 1000.0)).wgpu().build_eframe(move |cc| {
        let mut s = Studio::new(doc);
        if let Some(rs) = cc.wgpu_render_state.as_ref() {
            s.attach_gpu(rs);
        }
        s
    });
    h.run_steps(3);
    let with_job = std::env::args().any(|a| a == "--with-ai-job");
    if with_job {
        start_ai_job(&mut h);
    }
    h.state_mut().tools.brush.diameter = 40.0;
    let (rect, view) = (h.state().canvas_rect.unwrap(), h.state().view.unwrap());
    let at = |x: f32, y: f32| {
        let p = view.to_screen([x, y]);
        egui::pos2(rect.min.x + p[0], rect.min.y + p[1])
    };
    h.state_mut().frame_times = Default::default();
    let start = at(200.0, 2000.0);
    h.event(egui::Event::PointerMoved(start));
    h.event(egui::Event::PointerButton {
        pos: start,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Default::default(),
    });
    h.step();
    let frames = 300;
    for i in 0..frames {
        let t = i as f32 / frames as f32;
        let p = at(200.0 + 3600.0 * t, 2000.0 + 900.0 * (t * 12.0).sin());
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: at(3800.0, 2000.0),
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Default::default(),
    });
    h.step();
    let w = h.state().frame_times.work().unwrap();
    println!(
        "4096² document, 10 layers, {frames} frames of one brush stroke (40 px): studio work per frame median {:.2} ms, max {:.2} ms",
        w.median_ms, w.max_ms
    );
    assert_eq!(h.state().editor.history.undo_len(), 1);
    if with_job {
        let card = &h.state().ai.cards[0];
        println!("meanwhile the AI job ran: {:?}, {:?}", card.stage, card.state);
        assert_eq!(card.state, oekaki_app::studio::ai::JobState::Running, "the job outlasts the stroke");
    }
}

/// Queues an inpainting job with the tiny fixture model and waits until it is denoising.
fn start_ai_job(h: &mut Harness<Studio>) {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sd/tiny-sd15-inpaint");
    let s = h.state_mut();
    s.settings.ai.model = Some(model);
    s.settings.ai.steps = 150;
    s.settings.ai.device = "cpu".into();
    let canvas = s.editor.doc.bounds();
    let shape = oekaki::doc::selection::Shape::Rect { x: 1000, y: 1000, w: 600, h: 400 };
    s.editor.doc.selection =
        oekaki::doc::Selection::none().with_shape(&shape, oekaki::doc::selection::Combine::Replace, canvas);
    s.ai_submit(oekaki::ai::edit::EditKind::Inpaint);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !matches!(h.state().ai.cards[0].stage, oekaki::jobs::Stage::Step { .. }) {
        assert!(std::time::Instant::now() < deadline, "the job did not start");
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
