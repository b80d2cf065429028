//! What is drawn over the document: brush cursor, marching ants, the quick-mask tint, gesture previews and
//! transform handles. All positions come from document space through the [`View`], so they follow rotation
//! and flipping.

use eframe::egui;
use oekaki::doc::Selection;
use oekaki::view::View;

use super::Studio;
use super::tools::{Gesture, Tool, drag_shape};

/// Above this many outline segments the ants are drawn solid (a wand selection of noise can have millions).
const MAX_DASHED: usize = 20_000;
/// The quick-mask tint texture's longest side.
const TINT_SIDE: u32 = 1024;

#[derive(Default)]
pub struct Overlays {
    /// Outline segments of the selection they were computed for.
    outline: Option<(Selection, Vec<[[i32; 2]; 2]>)>,
    tint: Option<(Selection, egui::TextureHandle)>,
}

impl Studio {
    pub(crate) fn draw_overlays(
        &mut self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        rect: egui::Rect,
        v: &View,
        hover: Option<egui::Pos2>,
    ) {
        let screen = |p: [f32; 2]| {
            let s = v.to_screen(p);
            egui::pos2(rect.min.x + s[0], rect.min.y + s[1])
        };
        for (r, tex) in self.ai_overlays() {
            textured_quad(painter, tex, r, &screen);
        }
        if self.tools.quick_mask {
            self.draw_quick_mask(ui, painter, &screen);
        }
        if let Some((r, tex)) = self.smart_overlay(ui.ctx()) {
            textured_quad(painter, tex, r, &screen);
        }
        for p in &self.smart.points {
            let fill =
                if p.foreground { egui::Color32::from_rgb(40, 200, 90) } else { egui::Color32::from_rgb(230, 60, 60) };
            painter.circle(screen([p.x, p.y]), 5.0, fill, egui::Stroke::new(1.5, egui::Color32::WHITE));
        }
        // On canvases too big to encode whole, show which part Smart select looked at.
        if self.tools.tool == Tool::SmartSelect
            && let Some(area) = self.smart.area
            && area.rect != self.editor.doc.bounds()
        {
            let r = area.rect;
            let (x0, y0, x1, y1) = (r.x0 as f32, r.y0 as f32, r.x1 as f32, r.y1 as f32);
            let pts = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]].map(&screen);
            let stroke = egui::Stroke::new(1.0, egui::Color32::from_rgb(60, 160, 255));
            painter.extend(egui::Shape::dashed_line(&pts, stroke, 6.0, 4.0));
        }
        if let Some([x0, y0, x1, y1]) = self.smart.bbox {
            let pts = vec![screen([x0, y0]), screen([x1, y0]), screen([x1, y1]), screen([x0, y1])];
            painter.add(egui::Shape::closed_line(pts, egui::Stroke::new(1.5, egui::Color32::from_rgb(60, 160, 255))));
        }
        self.draw_ants(ui, painter, &screen);
        let thin = |c| egui::Stroke::new(1.0, c);
        match &self.tools.gesture {
            Gesture::Drag { start, end, .. } if self.tools.tool == Tool::Gradient => {
                painter.line_segment([screen(*start), screen(*end)], thin(egui::Color32::WHITE));
                painter.circle_stroke(screen(*start), 4.0, thin(egui::Color32::BLACK));
            }
            Gesture::Drag { start, end, .. } => {
                if let Some(shape) = drag_shape(self.tools.tool, *start, *end) {
                    let pts = shape_outline(&shape).into_iter().map(&screen).collect();
                    painter.add(egui::Shape::closed_line(pts, thin(egui::Color32::WHITE)));
                }
            }
            Gesture::Lasso { points, .. } => {
                let pts: Vec<_> = points.iter().map(|p| screen(*p)).collect();
                painter.add(egui::Shape::line(pts, thin(egui::Color32::WHITE)));
            }
            _ => {}
        }
        if let Some(t) = &self.tools.transform {
            let c = t.corners().map(&screen);
            painter.add(egui::Shape::closed_line(c.to_vec(), thin(egui::Color32::from_rgb(80, 160, 255))));
            for p in c {
                painter.rect_filled(egui::Rect::from_center_size(p, egui::vec2(8.0, 8.0)), 1.0, egui::Color32::WHITE);
            }
            for p in t.edges().map(&screen) {
                painter.rect_filled(egui::Rect::from_center_size(p, egui::vec2(6.0, 6.0)), 1.0, egui::Color32::WHITE);
            }
        }
        if let Some(p) = hover.filter(|p| rect.contains(*p))
            && self.tools.tool.paints()
        {
            let r = self.tools.current_brush().diameter * 0.5 * v.zoom;
            painter.circle_stroke(p, r.max(1.5), thin(egui::Color32::from_gray(20)));
            painter.circle_stroke(p, r.max(1.5) + 1.0, thin(egui::Color32::from_gray(235)));
        }
    }

    /// Marching ants along the selection outline; the dashes move with time.
    fn draw_ants(&mut self, ui: &egui::Ui, painter: &egui::Painter, screen: &impl Fn([f32; 2]) -> egui::Pos2) {
        let sel = &self.editor.doc.selection;
        if !sel.active {
            self.overlays.outline = None;
            return;
        }
        let stale = self.overlays.outline.as_ref().is_none_or(|(s, _)| !same_selection(s, sel));
        if stale {
            let segments = sel.outline(self.editor.doc.bounds());
            self.overlays.outline = Some((sel.clone(), segments));
        }
        let Some((_, segments)) = &self.overlays.outline else { return };
        let time = ui.input(|i| i.time);
        let phase = (time * 8.0) as f32 % 8.0;
        let white = egui::Stroke::new(1.0, egui::Color32::WHITE);
        let black = egui::Stroke::new(1.0, egui::Color32::BLACK);
        let mut shapes = Vec::with_capacity(segments.len() * 2);
        let dashed = segments.len() <= MAX_DASHED;
        for [a, b] in segments {
            let (a, b) = (screen([a[0] as f32, a[1] as f32]), screen([b[0] as f32, b[1] as f32]));
            // Dash phase from the screen position, so dashes run on across segment joins.
            let along = a.x + a.y + phase;
            if !dashed {
                shapes.push(egui::Shape::line_segment([a, b], black));
            } else if a.distance(b) <= 8.0 {
                // Short steps (diagonal edges) take one colour each, alternating every 4 points.
                let ink = if (along / 4.0).floor() as i64 % 2 == 0 { black } else { white };
                shapes.push(egui::Shape::line_segment([a, b], ink));
            } else {
                shapes.push(egui::Shape::line_segment([a, b], white));
                let offset = along.rem_euclid(8.0);
                shapes.extend(egui::Shape::dashed_line_with_offset(&[a, b], black, &[4.0], &[4.0], offset));
            }
        }
        painter.extend(shapes);
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(120));
    }

    /// Quick mask: unselected parts of the canvas tinted red, from a downscaled copy of the selection.
    fn draw_quick_mask(&mut self, ui: &egui::Ui, painter: &egui::Painter, screen: &impl Fn([f32; 2]) -> egui::Pos2) {
        let (w, h) = (self.editor.doc.width, self.editor.doc.height);
        let sel = &self.editor.doc.selection;
        let stale = self.overlays.tint.as_ref().is_none_or(|(s, _)| !same_selection(s, sel));
        if stale {
            // While the mask is painted only a few tiles change: redo just their part of the tint.
            let partial = match &mut self.overlays.tint {
                Some((old, tex))
                    if old.active == sel.active && old.mask.default_value() == sel.mask.default_value() =>
                {
                    let changed = sel.mask.changed_tiles(&old.mask);
                    let rect = changed.iter().fold(oekaki::geom::Rect::EMPTY, |r, k| r.union(&k.rect()));
                    let (pos, image) = tint_patch(sel, w, h, rect);
                    if let Some(image) = image {
                        tex.set_partial(pos, image, egui::TextureOptions::LINEAR);
                    }
                    *old = sel.clone();
                    true
                }
                _ => false,
            };
            if !partial {
                let image = tint_image(sel, w, h);
                let tex = ui.ctx().load_texture("quick mask", image, egui::TextureOptions::LINEAR);
                self.overlays.tint = Some((sel.clone(), tex));
            }
        }
        let Some((_, tex)) = &self.overlays.tint else { return };
        textured_quad(painter, tex.id(), self.editor.doc.bounds(), screen);
    }
}

