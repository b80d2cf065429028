//! Colour: HSV picker, hex entry, foreground/background (X swaps), recent colours and a palette.

use eframe::egui;
use oekaki::color::Color;

use super::super::Studio;

pub fn to32(c: Color) -> egui::Color32 {
    let b = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    egui::Color32::from_rgb(b(c.r), b(c.g), b(c.b))
}

pub fn from32(c: egui::Color32) -> Color {
    Color::rgb(c.r() as f32 / 255.0, c.g() as f32 / 255.0, c.b() as f32 / 255.0)
}

/// `#rrggbb` or `rrggbb` (also `#rgb`).
pub fn parse_hex(text: &str) -> Option<Color> {
    let t = text.trim().trim_start_matches('#');
    let full: String = match t.len() {
        3 => t.chars().flat_map(|c| [c, c]).collect(),
        6 => t.to_string(),
        _ => return None,
    };
    let v = u32::from_str_radix(&full, 16).ok()?;
    Some(from32(egui::Color32::from_rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)))
}

pub fn hex(c: Color) -> String {
    let c = to32(c);
    format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
}

fn swatch(ui: &mut egui::Ui, c: egui::Color32, size: f32) -> egui::Response {
    let (rect, r) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::click());
    ui.painter().rect_filled(rect, 2.0, c);
    ui.painter().rect_stroke(rect, 2.0, egui::Stroke::new(1.0, egui::Color32::GRAY), egui::StrokeKind::Inside);
    r
}

const PICKER: f32 = 180.0;
const STRIP: f32 = 16.0;
/// Grid cells of the gradient meshes (vertex colours interpolate between them).
const CELLS: usize = 24;

fn hsv32(h: f32, s: f32, v: f32) -> egui::Color32 {
    let [r, g, b] = egui::ecolor::Hsva::new(h, s, v, 1.0).to_srgb();
    egui::Color32::from_rgb(r, g, b)
}

/// A saturation/value square for the current hue over a hue strip, as in Clip Studio Paint and Krita.
fn hsv_picker(ui: &mut egui::Ui, hsv: &mut egui::ecolor::Hsva) -> bool {
    let mut changed = false;
    let (rect, r) = ui.allocate_exact_size(egui::vec2(PICKER, PICKER), egui::Sense::click_and_drag());
    let mut mesh = egui::Mesh::default();
    for j in 0..=CELLS {
        for i in 0..=CELLS {
            let (sx, vy) = (i as f32 / CELLS as f32, j as f32 / CELLS as f32);
            let pos = egui::pos2(rect.min.x + sx * rect.width(), rect.min.y + vy * rect.height());
            mesh.colored_vertex(pos, hsv32(hsv.h, sx, 1.0 - vy));
        }
    }
    grid_indices(&mut mesh, CELLS, CELLS);
    ui.painter().add(mesh);
    if let Some(p) = r.interact_pointer_pos().filter(|_| r.dragged() || r.clicked()) {
        hsv.s = ((p.x - rect.min.x) / rect.width()).clamp(0.0, 1.0);
        hsv.v = 1.0 - ((p.y - rect.min.y) / rect.height()).clamp(0.0, 1.0);
        changed = true;
    }
    let marker = egui::pos2(rect.min.x + hsv.s * rect.width(), rect.min.y + (1.0 - hsv.v) * rect.height());
    ui.painter().circle_stroke(
        marker,
        5.0,
        egui::Stroke::new(2.0, if hsv.v > 0.5 { egui::Color32::BLACK } else { egui::Color32::WHITE }),
    );

    let (strip, r) = ui.allocate_exact_size(egui::vec2(PICKER, STRIP), egui::Sense::click_and_drag());
    let mut mesh = egui::Mesh::default();
    for j in 0..=1 {
        for i in 0..=CELLS {
            let h = i as f32 / CELLS as f32;
            mesh.colored_vertex(
                egui::pos2(strip.min.x + h * strip.width(), strip.min.y + j as f32 * strip.height()),
                hsv32(h, 1.0, 1.0),
            );
        }
    }
    grid_indices(&mut mesh, CELLS, 1);
    ui.painter().add(mesh);
    if let Some(p) = r.interact_pointer_pos().filter(|_| r.dragged() || r.clicked()) {
        hsv.h = ((p.x - strip.min.x) / strip.width()).clamp(0.0, 1.0);
        changed = true;
    }
    let x = strip.min.x + hsv.h * strip.width();
    ui.painter().line_segment(
        [egui::pos2(x, strip.min.y), egui::pos2(x, strip.max.y)],
        egui::Stroke::new(2.0, egui::Color32::WHITE),
    );
    changed
}

