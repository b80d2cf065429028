//! OpenRaster (.ora): the layered interchange format Krita, GIMP and MyPaint read and write.
//!
//! Reading happens entirely in memory: entries are looked up by name, never extracted, names are checked,
//! and entry count and decompressed size are capped. Writing follows the baseline spec: `mimetype` first
//! and stored, `stack.xml`, `data/*.png` cropped to content with x/y offsets, `mergedimage.png` and
//! `Thumbnails/thumbnail.png`.
//!
//! Features OpenRaster has no element for are written so other programs still *show the same image*:
//! - a layer mask becomes an isolated group holding the layer and a `svg:dst-in` layer whose alpha is the
//!   mask (`oekaki:masked="true"` on the group lets us read it back as a mask);
//! - a layer with clipped layers above it becomes an isolated group with the base's opacity and mode,
//!   holding the base and the clipped layers (`svg:src-atop` when normal; other modes see [`alpha_cut`];
//!   `oekaki:clip` marks them).
//! - lock alpha is kept as `oekaki:lock-alpha`; unknown `composite-op`s read as normal;
//! - text metadata (A1111 `parameters`) is kept in an extra `oekaki/metadata.json` entry.

use std::io::{Cursor, Read, Write};

use image::RgbaImage;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::raster_file::{decode_rgba, flatten_rgba, surface_from_rgba};
use super::{IoError, Limits, Result, png_text};
use crate::color::unpremultiply;
use crate::doc::composite::render_layer_rect;
use crate::doc::{BlendMode, Document, Layer, LayerContent, LayerMask, LayerProps, MAX_CANVAS};
use crate::geom::Rect;
use crate::raster::{Mask, Surface};

const MIMETYPE: &[u8] = b"image/openraster";
/// Namespace of our extension attributes; declared so namespace-aware readers (MyPaint) accept the file.
const OEKAKI_NS: &str = "urn:oekaki-studio:openraster:1";
const THUMB_MAX: u32 = 256;
/// Our extra entry with the document's text metadata.
const METADATA: &str = "oekaki/metadata.json";

// ---------------------------------------------------------------- writing

/// Encodes a document as an OpenRaster archive.
pub fn write(doc: &Document) -> Result<Vec<u8>> {
    let mut w = OraWriter { zip: ZipWriter::new(Cursor::new(Vec::new())), next: 0 };
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    w.zip.start_file("mimetype", stored).map_err(zip_err)?;
    w.zip.write_all(MIMETYPE).map_err(write_err)?;

    let mut xml = format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<image version=\"0.0.3\" w=\"{}\" h=\"{}\" xres=\"72\" yres=\"72\" xmlns:oekaki=\"{OEKAKI_NS}\">\n<stack>\n",
        doc.width, doc.height
    );
    w.stack(&doc.layers, &mut xml, 1)?;
    xml.push_str("</stack>\n</image>\n");
    w.file("stack.xml", xml.as_bytes())?;

    if !doc.metadata.is_empty() {
        // Text such as A1111 `parameters` travels in an extra entry, which other readers ignore.
        let json = serde_json::to_vec(&doc.metadata).map_err(|e| IoError::Encode(e.to_string()))?;
        w.file(METADATA, &json)?;
    }
    let merged = flatten_rgba(doc);
    w.file("mergedimage.png", &png_text::encode_png_rgba8(merged.width(), merged.height(), merged.as_raw(), &[])?)?;
    let thumb = thumbnail(&merged);
    w.file(
        "Thumbnails/thumbnail.png",
        &png_text::encode_png_rgba8(thumb.width(), thumb.height(), thumb.as_raw(), &[])?,
    )?;
    let cursor = w.zip.finish().map_err(zip_err)?;
    Ok(cursor.into_inner())
}

struct OraWriter {
    zip: ZipWriter<Cursor<Vec<u8>>>,
    next: usize,
}

impl OraWriter {
    fn file(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        self.zip.start_file(name, deflated).map_err(zip_err)?;
        self.zip.write_all(data).map_err(write_err)
    }

