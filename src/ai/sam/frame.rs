//! Where an image lands in the encoder's input, and where the artist's clicks land with it.

/// How an image of `width`×`height` is laid into the encoder's square input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    /// The size the image is resized to before padding (SAM v1: long side = `side`, aspect kept; SAM2: `side`²).
    pub resized_width: usize,
    pub resized_height: usize,
    /// The encoder's square input side (1024 for every SAM).
    pub side: usize,
}

impl Frame {
    /// SAM v1 / MobileSAM (`ResizeLongestSide.get_preprocess_shape`): `scale = side / max(w, h)` and
    /// `int(size · scale + 0.5)`, in double precision as Python computes it.
    pub fn longest_side(width: usize, height: usize, side: usize) -> Frame {
        let scale = side as f64 / width.max(height) as f64;
        let resize = |v: usize| ((v as f64 * scale + 0.5) as usize).max(1);
        Frame { width, height, resized_width: resize(width), resized_height: resize(height), side }
    }

    /// SAM2: a plain resize to `side`×`side` (aspect not kept, no padding).
    pub fn stretched(width: usize, height: usize, side: usize) -> Frame {
        Frame { width, height, resized_width: side, resized_height: side, side }
    }

    /// EfficientSAM: the image goes in at its own size; clicks stay in image pixels.
    pub fn as_is(width: usize, height: usize, side: usize) -> Frame {
        Frame { width, height, resized_width: width, resized_height: height, side }
    }

    /// A point of the image (pixel units, x right, y down) in the resized frame, as `apply_coords`.
    pub fn to_model(&self, x: f32, y: f32) -> [f32; 2] {
        let sx = self.resized_width as f64 / self.width as f64;
        let sy = self.resized_height as f64 / self.height as f64;
        [(x as f64 * sx) as f32, (y as f64 * sy) as f32]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_side_becomes_1024_and_the_short_side_rounds_half_up() {
        let f = Frame::longest_side(331, 229, 1024);
        assert_eq!((f.resized_width, f.resized_height), (1024, 708)); // 229 · 1024/331 = 708.45
        let f = Frame::longest_side(229, 331, 1024);
        assert_eq!((f.resized_width, f.resized_height), (708, 1024));
        let f = Frame::longest_side(3, 2, 1024);
        assert_eq!((f.resized_width, f.resized_height), (1024, 683)); // 682.67
        let f = Frame::longest_side(2048, 1, 1024);
        assert_eq!((f.resized_width, f.resized_height), (1024, 1)); // 0.5 rounds up to 1
    }

    #[test]
    fn points_scale_per_axis_with_the_resized_size() {
        let f = Frame::longest_side(331, 229, 1024);
        let [x, y] = f.to_model(331.0, 229.0);
        assert!((x - 1024.0).abs() < 1e-4 && (y - 708.0).abs() < 1e-4, "{x} {y}");
        let [x, y] = f.to_model(165.5, 0.0);
        assert!((x - 512.0).abs() < 1e-4 && y == 0.0);
    }
}
