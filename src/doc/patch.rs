//! Pixel targets (a layer, a layer mask, the selection) and tile patches: saved tiles that can be swapped
//! back in. A patch is what undo keeps for every pixel edit; swapping it returns the patch for redo.

use serde::{Deserialize, Serialize};

use super::{DocError, Document, LayerContent, LayerId};
use crate::color::Rgba8;
use crate::geom::{Rect, TILE_PIXELS, TileKey};
use crate::raster::{Mask, Surface, TileRef};

/// Where pixels are painted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "target", content = "layer")]
pub enum PaintTarget {
    Layer(LayerId),
    Mask(LayerId),
    Selection,
}

/// Mutable pixels of a target.
pub enum SurfaceMut<'a> {
    Rgba(&'a mut Surface),
    Gray(&'a mut Mask),
}

impl Document {
    /// The pixels of a target; painting into the selection activates it.
    pub fn target_mut(&mut self, target: PaintTarget) -> Result<SurfaceMut<'_>, DocError> {
        match target {
            PaintTarget::Layer(id) => match &mut self.try_layer_mut(id)?.content {
                LayerContent::Raster(s) => Ok(SurfaceMut::Rgba(s)),
                LayerContent::Group(_) => Err(DocError::NotRaster(id)),
            },
            PaintTarget::Mask(id) => match &mut self.try_layer_mut(id)?.mask {
                Some(m) => Ok(SurfaceMut::Gray(&mut m.pixels)),
                None => Err(DocError::NoMask(id)),
            },
            PaintTarget::Selection => {
                self.selection.active = true;
                Ok(SurfaceMut::Gray(&mut self.selection.mask))
            }
        }
    }

    /// Checks that a target exists and can take paint, without changing anything.
    pub fn check_target(&self, target: PaintTarget) -> Result<(), DocError> {
        match target {
            PaintTarget::Layer(id) => self.try_layer(id)?.surface().map(|_| ()).ok_or(DocError::NotRaster(id)),
            PaintTarget::Mask(id) => self.try_layer(id)?.mask.as_ref().map(|_| ()).ok_or(DocError::NoMask(id)),
            PaintTarget::Selection => Ok(()),
        }
    }
}

/// Saved tiles of one target; `None` means "no tile" (all default).
#[derive(Clone, Debug, PartialEq)]
pub enum PatchTiles {
    Rgba(Vec<(TileKey, Option<TileRef<Rgba8>>)>),
    Gray(Vec<(TileKey, Option<TileRef<u8>>)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TilePatch {
    pub target: PaintTarget,
    pub tiles: PatchTiles,
    /// Whether the selection was active before (only for the selection target).
    pub selection_was_active: bool,
}

impl TilePatch {
    /// Bytes of tile data the patch keeps alive.
    pub fn bytes(&self) -> usize {
        match &self.tiles {
            PatchTiles::Rgba(v) => v.iter().filter(|t| t.1.is_some()).count() * TILE_PIXELS * 4,
            PatchTiles::Gray(v) => v.iter().filter(|t| t.1.is_some()).count() * TILE_PIXELS,
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.tiles {
            PatchTiles::Rgba(v) => v.is_empty(),
            PatchTiles::Gray(v) => v.is_empty(),
        }
    }

    pub fn rect(&self) -> Rect {
        let keys: Vec<TileKey> = match &self.tiles {
            PatchTiles::Rgba(v) => v.iter().map(|t| t.0).collect(),
            PatchTiles::Gray(v) => v.iter().map(|t| t.0).collect(),
        };
        keys.iter().fold(Rect::EMPTY, |r, k| r.union(&k.rect()))
    }

    /// Swaps the saved tiles into the document; returns the patch that undoes this.
    pub fn swap_into(self, doc: &mut Document) -> Result<TilePatch, DocError> {
        let was_active = doc.selection.active;
        let tiles = match (doc.target_mut(self.target)?, self.tiles) {
            (SurfaceMut::Rgba(s), PatchTiles::Rgba(v)) => {
                PatchTiles::Rgba(v.into_iter().map(|(k, t)| (k, s.swap_tile(k, t))).collect())
            }
            (SurfaceMut::Gray(s), PatchTiles::Gray(v)) => {
                PatchTiles::Gray(v.into_iter().map(|(k, t)| (k, s.swap_tile(k, t))).collect())
            }
            _ => return Err(DocError::Invalid("tile patch does not match its target".into())),
        };
        if self.target == PaintTarget::Selection {
            doc.selection.active = self.selection_was_active;
        }
        Ok(TilePatch { target: self.target, tiles, selection_was_active: was_active })
    }
}