    /// Writes siblings (bottom first in memory) top first, as stack.xml wants.
    fn stack(&mut self, layers: &[Layer], xml: &mut String, depth: usize) -> Result<()> {
        let mut units = Vec::new();
        let mut i = 0;
        while i < layers.len() {
            let mut j = i + 1;
            while j < layers.len() && layers[j].props.clip {
                j += 1;
            }
            units.push(&layers[i..j]);
            i = j;
        }
        for unit in units.into_iter().rev() {
            if unit.len() > 1 {
                self.clip_group(unit, xml, depth)?;
            } else {
                self.layer(&unit[0], &unit[0].props, xml, depth, "")?;
            }
        }
        Ok(())
    }

    fn clip_group(&mut self, unit: &[Layer], xml: &mut String, depth: usize) -> Result<()> {
        let base = &unit[0];
        open_stack(xml, depth, &base.props, " isolation=\"isolate\" oekaki:clip-group=\"true\"");
        if unit[1..].iter().any(|c| c.props.blend != BlendMode::Normal)
            && let Some((area, alpha)) = alpha_cut(base, &unit[1..])
        {
            let src = self.png(area, &alpha)?;
            indent(xml, depth + 1);
            xml.push_str(&format!(
                "<layer name=\"Clip\" src=\"{src}\" x=\"{}\" y=\"{}\" opacity=\"1\" visibility=\"visible\" composite-op=\"svg:dst-in\" oekaki:clip-alpha=\"true\"/>\n",
                area.x0, area.y0
            ));
        }
        for c in unit[1..].iter().rev() {
            let op = if c.props.blend == BlendMode::Normal { "svg:src-atop" } else { c.props.blend.ora_name() };
            let mut props = c.props.clone();
            props.clip = false;
            self.layer_with_op(c, &props, xml, depth + 1, " oekaki:clip=\"true\"", op)?;
        }
        let inner = LayerProps { opacity: 1.0, blend: BlendMode::Normal, visible: true, ..base.props.clone() };
        self.layer(base, &inner, xml, depth + 1, "")?;
        indent(xml, depth);
        xml.push_str("</stack>\n");
        Ok(())
    }

    fn layer(&mut self, l: &Layer, props: &LayerProps, xml: &mut String, depth: usize, extra: &str) -> Result<()> {
        self.layer_with_op(l, props, xml, depth, extra, props.blend.ora_name())
    }

    fn layer_with_op(
        &mut self,
        l: &Layer,
        props: &LayerProps,
        xml: &mut String,
        depth: usize,
        extra: &str,
        op: &str,
    ) -> Result<()> {
        if let Some(mask) = &l.mask {
            // The group takes the layer's look; inside, the layer is plain and the mask cuts it with dst-in.
            open_stack_op(xml, depth, props, op, &format!(" isolation=\"isolate\" oekaki:masked=\"true\"{extra}"));
            let area = l.tile_bounds().union(&mask.pixels.content_bounds());
            let area = if area.is_empty() { Rect::from_xywh(0, 0, 1, 1) } else { area };
            let vis = if mask.enabled { "visible" } else { "hidden" };
            let src = self.mask_png(&mask.pixels, area)?;
            indent(xml, depth + 1);
            xml.push_str(&format!(
                "<layer name=\"Mask\" src=\"{src}\" x=\"{}\" y=\"{}\" opacity=\"1\" visibility=\"{vis}\" composite-op=\"svg:dst-in\" oekaki:mask=\"true\"/>\n",
                area.x0, area.y0
            ));
            let inner = LayerProps { opacity: 1.0, blend: BlendMode::Normal, visible: true, ..props.clone() };
            let unmasked = Layer { mask: None, ..l.clone() };
            self.layer_with_op(&unmasked, &inner, xml, depth + 1, "", "svg:src-over")?;
            indent(xml, depth);
            xml.push_str("</stack>\n");
            return Ok(());
        }
        match &l.content {
            LayerContent::Group(children) => {
                let iso = if props.pass_through { " isolation=\"auto\"" } else { " isolation=\"isolate\"" };
                open_stack_op(xml, depth, props, op, &format!("{iso}{extra}"));
                self.stack(children, xml, depth + 1)?;
                indent(xml, depth);
                xml.push_str("</stack>\n");
            }
            LayerContent::Raster(s) => {
                let bounds = s.content_bounds();
                let area = if bounds.is_empty() { Rect::from_xywh(0, 0, 1, 1) } else { bounds };
                let src = self.layer_png(s, area)?;
                indent(xml, depth);
                let params = props
                    .params
                    .as_deref()
                    .map(|p| format!(" oekaki:parameters=\"{}\"", escape_multiline(p)))
                    .unwrap_or_default();
                xml.push_str(&format!(
                    "<layer name=\"{}\" src=\"{src}\" x=\"{}\" y=\"{}\" {}{}{params}{extra}/>\n",
                    escape(props.name.as_str()),
                    area.x0,
                    area.y0,
                    common_attrs(props, op),
                    if props.lock_alpha { " oekaki:lock-alpha=\"true\"" } else { "" },
                ));
            }
        }
        Ok(())
    }

