use super::{Layer, LayerContent, LayerId, LayerProps, Selection};
use crate::geom::Rect;
use crate::raster::Surface;

/// Largest canvas side in pixels.
pub const MAX_CANVAS: u32 = 16384;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocError {
    #[error("canvas size {0}×{1} is outside 1..={MAX_CANVAS} pixels per side")]
    BadSize(u32, u32),
    #[error("no layer with id {0}")]
    NoSuchLayer(LayerId),
    #[error("layer {0} is a group; this needs a raster layer")]
    NotRaster(LayerId),
    #[error("layer {0} is not a group")]
    NotGroup(LayerId),
    #[error("layer {0} has no mask")]
    NoMask(LayerId),
    #[error("layer {0} already has a mask")]
    HasMask(LayerId),
    #[error("cannot put a group inside itself")]
    Cycle,
    #[error("index {0} is out of range")]
    BadIndex(usize),
    #[error("{0}")]
    Invalid(String),
}

/// A painting: canvas size, layer tree (bottom first), selection and text metadata.
#[derive(Clone, Debug)]
pub struct Document {
    pub width: u32,
    pub height: u32,
    pub layers: Vec<Layer>,
    pub selection: Selection,
    /// Text chunks carried through open/export (for example A1111 `parameters`).
    pub metadata: Vec<(String, String)>,
    next_id: LayerId,
}

impl PartialEq for Document {
    /// Same size, tree, properties, pixels, selection and metadata (layer ids included).
    fn eq(&self, o: &Self) -> bool {
        self.width == o.width
            && self.height == o.height
            && self.layers == o.layers
            && self.selection == o.selection
            && self.metadata == o.metadata
    }
}

impl Document {
    /// An empty canvas with no layers.
    pub fn new(width: u32, height: u32) -> Result<Document, DocError> {
        if width == 0 || height == 0 || width > MAX_CANVAS || height > MAX_CANVAS {
            return Err(DocError::BadSize(width, height));
        }
        Ok(Document {
            width,
            height,
            layers: Vec::new(),
            selection: Selection::none(),
            metadata: Vec::new(),
            next_id: 1,
        })
    }

