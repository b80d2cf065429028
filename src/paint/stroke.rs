//! Strokes: input samples → stabilizer → dabs spaced along the path → stroke buffer → mixed into the target.
//!
//! Dabs are placed by distance with the remainder carried between input events, so the dab count per unit
//! length does not depend on how often the pen reports (fast and slow strokes look the same).

use serde::{Deserialize, Serialize};

use super::apply::{Ink, PixelEdit};
use super::brush::Brush;
use super::dab::{Dab, StrokeBuffer, stamp};
use super::stabilizer::Stabilizer;
use crate::color::Color;
use crate::doc::{DocError, Document, PaintTarget, TilePatch};
use crate::geom::Rect;

/// One pen or mouse event in canvas pixels; pressure 0..=1 (a mouse reports 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSample {
    pub x: f32,
    pub y: f32,
    pub pressure: f32,
}

/// Walks the smoothed path and drops a dab every `spacing` pixels, interpolating position and pressure.
#[derive(Clone, Debug, Default)]
pub struct DabEmitter {
    last: Option<InputSample>,
    /// Distance along the path still to go before the next dab.
    to_next: f32,
}

impl DabEmitter {
    pub fn push(&mut self, s: InputSample, brush: &Brush, out: &mut Vec<Dab>) {
        if !(s.x.is_finite() && s.y.is_finite()) {
            return;
        }
        let Some(a) = self.last else {
            out.push(dab_at(brush, s));
            self.to_next = brush.spacing_px(brush.dab_params(s.pressure).diameter);
            self.last = Some(s);
            return;
        };
        let (dx, dy) = (s.x - a.x, s.y - a.y);
        let len = (dx * dx + dy * dy).sqrt();
        let mut t = self.to_next;
        while t <= len {
            let u = t / len;
            let p =
                InputSample { x: a.x + dx * u, y: a.y + dy * u, pressure: a.pressure + (s.pressure - a.pressure) * u };
            out.push(dab_at(brush, p));
            t += brush.spacing_px(brush.dab_params(p.pressure).diameter);
        }
        self.to_next = t - len;
        self.last = Some(s);
    }
}

fn dab_at(brush: &Brush, s: InputSample) -> Dab {
    let p = brush.dab_params(s.pressure);
    Dab { x: s.x, y: s.y, diameter: p.diameter, hardness: brush.hardness, flow: p.flow, opacity: p.opacity }
}

/// A complete stroke as data: replaying it reproduces the same pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrokeCommand {
    pub target: PaintTarget,
    pub brush: Brush,
    pub color: Color,
    pub samples: Vec<InputSample>,
}

/// A stroke being painted live: the studio feeds samples as they arrive and the document updates at once.
pub struct StrokeSession {
    edit: PixelEdit,
    brush: Brush,
    color: Color,
    stabilizer: Stabilizer,
    emitter: DabEmitter,
    buffer: StrokeBuffer,
    samples: Vec<InputSample>,
    dabs: Vec<Dab>,
    dab_count: usize,
}

impl StrokeSession {
    pub fn begin(doc: &Document, target: PaintTarget, brush: Brush, color: Color) -> Result<StrokeSession, DocError> {
        brush.validate().map_err(DocError::Invalid)?;
        Ok(StrokeSession {
            edit: PixelEdit::begin(doc, target)?,
            stabilizer: Stabilizer::new(brush.stabilizer),
            brush,
            color,
            emitter: DabEmitter::default(),
            buffer: StrokeBuffer::new(0.0),
            samples: Vec::new(),
            dabs: Vec::new(),
            dab_count: 0,
        })
    }

    /// Adds raw samples; returns the canvas area that changed.
    pub fn add(&mut self, doc: &mut Document, samples: &[InputSample]) -> Result<Rect, DocError> {
        // A wild coordinate (a glitching tablet, a bad script) must not make the emitter walk for ever:
        // samples are kept within a brush's reach of the canvas.
        let reach = doc.bounds().inflate(self.brush.diameter.ceil() as i32 + 1);
        for s in samples {
            let s = &InputSample {
                x: s.x.clamp(reach.x0 as f32, reach.x1 as f32),
                y: s.y.clamp(reach.y0 as f32, reach.y1 as f32),
                pressure: s.pressure,
            };
            self.samples.push(*s);
            if let Some(p) = self.stabilizer.push(*s) {
                self.emitter.push(p, &self.brush, &mut self.dabs);
            }
        }
        self.flush(doc)
    }

    fn flush(&mut self, doc: &mut Document) -> Result<Rect, DocError> {
        let canvas = doc.bounds();
        let mut touched = Rect::EMPTY;
        for d in self.dabs.drain(..) {
            touched = touched.union(&stamp(&mut self.buffer, &d, canvas));
            self.dab_count += 1;
        }
        if touched.is_empty() {
            return Ok(Rect::EMPTY);
        }
        let ink = if self.brush.eraser { Ink::Erase } else { Ink::Color(self.color) };
        self.edit.mix(doc, touched.tiles(), &self.buffer, &ink)
    }