    fn layer_png(&mut self, s: &Surface, area: Rect) -> Result<String> {
        let raw: Vec<u8> = s.read_rect(area).into_iter().flat_map(unpremultiply).collect();
        self.png(area, &raw)
    }

    fn mask_png(&mut self, m: &Mask, area: Rect) -> Result<String> {
        let raw: Vec<u8> = m.read_rect(area).into_iter().flat_map(|v| [255, 255, 255, v]).collect();
        self.png(area, &raw)
    }

    fn png(&mut self, area: Rect, raw: &[u8]) -> Result<String> {
        let name = format!("data/layer{:03}.png", self.next);
        self.next += 1;
        let bytes = png_text::encode_png_rgba8(area.width() as u32, area.height() as u32, raw, &[])?;
        self.file(&name, &bytes)?;
        Ok(name)
    }
}

/// How a clip unit with non-normal clipped layers is written. `svg:src-atop` cannot carry a blend mode, so
/// the clipped layers blend with their own modes, unclipped, and a top `svg:dst-in` layer cuts the group
/// back to the base: its alpha is `base alpha / group alpha`, so every pixel keeps exactly the base's alpha.
/// Colours are exact wherever the base is opaque or empty (flats under shading); on partly transparent base
/// pixels under a clipped layer the colour mix follows source-over rather than source-atop.
/// Returns the area and RGBA of the cut layer.
pub fn alpha_cut(base: &Layer, clipped: &[Layer]) -> Option<(Rect, Vec<u8>)> {
    let area = base.tile_bounds();
    if area.is_empty() {
        return None;
    }
    let plain = LayerProps { opacity: 1.0, blend: BlendMode::Normal, visible: true, clip: false, ..base.props.clone() };
    let mut children = vec![Layer { props: plain, ..base.clone() }];
    for c in clipped {
        let mut c = c.clone();
        c.props.clip = c.props.blend == BlendMode::Normal;
        children.push(c);
    }
    let group = Layer { id: 0, props: LayerProps::named("cut"), mask: None, content: LayerContent::Group(children) };
    let (b, g) = (render_layer_rect(base, area), render_layer_rect(&group, area));
    let cut = b.iter().zip(&g).flat_map(|(b, g)| {
        let m = if g[3] == 0 { 0 } else { ((b[3] as u32 * 255 + g[3] as u32 / 2) / g[3] as u32).min(255) as u8 };
        [255, 255, 255, m]
    });
    Some((area, cut.collect()))
}

fn common_attrs(p: &LayerProps, op: &str) -> String {
    format!(
        "opacity=\"{:.4}\" visibility=\"{}\" composite-op=\"{op}\"",
        p.opacity,
        if p.visible { "visible" } else { "hidden" }
    )
}

fn open_stack(xml: &mut String, depth: usize, p: &LayerProps, extra: &str) {
    open_stack_op(xml, depth, p, p.blend.ora_name(), extra)
}

fn open_stack_op(xml: &mut String, depth: usize, p: &LayerProps, op: &str, extra: &str) {
    indent(xml, depth);
    xml.push_str(&format!(
        "<stack name=\"{}\" x=\"0\" y=\"0\" {}{extra}>\n",
        escape(p.name.as_str()),
        common_attrs(p, op)
    ));
}

