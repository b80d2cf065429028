//! The compositor: dirty-region updates agree with a full recomposite, and masks, clipping and groups
//! behave as documented.

use oekaki::color::{Color, premultiply};
use oekaki::doc::composite::{CompositeCache, flatten, render_rect};
use oekaki::doc::{BlendMode, Document, LayerMask, PaintTarget};
use oekaki::geom::Rect;
use oekaki::history::{Command, Editor};
use oekaki::paint::stroke::StrokeCommand;
use oekaki::paint::{Brush, InputSample};
use oekaki::raster::{Mask, Surface};

fn filled(r: Rect, rgba: [u8; 4]) -> Surface {
    let mut s = Surface::new([0; 4]);
    s.write_rect(r, &vec![premultiply(rgba); r.area()]);
    s
}

fn stroke(target: PaintTarget, y: f32, color: Color) -> Command {
    let samples = vec![InputSample { x: 5.0, y, pressure: 1.0 }, InputSample { x: 250.0, y: y + 30.0, pressure: 0.5 }];
    Command::Stroke(StrokeCommand { target, brush: Brush { diameter: 18.0, ..Brush::default() }, color, samples })
}

#[test]
fn dirty_updates_match_a_full_recomposite() {
    let mut doc = Document::new(260, 200).unwrap();
    let a = doc.new_raster_layer("a", filled(Rect::new(0, 0, 260, 200), [250, 240, 220, 255]));
    let mut b = doc.new_raster_layer("b", filled(Rect::new(30, 30, 200, 150), [40, 120, 200, 200]));
    b.props.blend = BlendMode::Multiply;
    let (ida, idb) = (a.id, b.id);
    doc.layers = vec![a, b];
    let mut ed = Editor::new(doc);
    let mut cache = CompositeCache::default();
    cache.update(&ed.doc, ed.doc.bounds());
    for (i, cmd) in [
        stroke(PaintTarget::Layer(idb), 20.0, Color::rgb(1.0, 0.2, 0.2)),
        stroke(PaintTarget::Layer(ida), 90.0, Color::rgb(0.1, 0.1, 0.1)),
        Command::Translate { layer: idb, dx: 17, dy: -9 },
    ]
    .into_iter()
    .enumerate()
    {
        let dirty = ed.apply(cmd).unwrap();
        assert!(!dirty.is_empty(), "step {i} reported no change");
        cache.update(&ed.doc, dirty);
        let cached = cache.surface.as_ref().unwrap().read_rect(ed.doc.bounds());
        assert_eq!(cached, flatten(&ed.doc), "step {i}: cache differs from a full composite");
    }
    let dirty = ed.undo().unwrap().unwrap();
    cache.update(&ed.doc, dirty);
    assert_eq!(cache.surface.as_ref().unwrap().read_rect(ed.doc.bounds()), flatten(&ed.doc));
}

#[test]
fn masks_clipping_and_hidden_bases() {
    let mut doc = Document::new(64, 64).unwrap();
    let mut base = doc.new_raster_layer("base", filled(Rect::new(0, 0, 32, 64), [255, 255, 255, 255]));
    let mut clipped = doc.new_raster_layer("clipped", filled(Rect::new(0, 0, 64, 64), [255, 0, 0, 255]));
    clipped.props.clip = true;
    let mut mask = Mask::new(255);
    mask.write_rect(Rect::new(0, 0, 64, 16), &vec![0; 64 * 16]);
    base.mask = Some(LayerMask { pixels: mask, enabled: true });
    doc.layers = vec![base, clipped];
    let px = |d: &Document, x, y| render_rect(d, Rect::new(x, y, x + 1, y + 1))[0];
    assert_eq!(px(&doc, 10, 40), [255, 0, 0, 255], "clipped paint shows over the base");
    assert_eq!(px(&doc, 40, 40), [0, 0, 0, 0], "and nowhere the base is empty");
    assert_eq!(px(&doc, 10, 5), [0, 0, 0, 0], "the base's mask hides both");
    doc.layers[0].mask.as_mut().unwrap().enabled = false;
    assert_eq!(px(&doc, 10, 5), [255, 0, 0, 255], "a disabled mask hides nothing");
    doc.layers[0].props.visible = false;
    assert_eq!(px(&doc, 10, 40), [0, 0, 0, 0], "a hidden base hides its clipped layers");
}

#[test]
fn painting_a_mask_and_the_selection() {
    let mut doc = Document::new(64, 64).unwrap();
    let mut l = doc.new_raster_layer("l", filled(Rect::new(0, 0, 64, 64), [0, 200, 0, 255]));
    l.mask = Some(LayerMask::reveal_all());
    let id = l.id;
    doc.layers = vec![l];
    let mut ed = Editor::new(doc);
    // Black paints "hide" into the mask; the layer's own pixels are untouched.
    ed.apply(stroke(PaintTarget::Mask(id), 20.0, Color::BLACK)).unwrap();
    let l = ed.doc.layer(id).unwrap();
    assert!(l.mask.as_ref().unwrap().pixels.get(30, 23) < 10);
    assert_eq!(l.surface().unwrap().get(30, 23), [0, 200, 0, 255]);
    assert_eq!(render_rect(&ed.doc, Rect::new(30, 23, 31, 24))[0][3], 0);
    // Painting the selection (quick mask) selects where the brush went.
    ed.apply(stroke(PaintTarget::Selection, 20.0, Color::WHITE)).unwrap();
    assert!(ed.doc.selection.active);
    assert_eq!(ed.doc.selection.coverage(30, 23), 255);
    assert_eq!(ed.doc.selection.coverage(30, 2), 0);
    ed.undo().unwrap();
    assert!(!ed.doc.selection.active, "undo restores 'nothing selected'");
}
