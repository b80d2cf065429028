//! Oekaki Studio core library: documents, painting, history and files. No UI dependency lives here;
//! the desktop program and the command line both drive the document through [`history::Command`]s.

pub mod ai;
pub mod color;
pub mod doc;
pub mod geom;
pub mod history;
pub mod io;
pub mod jobs;
pub mod paint;
pub mod paths;
pub mod raster;
pub mod view;
