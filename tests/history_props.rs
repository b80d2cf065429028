//! Random command sequences: every failed command leaves the document untouched, undoing everything gives
//! back the original exactly, and redoing everything gives back the final state exactly.

use oekaki::color::Color;
use oekaki::doc::selection::{Combine, Shape};
use oekaki::doc::{BlendMode, Document, LayerMask, LayerProps, PaintTarget};
use oekaki::history::{Command, Editor, layer_ops};
use oekaki::paint::fill::{AreaSpec, FillCommand};
use oekaki::paint::gradient::{GradientCommand, GradientKind};
use oekaki::paint::stroke::StrokeCommand;
use oekaki::paint::transform::Affine;
use oekaki::paint::{Brush, InputSample};
use oekaki::raster::Surface;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Stroke {
        layer: usize,
        mask: bool,
        pts: Vec<(f32, f32, f32)>,
        size: f32,
        hardness: f32,
        eraser: bool,
        rgb: (f32, f32, f32),
    },
    Fill {
        layer: usize,
        x: i32,
        y: i32,
        tol: u8,
        all: bool,
        gap: u32,
    },
    Gradient {
        layer: usize,
        radial: bool,
        a: (f32, f32),
        b: (f32, f32),
    },
    Add {
        at: usize,
        group: bool,
    },
    Remove {
        layer: usize,
    },
    Props {
        layer: usize,
        opacity: f32,
        blend: usize,
        visible: bool,
        clip: bool,
        lock: bool,
    },
    Mask {
        layer: usize,
        add: bool,
    },
    Select {
        x: i32,
        y: i32,
        w: i32,
        h: i32,
        how: usize,
    },
    Translate {
        layer: usize,
        dx: i32,
        dy: i32,
    },
    Clear {
        layer: usize,
    },
    Move {
        layer: usize,
        to: usize,
    },
    Duplicate {
        layer: usize,
    },
    MergeDown {
        layer: usize,
    },
    ApplyMask {
        layer: usize,
    },
    Transform {
        layer: usize,
        scale: f32,
        degrees: f32,
        dx: f32,
    },
    Resize {
        dw: i32,
        dh: i32,
        dx: i32,
        dy: i32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let pt = (0.0f32..200.0, 0.0f32..150.0, 0.0f32..1.0);
    prop_oneof![
        4 => (any::<usize>(), any::<bool>(), prop::collection::vec(pt, 1..6), 1.0f32..40.0, 0.0f32..1.0, any::<bool>(), (0.0f32..1.0, 0.0f32..1.0, 0.0f32..1.0))
            .prop_map(|(layer, mask, pts, size, hardness, eraser, rgb)| Op::Stroke { layer, mask, pts, size, hardness, eraser, rgb }),
        2 => (any::<usize>(), -10i32..210, -10i32..160, any::<u8>(), any::<bool>(), 0u32..3)
            .prop_map(|(layer, x, y, tol, all, gap)| Op::Fill { layer, x, y, tol, all, gap }),
        1 => (any::<usize>(), any::<bool>(), (0.0f32..200.0, 0.0f32..150.0), (0.0f32..200.0, 0.0f32..150.0))
            .prop_map(|(layer, radial, a, b)| Op::Gradient { layer, radial, a, b }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(at, group)| Op::Add { at, group }),
        1 => any::<usize>().prop_map(|layer| Op::Remove { layer }),
        2 => (any::<usize>(), 0.0f32..1.2, any::<usize>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(layer, opacity, blend, visible, clip, lock)| Op::Props { layer, opacity, blend, visible, clip, lock }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(layer, add)| Op::Mask { layer, add }),
        1 => (-20i32..200, -20i32..150, 0i32..150, 0i32..120, 0usize..4).prop_map(|(x, y, w, h, how)| Op::Select { x, y, w, h, how }),
        1 => (any::<usize>(), -70i32..70, -70i32..70).prop_map(|(layer, dx, dy)| Op::Translate { layer, dx, dy }),
        1 => any::<usize>().prop_map(|layer| Op::Clear { layer }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(layer, to)| Op::Move { layer, to }),
        1 => any::<usize>().prop_map(|layer| Op::Duplicate { layer }),
        1 => any::<usize>().prop_map(|layer| Op::MergeDown { layer }),
        1 => any::<usize>().prop_map(|layer| Op::ApplyMask { layer }),
        1 => (any::<usize>(), 0.3f32..2.0, -180.0f32..180.0, -30.0f32..30.0)
            .prop_map(|(layer, scale, degrees, dx)| Op::Transform { layer, scale, degrees, dx }),
        1 => (-80i32..80, -80i32..80, -40i32..40, -40i32..40).prop_map(|(dw, dh, dx, dy)| Op::Resize { dw, dh, dx, dy }),
    ]
}

