//! The tools, their options and the gesture in progress. What a gesture does to the document is always a core
//! [`Command`] (or a live stroke / preview on the [`Editor`]); this file only decides which.

use oekaki::color::Color;
use oekaki::doc::selection::{Combine, Shape};
use oekaki::doc::{LayerId, PaintTarget};
use oekaki::history::{Command, Editor, layer_ops};
use oekaki::paint::brush::builtin_presets;
use oekaki::paint::fill::AreaSpec;
use oekaki::paint::gradient::{GradientCommand, GradientKind};
use oekaki::paint::transform::Affine;
use oekaki::paint::{Brush, fill::FillCommand};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Brush,
    Eraser,
    Fill,
    Eyedropper,
    Gradient,
    SelectRect,
    SelectEllipse,
    Lasso,
    Wand,
    SmartSelect,
    Move,
    Transform,
    Hand,
    Zoom,
}

impl Tool {
    pub const ALL: [Tool; 14] = [
        Tool::Brush,
        Tool::Eraser,
        Tool::Fill,
        Tool::Eyedropper,
        Tool::Gradient,
        Tool::SelectRect,
        Tool::SelectEllipse,
        Tool::Lasso,
        Tool::Wand,
        Tool::SmartSelect,
        Tool::Move,
        Tool::Transform,
        Tool::Hand,
        Tool::Zoom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::Fill => "Fill",
            Tool::Eyedropper => "Eyedropper",
            Tool::Gradient => "Gradient",
            Tool::SelectRect => "Rectangle select",
            Tool::SelectEllipse => "Ellipse select",
            Tool::Lasso => "Lasso",
            Tool::Wand => "Magic wand",
            Tool::SmartSelect => "Smart select",
            Tool::Move => "Move",
            Tool::Transform => "Transform",
            Tool::Hand => "Hand",
            Tool::Zoom => "Zoom",
        }
    }

    /// Tools that paint with the brush engine (and show the brush cursor).
    pub fn paints(self) -> bool {
        matches!(self, Tool::Brush | Tool::Eraser)
    }

    pub fn selects(self) -> bool {
        matches!(self, Tool::SelectRect | Tool::SelectEllipse | Tool::Lasso | Tool::Wand)
    }
}

/// Options of the fill and the magic wand.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaOptions {
    pub tolerance: u8,
    pub contiguous: bool,
    /// Compare all visible layers (true) or the active layer only.
    pub sample_all: bool,
    pub close_gaps: u32,
    pub expand: u32,
}

impl AreaOptions {
    pub fn spec(&self, x: i32, y: i32, active: Option<LayerId>) -> AreaSpec {
        AreaSpec {
            x,
            y,
            tolerance: self.tolerance,
            contiguous: self.contiguous,
            sample_layer: if self.sample_all { None } else { active },
            close_gaps: self.close_gaps,
            expand: self.expand,
        }
    }
}

/// The free transform being edited: scale and rotation about the content's centre, then a move.
#[derive(Clone, Debug, PartialEq)]
pub struct TransformState {
    pub layer: LayerId,
    /// Content bounds when the transform began (canvas pixels: x0, y0, x1, y1).
    pub bounds: [f32; 4],
    pub scale: [f32; 2],
    pub degrees: f32,
    pub offset: [f32; 2],
}

impl TransformState {
    pub fn centre(&self) -> [f32; 2] {
        [(self.bounds[0] + self.bounds[2]) * 0.5, (self.bounds[1] + self.bounds[3]) * 0.5]
    }

    pub fn affine(&self) -> Affine {
        let c = self.centre();
        Affine::about(c[0], c[1], self.scale[0], self.scale[1], self.degrees)
            .then(&Affine::translate(self.offset[0], self.offset[1]))
    }

    /// The transformed box corners (top-left, top-right, bottom-right, bottom-left).
    pub fn corners(&self) -> [[f32; 2]; 4] {
        let [x0, y0, x1, y1] = self.bounds;
        let m = self.affine();
        [[x0, y0], [x1, y0], [x1, y1], [x0, y1]].map(|[x, y]| {
            let (a, b) = m.apply(x, y);
            [a, b]
        })
    }

    /// The middles of the transformed box's edges (top, right, bottom, left).
    pub fn edges(&self) -> [[f32; 2]; 4] {
        let c = self.corners();
        [0, 1, 2, 3].map(|i| {
            let (a, b) = (c[i], c[(i + 1) % 4]);
            [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5]
        })
    }

    pub fn is_identity(&self) -> bool {
        self.scale == [1.0, 1.0] && self.degrees == 0.0 && self.offset == [0.0, 0.0]
    }
}

