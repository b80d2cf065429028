use super::{Command, History};
use crate::color::Color;
use crate::doc::{DocError, Document, PaintTarget, TilePatch};
use crate::geom::Rect;
use crate::paint::{Brush, InputSample, StrokeSession};

/// Default undo budget.
pub const DEFAULT_UNDO_MB: usize = 1024;

/// A document with its history and the stroke being painted, if any. All changes go through here.
pub struct Editor {
    pub doc: Document,
    pub history: History,
    stroke: Option<StrokeSession>,
    revision: u64,
}

impl Editor {
    pub fn new(doc: Document) -> Editor {
        Editor { doc, history: History::new(DEFAULT_UNDO_MB), stroke: None, revision: 0 }
    }

    /// Increases with every change, undo and redo (autosave and the canvas watch it).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Applies a command as one undo step; on error the document is unchanged.
    pub fn apply(&mut self, cmd: Command) -> Result<Rect, DocError> {
        self.end_stroke()?;
        let label = cmd.label();
        let a = cmd.apply(&mut self.doc)?;
        self.history.record(label, a.inverse);
        self.revision += 1;
        Ok(a.dirty)
    }

    pub fn undo(&mut self) -> Result<Option<Rect>, DocError> {
        self.end_stroke()?;
        let r = self.history.undo(&mut self.doc)?;
        self.revision += r.is_some() as u64;
        Ok(r)
    }

    pub fn redo(&mut self) -> Result<Option<Rect>, DocError> {
        self.end_stroke()?;
        let r = self.history.redo(&mut self.doc)?;
        self.revision += r.is_some() as u64;
        Ok(r)
    }

    /// Starts painting a stroke (a stroke still open is finished first).
    pub fn begin_stroke(&mut self, target: PaintTarget, brush: Brush, color: Color) -> Result<(), DocError> {
        self.end_stroke()?;
        self.stroke = Some(StrokeSession::begin(&self.doc, target, brush, color)?);
        Ok(())
    }

    /// Feeds pen samples to the open stroke; the document shows them at once.
    pub fn stroke_to(&mut self, samples: &[InputSample]) -> Result<Rect, DocError> {
        let Some(s) = self.stroke.as_mut() else { return Ok(Rect::EMPTY) };
        let r = s.add(&mut self.doc, samples)?;
        self.revision += 1;
        Ok(r)
    }

    pub fn stroking(&self) -> bool {
        self.stroke.is_some()
    }

    /// Finishes the open stroke and records it as one undo step.
    pub fn end_stroke(&mut self) -> Result<Rect, DocError> {
        let Some(s) = self.stroke.take() else { return Ok(Rect::EMPTY) };
        let eraser = s.brush().eraser;
        let (dirty, _cmd, patch): (Rect, _, TilePatch) = s.finish(&mut self.doc)?;
        self.history.record(if eraser { "Erase" } else { "Brush stroke" }, Command::Patch(patch));
        self.revision += 1;
        Ok(dirty)
    }
}
