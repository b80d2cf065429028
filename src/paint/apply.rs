//! The one stage every pixel tool ends in: mix ink into a target through a coverage buffer, respecting the
//! selection and lock alpha, while keeping the original tiles for undo.
//!
//! Tiles are always recomputed from their originals, so a live stroke can be re-mixed as its coverage
//! grows without ever compounding, and the saved originals become the undo patch.

use std::collections::BTreeMap;

use crate::color::{Color, Rgba8, mul255};
use crate::doc::{DocError, Document, PaintTarget, PatchTiles, Selection, SurfaceMut, TilePatch};
use crate::geom::{Rect, TILE, TILE_PIXELS, TileKey};
use crate::raster::{GrayBuf, Pixel, TileData, TileRef, Tiled};

/// What is laid down where coverage is non-zero.
#[derive(Clone, Copy)]
pub enum Ink<'a> {
    Color(Color),
    /// Removes paint (on masks and the selection: hides / deselects).
    Erase,
    /// A colour per canvas pixel, for gradients.
    PerPixel(&'a (dyn Fn(i32, i32) -> Color + Sync)),
}

impl Ink<'_> {
    fn at(&self, x: i32, y: i32) -> Option<Color> {
        match self {
            Ink::Color(c) => Some(*c),
            Ink::Erase => None,
            Ink::PerPixel(f) => Some(f(x, y)),
        }
    }
}

/// Pixels that ink can be mixed into.
trait Mix: Pixel {
    /// `a` is the coverage 0..=1; `None` ink erases.
    fn mix(orig: Self, ink: Option<Color>, a: f32, lock_alpha: bool, grey_target: bool) -> Self;
}

impl Mix for Rgba8 {
    #[inline]
    fn mix(b: Rgba8, ink: Option<Color>, a: f32, lock_alpha: bool, _: bool) -> Rgba8 {
        let q = |v: f32| (v * 255.0 + 0.5) as u32;
        match ink {
            None if lock_alpha => b,
            None => {
                let k = 255 - q(a).min(255);
                b.map(|c| mul255(c as u32, k) as u8)
            }
            Some(c) => {
                let s = c.premul_f32().map(|v| v * a);
                let (ab, inv) = (b[3] as f32 / 255.0, 1.0 - s[3]);
                let f = |i: usize| {
                    let src = if lock_alpha { s[i] * ab } else { s[i] };
                    (src * 255.0 + b[i] as f32 * inv + 0.5).min(255.0) as u8
                };
                let alpha = if lock_alpha { b[3] } else { f(3) };
                let (r, g, bl) = (f(0).min(alpha), f(1).min(alpha), f(2).min(alpha));
                [r, g, bl, alpha]
            }
        }
    }
}

impl Mix for u8 {
    #[inline]
    fn mix(b: u8, ink: Option<Color>, a: f32, _: bool, grey_target: bool) -> u8 {
        let (v, k) = match ink {
            None => (0.0, a),
            Some(c) if grey_target => (c.gray() * 255.0, a * c.a),
            Some(c) => (255.0, a * c.a),
        };
        (b as f32 + (v - b as f32) * k.clamp(0.0, 1.0) + 0.5) as u8
    }
}

/// Full coverage over `rect`. Whole tiles share one allocation, so even a 16384² canvas costs little.
pub fn rect_coverage(rect: Rect) -> Tiled<f32> {
    let mut cov = Tiled::new(0.0f32);
    let ones: TileRef<f32> = std::sync::Arc::new([1.0; TILE_PIXELS]);
    for key in rect.tiles() {
        let part = key.rect().intersect(&rect);
        if part == key.rect() {
            cov.swap_tile(key, Some(ones.clone()));
        } else {
            let t = cov.tile_mut(key);
            for y in part.y0..part.y1 {
                let row = ((y - key.ty * TILE) * TILE) as usize;
                t[row + (part.x0 - key.tx * TILE) as usize..row + (part.x1 - key.tx * TILE) as usize].fill(1.0);
            }
        }
    }
    cov
}

