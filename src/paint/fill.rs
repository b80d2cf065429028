//! Bucket fill and the magic wand: both find the area similar to a seed pixel (one shared stage in
//! [`crate::raster::region`]), the fill then lays ink through it.

use serde::{Deserialize, Serialize};

use super::apply::{Ink, PixelEdit, gray_coverage};
use super::sample::{at, straight_image};
use crate::color::Color;
use crate::doc::selection::Combine;
use crate::doc::{DocError, Document, LayerId, PaintTarget, Selection, TilePatch};
use crate::geom::Rect;
use crate::raster::{GrayBuf, morph, region};

/// How the similar area is found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaSpec {
    pub x: i32,
    pub y: i32,
    /// Largest per-channel difference (0..=255) still counted as the same colour.
    pub tolerance: u8,
    /// Only the connected area (true) or every similar pixel on the canvas.
    pub contiguous: bool,
    /// Compare one layer's pixels, or all visible layers composited when `None`
    /// (fill flats on their own layer under line art on another).
    pub sample_layer: Option<LayerId>,
    /// Close gaps in line art up to about twice this many pixels (0 = off; contiguous only).
    pub close_gaps: u32,
    /// Grow the area by this many pixels so fills tuck under anti-aliased lines.
    pub expand: u32,
}

impl AreaSpec {
    pub fn at(x: i32, y: i32) -> AreaSpec {
        AreaSpec { x, y, tolerance: 16, contiguous: true, sample_layer: None, close_gaps: 0, expand: 0 }
    }
}

/// The area similar to the seed pixel, as coverage over the canvas.
pub fn similar_area(doc: &Document, spec: &AreaSpec) -> Result<GrayBuf, DocError> {
    let canvas = doc.bounds();
    if !canvas.contains(spec.x, spec.y) {
        return Ok(GrayBuf::new(Rect::EMPTY, 0));
    }
    let img = straight_image(doc, spec.sample_layer)?;
    let sample = |x: i32, y: i32| at(&img, canvas, x, y);
    let seed = (spec.x, spec.y);
    let area = if spec.close_gaps > 0 && spec.contiguous {
        region::similar_region_closing_gaps(canvas, seed, spec.tolerance, spec.close_gaps, sample)
    } else {
        region::similar_region(canvas, seed, spec.tolerance, spec.contiguous, sample)
    };
    Ok(if spec.expand > 0 { morph::grow(&area, spec.expand, canvas) } else { area })
}

/// The magic wand: the similar area combined with the current selection.
pub fn magic_wand(doc: &Document, spec: &AreaSpec, how: Combine) -> Result<Selection, DocError> {
    let area = similar_area(doc, spec)?;
    Ok(doc.selection.combined(&area, how, doc.bounds()))
}

/// A bucket fill as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillCommand {
    pub target: PaintTarget,
    pub area: AreaSpec,
    pub color: Color,
    /// Fill with transparency instead (clears the area).
    pub erase: bool,
}

impl FillCommand {
    pub fn paint(&self, doc: &mut Document) -> Result<(Rect, TilePatch), DocError> {
        let area = similar_area(doc, &self.area)?;
        let ink = if self.erase { Ink::Erase } else { Ink::Color(self.color) };
        mix_gray(doc, self.target, &area, &ink)
    }
}

/// Mixes ink through a dense coverage buffer (fill areas, cleared selections).
pub fn mix_gray(
    doc: &mut Document,
    target: PaintTarget,
    area: &GrayBuf,
    ink: &Ink,
) -> Result<(Rect, TilePatch), DocError> {
    let mut edit = PixelEdit::begin(doc, target)?;
    let cov = gray_coverage(area);
    let dirty = edit.mix(doc, cov.keys().collect::<Vec<_>>(), &cov, ink)?;
    Ok((dirty, edit.into_patch()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::premultiply;
    use crate::raster::Surface;

    /// A 100×100 canvas with a black square outline from 20 to 80 on the "lines" layer and an empty "flats" layer.
    fn line_art() -> (Document, LayerId, LayerId) {
        let mut doc = Document::new(100, 100).unwrap();
        let mut lines = Surface::new([0; 4]);
        for i in 20..=80 {
            for (x, y) in [(i, 20), (i, 80), (20, i), (80, i)] {
                lines.set(x, y, premultiply([0, 0, 0, 255]));
            }
        }
        let flats = doc.new_raster_layer("flats", Surface::new([0; 4]));
        let art = doc.new_raster_layer("lines", lines);
        let (f, l) = (flats.id, art.id);
        doc.layers = vec![flats, art];
        (doc, f, l)
    }

    #[test]
    fn fills_flats_under_line_art_on_another_layer() {
        let (mut doc, flats, _) = line_art();
        let cmd = FillCommand {
            target: PaintTarget::Layer(flats),
            area: AreaSpec::at(50, 50),
            color: Color::rgb(1.0, 0.0, 0.0),
            erase: false,
        };
        cmd.paint(&mut doc).unwrap();
        let s = doc.layer(flats).unwrap().surface().unwrap();
        assert_eq!(s.get(50, 50), [255, 0, 0, 255]);
        assert_eq!(s.get(21, 21), [255, 0, 0, 255]);
        assert_eq!(s.get(20, 50), [0, 0, 0, 0], "line pixels are not filled");
        assert_eq!(s.get(5, 5), [0, 0, 0, 0], "outside stays empty");
    }

    #[test]
    fn sampling_only_the_empty_layer_fills_everything() {
        let (mut doc, flats, _) = line_art();
        let area = AreaSpec { sample_layer: Some(flats), ..AreaSpec::at(50, 50) };
        let cmd = FillCommand { target: PaintTarget::Layer(flats), area, color: Color::BLACK, erase: false };
        cmd.paint(&mut doc).unwrap();
        assert_eq!(doc.layer(flats).unwrap().surface().unwrap().get(5, 5), [0, 0, 0, 255]);
    }

    #[test]
    fn magic_wand_selects_the_inside_and_adds() {
        let (doc, _, _) = line_art();
        let inside = magic_wand(&doc, &AreaSpec::at(50, 50), Combine::Replace).unwrap();
        assert_eq!(inside.coverage(50, 50), 255);
        assert_eq!(inside.coverage(20, 50), 0);
        assert_eq!(inside.coverage(5, 5), 0);
        let mut doc2 = doc.clone();
        doc2.selection = inside;
        let both = magic_wand(&doc2, &AreaSpec::at(5, 5), Combine::Add).unwrap();
        assert_eq!(both.coverage(5, 5), 255);
        assert_eq!(both.coverage(50, 50), 255);
        assert_eq!(both.coverage(20, 50), 0);
        let lines =
            magic_wand(&doc, &AreaSpec { contiguous: false, ..AreaSpec::at(20, 50) }, Combine::Replace).unwrap();
        assert_eq!(lines.coverage(80, 80), 255);
        assert_eq!(lines.coverage(50, 50), 0);
    }

    #[test]
    fn seed_outside_canvas_changes_nothing() {
        let (mut doc, flats, _) = line_art();
        let before = doc.clone();
        let cmd = FillCommand {
            target: PaintTarget::Layer(flats),
            area: AreaSpec::at(500, 5),
            color: Color::BLACK,
            erase: false,
        };
        cmd.paint(&mut doc).unwrap();
        assert_eq!(doc, before);
    }
}
