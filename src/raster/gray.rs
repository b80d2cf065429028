//! A dense 8-bit buffer over a rectangle: the working form of masks while shapes, flood fills and
//! morphology run, before the result goes back into a sparse [`super::Mask`].

use super::Mask;
use crate::geom::Rect;

#[derive(Clone, Debug, PartialEq)]
pub struct GrayBuf {
    /// The canvas area this buffer covers.
    pub rect: Rect,
    /// Row-major, `rect.width() × rect.height()` values.
    pub data: Vec<u8>,
}

impl GrayBuf {
    pub fn new(rect: Rect, fill: u8) -> GrayBuf {
        GrayBuf { rect, data: vec![fill; rect.area()] }
    }

    pub fn width(&self) -> usize {
        self.rect.width() as usize
    }

    pub fn height(&self) -> usize {
        self.rect.height() as usize
    }

    /// Value at canvas coordinates; 0 outside.
    pub fn get(&self, x: i32, y: i32) -> u8 {
        if !self.rect.contains(x, y) {
            return 0;
        }
        self.data[(y - self.rect.y0) as usize * self.width() + (x - self.rect.x0) as usize]
    }

    /// Copies a mask's pixels over `rect`.
    pub fn from_mask(mask: &Mask, rect: Rect) -> GrayBuf {
        GrayBuf { rect, data: mask.read_rect(rect) }
    }

    /// Writes this buffer into a mask (outside `rect` the mask is untouched).
    pub fn write_into(&self, mask: &mut Mask) {
        mask.write_rect(self.rect, &self.data);
    }

    /// Bounds of the non-zero values.
    pub fn content_bounds(&self) -> Rect {
        let w = self.width();
        let mut r = Rect::EMPTY;
        for (row, line) in self.data.chunks_exact(w.max(1)).enumerate() {
            if let (Some(a), Some(b)) = (line.iter().position(|v| *v != 0), line.iter().rposition(|v| *v != 0)) {
                let y = self.rect.y0 + row as i32;
                r = r.union(&Rect::new(self.rect.x0 + a as i32, y, self.rect.x0 + b as i32 + 1, y + 1));
            }
        }
        r
    }
}