    /// An empty canvas with one transparent raster layer called "Layer 1".
    pub fn with_layer(width: u32, height: u32) -> Result<Document, DocError> {
        let mut d = Document::new(width, height)?;
        let l = d.new_raster_layer("Layer 1", Surface::new([0; 4]));
        d.layers.push(l);
        Ok(d)
    }

    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width as i32, self.height as i32)
    }

    /// A fresh id, never used before in this document.
    pub fn alloc_id(&mut self) -> LayerId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The id [`Document::alloc_id`] would hand out next (for commands built against a read-only document).
    pub fn next_free_id(&self) -> LayerId {
        self.next_id
    }

    /// Makes sure future ids do not collide with `id` (used when layers come back through undo or files).
    pub fn reserve_id(&mut self, id: LayerId) {
        self.next_id = self.next_id.max(id + 1);
    }

    pub fn new_raster_layer(&mut self, name: &str, pixels: Surface) -> Layer {
        Layer { id: self.alloc_id(), props: LayerProps::named(name), mask: None, content: LayerContent::Raster(pixels) }
    }

    pub fn new_group(&mut self, name: &str, children: Vec<Layer>) -> Layer {
        Layer {
            id: self.alloc_id(),
            props: LayerProps::named(name),
            mask: None,
            content: LayerContent::Group(children),
        }
    }

    pub fn layer(&self, id: LayerId) -> Option<&Layer> {
        fn find(ls: &[Layer], id: LayerId) -> Option<&Layer> {
            ls.iter().find_map(|l| if l.id == id { Some(l) } else { find(l.children(), id) })
        }
        find(&self.layers, id)
    }

    pub fn layer_mut(&mut self, id: LayerId) -> Option<&mut Layer> {
        fn find(ls: &mut [Layer], id: LayerId) -> Option<&mut Layer> {
            for l in ls {
                if l.id == id {
                    return Some(l);
                }
                if let LayerContent::Group(c) = &mut l.content
                    && let Some(f) = find(c, id)
                {
                    return Some(f);
                }
            }
            None
        }
        find(&mut self.layers, id)
    }

    pub fn try_layer(&self, id: LayerId) -> Result<&Layer, DocError> {
        self.layer(id).ok_or(DocError::NoSuchLayer(id))
    }

    pub fn try_layer_mut(&mut self, id: LayerId) -> Result<&mut Layer, DocError> {
        self.layer_mut(id).ok_or(DocError::NoSuchLayer(id))
    }

    /// Where a layer sits: its parent group (None for the root) and index among its siblings.
    pub fn locate(&self, id: LayerId) -> Option<(Option<LayerId>, usize)> {
        fn find(ls: &[Layer], parent: Option<LayerId>, id: LayerId) -> Option<(Option<LayerId>, usize)> {
            for (i, l) in ls.iter().enumerate() {
                if l.id == id {
                    return Some((parent, i));
                }
                if let Some(f) = find(l.children(), Some(l.id), id) {
                    return Some(f);
                }
            }
            None
        }
        find(&self.layers, None, id)
    }

    /// The sibling list of `parent` (None = root).
    pub fn siblings_mut(&mut self, parent: Option<LayerId>) -> Result<&mut Vec<Layer>, DocError> {
        match parent {
            None => Ok(&mut self.layers),
            Some(p) => match &mut self.try_layer_mut(p)?.content {
                LayerContent::Group(c) => Ok(c),
                LayerContent::Raster(_) => Err(DocError::NotGroup(p)),
            },
        }
    }

    /// Inserts `layer` at `index` (0 = bottom) under `parent`.
    pub fn insert_layer(&mut self, parent: Option<LayerId>, index: usize, layer: Layer) -> Result<(), DocError> {
        let mut ids = Vec::new();
        collect_ids(std::slice::from_ref(&layer), &mut ids);
        if let Some(dup) = ids.iter().find(|id| self.layer(**id).is_some()) {
            return Err(DocError::Invalid(format!("layer id {dup} is already in the document")));
        }
        let list = self.siblings_mut(parent)?;
        if index > list.len() {
            return Err(DocError::BadIndex(index));
        }
        list.insert(index, layer);
        for id in ids {
            self.reserve_id(id);
        }
        Ok(())
    }

    /// Takes a layer (and its subtree) out; returns where it was.
    pub fn remove_layer(&mut self, id: LayerId) -> Result<(Option<LayerId>, usize, Layer), DocError> {
        let (parent, index) = self.locate(id).ok_or(DocError::NoSuchLayer(id))?;
        let layer = self.siblings_mut(parent)?.remove(index);
        Ok((parent, index, layer))
    }

    /// Every layer id, depth first, bottom first.
    pub fn layer_ids(&self) -> Vec<LayerId> {
        let mut ids = Vec::new();
        collect_ids(&self.layers, &mut ids);
        ids
    }

    /// Tile bytes held by all layers and the selection.
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(Layer::bytes).sum::<usize>() + self.selection.mask.bytes()
    }
}

fn collect_ids(ls: &[Layer], out: &mut Vec<LayerId>) {
    for l in ls {
        out.push(l.id);
        collect_ids(l.children(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_absurd_sizes() {
        assert!(Document::new(0, 10).is_err());
        assert!(Document::new(16385, 10).is_err());
        assert!(Document::new(16384, 16384).is_ok());
    }

    #[test]
    fn tree_insert_locate_remove() {
        let mut d = Document::with_layer(64, 64).unwrap();
        let g = d.new_group("G", vec![]);
        let gid = g.id;
        d.insert_layer(None, 1, g).unwrap();
        let l = d.new_raster_layer("inner", Surface::new([0; 4]));
        let lid = l.id;
        d.insert_layer(Some(gid), 0, l).unwrap();
        assert_eq!(d.locate(lid), Some((Some(gid), 0)));
        assert_eq!(d.layer_ids().len(), 3);
        let (p, i, _) = d.remove_layer(lid).unwrap();
        assert_eq!((p, i), (Some(gid), 0));
        assert!(d.layer(lid).is_none());
        assert!(d.insert_layer(Some(1), 0, d.clone().layers[0].clone()).is_err());
    }
}
