//! PNG text chunks (tEXt, zTXt, iTXt): where A1111 and most SD tools keep generation parameters.

use std::io::Cursor;

use super::{IoError, Result};

/// Largest decompressed zTXt/iTXt text accepted (a hostile chunk could inflate without bound).
const MAX_TEXT_BYTES: usize = 8 << 20;

/// All text chunks as `(keyword, text)` in file order (pre- and post-image chunks), without keeping pixels.
pub fn read_text_chunks(png_bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut dec = png::Decoder::new_with_limits(Cursor::new(png_bytes), png::Limits { bytes: 64 << 20 });
    dec.set_ignore_text_chunk(false);
    let mut reader = dec.read_info().map_err(|e| IoError::Decode(e.to_string()))?;
    // Chunks after the image data are only seen once the rest of the file is read; the pixels are skipped.
    reader.finish().map_err(|e| IoError::Decode(e.to_string()))?;
    let info = reader.info();
    let mut out = Vec::new();
    for t in &info.uncompressed_latin1_text {
        out.push((t.keyword.clone(), t.text.clone()));
    }
    for t in &info.compressed_latin1_text {
        let mut t = t.clone();
        t.decompress_text_with_limit(MAX_TEXT_BYTES).map_err(|e| IoError::Decode(e.to_string()))?;
        out.push((t.keyword.clone(), t.get_text().map_err(|e| IoError::Decode(e.to_string()))?));
    }
    for t in &info.utf8_text {
        let mut t = t.clone();
        t.decompress_text_with_limit(MAX_TEXT_BYTES).map_err(|e| IoError::Decode(e.to_string()))?;
        out.push((t.keyword.clone(), t.get_text().map_err(|e| IoError::Decode(e.to_string()))?));
    }
    Ok(out)
}

/// The A1111 `parameters` text, if the PNG has one.
pub fn parameters_from_png(png_bytes: &[u8]) -> Result<Option<String>> {
    Ok(read_text_chunks(png_bytes)?.into_iter().find(|(k, _)| k == "parameters").map(|(_, v)| v))
}

fn is_latin1_keyword(k: &str) -> bool {
    (1..=79).contains(&k.chars().count())
        && k.chars().all(|c| (' '..='~').contains(&c) || ('\u{a1}'..='\u{ff}').contains(&c))
}

/// Encodes straight RGBA8 as PNG with text chunks: tEXt when keyword and text are Latin-1, iTXt (UTF-8)
/// otherwise, as A1111 does. Fast compression: exports should not make the artist wait.
pub fn encode_png_rgba8(width: u32, height: u32, straight_rgba: &[u8], text: &[(String, String)]) -> Result<Vec<u8>> {
    if straight_rgba.len() as u64 != width as u64 * height as u64 * 4 {
        return Err(IoError::Encode(format!(
            "{} bytes do not make a {width}×{height} RGBA image",
            straight_rgba.len()
        )));
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    for (k, v) in text {
        if !is_latin1_keyword(k) {
            return Err(IoError::Encode(format!("'{k}' is not a valid PNG text keyword")));
        }
        let latin1 = v.chars().all(|c| (c as u32) < 256);
        let r =
            if latin1 { enc.add_text_chunk(k.clone(), v.clone()) } else { enc.add_itxt_chunk(k.clone(), v.clone()) };
        r.map_err(|e| IoError::Encode(e.to_string()))?;
    }
    let mut w = enc.write_header().map_err(|e| IoError::Encode(e.to_string()))?;
    w.write_image_data(straight_rgba).map_err(|e| IoError::Encode(e.to_string()))?;
    w.finish().map_err(|e| IoError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_in_both_encodings() {
        let text = vec![
            ("parameters".to_string(), "1girl, 桜, smile\nNegative prompt: lowres\nSteps: 20".to_string()),
            ("Software".to_string(), "Oekaki Studio é".to_string()),
        ];
        let png = encode_png_rgba8(2, 1, &[0, 0, 0, 255, 9, 9, 9, 128], &text).unwrap();
        let mut back = read_text_chunks(&png).unwrap();
        back.sort();
        let mut want = text.clone();
        want.sort();
        assert_eq!(back, want);
        assert_eq!(parameters_from_png(&png).unwrap().as_deref(), Some(text[0].1.as_str()));
    }

    #[test]
    fn broken_and_plain_files() {
        let png = encode_png_rgba8(1, 1, &[1, 2, 3, 4], &[]).unwrap();
        assert!(read_text_chunks(&png).unwrap().is_empty());
        assert!(read_text_chunks(&png[..20]).is_err());
        assert!(read_text_chunks(b"nope").is_err());
        assert!(encode_png_rgba8(2, 2, &[0; 3], &[]).is_err());
        assert!(encode_png_rgba8(1, 1, &[0; 4], &[("".into(), "x".into())]).is_err());
    }
}
