//! The document: canvas size, layer tree, selection, and the CPU reference compositor.

pub mod blend;
pub mod composite;
mod document;
mod layer;
mod patch;
pub mod selection;

pub use blend::BlendMode;
pub use document::{DocError, Document, MAX_CANVAS};
pub use layer::{Layer, LayerContent, LayerId, LayerMask, LayerProps};
pub use patch::{PaintTarget, PatchTiles, SurfaceMut, TilePatch};
pub use selection::Selection;
