//! Writes a small OpenRaster document with our own writer, as input for other programs.
//!
//! ```text
//! cargo run --example write_sample_ora -- OUT.ora            # everything our format carries
//! cargo run --example write_sample_ora -- --plain OUT.ora    # only what baseline OpenRaster has an element for
//! ```
//!
//! The first document (`sample`) is `tests/fixtures/ora/oekaki-sample.ora`: raster layers with partial alpha
//! at offsets (some negative, some running off the canvas), an isolated group with opacity, a pass-through
//! group, multiply / screen / overlay layers, a hidden layer, a layer mask and clipped layers (one normal,
//! one multiply). Krita flattens it into `krita-rendering-of-oekaki.png`.
//!
//! The second (`plain`) has no mask and no clipping: several layers, an isolated group, a hidden layer,
//! opacity below 100 %, multiply and screen, offset layers. Krita opens it and saves it again as
//! `krita-layers.ora`, so that file is entirely Krita's writing of features both programs share.
//!
//! `tests/fixtures/make_foreign_ora.sh` runs this; `tests/foreign_ora.rs` reads the results.

use oekaki::color::premultiply;
use oekaki::doc::{BlendMode, Document, LayerMask};
use oekaki::geom::Rect;
use oekaki::io::ora;
use oekaki::raster::{Mask, Surface};

/// A soft-edged disc: full `alpha` inside, fading to 0 over the outer `soft` pixels; the colour drifts across
/// it so that neighbouring pixels differ (rounding differences between compositors show up).
fn disc(cx: i32, cy: i32, r: i32, soft: f32, rgb: [u8; 3], alpha: u8) -> Surface {
    let (x0, y0, side) = (cx - r, cy - r, 2 * r + 1);
    let mut px = Vec::with_capacity((side * side) as usize);
    for y in y0..y0 + side {
        for x in x0..x0 + side {
            let d = (((x - cx) * (x - cx) + (y - cy) * (y - cy)) as f32).sqrt();
            let cover = ((r as f32 - d) / soft).clamp(0.0, 1.0);
            let a = (alpha as f32 * cover).round() as u8;
            let drift = ((x - x0) * 40 / side) as u8;
            let c =
                [rgb[0].saturating_sub(drift / 2), rgb[1].saturating_add(drift / 3), rgb[2].saturating_sub(drift / 4)];
            px.push(premultiply([c[0], c[1], c[2], a]));
        }
    }
    Surface::from_buffer([0; 4], x0, y0, side as u32, side as u32, &px)
}

/// The `w`×`h` rectangle at `(x, y)` with a horizontal colour ramp, alternating diagonal stripes of the two alphas.
fn stripes([x, y, w, h]: [i32; 4], from: [u8; 3], to: [u8; 3], [alpha, stripe_alpha]: [u8; 2]) -> Surface {
    let mut px = Vec::with_capacity((w * h) as usize);
    for j in 0..h {
        for i in 0..w {
            let t = i as f32 / (w - 1).max(1) as f32;
            let c: [u8; 3] =
                std::array::from_fn(|k| (from[k] as f32 + (to[k] as f32 - from[k] as f32) * t).round() as u8);
            let a = if (i + j) / 6 % 2 == 0 { alpha } else { stripe_alpha };
            px.push(premultiply([c[0], c[1], c[2], a]));
        }
    }
    Surface::from_buffer([0; 4], x, y, w as u32, h as u32, &px)
}

/// Paper for a `w`×`h` canvas: opaque warm grey with a vertical ramp, fading to partial alpha on the right.
fn paper(w: i32, h: i32, fade_from: i32, min_alpha: u8) -> Surface {
    let mut px = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let a = if x < fade_from {
                255
            } else {
                let t = (x - fade_from) as f32 / (w - 1 - fade_from).max(1) as f32;
                (255.0 - (255.0 - min_alpha as f32) * t).round() as u8
            };
            let g = (236 - y * 30 / h) as u8;
            px.push(premultiply([250, g, 225, a]));
        }
    }
    Surface::from_buffer([0; 4], 0, 0, w as u32, h as u32, &px)
}

