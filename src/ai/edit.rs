//! AI edits of a document: generate into a region, refine (img2img) a region, inpaint a selection. The same
//! operation serves the studio's AI panel and `oekaki edit`.
//!
//! Inpainting works like A1111's "only masked": the selection is grown (the model sees this mask) and feathered
//! (the paste mask); a context rectangle around it (padding, default 32 px) is cut from the flattened picture,
//! scaled to a working size the model accepts (sides a multiple of the UNet's size step, about 512² pixels of
//! area for SD1.5), generated, scaled back and returned as a new layer whose alpha is the feathered mask, so
//! nothing outside it can change. The document itself is only changed by applying the returned command.

use image::imageops::FilterType;
use image::{GrayImage, RgbImage, RgbaImage};

use super::AiError;
use super::pipeline::{Engine, Generated, Pixels, Progress, Request};
use crate::doc::composite::render_rect;
use crate::doc::{Document, Selection};
use crate::geom::Rect;
use crate::history::{Command, layer_ops};
use crate::raster::GrayBuf;

/// Which edit to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    /// txt2img into the selection's bounding box (or the whole canvas).
    Generate,
    /// img2img of the selection (or the whole canvas) at the request's strength.
    Refine,
    /// Inpaint the selection.
    Inpaint,
}

/// The widest feather the paste mask takes, in pixels (the studio's slider stops well below).
pub const MAX_FEATHER: f32 = 256.0;

/// How the region around the selection is prepared.
#[derive(Debug, Clone, Copy)]
pub struct EditOptions {
    /// Context kept around the selection, in canvas pixels.
    pub padding: u32,
    /// The selection is grown by this much before inpainting (the model's mask).
    pub grow: u32,
    /// Blur radius of the paste mask.
    pub feather: f32,
    /// Pixel area the region is scaled to for the model (512² for SD1.5).
    pub work_area: usize,
}

impl Default for EditOptions {
    fn default() -> Self {
        EditOptions { padding: 32, grow: 4, feather: 4.0, work_area: 512 * 512 }
    }
}

/// Where an edit happens and at what size the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The canvas rectangle that is cut out and replaced.
    pub context: Rect,
    pub work_width: usize,
    pub work_height: usize,
    /// What the model repaints (the grown selection) over `context`.
    pub model_mask: GrayBuf,
    /// Alpha of the result layer (grown and feathered selection) over `context`.
    pub paste_mask: GrayBuf,
}

/// Working size for a `w × h` region: about `area` pixels, sides multiples of `multiple`, aspect kept.
pub fn work_size(w: usize, h: usize, multiple: usize, area: usize) -> (usize, usize) {
    let scale = (area as f64 / (w * h).max(1) as f64).sqrt();
    let side =
        |v: usize| (((v as f64 * scale) / multiple as f64).round() as usize).clamp(1, 4096 / multiple) * multiple;
    (side(w), side(h))
}

/// Plan the region of an edit from the document's selection.
pub fn plan(doc: &Document, kind: EditKind, opts: &EditOptions, multiple: usize) -> Result<Region, AiError> {
    let canvas = doc.bounds();
    let sel: &Selection = &doc.selection;
    if !(0.0..=MAX_FEATHER).contains(&opts.feather) {
        return Err(AiError::Input(format!("feather must be between 0 and {MAX_FEATHER} px (got {})", opts.feather)));
    }
    if kind == EditKind::Inpaint && !sel.active {
        return Err(AiError::Input("inpainting needs a selection (or a mask)".into()));
    }
    let (context, model_mask, paste_mask) = if sel.active {
        let grown = sel.grown(opts.grow, canvas);
        let feathered = grown.feathered(opts.feather, canvas);
        let bounds = GrayBuf::from_mask(&feathered.mask, canvas).content_bounds();
        if bounds.is_empty() {
            return Err(AiError::Input("the selection is empty".into()));
        }
        let context = match kind {
            EditKind::Generate => bounds,
            // (more padding than the canvas is the whole canvas; the clamp keeps huge values from overflowing)
            _ => bounds.inflate(opts.padding.min(canvas.width().max(canvas.height()) as u32) as i32).intersect(&canvas),
        };
        let model = GrayBuf::from_mask(&grown.mask, context);
        let paste = match kind {
            EditKind::Generate => GrayBuf::new(context, 255),
            _ => GrayBuf::from_mask(&feathered.mask, context),
        };
        (context, model, paste)
    } else {
        (canvas, GrayBuf::new(canvas, 255), GrayBuf::new(canvas, 255))
    };
    let (work_width, work_height) =
        work_size(context.width() as usize, context.height() as usize, multiple, opts.work_area);
    Ok(Region { context, work_width, work_height, model_mask, paste_mask })
}

