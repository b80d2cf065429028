use serde::{Deserialize, Serialize};

use super::BlendMode;
use crate::raster::{Mask, Surface};

/// Stable identity of a layer inside one document; commands address layers by it.
pub type LayerId = u64;

/// Everything about a layer that is not pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerProps {
    pub name: String,
    pub visible: bool,
    /// 0..=1, applied when the layer is composited.
    pub opacity: f32,
    pub blend: BlendMode,
    /// Painting keeps the layer's alpha (colours change, coverage does not).
    pub lock_alpha: bool,
    /// Clipped to the layer below (Clip Studio Paint's "clip to layer below"): the layer shows only where the
    /// nearest unclipped layer beneath it has alpha, and the base's blend mode and opacity apply to the group.
    pub clip: bool,
    /// Groups only: children blend straight into what is below instead of into an isolated buffer.
    pub pass_through: bool,
    /// A1111 "parameters" text of an AI result layer (prompt, seed, sampler, …), kept in ORA files.
    pub params: Option<String>,
}

impl LayerProps {
    pub fn named(name: impl Into<String>) -> LayerProps {
        LayerProps {
            name: name.into(),
            visible: true,
            opacity: 1.0,
            blend: BlendMode::Normal,
            lock_alpha: false,
            clip: false,
            pass_through: false,
            params: None,
        }
    }
}

/// A grey mask: 255 shows the layer, 0 hides it. Missing tiles read as 255.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerMask {
    pub pixels: Mask,
    pub enabled: bool,
}

impl LayerMask {
    pub fn reveal_all() -> LayerMask {
        LayerMask { pixels: Mask::new(255), enabled: true }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LayerContent {
    Raster(Surface),
    /// Children, bottom first.
    Group(Vec<Layer>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub id: LayerId,
    pub props: LayerProps,
    pub mask: Option<LayerMask>,
    pub content: LayerContent,
}

impl Layer {
    /// Same layer, same settings, and the very same tiles (shared, not compared pixel by pixel): a cheap way to
    /// tell that nothing visible changed since a snapshot (a selection change, say).
    pub fn unchanged_since(&self, snapshot: &Layer) -> bool {
        let masks = match (&self.mask, &snapshot.mask) {
            (None, None) => true,
            (Some(a), Some(b)) => a.enabled == b.enabled && a.pixels.shares_all_tiles_with(&b.pixels),
            _ => false,
        };
        let content = match (&self.content, &snapshot.content) {
            (LayerContent::Raster(a), LayerContent::Raster(b)) => a.shares_all_tiles_with(b),
            (LayerContent::Group(a), LayerContent::Group(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.unchanged_since(y))
            }
            _ => false,
        };
        self.id == snapshot.id && self.props == snapshot.props && masks && content
    }

    pub fn is_group(&self) -> bool {
        matches!(self.content, LayerContent::Group(_))
    }

    pub fn surface(&self) -> Option<&Surface> {
        match &self.content {
            LayerContent::Raster(s) => Some(s),
            LayerContent::Group(_) => None,
        }
    }

    pub fn surface_mut(&mut self) -> Option<&mut Surface> {
        match &mut self.content {
            LayerContent::Raster(s) => Some(s),
            LayerContent::Group(_) => None,
        }
    }

    pub fn children(&self) -> &[Layer] {
        match &self.content {
            LayerContent::Group(c) => c,
            LayerContent::Raster(_) => &[],
        }
    }

    /// Tile bytes held by this layer and its children.
    pub fn bytes(&self) -> usize {
        let own = match &self.content {
            LayerContent::Raster(s) => s.bytes(),
            LayerContent::Group(c) => c.iter().map(Layer::bytes).sum(),
        };
        own + self.mask.as_ref().map_or(0, |m| m.pixels.bytes())
    }

    /// Bounds of the pixels that are not transparent, over a group's children too (masks not counted).
    pub fn content_bounds(&self) -> crate::geom::Rect {
        match &self.content {
            LayerContent::Raster(s) => s.content_bounds(),
            LayerContent::Group(c) => c.iter().fold(crate::geom::Rect::EMPTY, |r, l| r.union(&l.content_bounds())),
        }
    }

    /// Bounds of everything this layer could draw.
    pub fn tile_bounds(&self) -> crate::geom::Rect {
        match &self.content {
            LayerContent::Raster(s) => s.tile_bounds(),
            LayerContent::Group(c) => c.iter().fold(crate::geom::Rect::EMPTY, |r, l| r.union(&l.tile_bounds())),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::doc::Document;

    #[test]
    fn a_snapshot_is_unchanged_until_pixels_or_settings_change() {
        let mut doc = Document::with_layer(200, 100).unwrap();
        doc.layers[0].surface_mut().unwrap().set(5, 5, [9, 9, 9, 255]);
        let snapshot = doc.layers[0].clone();
        assert!(doc.layers[0].unchanged_since(&snapshot));
        doc.selection = crate::doc::Selection::all(doc.bounds());
        assert!(doc.layers[0].unchanged_since(&snapshot), "the selection is not the layer");
        doc.layers[0].surface_mut().unwrap().set(150, 50, [1, 2, 3, 255]);
        assert!(!doc.layers[0].unchanged_since(&snapshot), "new pixels");
        let mut hidden = snapshot.clone();
        hidden.props.visible = false;
        assert!(!hidden.unchanged_since(&snapshot), "new settings");
    }
}
