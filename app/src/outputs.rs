//! The command line's output files: checked before any work starts (so a typo in `--out` fails at once, not
//! after a long generation), and written atomically, so a failed run leaves what was there before.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// `path` can take an output of one of `extensions` (lower case): the extension fits, the folder exists, and
/// the path is not a folder.
pub fn check(path: &Path, extensions: &[&str]) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !ext.as_deref().is_some_and(|e| extensions.contains(&e)) {
        let list = extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ");
        bail!("{}: the output must be a {list} file", path.display());
    }
    check_place(path)
}

/// `path` can be written: its folder exists and it is not a folder itself.
pub fn check_place(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a folder", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("cannot write {}: there is no folder {}", path.display(), dir.display());
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    oekaki::io::atomic::write_atomic(path, bytes, false).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the `--timings` report (if asked for) and then the main output, so that a report that cannot be
/// written stops the run before the output exists; if the output then fails, the report is removed again.
pub fn write_with_report(report: Option<(&Path, String)>, main: impl FnOnce() -> Result<()>) -> Result<()> {
    if let Some((path, text)) = &report {
        write(path, text.as_bytes())?;
    }
    main().inspect_err(|_| {
        if let Some((path, _)) = &report {
            let _ = std::fs::remove_file(path);
        }
    })
}
