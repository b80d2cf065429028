//! Layers: the tree top-first with thumbnails, visibility, drag to reorder, rename, and the active layer's
//! properties and operations. Every change is a core command (one undo step); the opacity slider previews
//! while dragged and records one step when released.

use std::collections::HashMap;

use eframe::egui;
use oekaki::doc::{BlendMode, Document, Layer, LayerId, LayerMask, LayerProps};
use oekaki::history::{Command, layer_ops};

use super::super::Studio;

const THUMB: usize = 32;

/// One row of the layer list.
pub struct Row {
    pub id: LayerId,
    pub depth: usize,
    pub props: LayerProps,
    pub group: bool,
    pub masked: bool,
}

/// The tree as rows, top layer first, groups followed by their children.
pub fn rows(doc: &Document) -> Vec<Row> {
    fn walk(layers: &[Layer], depth: usize, out: &mut Vec<Row>) {
        for l in layers.iter().rev() {
            out.push(Row { id: l.id, depth, props: l.props.clone(), group: l.is_group(), masked: l.mask.is_some() });
            walk(l.children(), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(&doc.layers, 0, &mut out);
    out
}

/// Layer thumbnails, rebuilt when the document revision changes.
#[derive(Default)]
pub struct Thumbnails {
    revision: Option<u64>,
    textures: HashMap<LayerId, egui::TextureHandle>,
}

fn thumbnail(doc: &Document, layer: &Layer) -> Option<egui::ColorImage> {
    let surface = layer.surface()?;
    let step = (doc.width.max(doc.height) as f32 / THUMB as f32).max(1.0);
    let (w, h) =
        (((doc.width as f32 / step).ceil() as usize).max(1), ((doc.height as f32 / step).ceil() as usize).max(1));
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let p = surface.get((x as f32 * step) as i32, (y as f32 * step) as i32);
            px.push(egui::Color32::from_rgba_premultiplied(p[0], p[1], p[2], p[3]));
        }
    }
    Some(egui::ColorImage::new([w, h], px))
}

impl Studio {
    fn thumbnails(&mut self, ctx: &egui::Context) {
        let rev = self.editor.revision();
        if self.thumbnails.revision == Some(rev) {
            return;
        }
        self.thumbnails.revision = Some(rev);
        let doc = &self.editor.doc;
        let mut keep = HashMap::new();
        for id in doc.layer_ids() {
            let Some(layer) = doc.layer(id) else { continue };
            let Some(img) = thumbnail(doc, layer) else { continue };
            let tex = match self.thumbnails.textures.remove(&id) {
                Some(mut t) => {
                    t.set(img, egui::TextureOptions::LINEAR);
                    t
                }
                None => ctx.load_texture(format!("layer {id}"), img, egui::TextureOptions::LINEAR),
            };
            keep.insert(id, tex);
        }
        self.thumbnails.textures = keep;
    }

    /// A new empty layer above the active one (in the same group).
    pub fn add_layer(&mut self) {
        let n = self.editor.doc.layer_ids().len() + 1;
        let layer = self.editor.doc.new_raster_layer(&format!("Layer {n}"), oekaki::raster::Surface::new([0; 4]));
        self.insert_above_active(layer);
    }

    pub fn add_group(&mut self) {
        let n = self.editor.doc.layer_ids().len() + 1;
        let group = self.editor.doc.new_group(&format!("Group {n}"), Vec::new());
        self.insert_above_active(group);
    }

    fn insert_above_active(&mut self, layer: Layer) {
        let id = layer.id;
        let (parent, index) = match self.active.and_then(|a| self.editor.doc.locate(a)) {
            Some((parent, i)) => (parent, i + 1),
            None => (None, self.editor.doc.layers.len()),
        };
        self.apply(Command::AddLayer { parent, index, layer: Box::new(layer) });
        if self.editor.doc.layer(id).is_some() {
            self.active = Some(id);
        }
    }

    pub fn delete_active(&mut self) {
        let Some(id) = self.active else { return };
        let before = rows(&self.editor.doc);
        let pos = before.iter().position(|r| r.id == id);
        self.apply(Command::RemoveLayer { id });
        // The next layer down (or up) becomes active.
        let left = rows(&self.editor.doc);
        self.active = pos.and_then(|p| left.get(p.min(left.len().saturating_sub(1)))).map(|r| r.id);
    }

    pub fn set_props(&mut self, id: LayerId, f: impl FnOnce(&mut LayerProps)) {
        let Some(layer) = self.editor.doc.layer(id) else { return };
        let mut props = layer.props.clone();
        f(&mut props);
        if props != layer.props {
            self.apply(Command::SetProps { id, props });
        }
    }

    /// Moves `id` one step up (towards the top) or down among its siblings.
    pub fn move_layer(&mut self, id: LayerId, up: bool) {
        let Some((parent, index)) = self.editor.doc.locate(id) else { return };
        let count = match parent {
            None => self.editor.doc.layers.len(),
            Some(p) => self.editor.doc.layer(p).map_or(0, |l| l.children().len()),
        };
        let to = if up { index + 1 } else { index.wrapping_sub(1) };
        if to < count {
            self.apply(Command::MoveLayer { id, parent, index: to });
        }
    }

    /// Drops `dragged` directly above `onto` (in `onto`'s group).
    pub fn drop_layer(&mut self, dragged: LayerId, onto: LayerId) {
        if dragged == onto {
            return;
        }
        let mut doc = self.editor.doc.clone();
        let Ok((_, _, layer)) = doc.remove_layer(dragged) else { return };
        let Some((parent, index)) = doc.locate(onto) else {
            self.status = "a group cannot go inside itself".into();
            return;
        };
        drop(layer);
        self.apply(Command::MoveLayer { id: dragged, parent, index: index + 1 });
    }

    fn layer_op(&mut self, f: impl FnOnce(&mut Document, LayerId) -> Result<Command, oekaki::doc::DocError>) {
        let Some(id) = self.active else { return };
        match f(&mut self.editor.doc, id) {
            Ok(cmd) => self.apply(cmd),
            Err(e) => self.status = e.to_string(),
        }
    }
}

pub fn show(s: &mut Studio, ui: &mut egui::Ui) {
    s.thumbnails(ui.ctx());
    ui.horizontal_wrapped(|ui| {
        if ui.button("New").on_hover_text("New layer (Ctrl+Shift+N)").clicked() {
            s.add_layer();
        }
        if ui.button("Group").clicked() {
            s.add_group();
        }
        if ui.button("Duplicate").clicked() {
            s.layer_op(layer_ops::duplicate);
        }
        if ui.button("Delete").clicked() {
            s.delete_active();
        }
        if ui.button("Merge down").clicked() {
            s.layer_op(|doc, id| layer_ops::merge_down(doc, id));
        }
        if ui.button("Up").on_hover_text("Move up").clicked()
            && let Some(id) = s.active
        {
            s.move_layer(id, true);
        }
        if ui.button("Down").on_hover_text("Move down").clicked()
            && let Some(id) = s.active
        {
            s.move_layer(id, false);
        }
    });
    ui.separator();
    let mut dropped: Option<(LayerId, LayerId)> = None;
    for row in rows(&s.editor.doc) {
        let frame = egui::Frame::NONE.inner_margin(egui::Margin::symmetric(2, 1));
        let r = frame
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.add_space(row.depth as f32 * 12.0);
                    let handle = egui::Id::unique(("layer drag", row.id));
                    ui.dnd_drag_source(handle, row.id, |ui| ui.label("::")).response.on_hover_text("Drag to reorder");
                    let mut visible = row.props.visible;
                    let eye = ui.checkbox(&mut visible, "").on_hover_text("Visible");
                    let label = format!("visible: {}", row.props.name);
                    eye.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, visible, &label));
                    if eye.changed() {
                        s.set_props(row.id, |p| p.visible = visible);
                    }
                    if let Some(t) = s.thumbnails.textures.get(&row.id) {
                        ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(24.0, 24.0)));
                    }
                    let mut name = row.props.name.clone();
                    if row.group {
                        name = format!("{name} (group)");
                    }
                    if row.masked {
                        name += " (mask)";
                    }
                    if ui.selectable_label(s.active == Some(row.id), name).clicked() {
                        s.active = Some(row.id);
                    }
                });
            })
            .response;
        if let Some(d) = r.dnd_release_payload::<LayerId>() {
            dropped = Some((*d, row.id));
        }
    }
    if let Some((d, onto)) = dropped {
        s.drop_layer(d, onto);
    }
    ui.separator();
    active_props(s, ui);
}

