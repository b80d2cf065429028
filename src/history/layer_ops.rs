//! Layer-panel operations built from the basic commands: duplicate, merge down, apply mask, free
//! transform, paste an image as a layer. Each returns a [`Command`] to apply (and undo) like any other.

use super::Command;
use crate::doc::composite::render_layer_rect;
use crate::doc::{DocError, Document, Layer, LayerContent, LayerId, LayerProps};
use crate::geom::Rect;
use crate::paint::transform::{Affine, transform_tiled};
use crate::raster::Surface;

/// A copy of the layer (children too, with fresh ids) placed just above it, named "… copy".
pub fn duplicate(doc: &mut Document, id: LayerId) -> Result<Command, DocError> {
    let (parent, index) = doc.locate(id).ok_or(DocError::NoSuchLayer(id))?;
    let mut copy = doc.try_layer(id)?.clone();
    renumber(doc, &mut copy);
    copy.props.name = format!("{} copy", copy.props.name);
    Ok(Command::AddLayer { parent, index: index + 1, layer: Box::new(copy) })
}

fn renumber(doc: &mut Document, l: &mut Layer) {
    l.id = doc.alloc_id();
    if let LayerContent::Group(children) = &mut l.content {
        children.iter_mut().for_each(|c| renumber(doc, c));
    }
}

/// Merges a layer into the raster layer below it. The result keeps the lower layer's name, blend mode,
/// opacity and visibility; its pixels are the two composited together (the upper layer with its own mode,
/// opacity, mask and clipping), with the lower layer's mask baked in.
pub fn merge_down(doc: &Document, id: LayerId) -> Result<Command, DocError> {
    let (parent, index) = doc.locate(id).ok_or(DocError::NoSuchLayer(id))?;
    if index == 0 {
        return Err(DocError::Invalid("there is no layer below to merge into".into()));
    }
    let siblings = match parent {
        None => &doc.layers[..],
        Some(p) => doc.try_layer(p)?.children(),
    };
    let (below, upper) = (&siblings[index - 1], &siblings[index]);
    if below.is_group() {
        return Err(DocError::NotRaster(below.id));
    }
    let plain =
        LayerProps { opacity: 1.0, blend: Default::default(), visible: true, clip: false, ..below.props.clone() };
    let pair = Layer {
        id: 0,
        props: LayerProps::named("merge"),
        mask: None,
        content: LayerContent::Group(vec![Layer { props: plain, ..below.clone() }, upper.clone()]),
    };
    let area = pair.tile_bounds().intersect(&doc.bounds().inflate(doc.width.max(doc.height) as i32));
    let pixels = render_layer_rect(&pair, area);
    let merged = Layer {
        id: below.id,
        props: below.props.clone(),
        mask: None,
        content: LayerContent::Raster(Surface::from_buffer(
            [0; 4],
            area.x0,
            area.y0,
            area.width() as u32,
            area.height() as u32,
            &pixels,
        )),
    };
    Ok(Command::Batch(vec![Command::ReplaceLayer(Box::new(merged)), Command::RemoveLayer { id }]))
}

/// Bakes a raster layer's mask into its pixels and removes the mask.
pub fn apply_mask(doc: &Document, id: LayerId) -> Result<Command, DocError> {
    let l = doc.try_layer(id)?;
    if l.mask.is_none() {
        return Err(DocError::NoMask(id));
    }
    if l.is_group() {
        return Err(DocError::NotRaster(id));
    }
    let area = l.tile_bounds();
    let pixels = render_layer_rect(l, area);
    let surface = Surface::from_buffer([0; 4], area.x0, area.y0, area.width() as u32, area.height() as u32, &pixels);
    Ok(Command::ReplaceLayer(Box::new(Layer { mask: None, content: LayerContent::Raster(surface), ..l.clone() })))
}

/// Moves, scales, rotates or skews a layer (a group with all its children), mask included.
/// Pixels landing farther than one canvas size outside the canvas are dropped.
pub fn transform(doc: &Document, id: LayerId, map: &Affine) -> Result<Command, DocError> {
    let limit = doc.bounds().inflate(doc.width.max(doc.height) as i32);
    let mut l = doc.try_layer(id)?.clone();
    transform_layer(&mut l, map, limit)?;
    Ok(Command::ReplaceLayer(Box::new(l)))
}

fn transform_layer(l: &mut Layer, map: &Affine, limit: Rect) -> Result<(), DocError> {
    let singular = || DocError::Invalid("the transform flattens the layer to nothing".into());
    if let Some(m) = &mut l.mask {
        m.pixels = transform_tiled(&m.pixels, map, limit).ok_or_else(singular)?;
    }
    match &mut l.content {
        LayerContent::Raster(s) => *s = transform_tiled(s, map, limit).ok_or_else(singular)?,
        LayerContent::Group(children) => {
            for c in children {
                transform_layer(c, map, limit)?;
            }
        }
    }
    Ok(())
}

