//! Crash recovery: recovery copies written in the background to the user data folder, at most once per
//! interval, and listed at start-up so nothing painted is lost.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{IoError, Result, atomic::write_atomic, ora};
use crate::doc::Document;

/// Default time between two recovery copies of the same document.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// What is known about a recovery copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recoverable {
    pub id: String,
    /// The document file it belongs to, if it was ever saved.
    pub source: Option<PathBuf>,
    /// Seconds since the Unix epoch.
    pub saved_at: u64,
    pub width: u32,
    pub height: u32,
    #[serde(skip)]
    pub path: PathBuf,
}

/// The folder of recovery copies.
#[derive(Clone, Debug)]
pub struct RecoveryStore {
    dir: PathBuf,
}

impl RecoveryStore {
    /// `<user data dir>/recovery`, e.g. `~/.local/share/oekaki-studio/recovery` on Linux.
    pub fn default_location() -> Option<RecoveryStore> {
        let dirs = crate::paths::project_dirs()?;
        Some(RecoveryStore { dir: dirs.data_dir().join("recovery") })
    }

    pub fn at(dir: impl Into<PathBuf>) -> RecoveryStore {
        RecoveryStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh id for a newly opened document.
    pub fn new_id() -> String {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{t:x}-{}-{n}", std::process::id())
    }

    fn files(&self, id: &str) -> (PathBuf, PathBuf) {
        (self.dir.join(format!("{id}.ora")), self.dir.join(format!("{id}.json")))
    }

    /// Writes a recovery copy atomically (the document first, then its description).
    pub fn save(&self, id: &str, doc: &Document, source: Option<&Path>) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| IoError::Write { path: self.dir.clone(), source })?;
        let (ora_path, meta_path) = self.files(id);
        write_atomic(&ora_path, &ora::write(doc)?, false)?;
        let meta = Recoverable {
            id: id.to_string(),
            source: source.map(Path::to_path_buf),
            saved_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            width: doc.width,
            height: doc.height,
            path: ora_path,
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| IoError::Encode(e.to_string()))?;
        write_atomic(&meta_path, &json, false)
    }

    /// Recovery copies on disk, newest first; broken or half-written ones are skipped.
    pub fn list(&self) -> Vec<Recoverable> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out: Vec<Recoverable> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                let mut r: Recoverable = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
                r.path = self.files(&r.id).0;
                (r.path.is_file() && e.path() == self.files(&r.id).1).then_some(r)
            })
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.saved_at));
        out
    }

    /// Removes a recovery copy (after a successful save or when the artist discards it).
    pub fn discard(&self, id: &str) {
        let (a, b) = self.files(id);
        let _ = std::fs::remove_file(b);
        let _ = std::fs::remove_file(a);
    }
}

enum Msg {
    Changed(Box<Document>, Option<PathBuf>),
    Flush(Sender<Result<()>>),
}

/// Writes recovery copies of one document on a background thread, at most once per interval.
pub struct Autosaver {
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
    id: String,
}

impl Autosaver {
    pub fn start(store: RecoveryStore, id: String, interval: Duration) -> Autosaver {
        let (tx, rx) = mpsc::channel::<Msg>();
        let thread_id = id.clone();
        let thread = std::thread::Builder::new()
            .name("autosave".into())
            .spawn(move || {
                let mut pending: Option<(Box<Document>, Option<PathBuf>)> = None;
                let mut last = Instant::now();
                loop {
                    let wait = interval.saturating_sub(last.elapsed());
                    let msg = if pending.is_some() {
                        rx.recv_timeout(wait)
                    } else {
                        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    };
                    match msg {
                        Ok(Msg::Changed(doc, src)) => pending = Some((doc, src)),
                        Ok(Msg::Flush(reply)) => {
                            let r = pending.take().map_or(Ok(()), |(d, s)| store.save(&thread_id, &d, s.as_deref()));
                            last = Instant::now();
                            let _ = reply.send(r);
                            continue;
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if last.elapsed() >= interval
                        && let Some((d, s)) = pending.take()
                    {
                        // A failed autosave is retried with the next change; painting goes on.
                        let _ = store.save(&thread_id, &d, s.as_deref());
                        last = Instant::now();
                    }
                }
            })
            .ok();
        Autosaver { tx: thread.as_ref().map(|_| tx), thread, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Hands over a snapshot after a change. Cloning a document shares its tiles, so this is cheap.
    pub fn changed(&self, doc: &Document, source: Option<&Path>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Changed(Box::new(doc.clone()), source.map(Path::to_path_buf)));
        }
    }

    /// Writes any pending snapshot now and waits for it.
    pub fn flush(&self) -> Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        let (rtx, rrx) = mpsc::channel();
        if tx.send(Msg::Flush(rtx)).is_err() {
            return Ok(());
        }
        rrx.recv().unwrap_or(Ok(()))
    }
}

impl Drop for Autosaver {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