    pub fn brush(&self) -> &Brush {
        &self.brush
    }

    /// Dabs stamped so far.
    pub fn dab_count(&self) -> usize {
        self.dab_count
    }

    /// Ends the stroke: the stabilizer catches up with the pen. Returns the last dirty area, the stroke as a
    /// replayable command, and the patch that undoes it.
    pub fn finish(mut self, doc: &mut Document) -> Result<(Rect, StrokeCommand, TilePatch), DocError> {
        if let Some(p) = self.stabilizer.finish() {
            self.emitter.push(p, &self.brush, &mut self.dabs);
        }
        let dirty = self.flush(doc)?;
        let cmd =
            StrokeCommand { target: self.edit.target(), brush: self.brush, color: self.color, samples: self.samples };
        Ok((dirty, cmd, self.edit.into_patch()))
    }
}

impl StrokeCommand {
    /// Paints the whole stroke at once; returns the area changed and the undo patch.
    pub fn paint(&self, doc: &mut Document) -> Result<(Rect, TilePatch), DocError> {
        let mut s = StrokeSession::begin(doc, self.target, self.brush.clone(), self.color)?;
        let r = s.add(doc, &self.samples)?;
        let (r2, _, patch) = s.finish(doc)?;
        Ok((r.union(&r2).union(&patch.rect()).intersect(&doc.bounds()), patch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, len: f32) -> Vec<InputSample> {
        (0..=n).map(|i| InputSample { x: 10.0 + len * i as f32 / n as f32, y: 20.0, pressure: 1.0 }).collect()
    }

    fn dabs_for(samples: &[InputSample], brush: &Brush) -> Vec<Dab> {
        let mut e = DabEmitter::default();
        let mut out = Vec::new();
        for s in samples {
            e.push(*s, brush, &mut out);
        }
        out
    }

    #[test]
    fn dab_count_per_length_is_independent_of_input_rate() {
        let brush = Brush { diameter: 10.0, spacing: 0.25, ..Brush::default() };
        let expected = (300.0f32 / 2.5).floor() as usize + 1;
        for n in [1usize, 2, 7, 50, 333, 3000] {
            let dabs = dabs_for(&line(n, 300.0), &brush);
            assert!(dabs.len().abs_diff(expected) <= 1, "{n} events gave {} dabs, want {expected}", dabs.len());
            for w in dabs.windows(2) {
                assert!(((w[1].x - w[0].x) - 2.5).abs() < 1e-2, "uneven gap at {n} events: {:?}", w);
            }
        }
    }

    #[test]
    fn pressure_changes_size_and_spacing_follows() {
        let brush = Brush { diameter: 20.0, spacing: 0.1, ..Brush::default() };
        let s = [InputSample { x: 0.0, y: 0.0, pressure: 0.2 }, InputSample { x: 100.0, y: 0.0, pressure: 1.0 }];
        let dabs = dabs_for(&s, &brush);
        assert!(dabs[0].diameter < dabs[dabs.len() - 1].diameter);
        let first_gap = dabs[1].x - dabs[0].x;
        let last_gap = dabs[dabs.len() - 1].x - dabs[dabs.len() - 2].x;
        assert!(first_gap < last_gap);
    }

    #[test]
    fn wild_coordinates_are_contained() {
        let mut doc = Document::with_layer(64, 64).unwrap();
        let target = PaintTarget::Layer(doc.layers[0].id);
        let mut s = StrokeSession::begin(&doc, target, Brush::default(), Color::BLACK).unwrap();
        let wild = [
            InputSample { x: 10.0, y: 10.0, pressure: 1.0 },
            InputSample { x: 1e30, y: -1e30, pressure: f32::NAN },
            InputSample { x: f32::INFINITY, y: 3.0, pressure: 2.0 },
        ];
        s.add(&mut doc, &wild).unwrap();
        assert!(s.dab_count() < 10_000, "{} dabs", s.dab_count());
        s.finish(&mut doc).unwrap();
    }

    #[test]
    fn live_stroke_equals_replayed_command() {
        let mut live = Document::with_layer(200, 100).unwrap();
        let mut replay = live.clone();
        let target = PaintTarget::Layer(live.layers[0].id);
        let brush = Brush { stabilizer: 0.3, ..Brush::default() };
        let samples = line(40, 150.0);
        let mut s = StrokeSession::begin(&live, target, brush, Color::BLACK).unwrap();
        for chunk in samples.chunks(3) {
            s.add(&mut live, chunk).unwrap();
        }
        let (_, cmd, _) = s.finish(&mut live).unwrap();
        cmd.paint(&mut replay).unwrap();
        assert_eq!(live, replay);
        assert!(live.layers[0].surface().unwrap().get(100, 20)[3] > 0);
    }
}
