//! Oekaki Studio's desktop program and command line. A library, so tests and benchmarks drive the real studio;
//! `main.rs` only turns results into exit codes.

pub mod cli;
pub mod generate;
pub mod outputs;
pub mod segment;
pub mod studio;