/// A gesture in progress on the canvas.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Gesture {
    #[default]
    Idle,
    /// A selection rectangle/ellipse or a gradient being dragged (canvas points).
    Drag {
        start: [f32; 2],
        end: [f32; 2],
        combine: Combine,
    },
    Lasso {
        points: Vec<[f32; 2]>,
        combine: Combine,
    },
    Move {
        layer: LayerId,
        start: [f32; 2],
        delta: [i32; 2],
    },
    /// Dragging a transform handle: what is dragged and the state when the drag began.
    TransformDrag {
        handle: Handle,
        start: [f32; 2],
        before: TransformState,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handle {
    Inside,
    Corner(usize),
    /// The middle of an edge (top, right, bottom, left): scales along one axis.
    Edge(usize),
    Outside,
}

/// The free transform's preview is resampled off the UI thread, newest state wins: one build at a time, and
/// when it lands the next one starts if the box moved meanwhile.
#[derive(Default)]
pub struct TransformPreview {
    /// Bumped when a transform begins or ends: results of an older one are dropped (results built from an older
    /// document revision are built again).
    pub generation: u64,
    pub in_flight: bool,
    /// The command shown as the preview, with the state and editor revision it was built for (Enter applies
    /// it when both are still current).
    pub shown: Option<(TransformState, u64, Command)>,
    /// Enter came before the preview caught up: this box is being resampled in the background and lands as the
    /// "Transform" step; the stale preview stays on screen until then.
    pub committing: Option<TransformState>,
}

impl TransformPreview {
    pub fn reset(&mut self) {
        self.generation += 1;
        self.in_flight = false;
        self.shown = None;
        self.committing = None;
    }
}

pub struct ToolBox {
    pub tool: Tool,
    pub brush: Brush,
    pub eraser: Brush,
    pub presets: Vec<Brush>,
    /// The name typed for a new brush preset.
    pub new_preset_name: String,
    pub fg: Color,
    pub bg: Color,
    /// Hue of the colour picker (kept while the colour is grey).
    pub hue: f32,
    /// Colours used lately, newest first.
    pub recent: Vec<Color>,
    pub fill: AreaOptions,
    pub wand: AreaOptions,
    pub gradient: GradientKind,
    pub select_mode: Combine,
    /// Brush and eraser paint the selection (shown as a red tint where unselected).
    pub quick_mask: bool,
    /// Brush and eraser paint the active layer's mask.
    pub edit_mask: bool,
    pub gesture: Gesture,
    /// The free transform awaiting Enter or Esc.
    pub transform: Option<TransformState>,
    pub transform_preview: TransformPreview,
    /// Last pen pressure seen, and whether the platform reported any pressure at all yet.
    pub pressure: f32,
    pub pressure_seen: bool,
    /// The last scribble in the brush options' pressure test pad: position in the pad and pressure.
    pub pressure_trail: Vec<([f32; 2], f32)>,
    /// Pixels for Select → Grow / Shrink / Feather.
    pub modify_amount: u32,
}

impl ToolBox {
    /// A pen force reported by the platform (touch force, 0–1) becomes the current pressure; returns it.
    pub fn pen_force(&mut self, force: f32) -> f32 {
        self.pressure = force.clamp(0.0, 1.0);
        self.pressure_seen = true;
        self.pressure
    }

    /// The pressure to paint with now: the pen's last one, or full pressure for a mouse.
    pub fn current_pressure(&self) -> f32 {
        if self.pressure_seen { self.pressure } else { 1.0 }
    }
}

impl Default for ToolBox {
    fn default() -> Self {
        let presets = builtin_presets();
        let brush = presets.iter().find(|b| b.name == "G-Pen").cloned().unwrap_or_default();
        let eraser = Brush { name: "Eraser".into(), diameter: 24.0, eraser: true, ..Brush::default() };
        let area = AreaOptions { tolerance: 16, contiguous: true, sample_all: true, close_gaps: 0, expand: 0 };
        ToolBox {
            tool: Tool::Brush,
            brush,
            eraser,
            presets,
            new_preset_name: String::new(),
            fg: Color::BLACK,
            bg: Color::rgb(1.0, 1.0, 1.0),
            hue: 0.0,
            recent: Vec::new(),
            fill: AreaOptions { expand: 1, ..area.clone() },
            wand: area,
            gradient: GradientKind::Linear,
            select_mode: Combine::Replace,
            quick_mask: false,
            edit_mask: false,
            gesture: Gesture::Idle,
            transform: None,
            transform_preview: TransformPreview::default(),
            pressure: 1.0,
            pressure_seen: false,
            pressure_trail: Vec::new(),
            modify_amount: 4,
        }
    }
}

impl ToolBox {
    /// The brush of the current tool (the eraser keeps its own size).
    pub fn current_brush(&self) -> &Brush {
        if self.tool == Tool::Eraser { &self.eraser } else { &self.brush }
    }

    pub fn current_brush_mut(&mut self) -> &mut Brush {
        if self.tool == Tool::Eraser { &mut self.eraser } else { &mut self.brush }
    }

    /// `[` and `]`: about 10 % smaller or larger, at least one pixel.
    pub fn resize_brush(&mut self, grow: bool) {
        let b = self.current_brush_mut();
        let d = if grow { (b.diameter * 1.1).max(b.diameter + 1.0) } else { (b.diameter / 1.1).min(b.diameter - 1.0) };
        b.diameter = d.clamp(1.0, 1000.0);
    }

    pub fn swap_colors(&mut self) {
        std::mem::swap(&mut self.fg, &mut self.bg);
    }

    /// Remembers the colour just used for painting.
    pub fn used(&mut self, c: Color) {
        self.recent.retain(|r| *r != c);
        self.recent.insert(0, c);
        self.recent.truncate(16);
    }

    /// How a new selection shape joins the old one: Shift adds, Alt subtracts, both intersect.
    pub fn combine(&self, shift: bool, alt: bool) -> Combine {
        match (shift, alt) {
            (true, true) => Combine::Intersect,
            (true, false) => Combine::Add,
            (false, true) => Combine::Subtract,
            (false, false) => self.select_mode,
        }
    }

    /// Drops a gesture half done (undo, document switch): previews are taken back, nothing is recorded.
    pub fn cancel_gesture(&mut self, editor: &mut Editor) {
        self.gesture = Gesture::Idle;
        self.transform = None;
        self.transform_preview.reset();
        let _ = editor.cancel_preview();
        let _ = editor.end_stroke();
    }

    pub fn fill_command(&self, target: PaintTarget, x: i32, y: i32, active: Option<LayerId>) -> Command {
        Command::Fill(FillCommand { target, area: self.fill.spec(x, y, active), color: self.fg, erase: false })
    }

    pub fn gradient_command(&self, target: PaintTarget, start: [f32; 2], end: [f32; 2]) -> Command {
        Command::Gradient(GradientCommand {
            target,
            kind: self.gradient,
            start: (start[0], start[1]),
            end: (end[0], end[1]),
            from: self.fg,
            to: self.bg,
        })
    }
}

/// The selection shape a rectangle or ellipse drag describes (None for a click without a drag).
pub fn drag_shape(tool: Tool, start: [f32; 2], end: [f32; 2]) -> Option<Shape> {
    let (x0, y0) = (start[0].min(end[0]), start[1].min(end[1]));
    let (x1, y1) = (start[0].max(end[0]), start[1].max(end[1]));
    if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
        return None;
    }
    Some(match tool {
        Tool::SelectEllipse => {
            Shape::Ellipse { cx: (x0 + x1) * 0.5, cy: (y0 + y1) * 0.5, rx: (x1 - x0) * 0.5, ry: (y1 - y0) * 0.5 }
        }
        _ => {
            let (ix0, iy0) = (x0.round() as i32, y0.round() as i32);
            Shape::Rect { x: ix0, y: iy0, w: x1.round() as i32 - ix0, h: y1.round() as i32 - iy0 }
        }
    })
}

