//! Reading colours back: the eyedropper, and the straight-alpha canvas image that fill and magic wand compare.

use crate::color::{Color, unpremultiply};
use crate::doc::composite::{render_rect, render_tile};
use crate::doc::{DocError, Document, LayerId};
use crate::geom::{Rect, TileKey, index_in_tile};

/// The canvas as straight RGBA8, row-major: one layer's pixels, or the whole visible image when `layer` is None.
pub fn straight_image(doc: &Document, layer: Option<LayerId>) -> Result<Vec<[u8; 4]>, DocError> {
    let canvas = doc.bounds();
    let premul = match layer {
        None => render_rect(doc, canvas),
        Some(id) => doc.try_layer(id)?.surface().ok_or(DocError::NotRaster(id))?.read_rect(canvas),
    };
    Ok(premul.into_iter().map(unpremultiply).collect())
}

/// The colour under `(x, y)`: of one layer, or of the composited image. `None` outside the canvas.
pub fn pick_color(doc: &Document, x: i32, y: i32, layer: Option<LayerId>) -> Result<Option<Color>, DocError> {
    if !doc.bounds().contains(x, y) {
        return Ok(None);
    }
    let p = match layer {
        None => render_tile(doc, TileKey::of_pixel(x, y), doc.bounds())[index_in_tile(x, y)],
        Some(id) => doc.try_layer(id)?.surface().ok_or(DocError::NotRaster(id))?.get(x, y),
    };
    Ok(Some(Color::from_premul8(p)))
}

/// Reads pixel `(x, y)` of a row-major image covering `canvas`.
pub fn at(img: &[[u8; 4]], canvas: Rect, x: i32, y: i32) -> [u8; 4] {
    img[(y - canvas.y0) as usize * canvas.width() as usize + (x - canvas.x0) as usize]
}
