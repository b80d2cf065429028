//! Where Oekaki Studio keeps things on this system: one place, so settings, recovery copies, models and the
//! runtime cache all agree (`~/.config/oekaki-studio`, `~/.local/share/oekaki-studio`, `~/.cache/oekaki-studio`
//! on Linux).

use directories::ProjectDirs;

pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("org", "Oekaki", "oekaki-studio")
}
