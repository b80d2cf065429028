//! History: every undo step by name; clicking one goes back (or forward) to just after it.

use eframe::egui;

use super::super::Studio;

pub fn show(s: &mut Studio, ui: &mut egui::Ui) {
    let (done, undone) = s.editor.history.labels();
    let mut target: Option<isize> = None;
    if ui.selectable_label(done.is_empty(), "(opened)").clicked() {
        target = Some(-(done.len() as isize));
    }
    for (i, label) in done.iter().enumerate() {
        let current = i + 1 == done.len();
        if ui.selectable_label(current, *label).clicked() {
            target = Some(i as isize + 1 - done.len() as isize);
        }
    }
    for (j, label) in undone.iter().enumerate() {
        if ui.selectable_label(false, egui::RichText::new(*label).weak()).clicked() {
            target = Some(j as isize + 1);
        }
    }
    // Negative: that many undos; positive: that many redos.
    match target {
        Some(n) if n < 0 => (0..-n).for_each(|_| s.undo()),
        Some(n) => (0..n).for_each(|_| s.redo()),
        None => {}
    }
}
