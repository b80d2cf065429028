//! Keyboard shortcuts, familiar from Krita, Clip Studio Paint and Photoshop. One table drives both the key
//! handling and the list shown with F1 / `?`, so the two cannot disagree.

use eframe::egui::{self, Key, Modifiers};

use oekaki::doc::selection::Combine;

use super::Studio;
use super::tools::Tool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Tool(Tool),
    NextCandidate,
    SmartAdd,
    SmartSubtract,
    SmallerBrush,
    BiggerBrush,
    SwapColors,
    Undo,
    Redo,
    New,
    Open,
    Save,
    SaveAs,
    Export,
    SelectAll,
    Deselect,
    InvertSelection,
    ClearSelected,
    QuickMask,
    Transform,
    Apply,
    Cancel,
    TogglePanels,
    Help,
    FitView,
    ActualPixels,
    ZoomIn,
    ZoomOut,
    RotateLeft,
    RotateRight,
    ResetRotation,
    FlipView,
    NewLayer,
    CopyMerged,
}

/// (modifiers, key, action, what the help list says).
pub const SHORTCUTS: &[(Modifiers, Key, Action, &str)] = &[
    (Modifiers::NONE, Key::B, Action::Tool(Tool::Brush), "Brush"),
    (Modifiers::NONE, Key::E, Action::Tool(Tool::Eraser), "Eraser"),
    (Modifiers::NONE, Key::G, Action::Tool(Tool::Fill), "Fill"),
    (Modifiers::SHIFT, Key::G, Action::Tool(Tool::Gradient), "Gradient"),
    (Modifiers::NONE, Key::I, Action::Tool(Tool::Eyedropper), "Eyedropper (Alt+click while painting)"),
    (Modifiers::NONE, Key::M, Action::Tool(Tool::SelectRect), "Rectangle select"),
    (Modifiers::SHIFT, Key::M, Action::Tool(Tool::SelectEllipse), "Ellipse select"),
    (Modifiers::NONE, Key::L, Action::Tool(Tool::Lasso), "Lasso"),
    (Modifiers::NONE, Key::W, Action::Tool(Tool::Wand), "Magic wand"),
    (Modifiers::NONE, Key::S, Action::Tool(Tool::SmartSelect), "Smart select (Segment Anything)"),
    (Modifiers::NONE, Key::C, Action::NextCandidate, "Smart select: next candidate mask"),
    (Modifiers::NONE, Key::V, Action::Tool(Tool::Move), "Move"),
    (Modifiers::NONE, Key::H, Action::Tool(Tool::Hand), "Hand (or hold Space, or middle-drag)"),
    (Modifiers::NONE, Key::Z, Action::Tool(Tool::Zoom), "Zoom (Alt+click zooms out)"),
    (Modifiers::COMMAND, Key::T, Action::Transform, "Free transform (Enter applies, Esc cancels)"),
    (Modifiers::NONE, Key::OpenBracket, Action::SmallerBrush, "Smaller brush"),
    (Modifiers::NONE, Key::CloseBracket, Action::BiggerBrush, "Bigger brush"),
    (Modifiers::NONE, Key::X, Action::SwapColors, "Swap foreground and background colours"),
    (Modifiers::NONE, Key::Q, Action::QuickMask, "Quick mask: paint the selection"),
    (Modifiers::COMMAND, Key::Z, Action::Undo, "Undo"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z, Action::Redo, "Redo"),
    (Modifiers::COMMAND, Key::Y, Action::Redo, "Redo"),
    (Modifiers::COMMAND, Key::N, Action::New, "New document"),
    (Modifiers::COMMAND, Key::O, Action::Open, "Open"),
    (Modifiers::COMMAND, Key::S, Action::Save, "Save"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::S, Action::SaveAs, "Save as"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::E, Action::Export, "Export PNG / JPEG / WebP"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::N, Action::NewLayer, "New layer"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::C, Action::CopyMerged, "Copy merged"),
    (Modifiers::COMMAND, Key::A, Action::SelectAll, "Select all"),
    (Modifiers::COMMAND, Key::D, Action::Deselect, "Deselect"),
    (Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::I, Action::InvertSelection, "Invert selection"),
    (Modifiers::NONE, Key::Delete, Action::ClearSelected, "Clear the selected area of the layer"),
    (Modifiers::NONE, Key::Enter, Action::Apply, "Apply the transform or the Smart select mask"),
    (Modifiers::SHIFT, Key::Enter, Action::SmartAdd, "Smart select: add the mask to the selection"),
    (Modifiers::ALT, Key::Enter, Action::SmartSubtract, "Smart select: subtract the mask from the selection"),
    (Modifiers::NONE, Key::Escape, Action::Cancel, "Cancel the transform, gesture or Smart select points"),
    (Modifiers::NONE, Key::Tab, Action::TogglePanels, "Hide / show panels"),
    (Modifiers::COMMAND, Key::Num0, Action::FitView, "Fit the canvas in the window"),
    (Modifiers::COMMAND, Key::Num1, Action::ActualPixels, "100 %"),
    (Modifiers::COMMAND, Key::Equals, Action::ZoomIn, "Zoom in"),
    (Modifiers::COMMAND, Key::Plus, Action::ZoomIn, "Zoom in"),
    (Modifiers::COMMAND, Key::Minus, Action::ZoomOut, "Zoom out"),
    (Modifiers::NONE, Key::Num4, Action::RotateLeft, "Rotate the view left 15°"),
    (Modifiers::NONE, Key::Num6, Action::RotateRight, "Rotate the view right 15°"),
    (Modifiers::NONE, Key::Num5, Action::ResetRotation, "Reset the view rotation"),
    (Modifiers::NONE, Key::F, Action::FlipView, "Flip the view left–right"),
    (Modifiers::NONE, Key::F1, Action::Help, "This list"),
    (Modifiers::NONE, Key::Questionmark, Action::Help, "This list"),
];

