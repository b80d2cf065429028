//! AI edits of a document (`ai::edit`): region planning, and inpaint / refine / generate end to end on the tiny
//! fixture models. The result is always a new layer, transparent outside the grown + feathered selection, and
//! every other layer is left exactly as it was.

use std::path::PathBuf;

use oekaki::ai::edit::{self, EditKind, EditOptions};
use oekaki::ai::pipeline::{Engine, Request};
use oekaki::ai::session::Device;
use oekaki::color::premultiply;
use oekaki::doc::selection::Shape;
use oekaki::doc::{Document, LayerContent, Selection};
use oekaki::geom::Rect;
use oekaki::history::Editor;
use oekaki::raster::{GrayBuf, Surface};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A 200×150 picture: a gradient base layer and a small opaque layer above it.
fn picture() -> Document {
    let mut doc = Document::new(200, 150).unwrap();
    let mut base = Surface::new([0; 4]);
    let px: Vec<_> = (0..150 * 200).map(|i| premultiply([(i % 200) as u8, (i / 200) as u8, 120, 255])).collect();
    base.write_rect(doc.bounds(), &px);
    let mut top = Surface::new([0; 4]);
    top.write_rect(Rect::new(10, 10, 40, 30), &vec![premultiply([250, 240, 20, 255]); 600]);
    let base = doc.new_raster_layer("base", base);
    let top = doc.new_raster_layer("sun", top);
    doc.layers = vec![base, top];
    doc
}

fn select(doc: &mut Document, r: Rect) {
    let canvas = doc.bounds();
    let shape = Shape::Rect { x: r.x0, y: r.y0, w: r.width(), h: r.height() };
    doc.selection = Selection::none().with_shape(&shape, oekaki::doc::selection::Combine::Replace, canvas);
}

fn request() -> Request {
    Request { prompt: "a red scarf".into(), steps: 3, seed: 3, ..Request::default() }
}

fn small() -> EditOptions {
    EditOptions { work_area: 128 * 128, ..EditOptions::default() }
}

#[test]
fn the_region_is_the_padded_selection_on_the_model_grid() {
    let mut doc = picture();
    select(&mut doc, Rect::new(60, 40, 100, 90));
    let opts = EditOptions::default();
    let r = edit::plan(&doc, EditKind::Inpaint, &opts, 64).unwrap();
    // grown by 4, feathered by 4, padded by 32, clamped to the canvas
    assert!(r.context.x0 <= 60 - 4 - 32 && r.context.x0 >= 60 - 4 - 3 * 4 - 32, "{:?}", r.context);
    assert!(r.context.y1 >= 90 + 4 + 32 && r.context.y1 <= 150, "{:?}", r.context);
    assert_eq!((r.work_width % 64, r.work_height % 64), (0, 0));
    let area = (r.work_width * r.work_height) as f64;
    assert!((area / (512.0 * 512.0) - 1.0).abs() < 0.2, "{}×{}", r.work_width, r.work_height);
    // The model repaints the grown selection; the paste mask is feathered and zero far from it.
    assert_eq!(r.model_mask.get(58, 38), 255);
    assert_eq!(r.model_mask.get(50, 38), 0);
    assert_eq!(r.paste_mask.get(r.context.x0, r.context.y0), 0);
    assert_eq!(r.paste_mask.get(80, 65), 255);
    assert!(edit::plan(&picture(), EditKind::Inpaint, &opts, 64).is_err(), "inpainting without a selection");
    let whole = edit::plan(&picture(), EditKind::Refine, &opts, 64).unwrap();
    assert_eq!(whole.context, Rect::new(0, 0, 200, 150));
    let generated = edit::plan(&doc, EditKind::Generate, &opts, 64).unwrap();
    assert!(generated.paste_mask.data.iter().all(|&a| a == 255));
}

