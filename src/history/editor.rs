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
    /// Inverse of the live preview on the document (a move or transform being dragged), if any.
    preview: Option<Command>,
    revision: u64,
}

impl Editor {
    pub fn new(doc: Document) -> Editor {
        Editor { doc, history: History::new(DEFAULT_UNDO_MB), stroke: None, preview: None, revision: 0 }
    }

    /// Increases with every change, undo and redo (autosave and the canvas watch it).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Applies a command as one undo step; on error the document is unchanged.
    pub fn apply(&mut self, cmd: Command) -> Result<Rect, DocError> {
        let label = cmd.label();
        self.apply_as(label, cmd)
    }

    /// [`Editor::apply`] under a history label of the caller's (a fill worked out elsewhere arrives as a pixel
    /// patch, but the artist made a "Fill").
    pub fn apply_as(&mut self, label: &'static str, cmd: Command) -> Result<Rect, DocError> {
        self.end_stroke()?;
        let before = self.cancel_preview()?;
        let a = cmd.apply(&mut self.doc)?;
        self.history.record(label, a.inverse);
        self.revision += 1;
        Ok(a.dirty.union(&before))
    }

    /// Shows `cmd` on the document without recording it (a move or transform while it is dragged), replacing
    /// the previous preview. [`Editor::apply`] of the final command, an undo, or [`Editor::cancel_preview`]
    /// takes it back first, so history only ever sees the committed change.
    /// `build` sees the document as it is without the old preview (a transform is built from the original).
    pub fn preview(&mut self, build: impl FnOnce(&Document) -> Result<Command, DocError>) -> Result<Rect, DocError> {
        self.end_stroke()?;
        let before = self.cancel_preview()?;
        let a = build(&self.doc)?.apply(&mut self.doc)?;
        self.preview = Some(a.inverse);
        Ok(a.dirty.union(&before))
    }

    /// The document as it is without the live preview (what a preview is built from); tiles are shared.
    pub fn without_preview(&self) -> Result<Document, DocError> {
        let mut doc = self.doc.clone();
        if let Some(inverse) = &self.preview {
            inverse.clone().apply(&mut doc)?;
        }
        Ok(doc)
    }

    /// Takes the live preview back; returns the area it covered.
    pub fn cancel_preview(&mut self) -> Result<Rect, DocError> {
        match self.preview.take() {
            Some(inverse) => Ok(inverse.apply(&mut self.doc)?.dirty),
            None => Ok(Rect::EMPTY),
        }
    }

    pub fn previewing(&self) -> bool {
        self.preview.is_some()
    }

    pub fn undo(&mut self) -> Result<Option<Rect>, DocError> {
        self.end_stroke()?;
        let before = self.cancel_preview()?;
        let r = self.history.undo(&mut self.doc)?;
        self.revision += r.is_some() as u64;
        Ok(with_preview_area(r, before))
    }

    pub fn redo(&mut self) -> Result<Option<Rect>, DocError> {
        self.end_stroke()?;
        let before = self.cancel_preview()?;
        let r = self.history.redo(&mut self.doc)?;
        self.revision += r.is_some() as u64;
        Ok(with_preview_area(r, before))
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

/// The area an undo or redo changed, including a live preview it took back.
fn with_preview_area(r: Option<Rect>, preview: Rect) -> Option<Rect> {
    match r {
        Some(d) => Some(d.union(&preview)),
        None if !preview.is_empty() => Some(preview),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_previewed_move_is_one_undo_step_and_cancel_restores() {
        let mut doc = Document::with_layer(128, 128).unwrap();
        let id = doc.layers[0].id;
        doc.layers[0].surface_mut().unwrap().set(10, 10, [255, 0, 0, 255]);
        let mut ed = Editor::new(doc);
        let original = ed.doc.clone();
        for dx in 1..=5 {
            ed.preview(|_| Ok(Command::Translate { layer: id, dx, dy: 0 })).unwrap();
        }
        assert_eq!(ed.doc.layers[0].surface().unwrap().get(15, 10), [255, 0, 0, 255], "the last preview shows");
        assert_eq!(ed.history.undo_len(), 0, "previews leave no history");
        ed.cancel_preview().unwrap();
        assert_eq!(ed.doc, original);
        ed.preview(|_| Ok(Command::Translate { layer: id, dx: 3, dy: 0 })).unwrap();
        ed.apply(Command::Translate { layer: id, dx: 7, dy: 2 }).unwrap();
        assert_eq!(ed.doc.layers[0].surface().unwrap().get(17, 12), [255, 0, 0, 255]);
        assert_eq!(ed.doc.layers[0].surface().unwrap().get(13, 10), [0; 4], "the preview was taken back first");
        assert_eq!(ed.history.undo_len(), 1);
        ed.undo().unwrap();
        assert_eq!(ed.doc, original);
    }
}