/// Everything our OpenRaster writer has to express, on a 160×120 canvas.
pub fn sample() -> Document {
    let mut d = Document::new(160, 120).unwrap();
    let paper = d.new_raster_layer("Paper", paper(160, 120, 120, 110));

    // Clipping: a base at 85 % with a normal and a multiply layer clipped to it, both spilling past it.
    let mut base = d.new_raster_layer("Base", disc(62, 58, 38, 6.0, [238, 196, 170], 255));
    base.props.opacity = 0.85;
    let mut shade = d.new_raster_layer("Shade", stripes([30, 18, 100, 56], [90, 60, 150], [40, 120, 170], [190, 90]));
    shade.props.clip = true;
    let mut tint = d.new_raster_layer("Tint", disc(88, 78, 26, 8.0, [230, 120, 60], 220));
    tint.props.clip = true;
    tint.props.blend = BlendMode::Multiply;

    // A hard-edged flat with a multiply shadow clipped to it and spilling past it: written with a `svg:dst-in`
    // cut to the flat's alpha (see `ora::alpha_cut`), so other programs clip it too.
    let flat = d.new_raster_layer("Flat", disc(128, 94, 22, 0.5, [120, 200, 235], 255));
    let mut shadow = d.new_raster_layer("Shadow", disc(140, 104, 20, 3.0, [90, 70, 160], 230));
    shadow.props.clip = true;
    shadow.props.blend = BlendMode::Multiply;

    // An overlay layer starting left of and above the canvas, with a ramped mask.
    let mut masked =
        d.new_raster_layer("Masked", stripes([-16, -10, 84, 62], [20, 110, 220], [200, 40, 90], [230, 150]));
    masked.props.blend = BlendMode::Overlay;
    let mut m = Mask::new(255);
    let mrect = Rect::new(-16, -10, 40, 52);
    let ramp: Vec<u8> = (0..mrect.area()).map(|i| ((i % mrect.width() as usize) * 255 / 55).min(255) as u8).collect();
    m.write_rect(mrect, &ramp);
    masked.mask = Some(LayerMask { pixels: m, enabled: true });

    let mut hidden = d.new_raster_layer("Hidden", stripes([100, 10, 40, 40], [255, 0, 0], [255, 0, 0], [255, 255]));
    hidden.props.visible = false;

    // An isolated group at 70 % holding a normal and a screen layer.
    let inner = d.new_raster_layer("Inner", disc(118, 44, 30, 5.0, [30, 170, 110], 200));
    let mut glow = d.new_raster_layer("Glow", disc(132, 62, 24, 10.0, [255, 190, 40], 255));
    glow.props.blend = BlendMode::Screen;
    let mut group = d.new_group("Group", vec![inner, glow]);
    group.props.opacity = 0.7;

    // A pass-through group: its multiply layer darkens everything below, not just the group's own content.
    let mut through =
        d.new_raster_layer("Through", stripes([70, 84, 70, 30], [120, 150, 230], [250, 200, 120], [200, 120]));
    through.props.blend = BlendMode::Multiply;
    let mut pass = d.new_group("Pass", vec![through]);
    pass.props.pass_through = true;

    // Off the canvas on the left and bottom.
    let off = d.new_raster_layer("Offcanvas", disc(-2, 108, 30, 12.0, [60, 40, 30], 210));

    d.layers = vec![paper, base, shade, tint, flat, shadow, masked, hidden, group, pass, off];
    d
}

/// Only what baseline OpenRaster has elements for (no mask, no clipping), on a 128×96 canvas.
pub fn plain() -> Document {
    let mut d = Document::new(128, 96).unwrap();
    let bg = d.new_raster_layer("Background", paper(128, 96, 96, 140));
    let sketch = d.new_raster_layer("Sketch", stripes([20, 14, 70, 50], [60, 80, 140], [140, 60, 90], [210, 70]));
    let mut shadow = d.new_raster_layer("Shadow", disc(74, 58, 28, 7.0, [110, 90, 200], 230));
    shadow.props.blend = BlendMode::Multiply;
    shadow.props.opacity = 0.6;
    let flat = d.new_raster_layer("Flat", disc(40, 40, 22, 4.0, [240, 170, 140], 255));
    let mut light = d.new_raster_layer("Light", disc(52, 34, 16, 8.0, [255, 230, 120], 255));
    light.props.blend = BlendMode::Screen;
    let mut colors = d.new_group("Colors", vec![flat, light]);
    colors.props.opacity = 0.8;
    let mut notes = d.new_raster_layer("Notes (hidden)", stripes([0, 0, 50, 20], [255, 0, 0], [255, 0, 0], [255, 255]));
    notes.props.visible = false;
    let offset = d.new_raster_layer("Offset", disc(-4, 80, 24, 6.0, [40, 140, 60], 200));
    d.layers = vec![bg, sketch, shadow, colors, notes, offset];
    d
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (doc, out) = match args.as_slice() {
        [flag, out] if flag == "--plain" => (plain(), out),
        [out] if !out.starts_with('-') => (sample(), out),
        _ => {
            eprintln!("usage: write_sample_ora [--plain] OUT.ora");
            std::process::exit(2);
        }
    };
    let bytes = ora::write(&doc).unwrap_or_else(|e| {
        eprintln!("cannot encode: {e}");
        std::process::exit(1);
    });
    std::fs::write(out, &bytes).unwrap_or_else(|e| {
        eprintln!("cannot write {out}: {e}");
        std::process::exit(1);
    });
    println!("{out}: {} bytes, {}×{}, {} top-level layers", bytes.len(), doc.width, doc.height, doc.layers.len());
}