/// Two triangles per cell of a (cols+1)×(rows+1) vertex grid.
fn grid_indices(mesh: &mut egui::Mesh, cols: usize, rows: usize) {
    let w = cols as u32 + 1;
    for j in 0..rows as u32 {
        for i in 0..cols as u32 {
            let a = j * w + i;
            mesh.add_triangle(a, a + 1, a + w);
            mesh.add_triangle(a + 1, a + w + 1, a + w);
        }
    }
}

pub fn show(s: &mut Studio, ui: &mut egui::Ui) {
    let c = to32(s.tools.fg);
    let mut hsv = egui::ecolor::Hsva::from_srgb([c.r(), c.g(), c.b()]);
    if hsv.s <= 0.0 || hsv.v <= 0.0 {
        // Grey has no hue of its own: keep the one the artist had.
        hsv.h = s.tools.hue;
    }
    if hsv_picker(ui, &mut hsv) {
        s.tools.hue = hsv.h;
        let [r, g, b] = hsv.to_srgb();
        s.tools.fg = from32(egui::Color32::from_rgb(r, g, b));
    }
    ui.horizontal(|ui| {
        swatch(ui, to32(s.tools.fg), 28.0).on_hover_text("Foreground");
        if swatch(ui, to32(s.tools.bg), 20.0).on_hover_text("Background (click or X to swap)").clicked() {
            s.tools.swap_colors();
        }
        let id = ui.scope_id().with("hex");
        let mut text = ui.data(|d| d.get_temp::<String>(id)).unwrap_or_else(|| hex(s.tools.fg));
        let r = ui.add(egui::TextEdit::singleline(&mut text).desired_width(72.0));
        if r.changed() {
            if let Some(c) = parse_hex(&text) {
                s.tools.fg = c;
            }
            ui.data_mut(|d| d.insert_temp(id, text));
        } else if !r.has_focus() {
            ui.data_mut(|d| d.remove::<String>(id));
        }
    });
    if !s.tools.recent.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for c in s.tools.recent.clone() {
                if swatch(ui, to32(c), 16.0).on_hover_text(hex(c)).clicked() {
                    s.tools.fg = c;
                }
            }
        });
    }
    ui.label("Palette");
    ui.horizontal_wrapped(|ui| {
        let mut remove = None;
        for (i, rgb) in s.settings.palette.clone().into_iter().enumerate() {
            let c = egui::Color32::from_rgb(rgb[0], rgb[1], rgb[2]);
            let r = swatch(ui, c, 16.0).on_hover_text("click: use · right-click: remove");
            if r.clicked() {
                s.tools.fg = from32(c);
            }
            if r.secondary_clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            s.settings.palette.remove(i);
            s.save_settings();
        }
        if ui.small_button("+").on_hover_text("Add the foreground colour").clicked() {
            let c = to32(s.tools.fg);
            s.settings.palette.push([c.r(), c.g(), c.b()]);
            s.save_settings();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let c = parse_hex("#ff8000").unwrap();
        assert_eq!(hex(c), "#ff8000");
        assert_eq!(hex(parse_hex("0af").unwrap()), "#00aaff");
        assert!(parse_hex("#12345").is_none() && parse_hex("zzzzzz").is_none());
    }
}
