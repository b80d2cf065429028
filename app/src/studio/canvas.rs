//! The canvas widget: view navigation (pan, zoom, rotate, flip), tool input in document space, and drawing
//! (GPU tiles through the paint callback, then the overlays).

use eframe::egui;
use oekaki::doc::selection::Shape;
use oekaki::history::Command;
use oekaki::paint::InputSample;
use oekaki::view::View;

use super::Studio;
use super::tools::{Gesture, Handle, Tool, TransformState, drag_shape, transform_command};

/// Screen points from a transform box corner that still grab it.
const HANDLE_GRAB: f32 = 10.0;

impl Studio {
    pub(crate) fn canvas(&mut self, ui: &mut egui::Ui) {
        let rect = ui.available_rect_before_wrap();
        self.canvas_rect = Some(rect);
        let response = ui.allocate_rect(rect, egui::Sense::click_and_drag());
        let size = [self.editor.doc.width as f32, self.editor.doc.height as f32];
        let widget = [rect.width(), rect.height()];
        let view = *self.view.get_or_insert_with(|| View::fit(size, widget));

        let (space, scroll, pinch, hover, modifiers) = ui.input(|i| {
            (i.key_down(egui::Key::Space), i.smooth_scroll_delta, i.zoom_delta(), i.pointer.hover_pos(), i.modifiers)
        });
        let local = |p: egui::Pos2| [p.x - rect.min.x, p.y - rect.min.y];
        let mut v = view;
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (space && response.dragged())
            || (self.tools.tool == Tool::Hand && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            v.pan([response.drag_delta().x, response.drag_delta().y]);
        }
        if let Some(p) = hover.filter(|p| rect.contains(*p)) {
            // Wheel and Ctrl+wheel zoom (as in Krita); a pinch zooms too.
            let factor = pinch * (scroll.y * 0.002).exp();
            if factor != 1.0 {
                v.zoom_at(factor, local(p));
            }
            if modifiers.shift && scroll.x != 0.0 {
                v.rotate_about(scroll.x * 0.1, local(p));
            }
        }
        self.view = Some(v);

        if !panning && !space {
            let to_canvas = |p: egui::Pos2| v.to_canvas(local(p));
            match self.tools.tool {
                Tool::Brush | Tool::Eraser if !modifiers.alt => self.paint_input(ui, &response, rect, &v),
                Tool::Hand => {}
                _ => self.tool_input(ui, &response, to_canvas, modifiers),
            }
            if self.tools.tool.paints()
                && modifiers.alt
                && response.is_pointer_button_down_on()
                && let Some(p) = response.interact_pointer_pos()
            {
                self.pick_color(to_canvas(p));
            }
        }

        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui::Color32::from_gray(60));
        let corners = [[0.0, 0.0], [size[0], 0.0], size, [0.0, size[1]]].map(|c| {
            let s = v.to_screen(c);
            egui::pos2(rect.min.x + s[0], rect.min.y + s[1])
        });
        painter.add(egui::Shape::convex_polygon(corners.to_vec(), egui::Color32::from_gray(200), egui::Stroke::NONE));
        if let Some(gpu) = self.gpu.as_mut() {
            painter.add(gpu.callback(rect, &v, self.editor.doc.width, self.editor.doc.height));
        }
        self.draw_overlays(ui, &painter, rect, &v, hover);
    }

    /// Pen and mouse input on the canvas becomes a live stroke on the paint target. Raw events are replayed in
    /// order, so a press, moves and release arriving within one frame still make their stroke.
    fn paint_input(&mut self, ui: &egui::Ui, response: &egui::Response, rect: egui::Rect, v: &View) {
        let to_canvas = |p: egui::Pos2, pressure: f32| {
            let c = v.to_canvas([p.x - rect.min.x, p.y - rect.min.y]);
            InputSample { x: c[0], y: c[1], pressure }
        };
        let events = ui.input(|i| i.events.clone());
        let over_canvas = response.contains_pointer() || self.editor.stroking();
        // Pen pressure arrives as touch force where the platform reports it; the mouse paints at full pressure.
        let mut pressure = self.tools.current_pressure();
        let mut samples = Vec::new();
        for e in &events {
            match e {
                egui::Event::Touch { force: Some(f), pos, .. } => {
                    pressure = self.tools.pen_force(*f);
                    if self.editor.stroking() {
                        samples.push(to_canvas(*pos, pressure));
                    }
                }
                egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: true, .. }
                    if over_canvas && rect.contains(*pos) && !self.editor.stroking() =>
                {
                    let Some(target) = self.paint_target() else {
                        self.status = "no layer to paint on".into();
                        continue;
                    };
                    let brush = self.tools.current_brush().clone();
                    let color = self.tools.fg;
                    match self.editor.begin_stroke(target, brush, color) {
                        Ok(()) => {
                            self.tools.used(color);
                            samples.push(to_canvas(*pos, pressure));
                        }
                        Err(e) => self.status = e.to_string(),
                    }
                }
                egui::Event::PointerMoved(pos) if self.editor.stroking() => samples.push(to_canvas(*pos, pressure)),
                egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: false, .. }
                    if self.editor.stroking() =>
                {
                    samples.push(to_canvas(*pos, pressure));
                    let r = self.editor.stroke_to(&std::mem::take(&mut samples));
                    self.report(r);
                    let r = self.editor.end_stroke();
                    self.report(r);
                }
                _ => {}
            }
        }
        if self.editor.stroking() && !samples.is_empty() {
            let r = self.editor.stroke_to(&samples);
            self.report(r);
        }
    }

    pub(crate) fn pick_color(&mut self, p: [f32; 2]) {
        match oekaki::paint::sample::pick_color(&self.editor.doc, p[0].floor() as i32, p[1].floor() as i32, None) {
            Ok(Some(c)) => self.tools.fg = c,
            Ok(None) => {}
            Err(e) => self.status = e.to_string(),
        }
    }

    /// Click-and-drag tools: fill, eyedropper, gradient, selections, move, transform, zoom.
    fn tool_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        to_canvas: impl Fn(egui::Pos2) -> [f32; 2],
        m: egui::Modifiers,
    ) {
        let primary = |r: &egui::Response| r.dragged_by(egui::PointerButton::Primary);
        let pos = response.interact_pointer_pos().map(&to_canvas);
        let tool = self.tools.tool;
        if response.clicked()
            && let Some(p) = pos
        {
            self.tool_click(tool, p, m, ui, response);
        }
        // Right click: a background point for Smart select.
        if tool == Tool::SmartSelect
            && response.secondary_clicked()
            && let Some(p) = pos
        {
            self.smart_click(p, true);
        }
        // A drag is recognised a few points after the press; it starts where the button went down.
        let origin = ui.input(|i| i.pointer.press_origin()).map(&to_canvas).or(pos);
        if response.drag_started_by(egui::PointerButton::Primary)
            && let Some(p) = origin
        {
            self.tool_drag_start(tool, p, m);
        }
        if primary(response)
            && let Some(p) = pos
        {
            self.tool_drag_to(p);
        }
        if response.drag_stopped_by(egui::PointerButton::Primary) {
            self.tool_drag_end(tool);
        }
    }

    fn tool_click(&mut self, tool: Tool, p: [f32; 2], m: egui::Modifiers, ui: &egui::Ui, response: &egui::Response) {
        let (x, y) = (p[0].floor() as i32, p[1].floor() as i32);
        match tool {
            Tool::Fill => match self.paint_target() {
                Some(target) => {
                    let cmd = self.tools.fill_command(target, x, y, self.active);
                    self.tools.used(self.tools.fg);
                    // The fill is worked out on a snapshot; the document gets the finished tiles as one patch.
                    self.apply_in_background(
                        "Fill",
                        std::sync::Arc::new(move |doc: &oekaki::doc::Document| {
                            let mut scratch = doc.clone();
                            let filled = cmd.clone().apply(&mut scratch)?;
                            Ok(filled.inverse.apply(&mut scratch)?.inverse)
                        }),
                    );
                }
                None => self.status = "no layer to fill".into(),
            },
            Tool::Eyedropper => self.pick_color(p),
            Tool::SmartSelect => self.smart_click(p, m.alt),
            Tool::Wand => {
                let spec = self.tools.wand.spec(x, y, self.active);
                let how = self.tools.combine(m.shift, m.alt);
                self.apply_in_background(
                    "Selection",
                    std::sync::Arc::new(move |doc: &oekaki::doc::Document| {
                        let sel = oekaki::paint::fill::magic_wand(doc, &spec, how)?;
                        Ok(Command::SetSelection(Box::new(sel)))
                    }),
                );
            }
            // A click without a drag deselects, as in Photoshop.
            Tool::SelectRect | Tool::SelectEllipse | Tool::Lasso
                if !m.shift && !m.alt && self.editor.doc.selection.active =>
            {
                self.apply(Command::SetSelection(Box::new(oekaki::doc::Selection::none())));
            }
            Tool::Zoom => {
                let factor = if m.alt { 0.5 } else { 2.0 };
                if let (Some(v), Some(s)) = (self.view.as_mut(), response.interact_pointer_pos()) {
                    let r = response.rect;
                    v.zoom_at(factor, [s.x - r.min.x, s.y - r.min.y]);
                }
                ui.ctx().request_repaint();
            }
            _ => {}
        }
    }

    fn tool_drag_start(&mut self, tool: Tool, p: [f32; 2], m: egui::Modifiers) {
        let combine = self.tools.combine(m.shift, m.alt);
        self.tools.gesture = match tool {
            Tool::SelectRect | Tool::SelectEllipse | Tool::Gradient | Tool::SmartSelect => {
                Gesture::Drag { start: p, end: p, combine }
            }
            Tool::Lasso => Gesture::Lasso { points: vec![p], combine },
            Tool::Move => match self.active {
                Some(layer) => Gesture::Move { layer, start: p, delta: [0, 0] },
                None => Gesture::Idle,
            },
            Tool::Transform => {
                if self.tools.transform.is_none() {
                    self.begin_transform();
                }
                match self.tools.transform.clone() {
                    Some(t) => Gesture::TransformDrag { handle: self.transform_handle(&t, p), start: p, before: t },
                    None => Gesture::Idle,
                }
            }
            Tool::Eyedropper => {
                self.pick_color(p);
                Gesture::Idle
            }
            _ => Gesture::Idle,
        };
    }

    fn tool_drag_to(&mut self, p: [f32; 2]) {
        match &mut self.tools.gesture {
            Gesture::Drag { end, .. } => *end = p,
            Gesture::Lasso { points, .. } => {
                if points.last().is_none_or(|l| (l[0] - p[0]).hypot(l[1] - p[1]) >= 1.0) {
                    points.push(p);
                }
            }
            Gesture::Move { layer, start, delta } => {
                let d = [(p[0] - start[0]).round() as i32, (p[1] - start[1]).round() as i32];
                if d != *delta {
                    *delta = d;
                    let (layer, [dx, dy]) = (*layer, d);
                    let r = self.editor.preview(|_| Ok(Command::Translate { layer, dx, dy }));
                    self.report(r);
                }
            }
            Gesture::TransformDrag { handle, start, before } => {
                let t = drag_transform(before, *handle, *start, p);
                if self.tools.transform.as_ref() != Some(&t) {
                    self.tools.transform = Some(t);
                    self.request_transform_preview();
                }
            }
            Gesture::Idle => {
                if self.tools.tool == Tool::Eyedropper {
                    self.pick_color(p);
                }
            }
        }
    }

    fn tool_drag_end(&mut self, tool: Tool) {
        match std::mem::take(&mut self.tools.gesture) {
            // A click without a drag makes no gradient.
            Gesture::Drag { start, end, .. } if tool == Tool::Gradient => {
                if (start[0] - end[0]).hypot(start[1] - end[1]) < 1.0 {
                    return;
                }
                match self.paint_target() {
                    Some(target) => {
                        let cmd = self.tools.gradient_command(target, start, end);
                        self.apply(cmd);
                    }
                    None => self.status = "no layer for the gradient".into(),
                }
            }
            Gesture::Drag { start, end, .. } if tool == Tool::SmartSelect => self.smart_box(start, end),
            Gesture::Drag { start, end, combine } => {
                if let Some(shape) = drag_shape(tool, start, end) {
                    self.select_shape(&shape, combine);
                }
            }
            Gesture::Lasso { points, combine } if points.len() >= 3 => {
                let shape = Shape::Polygon { points: points.iter().map(|p| (p[0], p[1])).collect() };
                self.select_shape(&shape, combine);
            }
            Gesture::Move { layer, delta: [dx, dy], .. } => {
                if (dx, dy) == (0, 0) {
                    let r = self.editor.cancel_preview();
                    self.report(r);
                } else {
                    self.apply(Command::Translate { layer, dx, dy });
                }
            }
            _ => {}
        }
    }

    pub(crate) fn select_shape(&mut self, shape: &Shape, combine: oekaki::doc::selection::Combine) {
        let canvas = self.editor.doc.bounds();
        let sel = self.editor.doc.selection.with_shape(shape, combine, canvas);
        self.apply(Command::SetSelection(Box::new(sel)));
    }

    /// Starts a free transform of the active layer's content, or of its selected part when there is a
    /// selection (Ctrl+T or the transform tool).
    pub(crate) fn begin_transform(&mut self) {
        self.finish_transform_commit_now();
        let Some(id) = self.active else { return };
        let Some(layer) = self.editor.doc.layer(id) else { return };
        let canvas = self.editor.doc.bounds();
        let sel = &self.editor.doc.selection;
        if sel.active && layer.is_group() {
            self.status = "a group is transformed whole: deselect (Ctrl+D) to transform it".into();
            return;
        }
        let b = if sel.active {
            let r = sel.bounds(canvas);
            oekaki::raster::GrayBuf { rect: r, data: sel.mask.read_rect(r) }.content_bounds()
        } else {
            layer.content_bounds().intersect(&canvas)
        };
        if b.is_empty() {
            self.status = if sel.active {
                "the selection is empty: nothing to transform"
            } else {
                "the layer is empty: nothing to transform"
            }
            .into();
            return;
        }
        self.tools.tool = Tool::Transform;
        self.tools.transform_preview.reset();
        self.tools.transform = Some(TransformState {
            layer: id,
            bounds: [b.x0 as f32, b.y0 as f32, b.x1 as f32, b.y1 as f32],
            scale: [1.0, 1.0],
            degrees: 0.0,
            offset: [0.0, 0.0],
        });
    }

    /// Resamples the layer for the box as it is now, off the UI thread (one build at a time; see
    /// `TransformPreview`).
    pub(crate) fn request_transform_preview(&mut self) {
        if self.tools.transform_preview.in_flight {
            return;
        }
        let tp = &self.tools.transform_preview;
        let Some(state) = self.tools.transform.clone().or_else(|| tp.committing.clone()) else { return };
        let doc = match self.editor.without_preview() {
            Ok(d) => d,
            Err(e) => {
                self.status = e.to_string();
                return;
            }
        };
        let (generation, revision) = (self.tools.transform_preview.generation, self.editor.revision());
        self.tools.transform_preview.in_flight = true;
        self.background.spawn("transform preview", move || {
            let cmd = transform_command(&doc, &state).map_err(|e| e.to_string());
            super::Done::TransformPreview { generation, revision, state, cmd }
        });
    }

    pub(crate) fn transform_preview_ready(
        &mut self,
        generation: u64,
        revision: u64,
        state: TransformState,
        cmd: Result<Command, String>,
    ) {
        if generation != self.tools.transform_preview.generation {
            return; // that transform has ended
        }
        self.tools.transform_preview.in_flight = false;
        if revision != self.editor.revision() {
            self.request_transform_preview(); // the document changed under it: build on the new one
            return;
        }
        if let Some(target) = self.tools.transform_preview.committing.clone() {
            if state == target {
                self.tools.transform_preview.reset();
                self.apply_transform(cmd.map_err(oekaki::doc::DocError::Invalid));
            } else {
                self.request_transform_preview(); // that build was of an older box: build the one to commit
            }
            return;
        }
        match cmd {
            Ok(cmd) => {
                let r = self.editor.preview(|_| Ok(cmd.clone()));
                self.report(r);
                self.tools.transform_preview.shown = Some((state.clone(), revision, cmd));
            }
            Err(e) => self.status = e,
        }
        if self.tools.transform.as_ref() != Some(&state) {
            self.request_transform_preview();
        }
    }

    /// Enter: the previewed transform becomes one undo step: the preview itself when it is up to date, else the
    /// box is resampled in the background (the stale preview stays until it lands).
    pub(crate) fn commit_transform(&mut self) {
        let Some(t) = self.tools.transform.take() else { return };
        self.tools.gesture = Gesture::Idle;
        let shown = self.tools.transform_preview.shown.take();
        if t.is_identity() {
            self.tools.transform_preview.reset();
            let r = self.editor.cancel_preview();
            self.report(r);
            return;
        }
        match shown {
            Some((state, revision, cmd)) if state == t && revision == self.editor.revision() => {
                self.tools.transform_preview.reset();
                self.apply_transform(Ok(cmd));
            }
            _ => {
                self.tools.transform_preview.committing = Some(t);
                self.request_transform_preview();
            }
        }
    }

    /// Before input that could change the document, a transform still resampling in the background is
    /// finished here, so the next stroke or command comes after it (the one case that waits).
    pub(crate) fn finish_transform_commit_before_input(&mut self, ctx: &egui::Context) {
        if self.tools.transform_preview.committing.is_none() {
            return;
        }
        let acts = ctx.input(|i| {
            !i.raw.dropped_files.is_empty()
                || i.viewport().close_requested()
                || i.events.iter().any(|e| {
                    matches!(
                        e,
                        egui::Event::PointerButton { pressed: true, .. }
                            | egui::Event::Key { pressed: true, .. }
                            | egui::Event::Copy
                            | egui::Event::Cut
                            | egui::Event::Paste(_)
                            | egui::Event::PasteImage(_)
                    )
                })
        });
        if acts {
            self.finish_transform_commit_now();
        }
    }

    /// Lands a transform still resampling in the background now (on this thread).
    pub(crate) fn finish_transform_commit_now(&mut self) {
        let Some(t) = self.tools.transform_preview.committing.take() else { return };
        self.tools.transform_preview.reset();
        let built = self.editor.without_preview().and_then(|doc| transform_command(&doc, &t));
        self.apply_transform(built);
    }

    /// Ends the gesture in progress (a pending transform commit lands first).
    pub(crate) fn cancel_gesture(&mut self) {
        self.finish_transform_commit_now();
        self.tools.cancel_gesture(&mut self.editor);
    }

    fn apply_transform(&mut self, built: Result<Command, oekaki::doc::DocError>) {
        match built {
            Ok(cmd) => {
                let r = self.editor.apply_as("Transform", cmd);
                self.report(r);
            }
            Err(e) => {
                let r = self.editor.cancel_preview();
                self.report(r);
                self.status = e.to_string();
            }
        }
    }

    /// Esc: the layer goes back to how it was.
    pub(crate) fn cancel_transform(&mut self) {
        self.finish_transform_commit_now();
        self.tools.transform = None;
        self.tools.transform_preview.reset();
        self.tools.gesture = Gesture::Idle;
        let r = self.editor.cancel_preview();
        self.report(r);
    }

    fn transform_handle(&self, t: &TransformState, p: [f32; 2]) -> Handle {
        let zoom = self.view.map_or(1.0, |v| v.zoom);
        let corners = t.corners();
        if let Some(i) = (0..4).find(|&i| (corners[i][0] - p[0]).hypot(corners[i][1] - p[1]) * zoom <= HANDLE_GRAB) {
            return Handle::Corner(i);
        }
        let edges = t.edges();
        if let Some(i) = (0..4).find(|&i| (edges[i][0] - p[0]).hypot(edges[i][1] - p[1]) * zoom <= HANDLE_GRAB) {
            return Handle::Edge(i);
        }
        if inside_quad(&corners, p) { Handle::Inside } else { Handle::Outside }
    }
}

