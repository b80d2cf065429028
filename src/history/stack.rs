use std::collections::VecDeque;

use super::Command;
use crate::doc::{DocError, Document};
use crate::geom::Rect;

struct Entry {
    label: &'static str,
    command: Command,
    bytes: usize,
}

/// Undo and redo stacks of inverse commands, bounded by a memory budget (oldest steps dropped first).
pub struct History {
    undo: VecDeque<Entry>,
    redo: Vec<Entry>,
    budget: usize,
}

impl History {
    /// A history that keeps at most `budget_mb` megabytes of tiles alive (the newest step is always kept).
    pub fn new(budget_mb: usize) -> History {
        History { undo: VecDeque::new(), redo: Vec::new(), budget: budget_mb.saturating_mul(1 << 20) }
    }

    /// Records the inverse of a change just made; clears redo. A pixel edit that touched nothing (a click
    /// outside the canvas) leaves no step behind.
    pub fn record(&mut self, label: &'static str, inverse: Command) {
        if inverse.is_noop() {
            return;
        }
        self.redo.clear();
        let bytes = inverse.bytes();
        self.undo.push_back(Entry { label, command: inverse, bytes });
        self.trim();
    }

    fn trim(&mut self) {
        while self.used() > self.budget && self.undo.len() + self.redo.len() > 1 {
            if self.undo.pop_front().is_none() {
                self.redo.remove(0);
            }
        }
    }

    /// Bytes of tiles kept alive by undo and redo.
    pub fn used(&self) -> usize {
        self.undo.iter().chain(self.redo.iter()).map(|e| e.bytes).sum()
    }

    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    /// Labels of the undo steps (oldest first) and of the redo steps (the next one to redo first).
    pub fn labels(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        (self.undo.iter().map(|e| e.label).collect(), self.redo.iter().rev().map(|e| e.label).collect())
    }

    pub fn undo_label(&self) -> Option<&'static str> {
        self.undo.back().map(|e| e.label)
    }

    pub fn redo_label(&self) -> Option<&'static str> {
        self.redo.last().map(|e| e.label)
    }

    /// Steps back once; `Ok(None)` when there is nothing to undo.
    pub fn undo(&mut self, doc: &mut Document) -> Result<Option<Rect>, DocError> {
        let Some(e) = self.undo.pop_back() else { return Ok(None) };
        let a = e.command.apply(doc)?;
        let bytes = a.inverse.bytes();
        self.redo.push(Entry { label: e.label, command: a.inverse, bytes });
        Ok(Some(a.dirty))
    }

    pub fn redo(&mut self, doc: &mut Document) -> Result<Option<Rect>, DocError> {
        let Some(e) = self.redo.pop() else { return Ok(None) };
        let a = e.command.apply(doc)?;
        let bytes = a.inverse.bytes();
        self.undo.push_back(Entry { label: e.label, command: a.inverse, bytes });
        self.trim();
        Ok(Some(a.dirty))
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}