/// Coverage from a dense 8-bit buffer, built tile by tile (no canvas-sized `f32` copy).
pub fn gray_coverage(area: &GrayBuf) -> Tiled<f32> {
    let mut cov = Tiled::new(0.0f32);
    let w = area.width();
    for key in area.rect.tiles() {
        let part = key.rect().intersect(&area.rect);
        let rows = (part.y0..part.y1).map(|y| (y, (y - area.rect.y0) as usize * w + (part.x0 - area.rect.x0) as usize));
        let n = part.width() as usize;
        if rows.clone().all(|(_, s)| area.data[s..s + n].iter().all(|v| *v == 0)) {
            continue;
        }
        let t = cov.tile_mut(key);
        for (y, s) in rows {
            let row = ((y - key.ty * TILE) * TILE + (part.x0 - key.tx * TILE)) as usize;
            for (d, v) in t[row..row + n].iter_mut().zip(&area.data[s..s + n]) {
                *d = *v as f32 * (1.0 / 255.0);
            }
        }
    }
    cov
}

type Originals<P> = BTreeMap<TileKey, Option<TileRef<P>>>;

enum Saved {
    Rgba(Originals<Rgba8>),
    Gray(Originals<u8>),
}

/// An edit of one target in progress: the originals of every tile touched so far.
pub struct PixelEdit {
    target: PaintTarget,
    lock_alpha: bool,
    /// The selection that limits painting; `None` paints everywhere.
    clip: Option<Selection>,
    canvas: Rect,
    saved: Saved,
    selection_was_active: bool,
}

impl PixelEdit {
    pub fn begin(doc: &Document, target: PaintTarget) -> Result<PixelEdit, DocError> {
        doc.check_target(target)?;
        let lock_alpha = match target {
            PaintTarget::Layer(id) => doc.try_layer(id)?.props.lock_alpha,
            _ => false,
        };
        let clip = (target != PaintTarget::Selection && doc.selection.active).then(|| doc.selection.clone());
        let saved = match target {
            PaintTarget::Layer(_) => Saved::Rgba(BTreeMap::new()),
            _ => Saved::Gray(BTreeMap::new()),
        };
        Ok(PixelEdit {
            target,
            lock_alpha,
            clip,
            canvas: doc.bounds(),
            saved,
            selection_was_active: doc.selection.active,
        })
    }

    pub fn target(&self) -> PaintTarget {
        self.target
    }

    /// Re-mixes `keys` from their originals with `coverage`; returns the canvas area changed.
    pub fn mix(
        &mut self,
        doc: &mut Document,
        keys: impl IntoIterator<Item = TileKey>,
        coverage: &Tiled<f32>,
        ink: &Ink,
    ) -> Result<Rect, DocError> {
        let grey_target = matches!(self.target, PaintTarget::Mask(_));
        let ctx = MixCtx { coverage, ink, clip: self.clip.as_ref(), lock_alpha: self.lock_alpha, grey_target };
        let mut dirty = Rect::EMPTY;
        let keys: Vec<TileKey> = keys.into_iter().filter(|k| !k.rect().intersect(&self.canvas).is_empty()).collect();
        match (doc.target_mut(self.target)?, &mut self.saved) {
            (SurfaceMut::Rgba(s), Saved::Rgba(o)) => keys.iter().for_each(|k| mix_tile(s, o, *k, &ctx)),
            (SurfaceMut::Gray(s), Saved::Gray(o)) => keys.iter().for_each(|k| mix_tile(s, o, *k, &ctx)),
            _ => return Err(DocError::Invalid("paint target changed kind during an edit".into())),
        }
        for k in keys {
            dirty = dirty.union(&k.rect());
        }
        Ok(dirty.intersect(&self.canvas))
    }

    /// The undo patch: every touched tile as it was before the edit.
    pub fn into_patch(self) -> TilePatch {
        let tiles = match self.saved {
            Saved::Rgba(o) => PatchTiles::Rgba(o.into_iter().collect()),
            Saved::Gray(o) => PatchTiles::Gray(o.into_iter().collect()),
        };
        TilePatch { target: self.target, tiles, selection_was_active: self.selection_was_active }
    }
}

struct MixCtx<'a> {
    coverage: &'a Tiled<f32>,
    ink: &'a Ink<'a>,
    clip: Option<&'a Selection>,
    lock_alpha: bool,
    grey_target: bool,
}