fn indent(xml: &mut String, depth: usize) {
    xml.extend(std::iter::repeat_n("  ", depth));
}

fn thumbnail(img: &RgbaImage) -> RgbaImage {
    let (w, h) = (img.width(), img.height());
    let k = (THUMB_MAX as f32 / w.max(h) as f32).min(1.0);
    let (tw, th) = (((w as f32 * k).round() as u32).max(1), ((h as f32 * k).round() as u32).max(1));
    image::imageops::thumbnail(img, tw, th)
}

fn zip_err(e: zip::result::ZipError) -> IoError {
    IoError::Ora(e.to_string())
}

fn write_err(e: std::io::Error) -> IoError {
    IoError::Encode(e.to_string())
}

// ---------------------------------------------------------------- reading

/// An archive read into memory with its entries checked.
struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
    read_total: u64,
}

impl Archive<'_> {
    /// Reads a whole entry by name, within the size caps.
    fn entry(&mut self, name: &str) -> Result<Vec<u8>> {
        let mut f = self.zip.by_name(name).map_err(|_| IoError::Ora(format!("missing entry '{name}'")))?;
        if !f.is_file() {
            return Err(IoError::Ora(format!("'{name}' is not a regular file")));
        }
        let left = self.limits.max_archive_bytes.saturating_sub(self.read_total);
        let mut buf = Vec::with_capacity(f.size().min(left).min(64 << 20) as usize);
        (&mut f).take(left + 1).read_to_end(&mut buf).map_err(|e| IoError::Ora(format!("'{name}': {e}")))?;
        self.read_total += buf.len() as u64;
        if buf.len() as u64 > left {
            return Err(IoError::TooMuchMemory { limit_mb: self.limits.max_archive_bytes >> 20 });
        }
        Ok(buf)
    }
}

/// A `src` must name an entry inside the archive: relative, no `..`, no backslashes or drive letters.
fn safe_entry_name(src: &str) -> Result<&str> {
    let bad = src.is_empty()
        || src.starts_with('/')
        || src.contains('\\')
        || src.contains(':')
        || src.split('/').any(|part| part == ".." || part == ".")
        || src.contains('\0');
    if bad { Err(IoError::Ora(format!("unsafe layer path '{src}'"))) } else { Ok(src) }
}

/// Parsed attributes of a `<layer>` or `<stack>` element.
#[derive(Default)]
struct Attrs {
    name: Option<String>,
    src: Option<String>,
    x: i32,
    y: i32,
    opacity: f32,
    visible: bool,
    op: String,
    isolate: bool,
    masked: bool,
    is_mask: bool,
    clip_group: bool,
    clip: bool,
    clip_alpha: bool,
    lock_alpha: bool,
    params: Option<String>,
}

/// Attribute text that keeps its line breaks (XML turns literal ones into spaces when reading).
fn escape_multiline(s: &str) -> String {
    escape(s).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

fn attrs(e: &BytesStart) -> Result<Attrs> {
    let mut a = Attrs { opacity: 1.0, visible: true, op: "svg:src-over".into(), isolate: true, ..Attrs::default() };
    let mut iso_given = false;
    for attr in e.attributes() {
        let attr = attr.map_err(|e| IoError::Ora(format!("stack.xml: {e}")))?;
        let v = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| IoError::Ora(format!("stack.xml: {e}")))?
            .into_owned();
        let num = |v: &str| v.trim().parse::<f64>().ok().filter(|f| f.is_finite());
        match AsRef::<str>::as_ref(&attr.key) {
            "name" => a.name = Some(v),
            "src" => a.src = Some(v),
            "x" => a.x = num(&v).unwrap_or(0.0).clamp(-(MAX_CANVAS as f64) * 4.0, MAX_CANVAS as f64 * 4.0) as i32,
            "y" => a.y = num(&v).unwrap_or(0.0).clamp(-(MAX_CANVAS as f64) * 4.0, MAX_CANVAS as f64 * 4.0) as i32,
            "opacity" => a.opacity = num(&v).unwrap_or(1.0).clamp(0.0, 1.0) as f32,
            "visibility" => a.visible = v != "hidden",
            "composite-op" => a.op = v,
            "isolation" => {
                iso_given = true;
                a.isolate = v == "isolate";
            }
            "oekaki:masked" => a.masked = v == "true",
            "oekaki:mask" => a.is_mask = v == "true",
            "oekaki:clip-group" => a.clip_group = v == "true",
            "oekaki:clip" => a.clip = v == "true",
            "oekaki:clip-alpha" => a.clip_alpha = v == "true",
            "oekaki:lock-alpha" => a.lock_alpha = v == "true",
            "oekaki:parameters" => a.params = Some(v),
            _ => {}
        }
    }
    // Without the attribute a stack is isolated only if its look needs it (OpenRaster's rule).
    if !iso_given {
        a.isolate = a.opacity < 1.0 || a.op != "svg:src-over";
    }
    Ok(a)
}