/// Human form of a shortcut ("Ctrl+Shift+Z").
pub fn describe(m: Modifiers, key: Key) -> String {
    let mut s = String::new();
    if m.command || m.ctrl {
        s += "Ctrl+";
    }
    if m.alt {
        s += "Alt+";
    }
    if m.shift {
        s += "Shift+";
    }
    s + key.symbol_or_name()
}

impl Studio {
    /// Runs the actions whose keys were pressed this frame. Nothing fires while a text field has the keyboard.
    pub(crate) fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        // Longer modifier sets first, so Ctrl+Shift+Z is not also taken as Ctrl+Z.
        let mut table: Vec<_> = SHORTCUTS.iter().collect();
        table.sort_by_key(|(m, ..)| std::cmp::Reverse(m.command as u8 + m.shift as u8 + m.alt as u8));
        let fired: Vec<Action> =
            ctx.input_mut(|i| table.iter().filter(|(m, k, ..)| i.consume_key(*m, *k)).map(|(_, _, a, _)| *a).collect());
        for a in fired {
            self.run_action(a, ctx);
        }
    }

    pub(crate) fn run_action(&mut self, a: Action, ctx: &egui::Context) {
        use oekaki::doc::Selection;
        use oekaki::history::Command;
        let canvas = self.editor.doc.bounds();
        let centre = self.canvas_rect.map_or([0.0, 0.0], |r| [r.width() * 0.5, r.height() * 0.5]);
        let widget = self.canvas_rect.map_or([800.0, 600.0], |r| [r.width(), r.height()]);
        let size = [self.editor.doc.width as f32, self.editor.doc.height as f32];
        match a {
            Action::Tool(t) => {
                if self.tools.transform.is_some() && t != Tool::Transform {
                    self.commit_transform();
                }
                self.tools.tool = t;
            }
            Action::SmallerBrush => self.tools.resize_brush(false),
            Action::BiggerBrush => self.tools.resize_brush(true),
            Action::SwapColors => self.tools.swap_colors(),
            Action::Undo => self.undo(),
            Action::Redo => self.redo(),
            Action::New => self.confirm_then(super::dialogs::Then::NewDialog),
            Action::Open => self.confirm_then(super::dialogs::Then::OpenDialog),
            Action::Save => self.save(),
            Action::SaveAs => self.pick(super::Pick::SaveAs),
            Action::Export => self.pick(super::Pick::Export),
            Action::SelectAll => self.apply(Command::SetSelection(Box::new(Selection::all(canvas)))),
            Action::Deselect => self.apply(Command::SetSelection(Box::new(Selection::none()))),
            Action::InvertSelection => {
                let inv = self.editor.doc.selection.inverted(canvas);
                self.apply(Command::SetSelection(Box::new(inv)));
            }
            Action::ClearSelected => match self.paint_target() {
                Some(target) => self.apply(Command::Clear { target }),
                None => self.status = "no layer to clear".into(),
            },
            Action::QuickMask => self.tools.quick_mask = !self.tools.quick_mask,
            Action::Transform => self.begin_transform(),
            Action::SmartAdd => {
                self.smart_apply(Some(Combine::Add));
            }
            Action::SmartSubtract => {
                self.smart_apply(Some(Combine::Subtract));
            }
            Action::Apply => {
                if !self.smart_apply(None) {
                    self.commit_transform();
                }
            }
            Action::NextCandidate => self.smart_cycle(),
            Action::Cancel => {
                if self.smart.has_prompt() {
                    self.smart_discard();
                } else if self.tools.transform.is_some() {
                    self.cancel_transform();
                } else {
                    self.cancel_gesture();
                    self.dialog = None;
                }
            }
            Action::TogglePanels => self.panels_hidden = !self.panels_hidden,
            Action::Help => self.dialog = Some(super::Dialog::Shortcuts),
            Action::NewLayer => self.add_layer(),
            Action::CopyMerged => self.copy_merged(ctx),
            Action::FitView | Action::ActualPixels | Action::ZoomIn | Action::ZoomOut => {
                let v = self.view.get_or_insert_with(|| oekaki::view::View::fit(size, widget));
                match a {
                    Action::FitView => v.fit_keeping_rotation(size, widget),
                    Action::ActualPixels => v.actual_pixels(size, widget),
                    Action::ZoomIn => v.zoom_at(1.25, centre),
                    _ => v.zoom_at(0.8, centre),
                }
            }
            Action::RotateLeft | Action::RotateRight | Action::ResetRotation | Action::FlipView => {
                let v = self.view.get_or_insert_with(|| oekaki::view::View::fit(size, widget));
                match a {
                    Action::RotateLeft => v.rotate_about(-15.0, centre),
                    Action::RotateRight => v.rotate_about(15.0, centre),
                    Action::ResetRotation => v.set_rotation_about(0.0, centre),
                    _ => v.flip_about(centre),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_shortcuts_share_keys() {
        for (i, (m, k, a, _)) in SHORTCUTS.iter().enumerate() {
            for (m2, k2, a2, _) in &SHORTCUTS[i + 1..] {
                assert!(!(m == m2 && k == k2), "{} is bound to {a:?} and {a2:?}", describe(*m, *k));
            }
        }
        assert_eq!(describe(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z), "Ctrl+Shift+Z");
    }
}
