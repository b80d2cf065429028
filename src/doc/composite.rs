//! The CPU reference compositor. It is the ground truth that the GPU view and file export must agree with.
//!
//! Work is per 64×64 tile in premultiplied `f32`, so a dirty region costs only the tiles it touches. Layer
//! order is bottom first. A run of layers with `clip` set is clipped to the unclipped layer below it (its
//! "base"): the clipped layers blend onto the base with source-atop, and the base's blend mode and opacity
//! apply to the result, as Photoshop and Clip Studio Paint do. Groups are isolated unless `pass_through`.

use multiversion::multiversion;
use rayon::prelude::*;

use super::blend::{TileSource, blend_buffer, blend_buffer_atop, blend_tile};
use super::{Document, Layer, LayerContent};
use crate::color::Rgba8;
use crate::geom::{Rect, TILE, TILE_PIXELS, TileKey};
use crate::raster::{Mask, Surface, TileData};

/// Length of a tile buffer of interleaved premultiplied RGBA `f32`.
pub const TILE_FLOATS: usize = TILE_PIXELS * 4;

/// Composites the whole layer stack over one tile into `acc`, starting from transparent.
pub fn composite_tile(doc: &Document, key: TileKey, acc: &mut [f32]) {
    acc.fill(0.0);
    composite_stack(&doc.layers, key, acc);
}

fn composite_stack(layers: &[Layer], key: TileKey, acc: &mut [f32]) {
    let mut i = 0;
    while i < layers.len() {
        let mut j = i + 1;
        while j < layers.len() && layers[j].props.clip {
            j += 1;
        }
        composite_unit(&layers[i], &layers[i + 1..j], key, acc);
        i = j;
    }
}

fn shows(l: &Layer) -> bool {
    l.props.visible && l.props.opacity > 0.0
}

/// Composites a base layer with the layers clipped to it.
fn composite_unit(base: &Layer, clipped: &[Layer], key: TileKey, acc: &mut [f32]) {
    if !shows(base) {
        return;
    }
    let p = &base.props;
    let clipped_shown = clipped.iter().any(shows);
    let mask = base.mask.as_ref().filter(|m| m.enabled).map(|m| &m.pixels);
    match &base.content {
        LayerContent::Group(children) if p.pass_through && !clipped_shown => {
            let before = acc.to_vec();
            composite_stack(children, key, acc);
            if p.opacity < 1.0 || mask.is_some() {
                lerp_from(acc, &before, p.opacity, mask, key);
            }
        }
        LayerContent::Raster(s) if !clipped_shown => {
            // Straight from the stored bytes: the path nearly every layer takes.
            let Some(t) = s.tile(key) else { return };
            let k = p.opacity / 255.0;
            let src = match mask.map(|m| (m.tile(key), m.default_value())) {
                None => TileSource::Bytes { px: t, k },
                Some((Some(m), _)) => TileSource::Masked { px: t, k, mask: m },
                Some((None, d)) => TileSource::Bytes { px: t, k: k * d as f32 / 255.0 },
            };
            blend_tile(p.blend, acc, &src, false);
        }
        _ => {
            let mut src = vec![0.0; TILE_FLOATS];
            if !layer_pixels(base, key, &mut src) {
                return;
            }
            let mut tmp = Vec::new();
            for c in clipped.iter().filter(|c| shows(c)) {
                let k = c.props.opacity / 255.0;
                match (&c.content, &c.mask) {
                    (LayerContent::Raster(cs), None) => {
                        if let Some(t) = cs.tile(key) {
                            blend_tile(c.props.blend, &mut src, &TileSource::Bytes { px: t, k }, true);
                        }
                    }
                    _ => {
                        tmp.resize(TILE_FLOATS, 0.0);
                        if layer_pixels(c, key, &mut tmp) {
                            scale(&mut tmp, c.props.opacity);
                            blend_buffer_atop(c.props.blend, &mut src, &tmp);
                        }
                    }
                }
            }
            scale(&mut src, p.opacity);
            blend_buffer(p.blend, acc, &src);
        }
    }
}

