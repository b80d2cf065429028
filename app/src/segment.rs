//! `oekaki segment`: Segment Anything from the command line, the same core calls the Smart select tool makes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oekaki::ai::sam::{Point, Prompt, SamModel};
use oekaki::ai::session::Device;

#[derive(clap::Args)]
pub struct SegmentArgs {
    /// The SAM folder (`*encoder*.onnx` + `*decoder*.onnx`, samexporter / AnyLabeling layout).
    #[arg(long)]
    model: PathBuf,
    /// The picture to segment.
    #[arg(long)]
    image: PathBuf,
    /// A click: X,Y in image pixels, optionally ,fg (default) or ,bg. Repeat for more points.
    #[arg(long = "point", allow_hyphen_values = true)]
    points: Vec<String>,
    /// A box: X0,Y0,X1,Y1 in image pixels.
    #[arg(long = "box", allow_hyphen_values = true)]
    bbox: Option<String>,
    /// Write SAM's three candidates as MASK-0.png, MASK-1.png, MASK-2.png and print their IoU scores.
    #[arg(long)]
    multimask: bool,
    /// The mask to write (8-bit grey, 255 inside, at the image's size).
    #[arg(long)]
    out: PathBuf,
    /// auto | cpu | cuda | directml | coreml
    #[arg(long, default_value = "auto")]
    ep: String,
}

fn numbers(text: &str, what: &str) -> Result<Vec<f32>> {
    text.split(',')
        .map(|v| v.trim().parse::<f32>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f32>>>()
        .with_context(|| format!("{what} \"{text}\" must be numbers separated by commas"))
}

fn parse_point(text: &str) -> Result<Point> {
    let (coords, foreground) = match text.rsplit_once(',') {
        Some((rest, "fg")) => (rest, true),
        Some((rest, "bg")) => (rest, false),
        _ => (text, true),
    };
    match numbers(coords, "--point")?[..] {
        [x, y] => Ok(Point { x, y, foreground }),
        _ => bail!("--point \"{text}\" must be X,Y or X,Y,fg or X,Y,bg"),
    }
}

fn parse_box(text: &str) -> Result<[f32; 4]> {
    match numbers(text, "--box")?[..] {
        [x0, y0, x1, y1] => Ok([x0, y0, x1, y1]),
        _ => bail!("--box \"{text}\" must be X0,Y0,X1,Y1"),
    }
}

/// `MASK.png` → `MASK-i.png`.
fn numbered(out: &Path, i: usize) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("mask");
    let ext = out.extension().and_then(|s| s.to_str()).unwrap_or("png");
    out.with_file_name(format!("{stem}-{i}.{ext}"))
}

fn mask_png(width: usize, height: usize, mask: Vec<u8>) -> Result<Vec<u8>> {
    let img = image::GrayImage::from_raw(width as u32, height as u32, mask).context("mask has the wrong size")?;
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

pub fn segment(a: SegmentArgs) -> Result<()> {
    let prompt = Prompt {
        points: a.points.iter().map(|p| parse_point(p)).collect::<Result<_>>()?,
        bbox: a.bbox.as_deref().map(parse_box).transpose()?,
    };
    if prompt.is_empty() {
        bail!("give at least one --point or a --box");
    }
    let outs: Vec<PathBuf> =
        if a.multimask { (0..3).map(|i| numbered(&a.out, i)).collect() } else { vec![a.out.clone()] };
    for out in &outs {
        crate::outputs::check(out, &["png"])?;
    }
    let image = crate::generate::open_rgb_over_white(&a.image)?;
    prompt.check(image.width, image.height)?;
    let mut model = SamModel::load(&a.model, Device::parse(&a.ep)?)?;
    let embedding = model.encode(&image)?;
    let proposal = model.decode(&embedding, &prompt, None)?;
    if a.multimask {
        if proposal.multimask == 0 {
            bail!(
                "{}: this decoder gives one mask (exported with --return-single-mask); drop --multimask",
                a.model.display()
            );
        }
        // every mask is encoded (and every path checked) before the first is written
        let files = (0..proposal.multimask)
            .map(|i| Ok((numbered(&a.out, i), mask_png(proposal.width, proposal.height, proposal.mask(i))?)))
            .collect::<Result<Vec<_>>>()?;
        for (path, _) in &files {
            crate::outputs::check(path, &["png"])?;
        }
        for (i, (path, png)) in files.iter().enumerate() {
            crate::outputs::write(path, png)?;
            println!("{}\tiou {:.4}", path.display(), proposal.scores[i]);
        }
        Ok(())
    } else {
        crate::outputs::write(&a.out, &mask_png(proposal.width, proposal.height, proposal.mask(proposal.best))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_and_boxes_parse_with_clear_errors() {
        assert_eq!(parse_point("3,4.5").unwrap(), Point { x: 3.0, y: 4.5, foreground: true });
        assert_eq!(parse_point("3,4,bg").unwrap(), Point { x: 3.0, y: 4.0, foreground: false });
        assert!(parse_point("3").unwrap_err().to_string().contains("must be X,Y"));
        assert!(parse_point("3,x").unwrap_err().to_string().contains("numbers separated by commas"));
        assert!(parse_point("3,nan").is_err());
        assert_eq!(parse_box("1,2,3,4").unwrap(), [1.0, 2.0, 3.0, 4.0]);
        assert!(parse_box("1,2,3").is_err());
        assert_eq!(numbered(Path::new("/t/mask.png"), 2), PathBuf::from("/t/mask-2.png"));
    }
}
