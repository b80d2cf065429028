use std::collections::HashMap;
use std::sync::Arc;

use crate::geom::{Rect, TILE, TILE_PIXELS, TileKey, index_in_tile};

/// What a tile can hold.
pub trait Pixel: Copy + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    /// Bytes one pixel takes, for memory accounting.
    const BYTES: usize = std::mem::size_of::<Self>();
}
impl Pixel for [u8; 4] {}
impl Pixel for u8 {}
impl Pixel for u16 {}
impl Pixel for f32 {}

/// The pixels of one tile, row-major.
pub type TileData<P> = [P; TILE_PIXELS];
/// A shared tile.
pub type TileRef<P> = Arc<TileData<P>>;

/// A sparse, unbounded plane of pixels stored as copy-on-write tiles.
#[derive(Clone, Debug)]
pub struct Tiled<P: Pixel> {
    tiles: HashMap<TileKey, TileRef<P>>,
    default: P,
}

impl<P: Pixel> Tiled<P> {
    pub fn new(default: P) -> Self {
        Tiled { tiles: HashMap::new(), default }
    }

    /// The value of every pixel that has no tile.
    pub fn default_value(&self) -> P {
        self.default
    }

    pub fn get(&self, x: i32, y: i32) -> P {
        match self.tiles.get(&TileKey::of_pixel(x, y)) {
            Some(t) => t[index_in_tile(x, y)],
            None => self.default,
        }
    }

    pub fn set(&mut self, x: i32, y: i32, v: P) {
        let key = TileKey::of_pixel(x, y);
        if v == self.default && !self.tiles.contains_key(&key) {
            return;
        }
        self.tile_mut(key)[index_in_tile(x, y)] = v;
    }

    pub fn tile(&self, key: TileKey) -> Option<&TileRef<P>> {
        self.tiles.get(&key)
    }

    /// Mutable access to a tile, creating it from the default and un-sharing it if needed.
    pub fn tile_mut(&mut self, key: TileKey) -> &mut TileData<P> {
        let d = self.default;
        Arc::make_mut(self.tiles.entry(key).or_insert_with(|| Arc::new([d; TILE_PIXELS])))
    }

    /// Puts `tile` at `key` (or removes it with `None`) and returns what was there.
    pub fn swap_tile(&mut self, key: TileKey, tile: Option<TileRef<P>>) -> Option<TileRef<P>> {
        match tile {
            Some(t) => self.tiles.insert(key, t),
            None => self.tiles.remove(&key),
        }
    }

