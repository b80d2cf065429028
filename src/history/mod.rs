//! Every change to a document is a [`Command`]. Applying one returns the dirty area and the command that
//! undoes it; [`History`] keeps those inverses within a memory budget, and [`Editor`] ties a document, its
//! history and a live stroke together for the studio, the command line and AI jobs alike.

pub mod command;
mod editor;
pub mod layer_ops;
mod stack;

pub use command::{Applied, Command};
pub use editor::Editor;
pub use stack::History;
