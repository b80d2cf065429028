//! Core benchmarks: compositing and brushes. Targets (issue 2): recomposite a 256² dirty region of an
//! 8192² document with 20 layers ≤ 3 ms on one core; full composite of 4096² with 20 layers ≤ 250 ms on
//! 2 cores; 1000 dabs of a size-64 soft brush ≤ 10 ms. Free transform: what one preview frame of a drag costs.
//! Run with `cargo bench --bench core`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use oekaki::color::{Color, premultiply};
use oekaki::doc::composite::{CompositeCache, render_rect};
use oekaki::doc::{BlendMode, Document, LayerMask, PaintTarget};
use oekaki::geom::{Rect, TILE_PIXELS, TileKey};
use oekaki::paint::dab::{Dab, StrokeBuffer, stamp};
use oekaki::paint::stroke::StrokeCommand;
use oekaki::paint::{Brush, InputSample};
use oekaki::raster::{Mask, Surface};

/// A tile of soft, partly transparent paint that differs per layer and position.
fn paint_tile(seed: u32) -> Arc<[[u8; 4]; TILE_PIXELS]> {
    let mut t = [[0u8; 4]; TILE_PIXELS];
    for (i, p) in t.iter_mut().enumerate() {
        let v = (i as u32).wrapping_mul(2654435761).wrapping_add(seed.wrapping_mul(40503));
        let a = if v.is_multiple_of(7) { 0 } else { 96 + (v >> 8) as u8 % 160 };
        *p = premultiply([(v >> 3) as u8, (v >> 11) as u8, (v >> 19) as u8, a]);
    }
    Arc::new(t)
}

/// `n` layers covering the whole canvas: distinct tiles inside `distinct`, one shared tile elsewhere
/// (copy-on-write keeps an 8192² × 20 document small while the work per pixel stays real).
/// A realistic mix: mostly normal, some multiply/screen/overlay/add, one masked, two clipped.
fn document(side: u32, n: usize, distinct: Rect) -> Document {
    let mut doc = Document::new(side, side).unwrap();
    for i in 0..n {
        let shared = paint_tile(i as u32 * 977);
        let mut s = Surface::new([0; 4]);
        for key in doc.bounds().tiles() {
            let t = if key.rect().intersect(&distinct).is_empty() {
                shared.clone()
            } else {
                paint_tile(i as u32 * 977 + (key.tx * 131 + key.ty) as u32)
            };
            s.swap_tile(key, Some(t));
        }
        let mut l = doc.new_raster_layer(&format!("Layer {i}"), s);
        l.props.blend = match i % 10 {
            3 => BlendMode::Multiply,
            5 => BlendMode::Screen,
            7 => BlendMode::Overlay,
            9 => BlendMode::Add,
            _ => BlendMode::Normal,
        };
        l.props.opacity = if i % 4 == 1 { 0.8 } else { 1.0 };
        l.props.clip = i == 12 || i == 13;
        if i == 15 {
            let mut m = Mask::new(255);
            m.write_rect(
                Rect::new(0, 0, side as i32 / 2, side as i32),
                &vec![128; (side as usize / 2) * side as usize],
            );
            l.mask = Some(LayerMask { pixels: m, enabled: true });
        }
        doc.layers.push(l);
    }
    doc
}

fn compositing(c: &mut Criterion) {
    let dirty = Rect::from_xywh(4000, 4000, 256, 256);
    let big = document(8192, 20, dirty.inflate(256));
    let one_core = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut cache = CompositeCache::default();
    c.bench_function("recomposite 256x256 dirty, 8192^2 x 20 layers, 1 core", |b| {
        b.iter(|| one_core.install(|| black_box(cache.update(&big, black_box(dirty)))))
    });
    let aligned = Rect::from_xywh(4032, 4032, 256, 256);
    c.bench_function("recomposite 256x256 tile-aligned dirty, 8192^2 x 20 layers, 1 core", |b| {
        b.iter(|| one_core.install(|| black_box(cache.update(&big, black_box(aligned)))))
    });
    drop(big);

    let mid = document(4096, 20, Rect::new(0, 0, 4096, 4096));
    let two_cores = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut g = c.benchmark_group("full");
    g.sample_size(10);
    g.bench_function("full composite 4096^2 x 20 layers, 2 cores", |b| {
        b.iter(|| two_cores.install(|| black_box(render_rect(&mid, mid.bounds()))))
    });
    g.finish();
    black_box(TileKey { tx: 0, ty: 0 });
}

fn brushes(c: &mut Criterion) {
    let clip = Rect::new(0, 0, 8192, 8192);
    let dabs: Vec<Dab> = (0..1000)
        .map(|i| Dab {
            x: 100.0 + i as f32 * 6.4,
            y: 500.0 + (i as f32 * 0.05).sin() * 200.0,
            diameter: 64.0,
            hardness: 0.0,
            flow: 0.5,
            opacity: 1.0,
        })
        .collect();
    c.bench_function("1000 dabs, size-64 soft brush, into the stroke buffer", |b| {
        b.iter(|| {
            let mut buf = StrokeBuffer::new(0.0);
            for d in &dabs {
                stamp(&mut buf, d, clip);
            }
            black_box(buf)
        })
    });

    let doc = Document::with_layer(8192, 8192).unwrap();
    let target = PaintTarget::Layer(doc.layers[0].id);
    let brush =
        Brush { diameter: 64.0, hardness: 0.0, spacing: 0.1, flow: 0.5, pressure_size: None, ..Brush::default() };
    // 1000 dabs at 6.4 px spacing: a 6400 px stroke reported as 200 pen events.
    let samples: Vec<InputSample> =
        (0..=200).map(|i| InputSample { x: 100.0 + i as f32 * 32.0, y: 500.0, pressure: 1.0 }).collect();
    let cmd = StrokeCommand { target, brush, color: Color::rgb(0.9, 0.3, 0.4), samples };
    c.bench_function("stroke of 1000 size-64 soft dabs, painted into a layer (with undo)", |b| {
        b.iter(|| {
            let mut d = doc.clone();
            black_box(cmd.paint(&mut d).unwrap())
        })
    });
}