fn active_props(s: &mut Studio, ui: &mut egui::Ui) {
    let Some(id) = s.active else { return };
    let Some(layer) = s.editor.doc.layer(id) else { return };
    let props = layer.props.clone();
    let (group, masked) = (layer.is_group(), layer.mask.is_some());

    let name_id = ui.scope_id().with(("rename", id));
    let mut name = ui.data(|d| d.get_temp::<String>(name_id)).unwrap_or_else(|| props.name.clone());
    let r = ui.add(egui::TextEdit::singleline(&mut name).hint_text("name"));
    if r.changed() {
        ui.data_mut(|d| d.insert_temp(name_id, name.clone()));
    }
    if r.lost_focus() {
        ui.data_mut(|d| d.remove::<String>(name_id));
        if !name.trim().is_empty() {
            s.set_props(id, |p| p.name = name.trim().to_string());
        }
    }

    let mut opacity = props.opacity;
    let slider = ui.add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("opacity"));
    if slider.changed() {
        let p = LayerProps { opacity, ..props.clone() };
        let r = s.editor.preview(|_| Ok(Command::SetProps { id, props: p }));
        s.report(r);
    }
    if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
        let committed = s.editor.doc.layer(id).map(|l| l.props.clone());
        let r = s.editor.cancel_preview();
        s.report(r);
        if let Some(p) = committed {
            s.set_props(id, |q| *q = p);
        }
    }

    let mut blend = props.blend;
    egui::ComboBox::from_label("blend").selected_text(blend.label()).show_ui(ui, |ui| {
        for m in BlendMode::ALL {
            ui.selectable_value(&mut blend, m, m.label());
        }
    });
    if blend != props.blend {
        s.set_props(id, |p| p.blend = blend);
    }
    ui.horizontal_wrapped(|ui| {
        let mut lock = props.lock_alpha;
        if ui.checkbox(&mut lock, "lock alpha").changed() {
            s.set_props(id, |p| p.lock_alpha = lock);
        }
        let mut clip = props.clip;
        if ui.checkbox(&mut clip, "clip to below").changed() {
            s.set_props(id, |p| p.clip = clip);
        }
        if group {
            let mut pass = props.pass_through;
            if ui.checkbox(&mut pass, "pass through").changed() {
                s.set_props(id, |p| p.pass_through = pass);
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        if !masked && ui.button("Add mask").on_hover_text("From the selection, or revealing all").clicked() {
            let sel = &s.editor.doc.selection;
            let mask = if sel.active {
                LayerMask { pixels: sel.mask.clone(), enabled: true }
            } else {
                LayerMask::reveal_all()
            };
            s.apply(Command::SetMask { id, mask: Some(Box::new(mask)) });
        }
        if masked {
            ui.toggle_value(&mut s.tools.edit_mask, "Edit mask");
            if ui.button("Apply mask").clicked() {
                s.tools.edit_mask = false;
                s.layer_op(|doc, id| layer_ops::apply_mask(doc, id));
            }
            if ui.button("Delete mask").clicked() {
                s.tools.edit_mask = false;
                s.apply(Command::SetMask { id, mask: None });
            }
        } else {
            s.tools.edit_mask = false;
        }
    });
    if let Some(params) = &props.params {
        ui.collapsing("Generation parameters", |ui| ui.label(params));
    }
}
