//! A multi-line prompt box where Ctrl+Up / Ctrl+Down change the attention weight of the selected words (or the
//! word under the cursor) in A1111 syntax, keeping the words selected so the keys can be pressed again.

use eframe::egui;
use egui::text::{CCursor, CCursorRange};
use oekaki::ai::text::adjust_weight;

/// `label` names the box (shown above it, and its accessible name).
pub fn prompt_box(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str, rows: usize) -> egui::Response {
    let id = ui.make_persistent_id(label);
    let label = ui.label(label);
    if ui.memory(|m| m.has_focus(id)) {
        let delta = ui.input_mut(|i| {
            if i.consume_key(egui::Modifiers::COMMAND, egui::Key::ArrowUp) {
                Some(0.1)
            } else if i.consume_key(egui::Modifiers::COMMAND, egui::Key::ArrowDown) {
                Some(-0.1)
            } else {
                None
            }
        });
        if let Some(delta) = delta
            && let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), id)
            && let Some(range) = state.cursor.char_range()
            && let Some(w) = adjust_weight(text, range.primary.index.0, range.secondary.index.0, delta)
        {
            *text = w.text;
            state.cursor.set_char_range(Some(CCursorRange::two(CCursor::new(w.start), CCursor::new(w.end))));
            egui::TextEdit::store_state(ui.ctx(), id, state);
        }
    }
    ui.add(egui::TextEdit::multiline(text).id(id).hint_text(hint).desired_rows(rows).desired_width(f32::INFINITY))
        .labelled_by(label.id)
}