fn selection_and_fill(c: &mut Criterion) {
    use oekaki::doc::selection::{Combine, Selection, Shape};
    use oekaki::paint::fill::{AreaSpec, FillCommand};
    let canvas = Rect::new(0, 0, 4096, 4096);
    let mut g = c.benchmark_group("selection");
    g.sample_size(10);
    let ellipse = Shape::Ellipse { cx: 2048.0, cy: 2048.0, rx: 1500.0, ry: 1000.0 };
    g.bench_function("ellipse selection on 4096^2", |b| {
        b.iter(|| black_box(Selection::none().with_shape(&ellipse, Combine::Replace, canvas)))
    });
    let sel = Selection::none().with_shape(&ellipse, Combine::Replace, canvas);
    g.bench_function("grow selection by 8 px on 4096^2", |b| b.iter(|| black_box(sel.grown(8, canvas))));
    g.bench_function("feather selection by 8 px on 4096^2", |b| b.iter(|| black_box(sel.feathered(8.0, canvas))));
    let mut doc = Document::with_layer(4096, 4096).unwrap();
    let id = doc.layers[0].id;
    let lines = doc.layers[0].surface_mut().unwrap();
    for i in 0..4096 {
        for k in [512, 1536, 2560, 3584] {
            lines.set(k, i, [0, 0, 0, 255]);
            lines.set(i, k, [0, 0, 0, 255]);
        }
    }
    let fill = FillCommand {
        target: PaintTarget::Layer(id),
        area: AreaSpec::at(1000, 1000),
        color: Color::rgb(1.0, 0.5, 0.5),
        erase: false,
    };
    g.bench_function("bucket fill of a 1024^2 cell on a 4096^2 canvas", |b| {
        b.iter(|| {
            let mut d = doc.clone();
            black_box(fill.paint(&mut d).unwrap())
        })
    });
    g.finish();
}

/// What one pen event costs while painting: dabs, mixing into the layer, and recompositing the dirty area
/// of a 4096² document with 10 full layers (the studio's per-frame work for a stroke).
fn live_stroke(c: &mut Criterion) {
    use oekaki::history::Editor;
    let mut doc = document(4096, 10, Rect::new(1500, 1500, 2600, 2600));
    let target = PaintTarget::Layer(doc.layers[5].id);
    doc.layers.iter_mut().for_each(|l| l.props.clip = false);
    let mut ed = Editor::new(doc);
    let mut cache = CompositeCache::default();
    let brush = Brush { diameter: 40.0, hardness: 0.7, spacing: 0.1, ..Brush::default() };
    ed.begin_stroke(target, brush, Color::rgb(0.2, 0.3, 0.8)).unwrap();
    let mut t = 0.0f32;
    c.bench_function("pen event: 4 samples of a 40 px brush + recomposite, 4096^2 x 10 layers", |b| {
        b.iter(|| {
            let samples: Vec<InputSample> = (0..4)
                .map(|_| {
                    t += 1.5;
                    InputSample {
                        x: 2048.0 + 400.0 * (t * 0.01).cos(),
                        y: 2048.0 + 400.0 * (t * 0.013).sin(),
                        pressure: 0.8,
                    }
                })
                .collect();
            let dirty = ed.stroke_to(&samples).unwrap();
            black_box(cache.update(&ed.doc, dirty))
        })
    });
}

/// Free transform: what one drag frame of the preview costs (the whole layer is resampled), and the selected
/// part of it.
fn transform(c: &mut Criterion) {
    use oekaki::history::layer_ops;
    use oekaki::paint::transform::Affine;
    let mut doc = document(2048, 1, Rect::new(0, 0, 2048, 2048));
    let id = doc.layers[0].id;
    let turn = Affine::about(1024.0, 1024.0, 1.1, 0.9, 10.0);
    let mut g = c.benchmark_group("transform");
    g.sample_size(10);
    g.bench_function("free transform of a full 2048^2 layer (scale + 10 degrees)", |b| {
        b.iter(|| black_box(layer_ops::transform(&doc, id, &turn).unwrap()))
    });
    doc.selection = oekaki::doc::Selection::all(doc.bounds()).with_shape(
        &oekaki::doc::selection::Shape::Ellipse { cx: 1024.0, cy: 1024.0, rx: 400.0, ry: 300.0 },
        oekaki::doc::selection::Combine::Replace,
        doc.bounds(),
    );
    g.bench_function("free transform of an 800x600 selection on a 2048^2 layer", |b| {
        b.iter(|| black_box(layer_ops::transform_selection(&doc, id, &turn).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, compositing, brushes, selection_and_fill, live_stroke, transform);
criterion_main!(benches);