/// The transform command for the state, built from the document as it is without the preview.
pub fn transform_command(doc: &oekaki::doc::Document, t: &TransformState) -> Result<Command, oekaki::doc::DocError> {
    layer_ops::transform_selection(doc, t.layer, &t.affine())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_pick_the_selection_combine_mode() {
        let t = ToolBox::default();
        assert_eq!(t.combine(false, false), Combine::Replace);
        assert_eq!(t.combine(true, false), Combine::Add);
        assert_eq!(t.combine(false, true), Combine::Subtract);
        assert_eq!(t.combine(true, true), Combine::Intersect);
    }

    #[test]
    fn a_drag_gives_a_shape_and_a_click_none() {
        assert_eq!(
            drag_shape(Tool::SelectRect, [10.2, 20.0], [3.0, 5.0]),
            Some(Shape::Rect { x: 3, y: 5, w: 7, h: 15 })
        );
        assert_eq!(drag_shape(Tool::SelectRect, [10.0, 20.0], [10.4, 20.2]), None);
        assert!(matches!(
            drag_shape(Tool::SelectEllipse, [0.0, 0.0], [10.0, 4.0]),
            Some(Shape::Ellipse { rx: 5.0, .. })
        ));
    }

    #[test]
    fn transform_corners_follow_scale_rotation_and_offset() {
        let mut t = TransformState {
            layer: 1,
            bounds: [0.0, 0.0, 10.0, 10.0],
            scale: [2.0, 2.0],
            degrees: 0.0,
            offset: [5.0, 0.0],
        };
        assert_eq!(t.corners()[0], [0.0, -5.0]);
        t.degrees = 90.0;
        let c = t.corners()[0];
        assert!((c[0] - 20.0).abs() < 1e-3 && (c[1] + 5.0).abs() < 1e-3, "{c:?}");
    }

    #[test]
    fn bracket_keys_resize_the_current_brush() {
        let mut t = ToolBox::default();
        let d = t.brush.diameter;
        t.resize_brush(true);
        assert!(t.brush.diameter > d);
        t.tool = Tool::Eraser;
        let e = t.eraser.diameter;
        t.resize_brush(false);
        assert!(t.eraser.diameter < e);
    }
}