fn check_result(doc_before: &Document, model: &str, kind: EditKind) {
    let mut doc = doc_before.clone();
    let mut engine = Engine::new(Device::Cpu);
    let req = Request { strength: if kind == EditKind::Refine { 0.6 } else { 1.0 }, ..request() };
    let result = edit::run(
        &mut engine,
        &root().join("tests/fixtures/sd").join(model),
        &mut doc,
        kind,
        &small(),
        &req,
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(doc.layers.len(), 2, "running an edit must not change the document");
    let context = result.region.context;
    let mut editor = Editor::new(doc);
    editor.apply(result.command).unwrap();
    let doc = &editor.doc;
    assert_eq!(doc.layers.len(), 3);
    for (a, b) in doc_before.layers.iter().zip(&doc.layers) {
        let (LayerContent::Raster(sa), LayerContent::Raster(sb)) = (&a.content, &b.content) else { panic!() };
        assert_eq!(sa.read_rect(doc.bounds()), sb.read_rect(doc.bounds()), "layer {} changed", a.props.name);
    }
    let new = &doc.layers[2];
    assert!(new.props.name.contains("red scarf"), "{}", new.props.name);
    let LayerContent::Raster(s) = &new.content else { panic!() };
    let canvas = doc.bounds();
    let allowed = if kind == EditKind::Generate {
        // txt2img fills the selection's bounding box
        GrayBuf::new(context, 255)
    } else if doc_before.selection.active {
        let opts = small();
        let sel = doc_before.selection.grown(opts.grow, canvas).feathered(opts.feather, canvas);
        GrayBuf::from_mask(&sel.mask, canvas)
    } else {
        GrayBuf::new(canvas, 255)
    };
    let px = s.read_rect(canvas);
    let mut painted = 0;
    for (i, p) in px.iter().enumerate() {
        let (x, y) = ((i % 200) as i32, (i / 200) as i32);
        if allowed.get(x, y) == 0 {
            assert_eq!(p[3], 0, "the result leaks outside the feathered selection at {x},{y}");
        } else if p[3] > 0 {
            painted += 1;
        }
    }
    assert!(painted > 0, "the result layer is empty");
    editor.undo().unwrap();
    assert_eq!(editor.doc.layers.len(), 2);
}

#[test]
fn inpainting_with_an_inpainting_model_only_adds_a_masked_layer() {
    let mut doc = picture();
    select(&mut doc, Rect::new(60, 40, 100, 90));
    check_result(&doc, "tiny-sd15-inpaint", EditKind::Inpaint);
}

#[test]
fn inpainting_with_an_ordinary_model_blends_latents_and_stays_inside() {
    let mut doc = picture();
    select(&mut doc, Rect::new(120, 20, 190, 70));
    check_result(&doc, "tiny-sd15", EditKind::Inpaint);
}

#[test]
fn refine_and_generate_make_new_layers() {
    check_result(&picture(), "tiny-sd15", EditKind::Refine);
    let mut doc = picture();
    select(&mut doc, Rect::new(20, 20, 84, 84));
    check_result(&doc, "tiny-sd15", EditKind::Generate);
}

#[test]
fn result_layers_keep_their_parameters_in_ora_and_png() {
    let mut doc = picture();
    select(&mut doc, Rect::new(60, 40, 100, 90));
    let req = Request { negative: "blurry, lowres".into(), ..request() };
    let model = root().join("tests/fixtures/sd/tiny-sd15-inpaint");
    let result =
        edit::run(&mut Engine::new(Device::Cpu), &model, &mut doc, EditKind::Inpaint, &small(), &req, &mut |_| true)
            .unwrap();
    let mut editor = Editor::new(doc);
    editor.apply(result.command).unwrap();
    let params = editor.doc.layers[2].props.params.clone().expect("the result layer carries its parameters");
    assert!(params.starts_with("a red scarf\nNegative prompt: blurry, lowres\nSteps: 3"), "{params}");
    assert!(params.contains("Seed: 3") && params.contains("Model: tiny-sd15-inpaint"), "{params}");

    let dir = tempfile::tempdir().unwrap();
    let ora = dir.path().join("a.ora");
    oekaki::io::save_path(&editor.doc, &ora).unwrap();
    let back = oekaki::io::open_path(&ora, oekaki::io::Limits::default()).unwrap();
    assert_eq!(back.layers[2].props.params.as_deref(), Some(params.as_str()), "line breaks and all survive ORA");
    assert_eq!(back.layers[0].props.params, None);

    let png = dir.path().join("a.png");
    oekaki::io::save_path(&back, &png).unwrap();
    let text = oekaki::io::png_text::parameters_from_png(&std::fs::read(&png).unwrap()).unwrap();
    assert_eq!(text.as_deref(), Some(params.as_str()), "PNG export writes the AI layer's parameters");
}