/// A node of stack.xml before pixels are loaded.
enum Node {
    Layer(Attrs),
    Stack(Attrs, Vec<Node>),
}

fn parse_stack_xml(xml: &[u8]) -> Result<(u32, u32, Vec<Node>)> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut size = None;
    // Each open <stack> collects its children; the outermost one is the image's root stack.
    let mut open: Vec<(Option<Attrs>, Vec<Node>)> = Vec::new();
    let mut root: Option<Vec<Node>> = None;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| IoError::Ora(format!("stack.xml: {e}")))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "image" => {
                let (mut w, mut h) = (0u64, 0u64);
                for attr in e.attributes().flatten() {
                    let v = attr.value.trim().parse::<u64>().unwrap_or(0);
                    match AsRef::<str>::as_ref(&attr.key) {
                        "w" => w = v,
                        "h" => h = v,
                        _ => {}
                    }
                }
                if w == 0 || h == 0 {
                    return Err(IoError::Ora("stack.xml gives the image no size (w and h must be positive)".into()));
                }
                if w > MAX_CANVAS as u64 || h > MAX_CANVAS as u64 {
                    return Err(IoError::TooLarge { width: w, height: h, max: MAX_CANVAS });
                }
                size = Some((w as u32, h as u32));
            }
            Event::Start(e) if e.name().as_ref() == "stack" => {
                if open.len() > 64 {
                    return Err(IoError::Ora("layer groups nested too deeply".into()));
                }
                let a = if open.is_empty() { None } else { Some(attrs(&e)?) };
                open.push((a, Vec::new()));
            }
            Event::Empty(e) if e.name().as_ref() == "stack" => {
                let a = attrs(&e)?;
                if let Some(top) = open.last_mut() {
                    top.1.push(Node::Stack(a, Vec::new()));
                }
            }
            Event::End(e) if e.name().as_ref() == "stack" => match open.pop() {
                Some((Some(a), children)) => match open.last_mut() {
                    Some(parent) => parent.1.push(Node::Stack(a, children)),
                    None => return Err(IoError::Ora("unbalanced <stack>".into())),
                },
                Some((None, children)) => root = Some(children),
                None => return Err(IoError::Ora("unbalanced </stack>".into())),
            },
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "layer" => {
                let a = attrs(&e)?;
                if let Some(top) = open.last_mut() {
                    top.1.push(Node::Layer(a));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let (w, h) = size.ok_or_else(|| IoError::Ora("stack.xml has no <image> size".into()))?;
    let root = root.ok_or_else(|| IoError::Ora("stack.xml has no root <stack>".into()))?;
    Ok((w, h, root))
}

/// Reads an OpenRaster archive from memory.
pub fn read(bytes: &[u8], limits: Limits) -> Result<Document> {
    read_with_warnings(bytes, limits).map(|(doc, _)| doc)
}

/// Reads an OpenRaster archive and says what could not be kept exactly (one line per issue), such as a
/// `composite-op` we do not know, which is shown as Normal.
pub fn read_with_warnings(bytes: &[u8], limits: Limits) -> Result<(Document, Vec<String>)> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(IoError::TooMuchMemory { limit_mb: limits.max_file_bytes >> 20 });
    }
    let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| IoError::Ora(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(IoError::Ora(format!("{} entries, more than the {} allowed", zip.len(), limits.max_entries)));
    }
    let mut ar = Archive { zip, limits, read_total: 0 };
    let mime = ar.entry("mimetype")?;
    if mime.trim_ascii() != MIMETYPE {
        return Err(IoError::Ora("the mimetype entry is not image/openraster".into()));
    }
    let (w, h, nodes) = parse_stack_xml(&ar.entry("stack.xml")?)?;
    let mut warnings = Vec::new();
    unknown_ops(&nodes, &mut warnings);
    let mut doc = Document::new(w, h)?;
    let mut count = 0usize;
    let layers = build(&mut doc, &mut ar, nodes, &mut count)?;
    doc.layers = layers;
    if ar.zip.index_for_name(METADATA).is_some() {
        doc.metadata =
            serde_json::from_slice(&ar.entry(METADATA)?).map_err(|e| IoError::Ora(format!("{METADATA}: {e}")))?;
    }
    Ok((doc, warnings))
}

