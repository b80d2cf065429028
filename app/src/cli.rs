//! The headless command line: `export`, `info`, `apply`, `generate`, `edit`, `preprocess` and `segment`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use oekaki::doc::{Document, Layer, LayerContent};
use oekaki::history::{Editor, command::PaintOp};
use oekaki::io::{self, Limits, params::GenerationParams};

#[derive(Parser)]
#[command(
    name = "oekaki",
    version,
    about = "Oekaki Studio: painting with local AI. Without a command, opens the studio."
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Files to open in the studio.
    files: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Convert between ORA, PNG, JPEG and WebP (flattening layers; PNG text such as A1111 parameters is kept).
    Export { input: PathBuf, output: PathBuf },
    /// Print size, layers and any generation parameters of a file.
    Info { file: PathBuf },
    /// Apply paint operations from a JSON file (a list of strokes, fills, gradients) and save the result.
    Apply { input: PathBuf, ops: PathBuf, output: PathBuf },
    /// Generate or edit an image with a local Stable Diffusion model (txt2img, img2img, inpaint, InstructPix2Pix).
    #[command(allow_negative_numbers = true)]
    Generate(Box<crate::generate::GenerateArgs>),
    /// Edit a document with a local model: inpaint or refine the masked area, or generate into it, as a new layer.
    #[command(allow_negative_numbers = true)]
    Edit(Box<crate::generate::EditArgs>),
    /// Turn a drawing or picture into a ControlNet control image (invert, scribble, canny, line art).
    #[command(allow_negative_numbers = true)]
    Preprocess(crate::generate::PreprocessArgs),
    /// Segment Anything: a mask from clicks (--point X,Y[,fg|bg]) and/or a box (--box X0,Y0,X1,Y1).
    #[command(allow_negative_numbers = true)]
    Segment(crate::segment::SegmentArgs),
}

pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<()> {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            print!("{e}");
            return Ok(());
        }
        // clap's first paragraph, on one line ("… were not provided: --prompt <PROMPT>"); not its usage block
        Err(e) => {
            let text = e.to_string();
            let first: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            bail!("{}", first.join(" ").trim_start_matches("error: "))
        }
    };
    match cli.command {
        None => crate::studio::run(cli.files),
        Some(Command::Export { input, output }) => export(&input, &output),
        Some(Command::Info { file }) => {
            print!("{}", info(&file)?);
            Ok(())
        }
        Some(Command::Apply { input, ops, output }) => apply(&input, &ops, &output),
        Some(Command::Generate(args)) => crate::generate::generate(*args),
        Some(Command::Edit(args)) => crate::generate::edit(*args),
        Some(Command::Preprocess(args)) => crate::generate::preprocess(args),
        Some(Command::Segment(args)) => crate::segment::segment(args),
    }
}

/// Opens a file; what could not be kept exactly is reported on stderr, one `oekaki: warning:` line each.
fn open(path: &Path) -> Result<Document> {
    let (doc, warnings) = io::open_path_with_warnings(path, Limits::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    for w in warnings {
        eprintln!("oekaki: warning: {}: {w}", path.display());
    }
    Ok(doc)
}

fn export(input: &Path, output: &Path) -> Result<()> {
    let doc = open(input)?;
    io::save_path(&doc, output).with_context(|| format!("cannot write {}", output.display()))
}

fn apply(input: &Path, ops: &Path, output: &Path) -> Result<()> {
    let mut editor = Editor::new(open(input)?);
    let text = std::fs::read_to_string(ops).with_context(|| format!("cannot read {}", ops.display()))?;
    let ops = PaintOp::list_from_json(&text).map_err(anyhow::Error::msg).with_context(|| ops.display().to_string())?;
    for (i, op) in ops.into_iter().enumerate() {
        editor.apply(op.into()).with_context(|| format!("operation {}", i + 1))?;
    }
    io::save_path(&editor.doc, output).with_context(|| format!("cannot write {}", output.display()))
}

/// The text `oekaki info` prints.
pub fn info(path: &Path) -> Result<String> {
    let doc = open(path)?;
    let mut out = format!("{}: {}×{}, {} layers\n", path.display(), doc.width, doc.height, doc.layer_ids().len());
    for l in doc.layers.iter().rev() {
        describe(l, 1, &mut out);
    }
    for (k, v) in &doc.metadata {
        if k == "parameters" {
            let p = GenerationParams::parse(v);
            out.push_str(&format!("prompt: {}\n", p.prompt.replace('\n', " ")));
            if !p.negative_prompt.is_empty() {
                out.push_str(&format!("negative prompt: {}\n", p.negative_prompt.replace('\n', " ")));
            }
            for (sk, sv) in &p.settings {
                out.push_str(&format!("{sk}: {sv}\n"));
            }
        } else {
            out.push_str(&format!("{k}: {}\n", v.replace('\n', " ")));
        }
    }
    // Names and text chunks come from the file: never send its control characters (escapes) to the terminal.
    Ok(out.chars().map(|c| if c.is_control() && c != '\n' { '\u{fffd}' } else { c }).collect())
}

fn describe(l: &Layer, depth: usize, out: &mut String) {
    let p = &l.props;
    let mut line = format!(
        "{}{} \"{}\" {} {:.0}% {}",
        "  ".repeat(depth),
        if l.is_group() { "group" } else { "layer" },
        p.name,
        p.blend.ora_name(),
        p.opacity * 100.0,
        if p.visible { "visible" } else { "hidden" }
    );
    if let LayerContent::Raster(s) = &l.content {
        let b = s.content_bounds();
        if b.is_empty() {
            line.push_str(" empty");
        } else {
            line.push_str(&format!(" offset {},{} size {}×{}", b.x0, b.y0, b.width(), b.height()));
        }
    }
    if let Some(params) = &p.params {
        line.push_str(&format!(" parameters \"{}\"", params.replace('\n', " | ")));
    }
    for (on, word) in [
        (p.clip, "clipped"),
        (p.lock_alpha, "alpha-locked"),
        (p.pass_through, "pass-through"),
        (l.mask.is_some(), "masked"),
    ] {
        if on {
            line.push(' ');
            line.push_str(word);
        }
    }
    out.push_str(&line);
    out.push('\n');
    for c in l.children().iter().rev() {
        describe(c, depth + 1, out);
    }
}