/// Free transform of the selected part of a raster layer: the selected pixels (weighted by the selection's
/// coverage, so feathered edges float partly) are lifted, mapped by `map` and laid over what stays; the
/// selection moves with them. One command (layer + selection), so one undo step. Without an active selection
/// this is [`transform`] of the whole layer. The layer's mask is left where it is.
pub fn transform_selection(doc: &Document, id: LayerId, map: &Affine) -> Result<Command, DocError> {
    let sel = &doc.selection;
    if !sel.active {
        return transform(doc, id, map);
    }
    let canvas = doc.bounds();
    let layer = doc.try_layer(id)?;
    let surface = layer
        .surface()
        .ok_or_else(|| DocError::Invalid("a group is transformed whole: deselect to transform it".into()))?;
    let rect = sel.bounds(canvas);
    if rect.is_empty() {
        return Err(DocError::Invalid("the selection is empty: nothing to transform".into()));
    }
    let singular = || DocError::Invalid("the transform flattens the selection to nothing".into());
    let limit = canvas.inflate(doc.width.max(doc.height) as i32);
    let (pixels, coverage) = (surface.read_rect(rect), sel.mask.read_rect(rect));
    let mut lifted = Vec::with_capacity(pixels.len());
    let mut rest = Vec::with_capacity(pixels.len());
    for (p, &c) in pixels.iter().zip(&coverage) {
        let part = p.map(|v| ((v as u32 * c as u32 + 127) / 255) as u8);
        lifted.push(part);
        rest.push([0, 1, 2, 3].map(|i| p[i] - part[i]));
    }
    let (w, h) = (rect.width() as u32, rect.height() as u32);
    let lifted = Surface::from_buffer([0; 4], rect.x0, rect.y0, w, h, &lifted);
    let moved = transform_tiled(&lifted, map, limit).ok_or_else(singular)?;
    let mut out = surface.clone();
    out.write_rect(rect, &rest);
    let landed = moved.content_bounds();
    if !landed.is_empty() {
        let over = moved.read_rect(landed);
        let mut under = out.read_rect(landed);
        for (u, o) in under.iter_mut().zip(&over) {
            // premultiplied source-over
            let keep = 255 - o[3] as u32;
            *u = [0, 1, 2, 3].map(|i| (o[i] as u32 + (u[i] as u32 * keep + 127) / 255).min(255) as u8);
        }
        out.write_rect(landed, &under);
    }
    out.prune();
    let mask = transform_tiled(&sel.mask, map, limit).ok_or_else(singular)?;
    let on_canvas = mask.content_bounds().intersect(&canvas);
    let gray = crate::raster::GrayBuf { rect: on_canvas, data: mask.read_rect(on_canvas) };
    let mut l = layer.clone();
    l.content = LayerContent::Raster(out);
    Ok(Command::Batch(vec![
        Command::ReplaceLayer(Box::new(l)),
        Command::SetSelection(Box::new(crate::doc::Selection::from_gray(&gray))),
    ]))
}

