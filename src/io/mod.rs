//! Files: raster images, OpenRaster documents, PNG generation parameters, autosave and atomic writes.
//! Every reader takes explicit [`Limits`], so a hostile file is a clear error instead of a crash.

pub mod atomic;
pub mod autosave;
pub mod limits;
pub mod ora;
pub mod params;
pub mod png_text;
pub mod raster_file;

pub use limits::Limits;

use std::path::PathBuf;

/// Everything that can go wrong reading or writing a file. Messages are one line, meant for the artist.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    #[error("the image is {width}×{height}, larger than the {max}×{max} limit")]
    TooLarge { width: u64, height: u64, max: u32 },
    #[error("the file would need more than {limit_mb} MB of memory to open")]
    TooMuchMemory { limit_mb: u64 },
    #[error("corrupt or truncated image: {0}")]
    Decode(String),
    #[error("cannot encode image: {0}")]
    Encode(String),
    #[error("not a valid OpenRaster file: {0}")]
    Ora(String),
    #[error("{0}")]
    Document(#[from] crate::doc::DocError),
}

pub type Result<T> = std::result::Result<T, IoError>;

/// Opens any supported file by extension (ORA, PNG, JPEG, WebP).
pub fn open_path(path: &std::path::Path, limits: Limits) -> Result<crate::doc::Document> {
    open_path_with_warnings(path, limits).map(|(doc, _)| doc)
}

/// Like [`open_path`], also returning what could not be kept exactly, one line each.
pub fn open_path_with_warnings(path: &std::path::Path, limits: Limits) -> Result<(crate::doc::Document, Vec<String>)> {
    use raster_file::FileKind;
    let kind = FileKind::from_path(path)?;
    let size = std::fs::metadata(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?.len();
    if size > limits.max_file_bytes {
        return Err(IoError::TooMuchMemory { limit_mb: limits.max_file_bytes >> 20 });
    }
    let bytes = std::fs::read(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
    match kind {
        FileKind::Ora => ora::read_with_warnings(&bytes, limits),
        _ => {
            let name = path.file_stem().map_or("Background".into(), |s| s.to_string_lossy().into_owned());
            Ok((raster_file::open_image(&bytes, &name, limits)?, Vec::new()))
        }
    }
}

/// Saves or exports by extension with an atomic write; ORA keeps layers, the others are flattened.
pub fn save_path(doc: &crate::doc::Document, path: &std::path::Path) -> Result<()> {
    use raster_file::FileKind;
    let bytes = match FileKind::from_path(path)? {
        FileKind::Ora => ora::write(doc)?,
        kind => raster_file::export_image(doc, kind)?,
    };
    atomic::write_atomic(path, &bytes, true)
}
