//! Integer rectangles and tile coordinates shared by every layer of the core.

/// Side of a square tile in pixels. Krita and MyPaint use 64 too.
pub const TILE: i32 = 64;
/// Pixels in one tile.
pub const TILE_PIXELS: usize = (TILE * TILE) as usize;

/// Half-open pixel rectangle `[x0, x1) × [y0, y1)`. Empty when either side is non-positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub const EMPTY: Rect = Rect { x0: 0, y0: 0, x1: 0, y1: 0 };

    pub fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> Rect {
        Rect { x0, y0, x1, y1 }
    }

    pub fn from_xywh(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect::new(x, y, x.saturating_add(w), y.saturating_add(h))
    }

    pub fn width(&self) -> i32 {
        (self.x1 - self.x0).max(0)
    }

    pub fn height(&self) -> i32 {
        (self.y1 - self.y0).max(0)
    }

    pub fn area(&self) -> usize {
        self.width() as usize * self.height() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }

    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }

    pub fn intersect(&self, o: &Rect) -> Rect {
        let r = Rect::new(self.x0.max(o.x0), self.y0.max(o.y0), self.x1.min(o.x1), self.y1.min(o.y1));
        if r.is_empty() { Rect::EMPTY } else { r }
    }

    /// Smallest rectangle holding both; an empty side is ignored.
    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        Rect::new(self.x0.min(o.x0), self.y0.min(o.y0), self.x1.max(o.x1), self.y1.max(o.y1))
    }

    pub fn inflate(&self, by: i32) -> Rect {
        if self.is_empty() {
            return *self;
        }
        Rect::new(self.x0 - by, self.y0 - by, self.x1 + by, self.y1 + by)
    }

    pub fn translate(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)
    }

    /// Keys of every tile this rectangle touches.
    pub fn tiles(&self) -> impl Iterator<Item = TileKey> + use<> {
        let (tx0, ty0, tx1, ty1) = if self.is_empty() {
            (0, 0, 0, 0)
        } else {
            (
                self.x0.div_euclid(TILE),
                self.y0.div_euclid(TILE),
                (self.x1 - 1).div_euclid(TILE) + 1,
                (self.y1 - 1).div_euclid(TILE) + 1,
            )
        };
        (ty0..ty1).flat_map(move |ty| (tx0..tx1).map(move |tx| TileKey { tx, ty }))
    }
}

/// Address of a 64×64 tile: tile `(tx, ty)` covers pixels `tx*64 .. tx*64+64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    pub tx: i32,
    pub ty: i32,
}

impl TileKey {
    pub fn of_pixel(x: i32, y: i32) -> TileKey {
        TileKey { tx: x.div_euclid(TILE), ty: y.div_euclid(TILE) }
    }

    pub fn rect(&self) -> Rect {
        Rect::from_xywh(self.tx * TILE, self.ty * TILE, TILE, TILE)
    }
}

/// Index of pixel `(x, y)` inside its tile.
#[inline]
pub fn index_in_tile(x: i32, y: i32) -> usize {
    (y.rem_euclid(TILE) * TILE + x.rem_euclid(TILE)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_negative_and_partial_rects() {
        let keys: Vec<_> = Rect::new(-1, 0, 65, 10).tiles().collect();
        assert_eq!(keys, vec![TileKey { tx: -1, ty: 0 }, TileKey { tx: 0, ty: 0 }, TileKey { tx: 1, ty: 0 }]);
        assert_eq!(Rect::EMPTY.tiles().count(), 0);
        assert_eq!(index_in_tile(-1, -1), 4095);
    }

    #[test]
    fn union_and_intersection() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 20, 20);
        assert_eq!(a.intersect(&b), Rect::new(5, 5, 10, 10));
        assert_eq!(a.union(&b), Rect::new(0, 0, 20, 20));
        assert!(a.intersect(&Rect::new(10, 0, 11, 1)).is_empty());
        assert_eq!(Rect::EMPTY.union(&a), a);
    }
}