/// Composite ops we read as something else: `svg:dst-in` is understood as a mask where it cuts a group.
fn unknown_ops(nodes: &[Node], out: &mut Vec<String>) {
    for n in nodes {
        let (a, children) = match n {
            Node::Layer(a) => (a, &[][..]),
            Node::Stack(a, c) => (a, &c[..]),
        };
        let known = BlendMode::from_ora_name(&a.op).is_some() || a.op == "svg:src-atop" || a.op == "svg:dst-in";
        if !known {
            let name = a.name.as_deref().unwrap_or("unnamed");
            out.push(format!("layer '{name}': blend mode '{}' is not supported and is shown as Normal", a.op));
        }
        unknown_ops(children, out);
    }
}

/// Turns parsed nodes (top first) into layers (bottom first), loading pixels.
fn build(doc: &mut Document, ar: &mut Archive, nodes: Vec<Node>, count: &mut usize) -> Result<Vec<Layer>> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes.into_iter().rev() {
        *count += 1;
        if *count > ar.limits.max_entries {
            return Err(IoError::Ora("too many layers".into()));
        }
        let layer = match node {
            Node::Layer(a) => {
                let img = load_png(ar, &a)?;
                let mut l =
                    doc.new_raster_layer(a.name.as_deref().unwrap_or("Layer"), surface_from_rgba(&img, a.x, a.y));
                set_props(&mut l.props, &a);
                l
            }
            Node::Stack(a, children) if a.masked => masked_layer(doc, ar, a, children, count)?,
            Node::Stack(a, mut children) if a.clip_group => {
                // Our own base-alpha cut (see `clip_group`) is redundant once the layers are clipped again.
                children.retain(|c| !matches!(c, Node::Layer(l) if l.clip_alpha));
                let mut inner = build(doc, ar, children, count)?;
                if let Some(base) = inner.first_mut() {
                    base.props.opacity = a.opacity;
                    base.props.visible = a.visible;
                    base.props.blend = BlendMode::from_ora_name(&a.op).unwrap_or_default();
                }
                out.extend(inner);
                continue;
            }
            Node::Stack(a, children) if is_dst_in_group(&a, &children) => foreign_masked(doc, ar, a, children, count)?,
            Node::Stack(a, children) => {
                let children = build(doc, ar, children, count)?;
                let mut g = doc.new_group(a.name.as_deref().unwrap_or("Group"), children);
                set_props(&mut g.props, &a);
                g.props.pass_through = !a.isolate;
                g
            }
        };
        out.push(layer);
    }
    Ok(out)
}

fn set_props(p: &mut LayerProps, a: &Attrs) {
    p.opacity = a.opacity;
    p.visible = a.visible;
    p.lock_alpha = a.lock_alpha;
    if a.params.is_some() {
        p.params = a.params.clone();
    }
    p.clip = a.clip || a.op == "svg:src-atop";
    p.blend =
        if a.op == "svg:src-atop" { BlendMode::Normal } else { BlendMode::from_ora_name(&a.op).unwrap_or_default() };
}