fn start() -> Document {
    let mut d = Document::new(200, 150).unwrap();
    let mut s = Surface::new([0; 4]);
    s.write_rect(oekaki::geom::Rect::new(10, 10, 120, 90), &vec![[40, 80, 120, 255]; 110 * 80]);
    let a = d.new_raster_layer("paint", s);
    let b = d.new_raster_layer("empty", Surface::new([0; 4]));
    d.layers = vec![a, b];
    d
}

fn command(doc: &mut Document, op: &Op) -> Option<Command> {
    let ids = doc.layer_ids();
    let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
    Some(match op {
        Op::Stroke { layer, mask, pts, size, hardness, eraser, rgb } => {
            let id = pick(*layer)?;
            let target = if *mask { PaintTarget::Mask(id) } else { PaintTarget::Layer(id) };
            let brush =
                Brush { diameter: *size, hardness: *hardness, eraser: *eraser, stabilizer: 0.2, ..Brush::default() };
            let samples = pts.iter().map(|&(x, y, pressure)| InputSample { x, y, pressure }).collect();
            Command::Stroke(StrokeCommand { target, brush, color: Color::rgb(rgb.0, rgb.1, rgb.2), samples })
        }
        Op::Fill { layer, x, y, tol, all, gap } => {
            let id = pick(*layer)?;
            let area = AreaSpec {
                tolerance: *tol,
                sample_layer: if *all { None } else { Some(id) },
                close_gaps: *gap,
                ..AreaSpec::at(*x, *y)
            };
            Command::Fill(FillCommand {
                target: PaintTarget::Layer(id),
                area,
                color: Color::rgb(0.9, 0.1, 0.3),
                erase: false,
            })
        }
        Op::Gradient { layer, radial, a, b } => Command::Gradient(GradientCommand {
            target: PaintTarget::Layer(pick(*layer)?),
            kind: if *radial { GradientKind::Radial } else { GradientKind::Linear },
            start: *a,
            end: *b,
            from: Color::rgb(1.0, 1.0, 0.0),
            to: Color { r: 0.0, g: 0.0, b: 1.0, a: 0.3 },
        }),
        Op::Add { at, group } => {
            let layer =
                if *group { doc.new_group("g", vec![]) } else { doc.new_raster_layer("new", Surface::new([0; 4])) };
            let parent = ids.iter().copied().find(|id| doc.layer(*id).is_some_and(|l| l.is_group()) && at % 2 == 0);
            let len = match parent {
                Some(p) => doc.layer(p)?.children().len(),
                None => doc.layers.len(),
            };
            Command::AddLayer { parent, index: at % (len + 1), layer: Box::new(layer) }
        }
        Op::Remove { layer } => Command::RemoveLayer { id: pick(*layer)? },
        Op::Props { layer, opacity, blend, visible, clip, lock } => {
            let id = pick(*layer)?;
            let mut props = LayerProps::named("changed");
            props.opacity = *opacity;
            props.blend = BlendMode::ALL[blend % BlendMode::ALL.len()];
            props.visible = *visible;
            props.clip = *clip;
            props.lock_alpha = *lock;
            Command::SetProps { id, props }
        }
        Op::Mask { layer, add } => {
            Command::SetMask { id: pick(*layer)?, mask: add.then(|| Box::new(LayerMask::reveal_all())) }
        }
        Op::Select { x, y, w, h, how } => {
            let how = [Combine::Replace, Combine::Add, Combine::Subtract, Combine::Intersect][*how];
            let s = doc.selection.with_shape(&Shape::Rect { x: *x, y: *y, w: *w, h: *h }, how, doc.bounds());
            Command::SetSelection(Box::new(s))
        }
        Op::Translate { layer, dx, dy } => Command::Translate { layer: pick(*layer)?, dx: *dx, dy: *dy },
        Op::Clear { layer } => Command::Clear { target: PaintTarget::Layer(pick(*layer)?) },
        Op::Duplicate { layer } => layer_ops::duplicate(doc, pick(*layer)?).ok()?,
        Op::MergeDown { layer } => layer_ops::merge_down(doc, pick(*layer)?).ok()?,
        Op::ApplyMask { layer } => layer_ops::apply_mask(doc, pick(*layer)?).ok()?,
        Op::Transform { layer, scale, degrees, dx } => {
            let map = Affine::about(100.0, 75.0, *scale, *scale, *degrees).then(&Affine::translate(*dx, 0.0));
            layer_ops::transform(doc, pick(*layer)?, &map).ok()?
        }
        Op::Resize { dw, dh, dx, dy } => Command::ResizeCanvas {
            width: (doc.width as i32 + dw).clamp(1, 400) as u32,
            height: (doc.height as i32 + dh).clamp(1, 300) as u32,
            dx: *dx,
            dy: *dy,
        },
        Op::Move { layer, to } => {
            let id = pick(*layer)?;
            Command::MoveLayer { id, parent: None, index: to % doc.layers.len().max(1) }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn undo_all_restores_and_redo_all_replays(ops in prop::collection::vec(op(), 1..14)) {
        let original = start();
        let mut ed = Editor::new(original.clone());
        let mut applied = 0;
        for op in &ops {
            let Some(cmd) = command(&mut ed.doc, op) else { continue };
            let before = ed.doc.clone();
            match ed.apply(cmd) {
                Ok(_) => applied += 1,
                Err(_) => prop_assert!(ed.doc == before, "a failed {op:?} changed the document"),
            }
        }
        let last = ed.doc.clone();
        // Edits that touched nothing (a fill outside the canvas) leave no undo step.
        prop_assert!(ed.history.undo_len() <= applied);
        while ed.undo().unwrap().is_some() {}
        prop_assert!(ed.doc == original, "undoing everything did not restore the original");
        while ed.redo().unwrap().is_some() {}
        prop_assert!(ed.doc == last, "redoing everything did not reach the final state");
    }
}

#[test]
fn memory_budget_drops_oldest_steps() {
    // A painted layer: every stroke must keep the tiles it covers for undo (empty tiles cost nothing).
    let mut doc = Document::with_layer(1024, 1024).unwrap();
    let full = oekaki::geom::Rect::new(0, 0, 1024, 1024);
    doc.layers[0].surface_mut().unwrap().write_rect(full, &vec![[200, 200, 200, 255]; full.area()]);
    let mut ed = Editor::new(doc);
    ed.history = oekaki::history::History::new(2);
    let id = ed.doc.layers[0].id;
    for i in 0..10 {
        let samples = vec![
            InputSample { x: 0.0, y: i as f32 * 100.0, pressure: 1.0 },
            InputSample { x: 1024.0, y: i as f32 * 100.0 + 50.0, pressure: 1.0 },
        ];
        let brush = Brush { diameter: 60.0, ..Brush::default() };
        ed.apply(Command::Stroke(StrokeCommand {
            target: PaintTarget::Layer(id),
            brush,
            color: Color::BLACK,
            samples,
        }))
        .unwrap();
    }
    assert!(ed.history.used() <= 2 << 20, "history holds {} bytes", ed.history.used());
    assert!(ed.history.undo_len() >= 1 && ed.history.undo_len() < 10);
}
