//! Settings that outlive a session (theme, UI scale, recent files, autosave interval, last-used brushes, the
//! palette), kept as JSON in the config dir from `directories` (`OEKAKI_CONFIG_DIR` overrides it, for tests and
//! portable installs). A damaged settings file is reported and replaced by defaults, never fatal.

use std::path::{Path, PathBuf};

use oekaki::paint::Brush;
use serde::{Deserialize, Serialize};

const FILE: &str = "settings.json";
const MAX_RECENT: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    Dark,
    Light,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: Theme,
    /// egui zoom factor, 0.5..=3.
    pub ui_scale: f32,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    pub autosave_seconds: u32,
    pub brush: Option<Brush>,
    pub eraser: Option<Brush>,
    /// The artist's own brush presets, shown after the built-in ones.
    pub custom_brushes: Vec<Brush>,
    /// sRGB swatches.
    pub palette: Vec<[u8; 3]>,
    pub ai_panel: bool,
    pub ai: super::ai::AiParams,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            theme: Theme::Dark,
            ui_scale: 1.0,
            recent: Vec::new(),
            autosave_seconds: 60,
            brush: None,
            custom_brushes: Vec::new(),
            eraser: None,
            palette: DEFAULT_PALETTE.to_vec(),
            ai_panel: true,
            ai: Default::default(),
        }
    }
}

/// A small skin-tone-friendly starter palette.
const DEFAULT_PALETTE: [[u8; 3]; 16] = [
    [0, 0, 0],
    [64, 64, 64],
    [128, 128, 128],
    [255, 255, 255],
    [255, 228, 210],
    [245, 196, 170],
    [205, 140, 115],
    [120, 72, 60],
    [220, 40, 60],
    [250, 140, 40],
    [250, 220, 80],
    [90, 180, 90],
    [60, 140, 220],
    [50, 60, 150],
    [150, 90, 200],
    [240, 150, 190],
];

impl Settings {
    /// The settings folder, if the platform has one.
    pub fn dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("OEKAKI_CONFIG_DIR") {
            return Some(PathBuf::from(d));
        }
        oekaki::paths::project_dirs().map(|p| p.config_dir().to_path_buf())
    }

    /// Loads settings; a missing file gives defaults, a damaged one defaults plus a one-line warning.
    pub fn load(dir: &Path) -> (Settings, Option<String>) {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Settings::default(), None),
            Err(e) => (Settings::default(), Some(format!("cannot read {}: {e}", path.display()))),
            Ok(text) => match serde_json::from_str::<Settings>(&text) {
                Ok(s) => (s.sanitized(), None),
                Err(e) => (Settings::default(), Some(format!("settings file {} ignored: {e}", path.display()))),
            },
        }
    }

    /// Writes the settings atomically (call off the UI thread).
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        oekaki::io::atomic::write_atomic(&dir.join(FILE), &text, false).map_err(|e| e.to_string())
    }

    /// Puts `path` first in the recent list.
    pub fn add_recent(&mut self, path: &Path) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_path_buf());
        self.recent.truncate(MAX_RECENT);
    }

    fn sanitized(mut self) -> Settings {
        if !(self.ui_scale.is_finite() && (0.5..=3.0).contains(&self.ui_scale)) {
            self.ui_scale = 1.0;
        }
        self.autosave_seconds = self.autosave_seconds.clamp(10, 3600);
        self.brush = self.brush.filter(|b| b.validate().is_ok());
        self.eraser = self.eraser.filter(|b| b.validate().is_ok());
        self.custom_brushes.retain(|b| b.validate().is_ok() && !b.name.trim().is_empty());
        self.recent.truncate(MAX_RECENT);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_damage_falls_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings { ui_scale: 1.25, theme: Theme::Light, ..Settings::default() };
        s.add_recent(Path::new("/a.ora"));
        s.add_recent(Path::new("/b.ora"));
        s.add_recent(Path::new("/a.ora"));
        assert_eq!(s.recent, vec![PathBuf::from("/a.ora"), PathBuf::from("/b.ora")]);
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), (s, None));
        std::fs::write(dir.path().join(FILE), "{ not json").unwrap();
        let (d, warning) = Settings::load(dir.path());
        assert_eq!(d, Settings::default());
        assert!(warning.unwrap().contains("ignored"));
        std::fs::write(dir.path().join(FILE), r#"{"ui_scale": 99, "autosave_seconds": 1}"#).unwrap();
        let (d, _) = Settings::load(dir.path());
        assert_eq!((d.ui_scale, d.autosave_seconds), (1.0, 10));
    }
}