/// The transform after dragging `handle` from `start` to `p`: inside moves, a corner scales about the centre
/// (keeping the aspect ratio), an edge's middle scales along that axis only, outside rotates about the centre.
pub fn drag_transform(before: &TransformState, handle: Handle, start: [f32; 2], p: [f32; 2]) -> TransformState {
    let mut t = before.clone();
    let c = before.centre();
    let centre = [c[0] + before.offset[0], c[1] + before.offset[1]];
    match handle {
        Handle::Inside => t.offset = [before.offset[0] + p[0] - start[0], before.offset[1] + p[1] - start[1]],
        Handle::Corner(_) => {
            let d0 = (start[0] - centre[0]).hypot(start[1] - centre[1]).max(1e-3);
            let d1 = (p[0] - centre[0]).hypot(p[1] - centre[1]);
            let k = (d1 / d0).clamp(0.01, 100.0);
            t.scale = [before.scale[0] * k, before.scale[1] * k];
        }
        Handle::Edge(i) => {
            // Along the line from the centre to the edge's middle, whatever the rotation.
            let m = before.edges()[i];
            let axis = [m[0] - centre[0], m[1] - centre[1]];
            let along = |q: [f32; 2]| (q[0] - centre[0]) * axis[0] + (q[1] - centre[1]) * axis[1];
            let d0 = along(start);
            if d0.abs() > 1e-3 {
                let k = (along(p) / d0).clamp(0.01, 100.0);
                let a = if i % 2 == 0 { 1 } else { 0 }; // top/bottom: height; right/left: width
                t.scale[a] = before.scale[a] * k;
            }
        }
        Handle::Outside => {
            let a0 = (start[1] - centre[1]).atan2(start[0] - centre[0]);
            let a1 = (p[1] - centre[1]).atan2(p[0] - centre[0]);
            t.degrees = (before.degrees + (a1 - a0).to_degrees()).rem_euclid(360.0);
        }
    }
    t
}

