//! OpenRaster: write → read gives the same tree, attributes and pixels, and the same composite.

use oekaki::color::premultiply;
use oekaki::doc::composite::flatten;
use oekaki::doc::{BlendMode, Document, Layer, LayerMask};
use oekaki::geom::Rect;
use oekaki::io::{Limits, ora};
use oekaki::raster::{Mask, Surface};

fn blob(x: i32, y: i32, w: i32, h: i32, rgba: [u8; 4]) -> Surface {
    let r = Rect::from_xywh(x, y, w, h);
    let px: Vec<[u8; 4]> = (0..r.area())
        .map(|i| {
            let (px, py) = ((i % w as usize) as i32, (i / w as usize) as i32);
            let a = (rgba[3] as i32 - (px + py) % 64).clamp(0, 255) as u8;
            premultiply([rgba[0], rgba[1].wrapping_add(px as u8), rgba[2], a])
        })
        .collect();
    Surface::from_buffer([0; 4], x, y, w as u32, h as u32, &px)
}

/// A document using everything the format has to carry.
pub fn rich_document() -> Document {
    let mut d = Document::new(300, 200).unwrap();
    let bg = d.new_raster_layer("Paper", blob(0, 0, 300, 200, [250, 245, 230, 255]));
    let mut base = d.new_raster_layer("Skin <flats> & \"base\"", blob(40, 30, 150, 120, [240, 200, 180, 255]));
    base.props.opacity = 0.9;
    let mut shade = d.new_raster_layer("Shade", blob(80, 10, 200, 100, [120, 80, 160, 200]));
    shade.props.clip = true;
    shade.props.blend = BlendMode::Multiply;
    let mut light = d.new_raster_layer("Light", blob(20, 60, 120, 60, [255, 255, 200, 180]));
    light.props.clip = true;
    let mut masked = d.new_raster_layer("Masked", blob(-20, 100, 200, 120, [30, 90, 200, 230]));
    let mut m = Mask::new(255);
    m.write_rect(Rect::new(0, 120, 90, 200), &vec![40; 90 * 80]);
    masked.mask = Some(LayerMask { pixels: m, enabled: true });
    masked.props.blend = BlendMode::Overlay;
    masked.props.lock_alpha = true;
    let mut hidden = d.new_raster_layer("Hidden", blob(0, 0, 50, 50, [255, 0, 0, 255]));
    hidden.props.visible = false;
    let inner = d.new_raster_layer("Inner", blob(150, 50, 100, 100, [0, 200, 100, 160]));
    let mut screen = d.new_raster_layer("Glow", blob(180, 80, 90, 90, [255, 180, 0, 255]));
    screen.props.blend = BlendMode::Screen;
    let mut group = d.new_group("Group", vec![inner, screen]);
    group.props.opacity = 0.75;
    let pt_child = d.new_raster_layer("Through", blob(100, 100, 60, 60, [10, 10, 10, 255]));
    let mut pt = d.new_group("Pass", vec![pt_child]);
    pt.props.pass_through = true;
    let empty = d.new_raster_layer("Empty", Surface::new([0; 4]));
    d.layers = vec![bg, base, shade, light, masked, hidden, group, pt, empty];
    d
}

fn same_layers(a: &[Layer], b: &[Layer], path: &str) {
    assert_eq!(a.len(), b.len(), "layer count under {path}");
    for (x, y) in a.iter().zip(b) {
        let here = format!("{path}/{}", x.props.name);
        let (mut px, mut py) = (x.props.clone(), y.props.clone());
        px.opacity = (px.opacity * 1e4).round();
        py.opacity = (py.opacity * 1e4).round();
        assert_eq!(px, py, "props of {here}");
        assert_eq!(x.mask, y.mask, "mask of {here}");
        assert_eq!(x.is_group(), y.is_group(), "kind of {here}");
        match (x.surface(), y.surface()) {
            (Some(s), Some(t)) => assert!(s.same_pixels(t), "pixels of {here}"),
            _ => same_layers(x.children(), y.children(), &here),
        }
    }
}

#[test]
fn round_trip_keeps_tree_attributes_and_pixels() {
    let mut doc = rich_document();
    doc.metadata = vec![("parameters".into(), "1girl, smile\nSteps: 20, Sampler: Euler a, Seed: 7".into())];
    let bytes = ora::write(&doc).unwrap();
    let back = ora::read(&bytes, Limits::default()).unwrap();
    assert_eq!((back.width, back.height), (300, 200));
    assert_eq!(back.metadata, doc.metadata);
    same_layers(&doc.layers, &back.layers, "");
    assert_eq!(flatten(&doc), flatten(&back));
}

#[test]
fn archive_layout_follows_the_spec() {
    let bytes = ora::write(&rich_document()).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
    let first = zip.by_index(0).unwrap();
    assert_eq!(first.name().unwrap(), "mimetype");
    assert_eq!(first.compression(), zip::CompressionMethod::Stored);
    drop(first);
    // The mimetype must sit at byte 38 uncompressed, so `file` and other tools recognise the format.
    assert_eq!(&bytes[30..38], b"mimetype");
    assert_eq!(&bytes[38..54], b"image/openraster");
    for name in ["stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"] {
        assert!(zip.by_name(name).is_ok(), "{name} missing");
    }
    let thumb = image::load_from_memory(&{
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name("Thumbnails/thumbnail.png").unwrap(), &mut v).unwrap();
        v
    })
    .unwrap();
    assert!(thumb.width() <= 256 && thumb.height() <= 256);
}

#[test]
fn merged_image_matches_the_compositor() {
    let doc = rich_document();
    let bytes = ora::write(&doc).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("mergedimage.png").unwrap(), &mut v).unwrap();
    let merged = image::load_from_memory(&v).unwrap().into_rgba8();
    assert_eq!(merged, oekaki::io::raster_file::flatten_rgba(&doc));
}
