//! PNG, JPEG and WebP: open as a one-layer document, export the flattened image.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, ImageReader, RgbaImage};

use super::{IoError, Limits, Result, png_text};
use crate::color::{premultiply, unpremultiply};
use crate::doc::{Document, composite};
use crate::raster::Surface;

/// File types by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Ora,
    Png,
    Jpeg,
    Webp,
}

impl FileKind {
    pub fn from_path(path: &Path) -> Result<FileKind> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        Ok(match ext.as_str() {
            "ora" => FileKind::Ora,
            "png" => FileKind::Png,
            "jpg" | "jpeg" => FileKind::Jpeg,
            "webp" => FileKind::Webp,
            _ => return Err(IoError::Unsupported(format!("'{}' (use .ora, .png, .jpg or .webp)", path.display()))),
        })
    }
}

/// Decodes an image file's bytes into straight RGBA8, refusing anything over the limits before allocating.
pub fn decode_rgba(bytes: &[u8], limits: Limits) -> Result<RgbaImage> {
    let reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| IoError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(IoError::Unsupported("the data is not a PNG, JPEG or WebP image".into()));
    }
    // Reading the header allocates nothing, so the size check runs before any pixel buffer exists.
    let (w, h) = reader.into_dimensions().map_err(|e| map_image_err(e, limits))?;
    check_size(w, h, limits)?;
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| IoError::Decode(e.to_string()))?;
    reader.limits(limits.to_image_limits());
    let img = reader.decode().map_err(|e| map_image_err(e, limits))?;
    Ok(img.into_rgba8())
}

fn check_size(w: u32, h: u32, limits: Limits) -> Result<()> {
    if w == 0 || h == 0 || w > limits.max_side || h > limits.max_side {
        return Err(IoError::TooLarge { width: w as u64, height: h as u64, max: limits.max_side });
    }
    if w as u64 * h as u64 * 4 > limits.max_alloc {
        return Err(IoError::TooMuchMemory { limit_mb: limits.max_alloc >> 20 });
    }
    Ok(())
}

fn map_image_err(e: image::ImageError, limits: Limits) -> IoError {
    match e {
        image::ImageError::Limits(_) => IoError::TooMuchMemory { limit_mb: limits.max_alloc >> 20 },
        image::ImageError::Unsupported(u) => IoError::Unsupported(u.to_string()),
        other => IoError::Decode(other.to_string()),
    }
}

/// A surface from straight RGBA8 pixels placed at `(x, y)`.
pub fn surface_from_rgba(img: &RgbaImage, x: i32, y: i32) -> Surface {
    let px: Vec<[u8; 4]> = img.pixels().map(|p| premultiply(p.0)).collect();
    Surface::from_buffer([0; 4], x, y, img.width(), img.height(), &px)
}

/// Opens PNG / JPEG / WebP bytes as a document with one layer; PNG text chunks go into metadata.
pub fn open_image(bytes: &[u8], name: &str, limits: Limits) -> Result<Document> {
    let img = decode_rgba(bytes, limits)?;
    let mut doc = Document::new(img.width(), img.height())?;
    let layer = doc.new_raster_layer(name, surface_from_rgba(&img, 0, 0));
    doc.layers.push(layer);
    if ImageFormat::from_path("x.png").ok() == image::guess_format(bytes).ok() {
        doc.metadata = png_text::read_text_chunks(bytes)?;
    }
    Ok(doc)
}

/// The flattened canvas as straight RGBA8.
pub fn flatten_rgba(doc: &Document) -> RgbaImage {
    let px = composite::flatten(doc);
    let raw: Vec<u8> = px.into_iter().flat_map(unpremultiply).collect();
    RgbaImage::from_raw(doc.width, doc.height, raw).unwrap_or_else(|| RgbaImage::new(doc.width, doc.height))
}

/// Encodes the flattened document. PNG keeps the document's text chunks (A1111 `parameters` among them);
/// JPEG has no alpha, so transparent areas become white as in other painting programs.
pub fn export_image(doc: &Document, kind: FileKind) -> Result<Vec<u8>> {
    let img = flatten_rgba(doc);
    let mut text = doc.metadata.clone();
    // Without document-level parameters, the topmost visible AI layer's become the file's.
    if !text.iter().any(|(k, _)| k == "parameters")
        && let Some(p) = doc.layers.iter().rev().filter(|l| l.props.visible).find_map(|l| l.props.params.clone())
    {
        text.push(("parameters".into(), p));
    }
    encode_rgba(&img, kind, &text)
}

pub fn encode_rgba(img: &RgbaImage, kind: FileKind, text: &[(String, String)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match kind {
        FileKind::Png => return png_text::encode_png_rgba8(img.width(), img.height(), img.as_raw(), text),
        FileKind::Jpeg => {
            let rgb = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
                let p = img.get_pixel(x, y).0;
                let a = p[3] as u32;
                let c = |v: u8| ((v as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
                image::Rgb([c(p[0]), c(p[1]), c(p[2])])
            });
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
            rgb.write_with_encoder(enc).map_err(|e| IoError::Encode(e.to_string()))?;
        }
        FileKind::Webp => {
            let enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
            img.write_with_encoder(enc).map_err(|e| IoError::Encode(e.to_string()))?;
        }
        FileKind::Ora => return Err(IoError::Unsupported("use ora::write for OpenRaster".into())),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for b in data {
            c ^= *b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    /// A real 1×1 PNG whose header is rewritten to claim `w`×`h` pixels.
    fn lying_png(w: u32, h: u32) -> Vec<u8> {
        let mut png = encode_rgba(&RgbaImage::new(1, 1), FileKind::Png, &[]).unwrap();
        png[16..20].copy_from_slice(&w.to_be_bytes());
        png[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn refuses_oversized_headers_before_decoding() {
        let err = decode_rgba(&lying_png(100_000, 100_000), Limits::default()).unwrap_err();
        assert!(matches!(err, IoError::TooLarge { .. }), "{err}");
        let err = decode_rgba(&lying_png(1000, 1000), Limits { max_alloc: 1 << 20, ..Limits::default() }).unwrap_err();
        assert!(matches!(err, IoError::TooMuchMemory { .. }), "{err}");
        assert!(decode_rgba(b"not an image at all", Limits::default()).is_err());
    }

    #[test]
    fn png_round_trip_keeps_pixels_and_text() {
        let mut doc = Document::with_layer(3, 2).unwrap();
        doc.layers[0].surface_mut().unwrap().set(1, 1, premultiply([10, 200, 30, 128]));
        doc.metadata = vec![("parameters".into(), "a cat\nSteps: 20, Seed: 1".into())];
        let bytes = export_image(&doc, FileKind::Png).unwrap();
        let back = open_image(&bytes, "x", Limits::default()).unwrap();
        assert_eq!(back.metadata, doc.metadata);
        assert_eq!(flatten_rgba(&back), flatten_rgba(&doc));
    }
}