/// An `oekaki:masked` group: one mask layer and one content node become a masked layer.
fn masked_layer(
    doc: &mut Document,
    ar: &mut Archive,
    a: Attrs,
    children: Vec<Node>,
    count: &mut usize,
) -> Result<Layer> {
    let mut mask = None;
    let mut content = Vec::new();
    for c in children {
        match c {
            Node::Layer(m) if m.is_mask => mask = Some(m),
            other => content.push(other),
        }
    }
    let mut inner = build(doc, ar, content, count)?;
    if inner.len() != 1 {
        return Err(IoError::Ora("a masked layer group must hold exactly one layer".into()));
    }
    let mut layer = inner.remove(0);
    if let Some(m) = mask {
        let img = load_png(ar, &m)?;
        let alpha: Vec<u8> = img.pixels().map(|p| p.0[3]).collect();
        let pixels = Mask::from_buffer(255, m.x, m.y, img.width(), img.height(), &alpha);
        layer.mask = Some(LayerMask { pixels, enabled: m.visible });
    }
    let (name, lock_alpha) = (layer.props.name.clone(), layer.props.lock_alpha);
    set_props(&mut layer.props, &a);
    layer.props.lock_alpha |= lock_alpha;
    layer.props.name = a.name.unwrap_or(name);
    Ok(layer)
}

/// An isolated group whose top layer is `svg:dst-in`: the way OpenRaster (and Krita re-saving our files)
/// expresses a layer mask.
fn is_dst_in_group(a: &Attrs, children: &[Node]) -> bool {
    a.isolate && children.len() >= 2 && matches!(&children[0], Node::Layer(m) if m.op == "svg:dst-in")
}

/// Reads a `svg:dst-in` group as a masked layer (one content node) or a masked group (several). Outside the
/// dst-in layer's pixels nothing shows, so the mask defaults to 0 there, exactly as dst-in composites.
fn foreign_masked(
    doc: &mut Document,
    ar: &mut Archive,
    a: Attrs,
    mut children: Vec<Node>,
    count: &mut usize,
) -> Result<Layer> {
    let Node::Layer(m) = children.remove(0) else {
        return Err(IoError::Ora("dst-in group without its mask layer".into()));
    };
    let img = load_png(ar, &m)?;
    let alpha: Vec<u8> = img.pixels().map(|p| (p.0[3] as f32 * m.opacity + 0.5) as u8).collect();
    let pixels = Mask::from_buffer(0, m.x, m.y, img.width(), img.height(), &alpha);
    let mut inner = build(doc, ar, children, count)?;
    let mut layer = if inner.len() == 1 {
        inner.remove(0)
    } else {
        let mut g = doc.new_group(a.name.as_deref().unwrap_or("Group"), inner);
        g.props.pass_through = false;
        g
    };
    if layer.mask.is_some() {
        // Already masked inside: keep that layer whole and put the outer mask on a group around it.
        layer = doc.new_group(a.name.as_deref().unwrap_or("Group"), vec![layer]);
    }
    let (name, lock_alpha) = (layer.props.name.clone(), layer.props.lock_alpha);
    set_props(&mut layer.props, &a);
    layer.props.lock_alpha |= lock_alpha;
    layer.props.name = a.name.unwrap_or(name);
    layer.mask = Some(LayerMask { pixels, enabled: m.visible });
    Ok(layer)
}

fn load_png(ar: &mut Archive, a: &Attrs) -> Result<RgbaImage> {
    let src = a.src.as_deref().ok_or_else(|| IoError::Ora("a layer has no src".into()))?;
    let bytes = ar.entry(safe_entry_name(src)?)?;
    let limits = ar.limits;
    decode_rgba(&bytes, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_must_stay_inside() {
        for bad in ["../x.png", "/etc/passwd", "data/../../x", "C:\\x.png", "data\\x.png", "./a", ""] {
            assert!(safe_entry_name(bad).is_err(), "{bad}");
        }
        assert!(safe_entry_name("data/layer0.png").is_ok());
    }
}
