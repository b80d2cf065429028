//! Hostile and broken files give clear errors, never panics, and never touch the disk outside.

use std::io::{Cursor, Write};

use oekaki::io::{IoError, Limits, ora, raster_file};
use zip::write::SimpleFileOptions;

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([1, 2, 3, 255]));
    oekaki::io::png_text::encode_png_rgba8(w, h, img.as_raw(), &[]).unwrap()
}

fn ora_with(stack: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = SimpleFileOptions::default();
    z.start_file("mimetype", o.compression_method(zip::CompressionMethod::Stored)).unwrap();
    z.write_all(b"image/openraster").unwrap();
    z.start_file("stack.xml", o).unwrap();
    z.write_all(stack.as_bytes()).unwrap();
    for (name, data) in files {
        z.start_file(*name, o).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn stack(inner: &str) -> String {
    format!("<?xml version='1.0'?><image w=\"10\" h=\"10\"><stack>{inner}</stack></image>")
}

#[test]
fn truncated_png_is_a_decode_error() {
    let p = png_bytes(64, 64);
    for cut in [8, 30, p.len() / 2, p.len() - 5] {
        let e = raster_file::open_image(&p[..cut], "x", Limits::default()).unwrap_err();
        assert!(matches!(e, IoError::Decode(_) | IoError::Unsupported(_)), "cut {cut}: {e}");
    }
}

#[test]
fn zip_slip_names_are_refused() {
    let png = png_bytes(2, 2);
    for src in ["../evil.png", "/tmp/evil.png", "data/../../evil.png", "..\\evil.png"] {
        let bytes = ora_with(&stack(&format!("<layer src=\"{src}\" name=\"x\"/>")), &[(src, &png)]);
        let e = ora::read(&bytes, Limits::default()).unwrap_err();
        assert!(e.to_string().contains("unsafe") || e.to_string().contains("missing"), "{src}: {e}");
    }
}

#[test]
fn absurd_sizes_are_refused() {
    let bytes = ora_with("<image w=\"100000\" h=\"100000\"><stack/></image>", &[]);
    assert!(matches!(ora::read(&bytes, Limits::default()), Err(IoError::TooLarge { .. })));
    let bytes = ora_with("<image w=\"0\" h=\"nan\"><stack/></image>", &[]);
    let e = ora::read(&bytes, Limits::default()).unwrap_err().to_string();
    assert!(e.contains("no size"), "{e}");
    let big = png_bytes(300, 300);
    let small = Limits { max_side: 256, ..Limits::default() };
    let e = raster_file::open_image(&big, "x", small).unwrap_err();
    assert!(matches!(e, IoError::TooLarge { .. }), "{e}");
}

#[test]
fn decompression_bombs_hit_the_caps() {
    // 2000×2000 PNG of one colour compresses to a few KB but decodes to 16 MB.
    let bomb = png_bytes(2000, 2000);
    assert!(bomb.len() < 100_000);
    let tight = Limits { max_alloc: 1 << 20, max_archive_bytes: 1 << 20, ..Limits::default() };
    assert!(raster_file::open_image(&bomb, "x", tight).is_err());
    // A zeroed entry of 8 MB inside an ORA against a 1 MB archive cap.
    let zeros = vec![0u8; 8 << 20];
    let bytes = ora_with(&stack("<layer src=\"data/a.png\"/>"), &[("data/a.png", &zeros)]);
    assert!(matches!(ora::read(&bytes, tight), Err(IoError::TooMuchMemory { .. })));
}

#[test]
fn too_many_entries_and_broken_archives() {
    let names: Vec<String> = (0..50).map(|i| format!("junk/{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let bytes = ora_with(&stack(""), &files);
    let few = Limits { max_entries: 10, ..Limits::default() };
    assert!(ora::read(&bytes, few).is_err());
    assert!(ora::read(b"PK\x03\x04 this is not a zip", Limits::default()).is_err());
    assert!(ora::read(&[], Limits::default()).is_err());
    let no_stack = ora_with("", &[]);
    assert!(ora::read(&no_stack, Limits::default()).is_err());
    let bad_xml = ora_with("<image w='10' h='10'><stack><layer src='a.png'", &[]);
    assert!(ora::read(&bad_xml, Limits::default()).is_err());
    let missing_png = ora_with(&stack("<layer src=\"data/none.png\"/>"), &[]);
    assert!(ora::read(&missing_png, Limits::default()).unwrap_err().to_string().contains("missing"));
    let deep = stack(&"<stack>".repeat(100))
        .replace("</stack></image>", &format!("{}</stack></image>", "</stack>".repeat(100)));
    assert!(ora::read(&ora_with(&deep, &[]), Limits::default()).is_err());
}

#[test]
fn odd_but_valid_attributes_are_tolerated() {
    let png = png_bytes(4, 4);
    let xml = stack(
        "<layer src=\"data/a.png\" x=\"nan\" y=\"1e30\" opacity=\"7\" composite-op=\"krita:weird\" name=\"\u{1F3A8}\"/>",
    );
    let (doc, warnings) = ora::read_with_warnings(&ora_with(&xml, &[("data/a.png", &png)]), Limits::default()).unwrap();
    assert_eq!(warnings, vec!["layer '\u{1F3A8}': blend mode 'krita:weird' is not supported and is shown as Normal"]);
    let l = &doc.layers[0];
    assert_eq!(l.props.opacity, 1.0);
    assert_eq!(l.props.blend, oekaki::doc::BlendMode::Normal);
    assert_eq!(l.props.name, "\u{1F3A8}");
}

mod mutations {
    //! Random damage to real files: every outcome is a value (a document or an error), never a panic.

    use super::*;
    use proptest::prelude::*;

    fn sample_ora() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ora/krita-layers.ora")).unwrap()
    }

    const FRAGMENTS: &[&str] = &[
        "<stack>",
        "</stack>",
        "<stack isolation=\"isolate\" oekaki:masked=\"true\">",
        "<stack oekaki:clip-group=\"true\">",
        "<layer src=\"data/a.png\" x=\"-5\" y=\"3\"/>",
        "<layer src=\"data/a.png\" composite-op=\"svg:dst-in\"/>",
        "<layer src=\"data/a.png\" oekaki:mask=\"true\"/>",
        "<layer src=\"data/a.png\" oekaki:clip-alpha=\"true\" composite-op=\"svg:dst-in\"/>",
        "<layer src=\"data/a.png\" composite-op=\"svg:src-atop\" opacity=\"0.5\"/>",
        "<layer src=\"../a.png\"/>",
        "<layer/>",
        "&amp;",
        "<!-- x -->",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn truncated_or_flipped_archives_never_panic(
            cut in prop::option::of(0usize..60_000),
            flips in prop::collection::vec((0usize..60_000, any::<u8>()), 0..8),
        ) {
            let mut bytes = sample_ora();
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] ^= v;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            let _ = ora::read(&bytes, Limits::default());
        }

        #[test]
        fn random_stacks_never_panic(parts in prop::collection::vec(0usize..FRAGMENTS.len(), 0..24)) {
            let inner: String = parts.iter().map(|i| FRAGMENTS[*i]).collect();
            let png = png_bytes(3, 2);
            let bytes = ora_with(&stack(&inner), &[("data/a.png", &png)]);
            if let Ok(doc) = ora::read(&bytes, Limits::default()) {
                // Whatever was read composites and writes back.
                let again = ora::write(&doc).unwrap();
                prop_assert!(ora::read(&again, Limits::default()).is_ok());
            }
        }

        #[test]
        fn damaged_onnx_graphs_never_panic_the_rewrites(
            cut in prop::option::of(0usize..120_000),
            flips in prop::collection::vec((0usize..120_000, any::<u8>()), 0..8),
        ) {
            use oekaki::ai::onnx_edit::{expose_in_graph_sampling, prune_to_outputs, LATENT_MEAN};
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sd/tiny-sd15-legacy/vae_encoder/model.onnx");
            let mut bytes = std::fs::read(path).unwrap();
            prop_assert!(expose_in_graph_sampling(&bytes).is_some(), "the undamaged file is rewritten");
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] ^= v;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            if let Some(rewritten) = expose_in_graph_sampling(&bytes) {
                let _ = prune_to_outputs(&rewritten, &[LATENT_MEAN]);
            }
            let _ = prune_to_outputs(&bytes, &["latent_sample"]);
        }

        #[test]
        fn damaged_pngs_never_panic(
            cut in prop::option::of(0usize..5000),
            flips in prop::collection::vec((0usize..5000, any::<u8>()), 0..6),
        ) {
            let mut bytes = png_bytes(37, 23);
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] ^= v;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            let _ = raster_file::open_image(&bytes, "x", Limits::default());
            let _ = oekaki::io::png_text::read_text_chunks(&bytes);
        }
    }
}
