//! Pen tablets. Windows hands pen pressure to winit, which egui passes on as touch force (Windows Ink). On Wayland
//! winit sees no tablet at all and the compositor stops emulating a mouse once a client binds the tablet protocol,
//! so octotablet reads that protocol and [`PenTranslator`] turns its events into the egui events the canvas
//! already understands (pointer moves and presses, with a touch force just before each). X11 and macOS deliver
//! no pressure to us: [`PenSupport`] says so in the brush options instead of painting flat in silence.

use std::time::Duration;

use eframe::egui;
use raw_window_handle::{HasDisplayHandle, HasWindowHandle, RawDisplayHandle};

/// How this window gets pen pressure, or why it gets none.
#[derive(Debug, Clone, PartialEq)]
pub enum PenSupport {
    /// The platform reports pen pressure as touch force (Windows Ink through winit).
    TouchForce,
    /// The Wayland tablet protocol, read through octotablet.
    WaylandTablet,
    /// No pressure on this platform; the reason, for the brush options.
    Unavailable(String),
}

impl PenSupport {
    /// One line for the brush options.
    pub fn describe(&self) -> String {
        match self {
            PenSupport::TouchForce => "Pen pressure: Windows Ink".into(),
            PenSupport::WaylandTablet => {
                "Pen pressure: Wayland tablet protocol (where the compositor offers it)".into()
            }
            PenSupport::Unavailable(why) => format!("No pen pressure here: {why}. Strokes use full pressure."),
        }
    }
}

/// What one tablet tool did, independent of the backend, so the translation is tested without hardware.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PenEvent {
    /// The tip touched the tablet. Wayland sends this before the frame's position, so the press waits for it.
    Down,
    /// Position in logical window pixels; pressure 0–1 when the tool has a pressure axis.
    Pose { pos: [f32; 2], pressure: Option<f32> },
    /// The end of one hardware report.
    Frame,
    /// The tip left the tablet.
    Up,
    /// The tool left proximity (or was unplugged).
    Out,
    /// A barrel button: 0 is the first one the pen reported, 1 the second.
    Button { index: usize, pressed: bool },
}

/// Turns [`PenEvent`]s into egui pointer and touch events, keeping a stroke whole: a press waits for its
/// position, and a pen that leaves proximity while down is released first.
#[derive(Debug, Default)]
pub struct PenTranslator {
    pos: Option<egui::Pos2>,
    pressure: Option<f32>,
    down: bool,
    press_pending: bool,
    in_proximity: bool,
}

/// The touch device id the pen's force events carry (egui uses it only to tell devices apart).
const PEN_DEVICE: egui::TouchDeviceId = egui::TouchDeviceId(0x70_656e);

impl PenTranslator {
    /// Whether a tool is near the tablet (the window then repaints every frame to follow it).
    pub fn in_proximity(&self) -> bool {
        self.in_proximity
    }

    /// Appends the egui events for one pen event. `scale` turns logical window pixels into egui points
    /// (1 / the UI zoom factor).
    pub fn translate(&mut self, event: PenEvent, scale: f32, modifiers: egui::Modifiers, out: &mut Vec<egui::Event>) {
        match event {
            PenEvent::Pose { pos, pressure } => {
                self.in_proximity = true;
                let pos = egui::pos2(pos[0] * scale, pos[1] * scale);
                self.pos = Some(pos);
                self.pressure = pressure.map(|p| p.clamp(0.0, 1.0));
                if self.press_pending {
                    self.press(modifiers, out);
                } else {
                    if self.down {
                        self.touch(egui::TouchPhase::Move, out);
                    }
                    out.push(egui::Event::PointerMoved(pos));
                }
            }
            PenEvent::Down => {
                self.in_proximity = true;
                if !self.down {
                    self.press_pending = true;
                }
            }
            PenEvent::Frame => {
                if self.press_pending && self.pos.is_some() {
                    self.press(modifiers, out);
                }
            }
            PenEvent::Up => self.release(modifiers, out),
            // With the tablet protocol bound, the compositor sends no mouse clicks for the pen's buttons:
            // the first acts as the right button, the second as the middle one (pan), as tablet drivers set them.
            PenEvent::Button { index, pressed } => {
                let button = if index == 0 { egui::PointerButton::Secondary } else { egui::PointerButton::Middle };
                if let Some(pos) = self.pos {
                    out.push(egui::Event::PointerButton { pos, button, pressed, modifiers });
                }
            }
            PenEvent::Out => {
                self.release(modifiers, out);
                self.in_proximity = false;
                self.pos = None;
                out.push(egui::Event::PointerGone);
            }
        }
    }

    fn touch(&self, phase: egui::TouchPhase, out: &mut Vec<egui::Event>) {
        if let (Some(pos), Some(force)) = (self.pos, self.pressure) {
            out.push(egui::Event::Touch {
                device_id: PEN_DEVICE,
                id: egui::TouchId(0),
                phase,
                pos,
                force: Some(force),
            });
        }
    }

