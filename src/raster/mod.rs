//! Sparse tiled surfaces: 64×64 tiles shared copy-on-write through `Arc`.
//!
//! A missing tile reads as the surface's default value, so an empty 8192² layer is just an empty map.
//! Writers call [`Tiled::tile_mut`], which clones a tile only when history or another document still
//! shares it; undo keeps the old `Arc`s, which costs a pointer per tile.

mod gray;
pub mod morph;
pub mod region;
pub mod shapes;
mod tiled;

pub use gray::GrayBuf;
pub use tiled::{Pixel, TileData, TileRef, Tiled};

use crate::color::Rgba8;

/// A layer's pixels: premultiplied RGBA8, transparent by default.
pub type Surface = Tiled<Rgba8>;
/// An 8-bit mask (layer masks, selections, coverage).
pub type Mask = Tiled<u8>;