/// A ControlNet guiding an edit by part of the document (usually the sketch layer): its source is rendered over
/// the edit's context at the working size, then preprocessed, as A1111 runs the annotator at processing size.
#[derive(Debug, Clone)]
pub struct Guide {
    /// The layer shown alone (its blend mode and opacity ignored), or `None` for the visible picture.
    pub layer: Option<crate::doc::LayerId>,
    pub preprocess: Option<super::preprocess::Kind>,
    pub options: super::preprocess::Options,
    /// The ControlNet folder.
    pub model: std::path::PathBuf,
    pub scale: f32,
    pub start: f64,
    pub end: f64,
}

impl Guide {
    /// The control for `region` of `doc`.
    pub fn control(&self, doc: &Document, region: &Region) -> Result<super::controlnet::Control, AiError> {
        let (w, h) = (region.work_width as u32, region.work_height as u32);
        let crop = guide_source(doc, self.layer, region.context)?;
        let scaled = image::imageops::resize(&crop, w, h, FilterType::Lanczos3);
        let mut image = to_pixels(scaled);
        if let Some(kind) = self.preprocess {
            image = super::preprocess::run(kind, &image, &self.options)?;
        }
        Ok(super::controlnet::Control {
            image,
            model: self.model.clone(),
            scale: self.scale,
            start: self.start,
            end: self.end,
        })
    }
}

impl Guide {
    /// The control image of the whole canvas at most `max_side` pixels on a side, to show before generating.
    pub fn preview(&self, doc: &Document, max_side: u32) -> Result<Pixels, AiError> {
        let source = guide_source(doc, self.layer, doc.bounds())?;
        let k = (max_side as f32 / doc.width.max(doc.height) as f32).min(1.0);
        let (w, h) = (((doc.width as f32 * k).round() as u32).max(1), ((doc.height as f32 * k).round() as u32).max(1));
        let mut image = to_pixels(image::imageops::resize(&source, w, h, FilterType::Triangle));
        if let Some(kind) = self.preprocess {
            image = super::preprocess::run(kind, &image, &self.options)?;
        }
        Ok(image)
    }
}

/// One layer alone (or the visible picture) under `rect`, over white.
pub fn guide_source(doc: &Document, layer: Option<crate::doc::LayerId>, rect: Rect) -> Result<RgbImage, AiError> {
    let Some(id) = layer else { return Ok(crop_rgb(doc, rect)) };
    let mut l =
        doc.layer(id).ok_or_else(|| AiError::Input("the guide layer is no longer in the document".into()))?.clone();
    l.props.visible = true;
    l.props.opacity = 1.0;
    l.props.blend = crate::doc::BlendMode::Normal;
    l.props.clip = false;
    let mut alone = Document::new(doc.width, doc.height).map_err(|e| AiError::Input(e.to_string()))?;
    alone.layers = vec![l];
    Ok(crop_rgb(&alone, rect))
}

/// The flattened picture under `rect` as RGB over white (the paper), as the model should see it.
pub fn crop_rgb(doc: &Document, rect: Rect) -> RgbImage {
    let px = render_rect(doc, rect);
    let mut img = RgbImage::new(rect.width() as u32, rect.height() as u32);
    for (dst, p) in img.pixels_mut().zip(px) {
        let a = p[3] as u32;
        // premultiplied over white: c + (255 − a)
        *dst = image::Rgb([0, 1, 2].map(|c| (p[c] as u32 + 255 - a).min(255) as u8));
    }
    img
}

fn to_pixels(img: RgbImage) -> Pixels {
    Pixels { width: img.width() as usize, height: img.height() as usize, data: img.into_raw() }
}

