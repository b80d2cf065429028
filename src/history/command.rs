use serde::{Deserialize, Serialize};

use crate::doc::{
    DocError, Document, Layer, LayerContent, LayerId, LayerMask, LayerProps, PaintTarget, Selection, TilePatch,
};
use crate::geom::Rect;
use crate::paint::apply::{Ink, PixelEdit, rect_coverage};
use crate::paint::fill::FillCommand;
use crate::paint::gradient::GradientCommand;
use crate::paint::stroke::StrokeCommand;

/// A change to a document. Applying it either changes the document and returns its inverse, or fails and
/// leaves the document exactly as it was.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Stroke(StrokeCommand),
    Fill(FillCommand),
    Gradient(GradientCommand),
    /// Erases the selected area of a target (everything when nothing is selected).
    Clear {
        target: PaintTarget,
    },
    /// Moves a layer's (or group's) pixels and mask by whole pixels.
    Translate {
        layer: LayerId,
        dx: i32,
        dy: i32,
    },
    /// Swaps saved tiles in: the inverse of every pixel edit.
    Patch(TilePatch),
    AddLayer {
        parent: Option<LayerId>,
        index: usize,
        layer: Box<Layer>,
    },
    RemoveLayer {
        id: LayerId,
    },
    /// Moves a layer to `index` among the children of `parent` (index counted after removal).
    MoveLayer {
        id: LayerId,
        parent: Option<LayerId>,
        index: usize,
    },
    SetProps {
        id: LayerId,
        props: LayerProps,
    },
    /// Adds, replaces or (with `None`) removes a layer mask.
    SetMask {
        id: LayerId,
        mask: Option<Box<LayerMask>>,
    },
    SetSelection(Box<Selection>),
    SetMetadata(Vec<(String, String)>),
    /// Replaces a layer (same id) wholesale: merged, transformed or mask-applied results.
    ReplaceLayer(Box<Layer>),
    /// Changes the canvas size; every layer and the selection move by (`dx`, `dy`) (expanding on the left or
    /// top). Pixels that end up outside the canvas are kept, so the inverse restores them exactly.
    ResizeCanvas {
        width: u32,
        height: u32,
        dx: i32,
        dy: i32,
    },
    /// Several commands as one undo step; all or nothing.
    Batch(Vec<Command>),
}

/// What applying a command did.
#[derive(Debug)]
pub struct Applied {
    /// Canvas area whose composite may have changed.
    pub dirty: Rect,
    /// The command that restores the document as it was.
    pub inverse: Command,
}

/// Serializable view of the pixel commands, for scripts and the command line.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum PaintOp {
    Stroke(StrokeCommand),
    Fill(FillCommand),
    Gradient(GradientCommand),
}

impl PaintOp {
    /// Reads a JSON list of paint operations (the `oekaki apply` format).
    pub fn list_from_json(text: &str) -> Result<Vec<PaintOp>, String> {
        serde_json::from_str(text).map_err(|e| format!("not a list of paint operations: {e}"))
    }
}

impl From<PaintOp> for Command {
    fn from(op: PaintOp) -> Command {
        match op {
            PaintOp::Stroke(s) => Command::Stroke(s),
            PaintOp::Fill(f) => Command::Fill(f),
            PaintOp::Gradient(g) => Command::Gradient(g),
        }
    }
}