    fn press(&mut self, modifiers: egui::Modifiers, out: &mut Vec<egui::Event>) {
        self.press_pending = false;
        let Some(pos) = self.pos else { return };
        self.down = true;
        self.touch(egui::TouchPhase::Start, out);
        out.push(egui::Event::PointerMoved(pos));
        out.push(egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: true, modifiers });
    }

    fn release(&mut self, modifiers: egui::Modifiers, out: &mut Vec<egui::Event>) {
        self.press_pending = false;
        if !self.down {
            return;
        }
        self.down = false;
        let Some(pos) = self.pos else { return };
        self.touch(egui::TouchPhase::End, out);
        out.push(egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed: false, modifiers });
    }
}

/// The window's connection to the tablet server, where there is one.
#[derive(Default)]
pub struct PenTablet {
    manager: Option<octotablet::Manager>,
    support: Option<PenSupport>,
    translator: PenTranslator,
    events: Vec<PenEvent>,
    /// Barrel buttons in the order they were first pressed.
    buttons: Vec<octotablet::tool::ButtonID>,
}

impl PenTablet {
    /// Connects to the tablet server of the window's display (Wayland), or records why pressure comes from
    /// elsewhere or not at all.
    pub fn connect(window: &(impl HasDisplayHandle + HasWindowHandle)) -> PenTablet {
        let raw = match window.display_handle() {
            Ok(h) => h.as_raw(),
            Err(e) => return PenTablet::unavailable(format!("the window gave no display handle ({e})")),
        };
        let support = match raw {
            RawDisplayHandle::Windows(_) => PenSupport::TouchForce,
            RawDisplayHandle::Wayland(_) => {
                // SAFETY: octotablet keeps the raw Wayland display pointer. The studio drops the manager in
                // `on_exit` (see `disconnect`), before eframe closes the window and its display connection.
                match unsafe { octotablet::Builder::new().build_raw(window) } {
                    Ok(manager) => {
                        return PenTablet {
                            manager: Some(manager),
                            support: Some(PenSupport::WaylandTablet),
                            ..Default::default()
                        };
                    }
                    Err(e) => {
                        PenSupport::Unavailable(format!("the Wayland compositor offers no tablet protocol ({e})"))
                    }
                }
            }
            RawDisplayHandle::Xlib(_) | RawDisplayHandle::Xcb(_) => {
                PenSupport::Unavailable("X11 reports no pen pressure to the studio; a Wayland session does".into())
            }
            RawDisplayHandle::AppKit(_) => PenSupport::Unavailable("macOS pen pressure is not read yet".into()),
            other => PenSupport::Unavailable(format!("this windowing system ({other:?}) is not covered")),
        };
        PenTablet { support: Some(support), ..Default::default() }
    }

    fn unavailable(why: String) -> PenTablet {
        PenTablet { support: Some(PenSupport::Unavailable(why)), ..Default::default() }
    }

    /// How pressure reaches the studio; `None` before a window was attached (headless tests).
    pub fn support(&self) -> Option<&PenSupport> {
        self.support.as_ref()
    }

    /// Reads what the tablet reported since the last frame into this frame's input, ahead of egui.
    pub fn pump(&mut self, ctx: &egui::Context, input: &mut egui::RawInput) {
        let Some(manager) = self.manager.as_mut() else { return };
        self.events.clear();
        let buttons = &mut self.buttons;
        let failed = match manager.pump() {
            Ok(events) => {
                self.events.extend(events.into_iter().filter_map(|e| pen_event(e, buttons)));
                None
            }
            Err(e) => Some(e.to_string()),
        };
        let connected = !manager.tablets().is_empty();
        if let Some(e) = failed {
            // A stroke in progress still ends.
            self.events.push(PenEvent::Out);
            self.manager = None;
            self.support = Some(PenSupport::Unavailable(format!("the tablet connection failed ({e})")));
        }
        let scale = 1.0 / ctx.zoom_factor();
        let modifiers = ctx.input(|i| i.modifiers);
        for &e in &self.events {
            self.translator.translate(e, scale, modifiers, &mut input.events);
        }
        // The tablet's events do not wake eframe: poll every frame while a pen is near, a few times a second
        // while a tablet is plugged in, and once a second otherwise (to notice one being plugged in).
        if self.translator.in_proximity() || !self.events.is_empty() {
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(Duration::from_millis(if connected { 200 } else { 1000 }));
        }
    }

    /// Drops the connection while the display is still alive.
    pub fn disconnect(&mut self) {
        self.manager = None;
    }
}