/// The request the engine runs for this region (images scaled to the working size).
pub fn region_request(doc: &Document, kind: EditKind, region: &Region, base: &Request) -> Request {
    let (w, h) = (region.work_width as u32, region.work_height as u32);
    let mut req =
        Request { width: region.work_width, height: region.work_height, init: None, mask: None, ..base.clone() };
    if kind != EditKind::Generate {
        let crop = crop_rgb(doc, region.context);
        req.init = Some(to_pixels(image::imageops::resize(&crop, w, h, FilterType::Lanczos3)));
    }
    // Control images cover the document: they get the same context crop as the picture.
    for c in &mut req.controls {
        c.image = crop_control(&c.image, doc, region.context);
    }
    if kind == EditKind::Inpaint {
        let m = &region.model_mask;
        let mask = GrayImage::from_raw(m.width() as u32, m.height() as u32, m.data.clone()).unwrap_or_default();
        let scaled = image::imageops::resize(&mask, w, h, FilterType::Triangle);
        req.mask = Some(Pixels { width: w as usize, height: h as usize, data: scaled.into_raw() });
    }
    req
}

/// A document-sized control image (resized to the document first if it is not) cut to `rect`.
fn crop_control(image: &Pixels, doc: &Document, rect: Rect) -> Pixels {
    let Some(img) = RgbImage::from_raw(image.width as u32, image.height as u32, image.data.clone()) else {
        return image.clone();
    };
    let img = if (img.width(), img.height()) == (doc.width, doc.height) {
        img
    } else {
        image::imageops::resize(&img, doc.width, doc.height, FilterType::Lanczos3)
    };
    let crop =
        image::imageops::crop_imm(&img, rect.x0 as u32, rect.y0 as u32, rect.width() as u32, rect.height() as u32);
    to_pixels(crop.to_image())
}

/// The generated picture scaled back over the region, with the paste mask as alpha (straight RGBA).
pub fn paste_back(out: &Generated, region: &Region) -> Result<RgbaImage, AiError> {
    let img = RgbImage::from_raw(out.width as u32, out.height as u32, out.rgb.clone())
        .ok_or_else(|| AiError::Model("the pipeline returned a malformed image".into()))?;
    let (cw, ch) = (region.context.width() as u32, region.context.height() as u32);
    let scaled = image::imageops::resize(&img, cw, ch, FilterType::Lanczos3);
    let mut rgba = RgbaImage::new(cw, ch);
    for ((dst, src), a) in rgba.pixels_mut().zip(scaled.pixels()).zip(&region.paste_mask.data) {
        *dst = image::Rgba([src[0], src[1], src[2], *a]);
    }
    Ok(rgba)
}

/// A layer name from the prompt: "AI: " and its first words.
pub fn layer_name(kind: EditKind, prompt: &str) -> String {
    let verb = match kind {
        EditKind::Generate => "Generated",
        EditKind::Refine => "Refined",
        EditKind::Inpaint => "Inpainted",
    };
    let words: String = prompt.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(40).collect();
    if words.is_empty() { verb.to_string() } else { format!("{verb}: {words}") }
}

/// The finished edit: the command that adds the result layer (carrying its generation parameters), and what
/// was generated.
pub struct EditResult {
    pub command: Command,
    pub region: Region,
    pub generated: Generated,
}

/// A side of the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
    Top,
    Bottom,
}

impl Side {
    pub const ALL: [Side; 4] = [Side::Left, Side::Right, Side::Top, Side::Bottom];