/// A layer's own pixels for one tile with its mask applied, opacity not; false when it draws nothing here.
fn layer_pixels(layer: &Layer, key: TileKey, out: &mut [f32]) -> bool {
    let any = match &layer.content {
        LayerContent::Raster(s) => match s.tile(key) {
            Some(t) => {
                u8_to_f32(t, out);
                true
            }
            None => false,
        },
        LayerContent::Group(children) => {
            out.fill(0.0);
            composite_stack(children, key, out);
            true
        }
    };
    if any && let Some(m) = layer.mask.as_ref().filter(|m| m.enabled) {
        apply_mask(out, &m.pixels, key);
    }
    any
}

#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
fn u8_to_f32(t: &TileData<Rgba8>, out: &mut [f32]) {
    const K: f32 = 1.0 / 255.0;
    for (o, p) in out.chunks_exact_mut(4).zip(t.iter()) {
        o[0] = p[0] as f32 * K;
        o[1] = p[1] as f32 * K;
        o[2] = p[2] as f32 * K;
        o[3] = p[3] as f32 * K;
    }
}

fn scale(buf: &mut [f32], k: f32) {
    if k < 1.0 {
        buf.iter_mut().for_each(|v| *v *= k);
    }
}

/// Multiplies every pixel by the mask value; a missing mask tile reads as the mask's default.
fn apply_mask(buf: &mut [f32], mask: &Mask, key: TileKey) {
    match mask.tile(key) {
        Some(t) => {
            for (o, m) in buf.chunks_exact_mut(4).zip(t.iter()) {
                let k = *m as f32 / 255.0;
                o.iter_mut().for_each(|v| *v *= k);
            }
        }
        None => scale(buf, mask.default_value() as f32 / 255.0),
    }
}

/// `acc = before + (acc − before) · opacity · mask`: how a pass-through group fades.
fn lerp_from(acc: &mut [f32], before: &[f32], opacity: f32, mask: Option<&Mask>, key: TileKey) {
    let tile = mask.and_then(|m| m.tile(key));
    let default = mask.map_or(255, |m| m.default_value());
    for (i, (a, b)) in acc.chunks_exact_mut(4).zip(before.chunks_exact(4)).enumerate() {
        let m = tile.map_or(default, |t| t[i]) as f32 / 255.0;
        let k = opacity * m;
        for c in 0..4 {
            a[c] = b[c] + (a[c] - b[c]) * k;
        }
    }
}

/// Rounds an `f32` tile buffer to premultiplied bytes (to nearest, ties to even), keeping colour ≤ alpha.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub fn f32_to_u8(buf: &[f32], out: &mut TileData<Rgba8>) {
    // Adding 2²³ leaves the value rounded to an integer in the low mantissa bits: a bit cast instead of a
    // saturating float→int conversion, four times faster once vectorized.
    let q = |v: f32| ((v + 8_388_608.0).to_bits() & 0xFF) as u8;
    for (o, p) in out.iter_mut().zip(buf.chunks_exact(4)) {
        let a = p[3].clamp(0.0, 1.0) * 255.0;
        let c = |v: f32| q((v.clamp(0.0, 1.0) * 255.0).min(a));
        *o = [c(p[0]), c(p[1]), c(p[2]), q(a)];
    }
}

/// Composites one tile to bytes into `out`, with pixels outside `canvas` cleared; `acc` is scratch space.
fn render_tile_into(doc: &Document, key: TileKey, canvas: Rect, acc: &mut [f32], out: &mut TileData<Rgba8>) {
    composite_tile(doc, key, acc);
    f32_to_u8(acc, out);
    let r = key.rect();
    if canvas.intersect(&r) != r {
        for (i, p) in out.iter_mut().enumerate() {
            if !canvas.contains(r.x0 + i as i32 % TILE, r.y0 + i as i32 / TILE) {
                *p = [0; 4];
            }
        }
    }
}

/// Composites one tile to bytes, with pixels outside `canvas` cleared.
pub fn render_tile(doc: &Document, key: TileKey, canvas: Rect) -> Box<TileData<Rgba8>> {
    let mut acc = vec![0.0; TILE_FLOATS];
    let mut out = Box::new([[0u8; 4]; TILE_PIXELS]);
    render_tile_into(doc, key, canvas, &mut acc, &mut out);
    out
}