fn inside_quad(q: &[[f32; 2]; 4], p: [f32; 2]) -> bool {
    let mut inside = false;
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 3) % 4]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_handles_move_scale_and_rotate() {
        let t = TransformState {
            layer: 1,
            bounds: [0.0, 0.0, 100.0, 100.0],
            scale: [1.0; 2],
            degrees: 0.0,
            offset: [0.0; 2],
        };
        assert!(inside_quad(&t.corners(), [50.0, 50.0]) && !inside_quad(&t.corners(), [150.0, 50.0]));
        let moved = drag_transform(&t, Handle::Inside, [50.0, 50.0], [60.0, 45.0]);
        assert_eq!(moved.offset, [10.0, -5.0]);
        let scaled = drag_transform(&t, Handle::Corner(2), [100.0, 100.0], [150.0, 150.0]);
        assert!((scaled.scale[0] - 2.0).abs() < 1e-4);
        let turned = drag_transform(&t, Handle::Outside, [150.0, 50.0], [50.0, 150.0]);
        assert!((turned.degrees - 90.0).abs() < 1e-3, "{}", turned.degrees);
        // Edges scale one axis: the right edge the width, the bottom edge the height, also when turned.
        let wider = drag_transform(&t, Handle::Edge(1), [100.0, 50.0], [150.0, 70.0]);
        assert!((wider.scale[0] - 2.0).abs() < 1e-4 && wider.scale[1] == 1.0, "{:?}", wider.scale);
        let taller = drag_transform(&turned, Handle::Edge(2), turned.edges()[2], [50.0 - 25.0, 50.0]);
        assert!((taller.scale[1] - 0.5).abs() < 1e-3 && taller.scale[0] == 1.0, "{:?}", taller.scale);
    }
}