    pub fn parse(s: &str) -> Result<Side, AiError> {
        Ok(match s {
            "left" => Side::Left,
            "right" => Side::Right,
            "top" => Side::Top,
            "bottom" => Side::Bottom,
            other => return Err(AiError::Input(format!("unknown side \"{other}\" (left, right, top, bottom)"))),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
            Side::Top => "top",
            Side::Bottom => "bottom",
        }
    }
}

/// Expanding the canvas ("outpainting"): the command that resizes it, where the old origin lands, and the
/// document as it will be, with the new strip selected for inpainting.
pub struct Expansion {
    pub resize: Command,
    pub offset: [i32; 2],
    pub doc: Document,
}

/// Plan expanding `doc` by `amount` pixels on `side`. The document itself is not changed.
pub fn expand(doc: &Document, side: Side, amount: u32) -> Result<Expansion, AiError> {
    if amount == 0 {
        return Err(AiError::Input("expand by at least 1 pixel".into()));
    }
    let (w, h, a) = (doc.width, doc.height, amount as i32);
    let (width, height, dx, dy) = match side {
        Side::Left => (w + amount, h, a, 0),
        Side::Right => (w + amount, h, 0, 0),
        Side::Top => (w, h + amount, 0, a),
        Side::Bottom => (w, h + amount, 0, 0),
    };
    let resize = Command::ResizeCanvas { width, height, dx, dy };
    let mut expanded = doc.clone();
    resize.clone().apply(&mut expanded).map_err(|e| AiError::Input(e.to_string()))?;
    let (wi, hi) = (width as i32, height as i32);
    let strip = match side {
        Side::Left => Rect::new(0, 0, a, hi),
        Side::Right => Rect::new(w as i32, 0, wi, hi),
        Side::Top => Rect::new(0, 0, wi, a),
        Side::Bottom => Rect::new(0, h as i32, wi, hi),
    };
    let shape = crate::doc::selection::Shape::Rect { x: strip.x0, y: strip.y0, w: strip.width(), h: strip.height() };
    expanded.selection =
        Selection::none().with_shape(&shape, crate::doc::selection::Combine::Replace, expanded.bounds());
    Ok(Expansion { resize, offset: [dx, dy], doc: expanded })
}

/// An edit ready to run: where it happens and the request the engine gets (without its seed's variations).
pub struct Prepared {
    pub kind: EditKind,
    pub region: Region,
    pub request: Request,
}

/// Load the model (or reuse it) and plan the edit of `doc`.
pub fn prepare(
    engine: &mut Engine,
    model_dir: &std::path::Path,
    doc: &Document,
    kind: EditKind,
    opts: &EditOptions,
    base: &Request,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Prepared, AiError> {
    let loaded = engine.load(model_dir, progress)?;
    let multiple = loaded.folder.size_multiple();
    let region = plan(doc, kind, opts, multiple)?;
    let request = region_request(doc, kind, &region, base);
    Ok(Prepared { kind, region, request })
}

impl Prepared {
    /// Generate with `seed` and build the result layer for `doc`.
    pub fn generate(
        &self,
        engine: &mut Engine,
        model_dir: &std::path::Path,
        doc: &mut Document,
        seed: u64,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<EditResult, AiError> {
        let req = Request { seed, ..self.request.clone() };
        let generated = engine.generate(model_dir, &req, progress)?;
        let rgba = paste_back(&generated, &self.region)?;
        let (x, y) = (self.region.context.x0, self.region.context.y0);
        let mut command = layer_ops::image_layer(doc, &layer_name(self.kind, &req.prompt), &rgba, x, y);
        if let Command::AddLayer { layer, .. } = &mut command {
            layer.props.params = Some(req.a1111_parameters(model_dir, generated.width, generated.height));
        }
        Ok(EditResult { command, region: self.region.clone(), generated })
    }
}

/// Run an edit on `doc` with the model in `model_dir`. The document is not modified; apply `command` to keep it.
pub fn run(
    engine: &mut Engine,
    model_dir: &std::path::Path,
    doc: &mut Document,
    kind: EditKind,
    opts: &EditOptions,
    base: &Request,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<EditResult, AiError> {
    let prepared = prepare(engine, model_dir, doc, kind, opts, base, progress)?;
    prepared.generate(engine, model_dir, doc, base.seed, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_sizes_keep_the_aspect_on_the_model_grid() {
        assert_eq!(work_size(100, 100, 64, 512 * 512), (512, 512));
        assert_eq!(work_size(300, 150, 64, 512 * 512), (704, 384));
        assert_eq!(work_size(10, 4000, 64, 512 * 512), (64, 4096));
        let (w, h) = work_size(1000, 700, 8, 512 * 512);
        assert!(w % 8 == 0 && h % 8 == 0 && (w * h) as f64 / (512.0 * 512.0) > 0.95);
    }

    /// A 256×192 picture (red everywhere) with a sketch layer holding a black vertical line at x = 100..102, and
    /// a selection around part of the line: the region an inpaint works on.
    fn sketch_and_region() -> (Document, crate::doc::LayerId, Region) {
        use crate::doc::selection::{Combine, Shape};
        let mut doc = Document::new(256, 192).unwrap();
        let mut paint = crate::raster::Surface::new([0; 4]);
        paint.write_rect(doc.bounds(), &vec![[200, 20, 20, 255]; 256 * 192]);
        let mut lines = crate::raster::Surface::new([0; 4]);
        lines.write_rect(Rect::new(100, 0, 102, 192), &[[0, 0, 0, 255]; 2 * 192]);
        let (paint, sketch) = (doc.new_raster_layer("paint", paint), doc.new_raster_layer("sketch", lines));
        let id = sketch.id;
        doc.layers = vec![paint, sketch];
        doc.selection =
            Selection::none().with_shape(&Shape::Rect { x: 80, y: 60, w: 60, h: 60 }, Combine::Replace, doc.bounds());
        let region = plan(&doc, EditKind::Inpaint, &EditOptions::default(), 64).unwrap();
        (doc, id, region)
    }

    /// Where canvas column `x` lands in the working image of `region`.
    fn work_column(region: &Region, x: f32) -> usize {
        ((x - region.context.x0 as f32) * region.work_width as f32 / region.context.width() as f32) as usize
    }

    #[test]
    fn the_guide_is_its_layer_alone_cut_to_the_region_and_scaled_to_the_working_size() {
        let (doc, sketch, region) = sketch_and_region();
        assert!(region.context.x0 > 0 && region.context.width() < 256, "a real crop: {:?}", region.context);
        let guide = Guide {
            layer: Some(sketch),
            preprocess: Some(super::super::preprocess::Kind::Invert),
            options: Default::default(),
            model: "controlnet".into(),
            scale: 1.0,
            start: 0.0,
            end: 1.0,
        };
        let control = guide.control(&doc, &region).unwrap();
        let img = &control.image;
        assert_eq!((img.width, img.height), (region.work_width, region.work_height));
        let at = |x: usize, y: usize| &img.data[(y * img.width + x) * 3..][..3];
        let line = work_column(&region, 101.0);
        let y = img.height / 2;
        assert!(
            at(line, y).iter().all(|&v| v > 200),
            "the line, inverted to white, at column {line}: {:?}",
            at(line, y)
        );
        for x in [line - 12, line + 12, 2, img.width - 3] {
            assert!(
                at(x, y).iter().all(|&v| v < 30),
                "black elsewhere (the red paint is not the guide): {:?}",
                at(x, y)
            );
        }
    }

    #[test]
    fn a_control_image_of_the_document_gets_the_pictures_crop_and_other_sizes_are_scaled_first() {
        let (doc, _, region) = sketch_and_region();
        // The same drawing as a document-sized control image and at half size.
        let drawing = |w: usize, h: usize, line: std::ops::Range<usize>| {
            let data = (0..w * h).flat_map(|i| if line.contains(&(i % w)) { [255; 3] } else { [0; 3] }).collect();
            Pixels { width: w, height: h, data }
        };
        for (image, what) in [(drawing(256, 192, 100..102), "document size"), (drawing(128, 96, 50..51), "half size")] {
            let control = crate::ai::controlnet::Control { image, model: "c".into(), scale: 1.0, start: 0.0, end: 1.0 };
            let base = Request { controls: vec![control], ..Request::default() };
            let req = region_request(&doc, EditKind::Inpaint, &region, &base);
            let img = &req.controls[0].image;
            assert_eq!(
                (img.width, img.height),
                (region.context.width() as usize, region.context.height() as usize),
                "{what}"
            );
            let row = &img.data[(img.height / 2) * img.width * 3..][..img.width * 3];
            let brightest = (0..img.width).max_by_key(|&x| row[x * 3]).unwrap();
            let expected = 101 - region.context.x0 as usize;
            assert!(brightest.abs_diff(expected) <= 1, "{what}: the line at column {brightest}, expected {expected}");
        }
    }

    #[test]
    fn layer_names_come_from_the_prompt() {
        assert_eq!(layer_name(EditKind::Inpaint, "  red   scarf, \n wind "), "Inpainted: red scarf, wind");
        assert_eq!(layer_name(EditKind::Generate, ""), "Generated");
    }
}