/// A texture stretched over a canvas rectangle, following the view's rotation and flip.
fn textured_quad(
    painter: &egui::Painter,
    tex: egui::TextureId,
    r: oekaki::geom::Rect,
    screen: &impl Fn([f32; 2]) -> egui::Pos2,
) {
    let (x0, y0, x1, y1) = (r.x0 as f32, r.y0 as f32, r.x1 as f32, r.y1 as f32);
    let mut mesh = egui::Mesh::with_texture(tex);
    let corners = [([x0, y0], [0.0, 0.0]), ([x1, y0], [1.0, 0.0]), ([x1, y1], [1.0, 1.0]), ([x0, y1], [0.0, 1.0])];
    for (p, uv) in corners {
        mesh.vertices.push(egui::epaint::Vertex {
            pos: screen(p),
            uv: egui::pos2(uv[0], uv[1]),
            color: egui::Color32::WHITE,
        });
    }
    mesh.indices.extend_from_slice(&[0, 1, 2, 0, 2, 3]);
    painter.add(egui::Shape::mesh(mesh));
}

/// Cheap identity check first (tiles shared), full comparison only when tiles differ.
fn same_selection(a: &Selection, b: &Selection) -> bool {
    a.active == b.active && (a.mask.shares_all_tiles_with(&b.mask) || a.mask == b.mask)
}