impl Command {
    /// A short name for the Edit menu ("Undo Brush stroke").
    pub fn label(&self) -> &'static str {
        match self {
            Command::Stroke(s) if s.brush.eraser => "Erase",
            Command::Stroke(_) => "Brush stroke",
            Command::Fill(_) => "Fill",
            Command::Gradient(_) => "Gradient",
            Command::Clear { .. } => "Clear",
            Command::Translate { .. } => "Move",
            Command::Patch(_) => "Paint",
            Command::AddLayer { .. } => "Add layer",
            Command::RemoveLayer { .. } => "Delete layer",
            Command::MoveLayer { .. } => "Reorder layers",
            Command::SetProps { .. } => "Layer properties",
            Command::SetMask { .. } => "Layer mask",
            Command::SetSelection(_) => "Selection",
            Command::SetMetadata(_) => "Metadata",
            Command::ReplaceLayer(_) => "Edit layer",
            Command::ResizeCanvas { .. } => "Canvas size",
            Command::Batch(_) => "Edit",
        }
    }

    /// Whether applying this changes nothing at all (a pixel patch without tiles, an empty batch).
    pub fn is_noop(&self) -> bool {
        match self {
            Command::Patch(p) => p.is_empty(),
            Command::Batch(v) => v.iter().all(Command::is_noop),
            _ => false,
        }
    }

    /// Tile bytes this command keeps alive (what an undo entry costs).
    pub fn bytes(&self) -> usize {
        match self {
            Command::Patch(p) => p.bytes(),
            Command::AddLayer { layer, .. } | Command::ReplaceLayer(layer) => layer.bytes(),
            Command::SetMask { mask, .. } => mask.as_ref().map_or(0, |m| m.pixels.bytes()),
            Command::SetSelection(s) => s.mask.bytes(),
            Command::Batch(v) => v.iter().map(Command::bytes).sum(),
            _ => 0,
        }
    }

    pub fn apply(self, doc: &mut Document) -> Result<Applied, DocError> {
        let canvas = doc.bounds();
        let patch =
            |r: Result<(Rect, TilePatch), DocError>| r.map(|(dirty, p)| Applied { dirty, inverse: Command::Patch(p) });
        match self {
            Command::Stroke(s) => patch(s.paint(doc)),
            Command::Fill(f) => patch(f.paint(doc)),
            Command::Gradient(g) => patch(g.paint(doc)),
            Command::Clear { target } => {
                let area = doc.selection.bounds(canvas);
                let mut edit = PixelEdit::begin(doc, target)?;
                let dirty = edit.mix(doc, area.tiles(), &rect_coverage(area), &Ink::Erase)?;
                Ok(Applied { dirty, inverse: Command::Patch(edit.into_patch()) })
            }
            Command::Patch(p) => {
                let dirty = if p.target == PaintTarget::Selection { Rect::EMPTY } else { p.rect().intersect(&canvas) };
                Ok(Applied { dirty, inverse: Command::Patch(p.swap_into(doc)?) })
            }
            Command::Translate { layer, dx, dy } => {
                let l = doc.try_layer_mut(layer)?;
                let before = l.tile_bounds();
                translate(l, dx, dy);
                let dirty = before.union(&l.tile_bounds()).intersect(&canvas);
                Ok(Applied { dirty, inverse: Command::Translate { layer, dx: -dx, dy: -dy } })
            }
            Command::AddLayer { parent, index, layer } => {
                let id = layer.id;
                doc.insert_layer(parent, index, *layer)?;
                Ok(Applied { dirty: affected(doc, id), inverse: Command::RemoveLayer { id } })
            }
            Command::RemoveLayer { id } => {
                let dirty = affected(doc, id);
                let (parent, index, layer) = doc.remove_layer(id)?;
                Ok(Applied { dirty, inverse: Command::AddLayer { parent, index, layer: Box::new(layer) } })
            }
            Command::MoveLayer { id, parent, index } => {
                let (old_parent, old_index) = doc.locate(id).ok_or(DocError::NoSuchLayer(id))?;
                if let Some(p) = parent {
                    let target = doc.try_layer(p)?;
                    if !target.is_group() {
                        return Err(DocError::NotGroup(p));
                    }
                    if p == id || doc.try_layer(id)?.children().iter().any(|c| contains(c, p)) {
                        return Err(DocError::Cycle);
                    }
                }
                let before = affected(doc, id);
                let (_, _, layer) = doc.remove_layer(id)?;
                let len = doc.siblings_mut(parent)?.len();
                if index > len {
                    doc.insert_layer(old_parent, old_index, layer)?;
                    return Err(DocError::BadIndex(index));
                }
                doc.siblings_mut(parent)?.insert(index, layer);
                let dirty = before.union(&affected(doc, id));
                Ok(Applied { dirty, inverse: Command::MoveLayer { id, parent: old_parent, index: old_index } })
            }
            Command::SetProps { id, props } => {
                if !(props.opacity.is_finite() && (0.0..=1.0).contains(&props.opacity)) {
                    return Err(DocError::Invalid(format!("opacity {} is outside 0..1", props.opacity)));
                }
                let l = doc.try_layer_mut(id)?;
                let old = std::mem::replace(&mut l.props, props);
                Ok(Applied { dirty: affected(doc, id), inverse: Command::SetProps { id, props: old } })
            }
            Command::SetMask { id, mask } => {
                let l = doc.try_layer_mut(id)?;
                let old = std::mem::replace(&mut l.mask, mask.map(|m| *m));
                Ok(Applied { dirty: affected(doc, id), inverse: Command::SetMask { id, mask: old.map(Box::new) } })
            }
            Command::SetSelection(s) => {
                let old = std::mem::replace(&mut doc.selection, *s);
                Ok(Applied { dirty: Rect::EMPTY, inverse: Command::SetSelection(Box::new(old)) })
            }
            Command::ResizeCanvas { width, height, dx, dy } => {
                if width == 0 || height == 0 || width > crate::doc::MAX_CANVAS || height > crate::doc::MAX_CANVAS {
                    return Err(DocError::BadSize(width, height));
                }
                let (old_w, old_h) = (doc.width, doc.height);
                for l in &mut doc.layers {
                    translate(l, dx, dy);
                }
                doc.selection.mask = doc.selection.mask.translated(dx, dy);
                (doc.width, doc.height) = (width, height);
                let dirty = doc.bounds().union(&canvas);
                Ok(Applied { dirty, inverse: Command::ResizeCanvas { width: old_w, height: old_h, dx: -dx, dy: -dy } })
            }
            Command::SetMetadata(m) => {
                let old = std::mem::replace(&mut doc.metadata, m);
                Ok(Applied { dirty: Rect::EMPTY, inverse: Command::SetMetadata(old) })
            }
            Command::ReplaceLayer(layer) => {
                let id = layer.id;
                let mut ids = Vec::new();
                collect_ids(&layer, &mut ids);
                let old = doc.try_layer(id)?;
                // Children may keep their ids (they are replaced too) but must not collide with other layers.
                if let Some(dup) = ids.iter().find(|i| doc.layer(**i).is_some() && !contains(old, **i)) {
                    return Err(DocError::Invalid(format!("layer id {dup} is already in the document")));
                }
                let before = affected(doc, id);
                let slot = doc.try_layer_mut(id)?;
                let old = std::mem::replace(slot, *layer);
                for i in ids {
                    doc.reserve_id(i);
                }
                Ok(Applied { dirty: before.union(&affected(doc, id)), inverse: Command::ReplaceLayer(Box::new(old)) })
            }
            Command::Batch(cmds) => {
                let mut inverses = Vec::with_capacity(cmds.len());
                let mut dirty = Rect::EMPTY;
                for c in cmds {
                    match c.apply(doc) {
                        Ok(a) => {
                            dirty = dirty.union(&a.dirty);
                            inverses.push(a.inverse);
                        }
                        Err(e) => {
                            for inv in inverses.into_iter().rev() {
                                // Inverses of commands that just succeeded cannot fail.
                                let _ = inv.apply(doc);
                            }
                            return Err(e);
                        }
                    }
                }
                inverses.reverse();
                Ok(Applied { dirty, inverse: Command::Batch(inverses) })
            }
        }
    }
}