    /// Keys of the tiles that exist, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = TileKey> + '_ {
        self.tiles.keys().copied()
    }

    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Bytes held by tiles (shared tiles are counted once per surface).
    pub fn bytes(&self) -> usize {
        self.tiles.len() * TILE_PIXELS * P::BYTES
    }

    /// Bounds of the stored tiles (a superset of the non-default pixels).
    pub fn tile_bounds(&self) -> Rect {
        self.tiles.keys().fold(Rect::EMPTY, |r, k| r.union(&k.rect()))
    }

    /// Exact bounds of the pixels that differ from the default.
    pub fn content_bounds(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for (k, t) in &self.tiles {
            let (mut x0, mut y0, mut x1, mut y1) = (TILE, TILE, -1, -1);
            for (i, p) in t.iter().enumerate() {
                if *p != self.default {
                    let (x, y) = (i as i32 % TILE, i as i32 / TILE);
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
            if x1 >= 0 {
                let o = k.rect();
                r = r.union(&Rect::new(o.x0 + x0, o.y0 + y0, o.x0 + x1 + 1, o.y0 + y1 + 1));
            }
        }
        r
    }

    /// Drops tiles whose every pixel equals the default.
    pub fn prune(&mut self) {
        let d = self.default;
        self.tiles.retain(|_, t| t.iter().any(|p| *p != d));
    }

    /// Copies `rect` out, row-major.
    pub fn read_rect(&self, rect: Rect) -> Vec<P> {
        let w = rect.width() as usize;
        let mut out = vec![self.default; rect.area()];
        for key in rect.tiles() {
            let Some(t) = self.tiles.get(&key) else { continue };
            let part = key.rect().intersect(&rect);
            for y in part.y0..part.y1 {
                let src = index_in_tile(part.x0, y);
                let dst = (y - rect.y0) as usize * w + (part.x0 - rect.x0) as usize;
                let n = part.width() as usize;
                out[dst..dst + n].copy_from_slice(&t[src..src + n]);
            }
        }
        out
    }

    /// Writes a row-major buffer of `rect`'s size into the surface; tiles left all-default are not created.
    pub fn write_rect(&mut self, rect: Rect, data: &[P]) {
        let w = rect.width() as usize;
        if data.len() != rect.area() {
            return;
        }
        for key in rect.tiles() {
            let part = key.rect().intersect(&rect);
            let rows = || (part.y0..part.y1).map(|y| (y - rect.y0) as usize * w + (part.x0 - rect.x0) as usize);
            let n = part.width() as usize;
            if !self.tiles.contains_key(&key) && rows().all(|s| data[s..s + n].iter().all(|p| *p == self.default)) {
                continue;
            }
            let tile = self.tile_mut(key);
            for (y, s) in (part.y0..part.y1).zip(rows()) {
                let dst = index_in_tile(part.x0, y);
                tile[dst..dst + n].copy_from_slice(&data[s..s + n]);
            }
        }
    }

    /// A surface holding `data` (row-major, `w`×`h`) with its top-left corner at `(x, y)`.
    pub fn from_buffer(default: P, x: i32, y: i32, w: u32, h: u32, data: &[P]) -> Self {
        let mut s = Tiled::new(default);
        s.write_rect(Rect::from_xywh(x, y, w as i32, h as i32), data);
        s
    }

    /// The same content moved by whole pixels.
    pub fn translated(&self, dx: i32, dy: i32) -> Self {
        if dx.rem_euclid(TILE) == 0 && dy.rem_euclid(TILE) == 0 {
            let (tx, ty) = (dx / TILE, dy / TILE);
            let tiles = self.tiles.iter().map(|(k, t)| (TileKey { tx: k.tx + tx, ty: k.ty + ty }, t.clone())).collect();
            return Tiled { tiles, default: self.default };
        }
        let mut out = Tiled::new(self.default);
        for (k, _) in self.tiles.iter() {
            let r = k.rect();
            let data = self.read_rect(r);
            out.write_rect(r.translate(dx, dy), &data);
        }
        out
    }

    /// Pixel-wise equality, treating a missing tile and an all-default tile as the same.
    pub fn same_pixels(&self, other: &Self) -> bool {
        if self.default != other.default {
            return false;
        }
        let all_default = |t: &TileRef<P>| t.iter().all(|p| *p == self.default);
        self.tiles.iter().all(|(k, t)| match other.tiles.get(k) {
            Some(o) => Arc::ptr_eq(t, o) || t[..] == o[..],
            None => all_default(t),
        }) && other.tiles.iter().all(|(k, t)| self.tiles.contains_key(k) || all_default(t))
    }

    /// Tiles that are not the very same allocation in both (present in one only, or replaced): what an edit
    /// between the two touched.
    pub fn changed_tiles(&self, other: &Self) -> Vec<TileKey> {
        let mut keys: Vec<TileKey> = self
            .tiles
            .iter()
            .filter(|(k, t)| other.tiles.get(*k).is_none_or(|o| !Arc::ptr_eq(t, o)))
            .map(|(k, _)| *k)
            .collect();
        keys.extend(other.tiles.keys().filter(|k| !self.tiles.contains_key(*k)));
        keys
    }

    /// Whether every tile in `self` is the very same allocation in `other` (cheap identity check).
    pub fn shares_all_tiles_with(&self, other: &Self) -> bool {
        self.tiles.len() == other.tiles.len()
            && self.tiles.iter().all(|(k, t)| other.tiles.get(k).is_some_and(|o| Arc::ptr_eq(t, o)))
    }
}

impl<P: Pixel> PartialEq for Tiled<P> {
    fn eq(&self, other: &Self) -> bool {
        self.same_pixels(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_large_surface_is_tiny_and_reads_default() {
        let s: Tiled<[u8; 4]> = Tiled::new([0; 4]);
        assert_eq!(s.get(8191, 8191), [0; 4]);
        assert_eq!(s.bytes(), 0);
        assert!(std::mem::size_of_val(&s) < 1024);
    }

    #[test]
    fn copy_on_write_keeps_the_clone() {
        let mut a: Tiled<u8> = Tiled::new(0);
        a.set(3, 4, 9);
        let b = a.clone();
        a.set(3, 4, 200);
        assert_eq!(b.get(3, 4), 9);
        assert_eq!(a.get(3, 4), 200);
    }

    #[test]
    fn read_write_and_translate_round_trip() {
        let data: Vec<u8> = (0..100 * 70).map(|i| (i % 251) as u8 + 1).collect();
        let r = Rect::from_xywh(-30, 10, 100, 70);
        let s = Tiled::from_buffer(0u8, -30, 10, 100, 70, &data);
        assert_eq!(s.read_rect(r), data);
        assert_eq!(s.content_bounds(), r);
        let t = s.translated(7, -3);
        assert_eq!(t.read_rect(r.translate(7, -3)), data);
        let u = s.translated(64, -128);
        assert_eq!(u.read_rect(r.translate(64, -128)), data);
        assert!(t.translated(-7, 3).same_pixels(&s));
    }
}