/// Canvas pixels per tint texel, and the tint's size.
fn tint_grid(w: u32, h: u32) -> (f32, usize, usize) {
    let step = (w.max(h) as f32 / TINT_SIDE as f32).max(1.0);
    (step, ((w as f32 / step).ceil() as usize).max(1), ((h as f32 / step).ceil() as usize).max(1))
}

/// Tint texels `[x0, x1) × [y0, y1)`: half-transparent red where the selection does not reach.
fn tint_texels(sel: &Selection, step: f32, [x0, y0, x1, y1]: [usize; 4]) -> egui::ColorImage {
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for ty in y0..y1 {
        for tx in x0..x1 {
            let (x, y) = ((tx as f32 * step) as i32, (ty as f32 * step) as i32);
            let a = ((255 - sel.coverage(x, y) as u32) * 128 / 255) as u8;
            pixels.push(egui::Color32::from_rgba_premultiplied(a, 0, 0, a));
        }
    }
    egui::ColorImage::new([x1 - x0, y1 - y0], pixels)
}

/// The whole tint, at most [`TINT_SIDE`] on the long side.
fn tint_image(sel: &Selection, w: u32, h: u32) -> egui::ColorImage {
    let (step, tw, th) = tint_grid(w, h);
    tint_texels(sel, step, [0, 0, tw, th])
}

/// The texels covering canvas `rect` (none if it is empty or off the canvas) and where they go.
fn tint_patch(sel: &Selection, w: u32, h: u32, rect: oekaki::geom::Rect) -> ([usize; 2], Option<egui::ColorImage>) {
    let (step, tw, th) = tint_grid(w, h);
    let x0 = ((rect.x0.max(0) as f32 / step).floor() as usize).min(tw);
    let y0 = ((rect.y0.max(0) as f32 / step).floor() as usize).min(th);
    let x1 = ((rect.x1.max(0) as f32 / step).ceil() as usize).min(tw);
    let y1 = ((rect.y1.max(0) as f32 / step).ceil() as usize).min(th);
    if x0 >= x1 || y0 >= y1 {
        return ([0, 0], None);
    }
    ([x0, y0], Some(tint_texels(sel, step, [x0, y0, x1, y1])))
}

/// Points along a selection shape's edge, for the drag preview.
fn shape_outline(shape: &oekaki::doc::selection::Shape) -> Vec<[f32; 2]> {
    use oekaki::doc::selection::Shape;
    match shape {
        Shape::Rect { x, y, w, h } => {
            let (x0, y0, x1, y1) = (*x as f32, *y as f32, (*x + *w) as f32, (*y + *h) as f32);
            vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        }
        Shape::Ellipse { cx, cy, rx, ry } => (0..64)
            .map(|i| {
                let a = i as f32 / 64.0 * std::f32::consts::TAU;
                [cx + rx * a.cos(), cy + ry * a.sin()]
            })
            .collect(),
        Shape::Polygon { points } => points.iter().map(|p| [p.0, p.1]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oekaki::doc::selection::{Combine, Shape};

    use oekaki::geom::Rect;

    #[test]
    fn a_partial_tint_update_equals_a_full_rebuild() {
        let (w, h) = (3000, 1700); // more than TINT_SIDE: texels cover several pixels
        let canvas = Rect::new(0, 0, w as i32, h as i32);
        let a = Selection::none().with_shape(&Shape::Rect { x: 100, y: 100, w: 900, h: 500 }, Combine::Replace, canvas);
        // Painting the mask (quick mask) touches a few tiles.
        let mut b = a.clone();
        let dab = Rect::new(1400, 800, 1610, 950);
        b.mask.write_rect(dab, &vec![255; dab.area()]);
        let mut tint = tint_image(&a, w, h);
        let changed = b.mask.changed_tiles(&a.mask);
        assert!(!changed.is_empty() && changed.len() <= 20, "{} tiles changed", changed.len());
        let rect = changed.iter().fold(Rect::EMPTY, |r, k| r.union(&k.rect()));
        let ([x0, y0], patch) = tint_patch(&b, w, h, rect);
        let patch = patch.expect("a patch");
        for y in 0..patch.size[1] {
            for x in 0..patch.size[0] {
                tint.pixels[(y0 + y) * tint.size[0] + x0 + x] = patch.pixels[y * patch.size[0] + x];
            }
        }
        assert!(tint.pixels == tint_image(&b, w, h).pixels);
    }
}