fn translate(l: &mut Layer, dx: i32, dy: i32) {
    if let Some(m) = &mut l.mask {
        m.pixels = m.pixels.translated(dx, dy);
    }
    match &mut l.content {
        LayerContent::Raster(s) => *s = s.translated(dx, dy),
        LayerContent::Group(children) => children.iter_mut().for_each(|c| translate(c, dx, dy)),
    }
}

fn collect_ids(l: &Layer, out: &mut Vec<LayerId>) {
    out.push(l.id);
    l.children().iter().for_each(|c| collect_ids(c, out));
}

fn contains(l: &Layer, id: LayerId) -> bool {
    l.id == id || l.children().iter().any(|c| contains(c, id))
}

/// The area a change to layer `id` can alter: its own bounds and those of the layers clipped to it.
fn affected(doc: &Document, id: LayerId) -> Rect {
    let canvas = doc.bounds();
    let Some((parent, index)) = doc.locate(id) else { return Rect::EMPTY };
    let siblings = match parent {
        None => &doc.layers[..],
        Some(p) => doc.layer(p).map_or(&[][..], |g| g.children()),
    };
    let mut r = Rect::EMPTY;
    for (i, l) in siblings.iter().enumerate().skip(index) {
        if i > index && !l.props.clip {
            break;
        }
        r = r.union(&l.tile_bounds());
        if let Some(m) = &l.mask
            && m.pixels.default_value() != 255
        {
            r = canvas;
        }
    }
    r.intersect(&canvas)
}