/// A new top layer holding straight RGBA pixels with their top-left corner at `(x, y)` (paste, drop).
pub fn image_layer(doc: &mut Document, name: &str, img: &image::RgbaImage, x: i32, y: i32) -> Command {
    let layer = doc.new_raster_layer(name, crate::io::raster_file::surface_from_rgba(img, x, y));
    Command::AddLayer { parent: None, index: doc.layers.len(), layer: Box::new(layer) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::premultiply;
    use crate::doc::composite::flatten;
    use crate::doc::{BlendMode, LayerMask};
    use crate::history::Editor;
    use crate::raster::Mask;

    fn two_layers() -> Editor {
        let mut d = Document::new(64, 64).unwrap();
        let mut a = Surface::new([0; 4]);
        a.write_rect(Rect::new(0, 0, 40, 40), &vec![premultiply([200, 50, 50, 255]); 1600]);
        let mut b = Surface::new([0; 4]);
        b.write_rect(Rect::new(20, 20, 60, 60), &vec![premultiply([50, 50, 200, 160]); 1600]);
        let below = d.new_raster_layer("below", a);
        let mut upper = d.new_raster_layer("upper", b);
        upper.props.blend = BlendMode::Multiply;
        upper.props.opacity = 0.7;
        d.layers = vec![below, upper];
        Editor::new(d)
    }

    #[test]
    fn transforming_a_selection_moves_only_the_selected_pixels_and_the_selection() {
        let mut d = Document::new(64, 64).unwrap();
        let mut s = Surface::new([0; 4]);
        s.write_rect(Rect::new(10, 10, 20, 20), &[[200, 0, 0, 255]; 100]);
        s.write_rect(Rect::new(40, 40, 50, 50), &[[0, 0, 200, 255]; 100]);
        let layer = d.new_raster_layer("art", s);
        let id = layer.id;
        d.layers = vec![layer];
        d.selection = crate::doc::Selection::all(d.bounds()).with_shape(
            &crate::doc::selection::Shape::Rect { x: 8, y: 8, w: 14, h: 14 },
            crate::doc::selection::Combine::Replace,
            d.bounds(),
        );
        // A half-covered pixel splits exactly into what floats and what stays.
        d.selection.mask.set(30, 30, 128);
        d.layers[0].surface_mut().unwrap().set(30, 30, [100, 100, 100, 255]);
        let mut ed = Editor::new(d);
        let before = ed.doc.clone();
        let cmd = transform_selection(&ed.doc, id, &Affine::translate(20.0, 0.0)).unwrap();
        ed.apply(cmd).unwrap();
        let px = |ed: &Editor, x, y| ed.doc.layers[0].surface().unwrap().get(x, y);
        assert_eq!(px(&ed, 35, 15), [200, 0, 0, 255], "the red square moved right");
        assert_eq!(px(&ed, 15, 15), [0, 0, 0, 0], "and left a hole");
        assert_eq!(px(&ed, 45, 45), [0, 0, 200, 255], "the unselected blue square stayed");
        assert_eq!(px(&ed, 30, 30), [50, 50, 50, 127], "the half-selected pixel left its unselected half");
        assert_eq!(px(&ed, 50, 30), [50, 50, 50, 128], "and its selected half moved");
        let sel = &ed.doc.selection;
        assert_eq!((sel.coverage(35, 15), sel.coverage(15, 15), sel.coverage(50, 30)), (255, 0, 128));
        assert_eq!(ed.history.undo_len(), 1, "one step");
        ed.undo().unwrap();
        assert!(ed.doc == before, "undo restores pixels and selection exactly");

        ed.doc.selection = crate::doc::Selection::none();
        let whole = transform_selection(&ed.doc, id, &Affine::translate(1.0, 0.0)).unwrap();
        assert!(matches!(whole, Command::ReplaceLayer(_)), "no selection: the whole layer");
    }

    #[test]
    fn merge_down_keeps_the_picture_and_undoes() {
        let mut ed = two_layers();
        let before = ed.doc.clone();
        let upper = ed.doc.layers[1].id;
        let cmd = merge_down(&ed.doc, upper).unwrap();
        ed.apply(cmd).unwrap();
        assert_eq!(ed.doc.layers.len(), 1);
        assert_eq!(ed.doc.layers[0].props.name, "below");
        let (a, b) = (flatten(&before), flatten(&ed.doc));
        assert!(a.iter().zip(&b).all(|(p, q)| p.iter().zip(q).all(|(x, y)| x.abs_diff(*y) <= 1)));
        ed.undo().unwrap();
        assert_eq!(ed.doc, before);
        assert!(merge_down(&ed.doc, ed.doc.layers[0].id).is_err(), "nothing below the bottom layer");
    }

    #[test]
    fn duplicate_apply_mask_and_transform() {
        let mut ed = two_layers();
        let below = ed.doc.layers[0].id;
        let cmd = duplicate(&mut ed.doc, below).unwrap();
        ed.apply(cmd).unwrap();
        assert_eq!(ed.doc.layers[1].props.name, "below copy");
        assert_ne!(ed.doc.layers[1].id, below);
        assert!(ed.doc.layers[1].surface().unwrap().shares_all_tiles_with(ed.doc.layers[0].surface().unwrap()));

        let mut m = Mask::new(255);
        m.write_rect(Rect::new(0, 0, 10, 64), &vec![0; 640]);
        ed.apply(Command::SetMask { id: below, mask: Some(Box::new(LayerMask { pixels: m, enabled: true })) }).unwrap();
        let look = flatten(&ed.doc);
        ed.apply(apply_mask(&ed.doc, below).unwrap()).unwrap();
        assert!(ed.doc.layer(below).unwrap().mask.is_none());
        assert_eq!(flatten(&ed.doc), look);
        assert_eq!(ed.doc.layer(below).unwrap().surface().unwrap().get(5, 5), [0, 0, 0, 0]);

        let cmd = transform(&ed.doc, below, &Affine::translate(10.0, 0.0)).unwrap();
        ed.apply(cmd).unwrap();
        assert_eq!(ed.doc.layer(below).unwrap().surface().unwrap().get(45, 5), premultiply([200, 50, 50, 255]));
        assert!(transform(&ed.doc, below, &Affine { a: 0.0, e: 0.0, ..Affine::IDENTITY }).is_err());
        while ed.undo().unwrap().is_some() {}
        assert_eq!(ed.doc, two_layers().doc);
    }
}