fn mix_tile<P: Mix>(surface: &mut Tiled<P>, saved: &mut Originals<P>, key: TileKey, ctx: &MixCtx) {
    let orig = saved.entry(key).or_insert_with(|| surface.tile(key).cloned()).clone();
    let default = surface.default_value();
    let Some(cov) = ctx.coverage.tile(key) else {
        surface.swap_tile(key, orig);
        return;
    };
    if orig.is_none() && matches!(ctx.ink, Ink::Erase) && P::mix(default, None, 1.0, false, ctx.grey_target) == default
    {
        // Erasing where nothing is: leave the tile absent (clearing a huge empty canvas stays instant).
        return;
    }
    let sel: Option<&TileData<u8>> = ctx.clip.and_then(|s| s.mask.tile(key).map(|t| &**t));
    if ctx.clip.is_some() && sel.is_none() {
        surface.swap_tile(key, orig);
        return;
    }
    let base = |i: usize| orig.as_ref().map_or(default, |t| t[i]);
    let (x0, y0) = (key.tx * TILE, key.ty * TILE);
    let solid = match ctx.ink {
        Ink::Color(c) => Some(Some(*c)),
        Ink::Erase => Some(None),
        Ink::PerPixel(_) => None,
    };
    let mut out = Box::new([default; TILE_PIXELS]);
    for i in 0..TILE_PIXELS {
        let a = cov[i] * sel.map_or(1.0, |s| s[i] as f32 / 255.0);
        out[i] = if a <= 0.0 {
            base(i)
        } else {
            let ink = solid.unwrap_or_else(|| ctx.ink.at(x0 + i as i32 % TILE, y0 + i as i32 / TILE));
            P::mix(base(i), ink, a.min(1.0), ctx.lock_alpha, ctx.grey_target)
        };
    }
    if orig.is_none() && out.iter().all(|p| *p == default) {
        surface.swap_tile(key, None);
    } else {
        *surface.tile_mut(key) = *out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::selection::{Combine, Shape};

    fn full_coverage(r: Rect) -> Tiled<f32> {
        let mut c = Tiled::new(0.0);
        c.write_rect(r, &vec![1.0; r.area()]);
        c
    }

    #[test]
    fn paint_respects_selection_and_patch_restores() {
        let mut doc = Document::with_layer(128, 128).unwrap();
        let id = doc.layers[0].id;
        let before = doc.clone();
        doc.selection =
            doc.selection.with_shape(&Shape::Rect { x: 0, y: 0, w: 10, h: 10 }, Combine::Replace, doc.bounds());
        let mut e = PixelEdit::begin(&doc, PaintTarget::Layer(id)).unwrap();
        let r = Rect::new(0, 0, 100, 100);
        e.mix(&mut doc, r.tiles(), &full_coverage(r), &Ink::Color(Color::rgb(1.0, 0.0, 0.0))).unwrap();
        let s = doc.layers[0].surface().unwrap();
        assert_eq!(s.get(5, 5), [255, 0, 0, 255]);
        assert_eq!(s.get(50, 50), [0, 0, 0, 0]);
        e.into_patch().swap_into(&mut doc).unwrap();
        doc.selection = before.selection.clone();
        assert_eq!(doc, before);
    }

    #[test]
    fn lock_alpha_keeps_coverage_and_erase_removes() {
        let mut doc = Document::with_layer(64, 64).unwrap();
        let id = doc.layers[0].id;
        if let Ok(SurfaceMut::Rgba(s)) = doc.target_mut(PaintTarget::Layer(id)) {
            s.set(1, 1, [0, 0, 128, 128]);
        }
        doc.layer_mut(id).unwrap().props.lock_alpha = true;
        let r = Rect::new(0, 0, 4, 4);
        let mut e = PixelEdit::begin(&doc, PaintTarget::Layer(id)).unwrap();
        e.mix(&mut doc, r.tiles(), &full_coverage(r), &Ink::Color(Color::rgb(1.0, 0.0, 0.0))).unwrap();
        let s = doc.layers[0].surface().unwrap();
        assert_eq!(s.get(1, 1), [128, 0, 0, 128]);
        assert_eq!(s.get(2, 2), [0, 0, 0, 0]);
        doc.layer_mut(id).unwrap().props.lock_alpha = false;
        let mut e = PixelEdit::begin(&doc, PaintTarget::Layer(id)).unwrap();
        e.mix(&mut doc, r.tiles(), &full_coverage(r), &Ink::Erase).unwrap();
        assert_eq!(doc.layers[0].surface().unwrap().get(1, 1), [0, 0, 0, 0]);
    }
}