fn pen_event(e: octotablet::events::Event<'_>, buttons: &mut Vec<octotablet::tool::ButtonID>) -> Option<PenEvent> {
    use octotablet::events::{Event, ToolEvent};
    let Event::Tool { event, .. } = e else { return None };
    Some(match event {
        ToolEvent::Button { button_id, pressed } => {
            let index = buttons.iter().position(|b| *b == button_id).unwrap_or_else(|| {
                buttons.push(button_id);
                buttons.len() - 1
            });
            PenEvent::Button { index, pressed }
        }
        ToolEvent::Down => PenEvent::Down,
        ToolEvent::Pose(p) => PenEvent::Pose { pos: p.position, pressure: p.pressure.get() },
        ToolEvent::Frame(_) => PenEvent::Frame,
        ToolEvent::Up => PenEvent::Up,
        ToolEvent::Out | ToolEvent::Removed => PenEvent::Out,
        ToolEvent::In { .. } | ToolEvent::Added => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[PenEvent], scale: f32) -> Vec<egui::Event> {
        let mut t = PenTranslator::default();
        let mut out = Vec::new();
        for &e in events {
            t.translate(e, scale, egui::Modifiers::NONE, &mut out);
        }
        out
    }

    fn pose(x: f32, y: f32, p: f32) -> PenEvent {
        PenEvent::Pose { pos: [x, y], pressure: Some(p) }
    }

    fn presses(out: &[egui::Event]) -> Vec<(bool, egui::Pos2)> {
        out.iter()
            .filter_map(|e| match e {
                egui::Event::PointerButton { pressed, pos, .. } => Some((*pressed, *pos)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_press_waits_for_the_position_of_its_frame_and_carries_its_force() {
        let out =
            run(&[pose(10.0, 10.0, 0.0), PenEvent::Frame, PenEvent::Down, pose(12.0, 14.0, 0.4), PenEvent::Frame], 0.5);
        assert_eq!(presses(&out), [(true, egui::pos2(6.0, 7.0))], "logical pixels scaled to points");
        let i = out.iter().position(|e| matches!(e, egui::Event::PointerButton { .. })).unwrap();
        assert!(
            out[..i].iter().any(
                |e| matches!(e, egui::Event::Touch { force: Some(f), phase: egui::TouchPhase::Start, .. } if *f == 0.4)
            ),
            "the force comes before the press: {out:?}"
        );
    }

    #[test]
    fn moves_while_down_carry_pressure_and_up_releases_where_the_pen_was() {
        let out = run(&[PenEvent::Down, pose(0.0, 0.0, 0.2), pose(5.0, 0.0, 0.9), PenEvent::Up], 1.0);
        let forces: Vec<f32> = out
            .iter()
            .filter_map(|e| match e {
                egui::Event::Touch { force, .. } => *force,
                _ => None,
            })
            .collect();
        assert_eq!(forces, [0.2, 0.9, 0.9], "start, move, end");
        assert_eq!(presses(&out), [(true, egui::pos2(0.0, 0.0)), (false, egui::pos2(5.0, 0.0))]);
    }

    #[test]
    fn hover_moves_the_pointer_without_touching() {
        let out = run(&[pose(3.0, 4.0, 0.0), PenEvent::Frame, pose(4.0, 4.0, 0.0)], 1.0);
        assert!(out.iter().all(|e| matches!(e, egui::Event::PointerMoved(_))), "{out:?}");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn leaving_proximity_while_down_still_ends_the_stroke() {
        let mut t = PenTranslator::default();
        let mut out = Vec::new();
        for e in [PenEvent::Down, pose(1.0, 1.0, 0.5), PenEvent::Out] {
            t.translate(e, 1.0, egui::Modifiers::NONE, &mut out);
        }
        assert_eq!(presses(&out), [(true, egui::pos2(1.0, 1.0)), (false, egui::pos2(1.0, 1.0))]);
        assert!(matches!(out.last(), Some(egui::Event::PointerGone)));
        assert!(!t.in_proximity());
    }

    #[test]
    fn a_tool_without_pressure_sends_no_force() {
        let out = run(&[PenEvent::Down, PenEvent::Pose { pos: [2.0, 2.0], pressure: None }, PenEvent::Up], 1.0);
        assert!(!out.iter().any(|e| matches!(e, egui::Event::Touch { .. })), "{out:?}");
        assert_eq!(presses(&out).len(), 2);
    }

    #[test]
    fn barrel_buttons_click_right_and_middle_where_the_pen_is() {
        let out = run(
            &[
                pose(7.0, 8.0, 0.0),
                PenEvent::Button { index: 0, pressed: true },
                PenEvent::Button { index: 1, pressed: true },
            ],
            1.0,
        );
        let buttons: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                egui::Event::PointerButton { button, pos, .. } => Some((*button, *pos)),
                _ => None,
            })
            .collect();
        let at = egui::pos2(7.0, 8.0);
        assert_eq!(buttons, [(egui::PointerButton::Secondary, at), (egui::PointerButton::Middle, at)]);
    }

    #[test]
    fn an_up_without_a_down_does_nothing() {
        assert!(run(&[PenEvent::Up], 1.0).is_empty());
    }
}
