//! Explicit limits for every decoder, so a decompression bomb is a clear error.

use crate::doc::MAX_CANVAS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height of an image or canvas.
    pub max_side: u32,
    /// Most bytes one decoded image may take.
    pub max_alloc: u64,
    /// Most entries in an archive (OpenRaster).
    pub max_entries: usize,
    /// Most bytes all archive entries may decompress to together.
    pub max_archive_bytes: u64,
    /// Most bytes of an archive or image file read from disk.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    /// Fits a 16384² canvas: 1 GiB per decoded image, 4 GiB of archive content, 4096 entries.
    fn default() -> Self {
        Limits {
            max_side: MAX_CANVAS,
            max_alloc: 1 << 30,
            max_entries: 4096,
            max_archive_bytes: 4 << 30,
            max_file_bytes: 4 << 30,
        }
    }
}

impl Limits {
    pub fn to_image_limits(self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        l.max_alloc = Some(self.max_alloc);
        l
    }
}