/// The flattened image of `rect` (row-major premultiplied), composited on all cores: each worker takes a
/// band of one tile row and writes straight into its part of the output.
pub fn render_rect(doc: &Document, rect: Rect) -> Vec<Rgba8> {
    let canvas = doc.bounds();
    let w = rect.width() as usize;
    let mut out = vec![[0u8; 4]; rect.area()];
    if rect.is_empty() {
        return out;
    }
    let mut bands = Vec::new();
    let mut rest = &mut out[..];
    let mut y = rect.y0;
    while y < rect.y1 {
        let ty = y.div_euclid(TILE);
        let y_end = ((ty + 1) * TILE).min(rect.y1);
        let (band, tail) = rest.split_at_mut((y_end - y) as usize * w);
        bands.push((ty, y, band));
        rest = tail;
        y = y_end;
    }
    bands.into_par_iter().for_each_init(
        || (vec![0.0f32; TILE_FLOATS], Box::new([[0u8; 4]; TILE_PIXELS])),
        |(acc, tile), (ty, band_y0, band)| {
            let band_rect = Rect::new(rect.x0, band_y0, rect.x1, band_y0 + (band.len() / w) as i32);
            for key in band_rect.tiles().filter(|k| k.ty == ty) {
                render_tile_into(doc, key, canvas, acc, tile);
                let part = key.rect().intersect(&band_rect);
                for y in part.y0..part.y1 {
                    let src = ((y - ty * TILE) * TILE + (part.x0 - key.tx * TILE)) as usize;
                    let dst = (y - band_y0) as usize * w + (part.x0 - rect.x0) as usize;
                    let n = part.width() as usize;
                    band[dst..dst + n].copy_from_slice(&tile[src..src + n]);
                }
            }
        },
    );
    out
}

/// One layer on its own (mask applied; its opacity, blend mode and clipped layers not), over `rect`.
pub fn render_layer_rect(layer: &Layer, rect: Rect) -> Vec<Rgba8> {
    let w = rect.width() as usize;
    let mut out = vec![[0u8; 4]; rect.area()];
    let mut acc = vec![0.0f32; TILE_FLOATS];
    let mut tile = Box::new([[0u8; 4]; TILE_PIXELS]);
    for key in rect.tiles() {
        if !layer_pixels(layer, key, &mut acc) {
            continue;
        }
        f32_to_u8(&acc, &mut tile);
        let part = key.rect().intersect(&rect);
        for y in part.y0..part.y1 {
            let src = ((y - key.ty * TILE) * TILE + (part.x0 - key.tx * TILE)) as usize;
            let dst = (y - rect.y0) as usize * w + (part.x0 - rect.x0) as usize;
            let n = part.width() as usize;
            out[dst..dst + n].copy_from_slice(&tile[src..src + n]);
        }
    }
    out
}

/// The whole canvas flattened, row-major premultiplied RGBA8.
pub fn flatten(doc: &Document) -> Vec<Rgba8> {
    render_rect(doc, doc.bounds())
}

/// A composited copy of the document kept up to date one dirty region at a time (what the canvas view shows).
#[derive(Clone, Debug, Default)]
pub struct CompositeCache {
    pub surface: Option<Surface>,
}

impl CompositeCache {
    /// Recomposites every tile that `dirty` touches and returns the keys updated.
    pub fn update(&mut self, doc: &Document, dirty: Rect) -> Vec<TileKey> {
        let canvas = doc.bounds();
        let keys: Vec<TileKey> = dirty.intersect(&canvas).tiles().collect();
        let tiles: Vec<_> = keys.par_iter().map(|k| render_tile(doc, *k, canvas)).collect();
        let surface = self.surface.get_or_insert_with(|| Surface::new([0; 4]));
        for (k, t) in keys.iter().zip(tiles) {
            if t.iter().all(|p| p[3] == 0) {
                surface.swap_tile(*k, None);
            } else {
                *surface.tile_mut(*k) = *t;
            }
        }
        keys
    }
}
