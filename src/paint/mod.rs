//! Painting: brushes, dab emission, stabilizer, flood fill and gradients. Every tool produces a coverage
//! buffer and hands it to one stage, [`apply`], which mixes ink into a layer, a layer mask or the selection.

pub mod apply;
pub mod brush;
pub mod curve;
pub mod dab;
pub mod fill;
pub mod gradient;
pub mod sample;
pub mod stabilizer;
pub mod stroke;
pub mod transform;

pub use crate::doc::PaintTarget;
pub use apply::{Ink, PixelEdit};
pub use brush::Brush;
pub use curve::Curve;
pub use stroke::{InputSample, StrokeSession};
