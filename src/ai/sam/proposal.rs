//! The decoder's answer: candidate masks (logits as the decoder gave them), their predicted IoU, and how
//! to bring a candidate to the image's size.
//!
//! The logits are kept at the decoder's low resolution where the family allows it. The studio's tint shows
//! them at most 1024 px wide (`preview`), and only the candidate applied (or written by the CLI) is scaled to
//! the full size: the graph's own resizes of every candidate to the image cost a fifth of a click.

/// How stored logits become logits at the image size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Upscale {
    /// Stored at the image size already (EfficientSAM, SAM v1 decoders without low-resolution output).
    None,
    /// One bilinear resize to the image (SAM2's `postprocess_masks`).
    Bilinear,
    /// SAM v1 (`Sam.postprocess_masks`): bilinear to the encoder's `side`², crop to the image's resized size
    /// in that frame, bilinear to the image.
    PaddedFrame { side: usize, crop_width: usize, crop_height: usize },
}

/// Candidate masks for one prompt.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The image's size (the frame the prompt was given in).
    pub width: usize,
    pub height: usize,
    /// Logits per candidate, row-major `logit_width`×`logit_height`; a pixel is inside where the logit is > 0.
    pub logits: Vec<Vec<f32>>,
    pub logit_width: usize,
    pub logit_height: usize,
    pub upscale: Upscale,
    /// Whether `logits` are the low-resolution masks a refinement click feeds back to the decoder.
    pub refinable: bool,
    /// Predicted IoU per candidate.
    pub scores: Vec<f32>,
    /// How many of the candidates (from the first) are the multimask ones (SAM's tokens 1–3).
    pub multimask: usize,
    /// The candidate SAM's demo shows: the single-mask token once there are three or more prompt points
    /// (box corners and the padding point count), else the multimask candidate with the best score.
    pub best: usize,
}

/// Longest side of `Proposal::preview`.
pub const PREVIEW_SIDE: usize = 1024;

impl Proposal {
    /// The demo's choice (`SamOnnxModel.select_masks`): `argmax(iou + (points − 2.5) · [1000, 0, 0, 0])`.
    pub fn pick_best(scores: &[f32], multimask: usize, single: Option<usize>, prompt_points: usize) -> usize {
        if let Some(single) = single
            && prompt_points >= 3
        {
            return single;
        }
        let pool = if multimask > 0 { &scores[..multimask] } else { scores };
        pool.iter().enumerate().fold(0, |best, (i, s)| if *s > pool[best] { i } else { best })
    }

    pub fn candidates(&self) -> usize {
        self.logits.len()
    }

    /// Candidate `i`'s low-resolution logits, to feed back when the artist refines it.
    pub fn low_res(&self, i: usize) -> Option<&[f32]> {
        self.logits.get(i).filter(|_| self.refinable).map(Vec::as_slice)
    }

    /// Candidate `i`'s logits at the image's size, scaled as the family's reference code scales them.
    pub fn image_logits(&self, i: usize) -> Option<Vec<f32>> {
        self.logits_at(i, self.width, self.height)
    }

    /// Candidate `i`'s logits brought to the image and then scaled to `to_width`×`to_height` in the same
    /// last bilinear step (so a document-sized mask is not resampled twice).
    pub fn logits_at(&self, i: usize, to_width: usize, to_height: usize) -> Option<Vec<f32>> {
        let m = self.logits.get(i)?;
        let (w, h) = (self.logit_width, self.logit_height);
        if m.len() != w * h || w == 0 || h == 0 || to_width == 0 || to_height == 0 {
            return None;
        }
        Some(match self.upscale {
            Upscale::None | Upscale::Bilinear => resize_logits(m, w, h, to_width, to_height),
            Upscale::PaddedFrame { side: 0, .. } => return None,
            Upscale::PaddedFrame { side, crop_width, crop_height } => {
                let (cw, ch) = (crop_width.clamp(1, side), crop_height.clamp(1, side));
                let framed = resize_logits_cropped(m, w, h, side, side, cw, ch);
                resize_logits(&framed, cw, ch, to_width, to_height)
            }
        })
    }

    /// Candidate `i` as an 8-bit mask at the image's size (255 inside).
    pub fn mask(&self, i: usize) -> Vec<u8> {
        self.image_logits(i).map(threshold).unwrap_or_default()
    }

    /// The size `preview` draws at: the image, shrunk to fit `PREVIEW_SIDE` (SAM v1: its frame's size, so the
    /// last resize is skipped).
    pub fn preview_size(&self) -> (usize, usize) {
        let long = self.width.max(self.height);
        if long <= PREVIEW_SIDE {
            return (self.width, self.height);
        }
        let f = super::Frame::longest_side(self.width, self.height, PREVIEW_SIDE);
        (f.resized_width, f.resized_height)
    }

    /// Candidate `i` as an 8-bit mask at `preview_size`, for showing it over the canvas.
    pub fn preview(&self, i: usize) -> Vec<u8> {
        let (w, h) = self.preview_size();
        self.logits_at(i, w, h).map(threshold).unwrap_or_default()
    }
}

fn threshold(logits: Vec<f32>) -> Vec<u8> {
    logits.into_iter().map(|v| if v > 0.0 { 255 } else { 0 }).collect()
}

/// Bilinear resize of a logit map (half-pixel centres, no antialiasing: `F.interpolate(mode="bilinear",
/// align_corners=False)`).
pub fn resize_logits(m: &[f32], w: usize, h: usize, to_w: usize, to_h: usize) -> Vec<f32> {
    if (w, h) == (to_w, to_h) {
        return m.to_vec();
    }
    resize_logits_cropped(m, w, h, to_w, to_h, to_w, to_h)
}

/// The top-left `out_w`×`out_h` of `resize_logits(m, w, h, to_w, to_h)`, without computing the rest:
/// rows first, then columns, each output pixel `lerp_y(lerp_x(top), lerp_x(bottom))`.
pub fn resize_logits_cropped(
    m: &[f32],
    w: usize,
    h: usize,
    to_w: usize,
    to_h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let axis = |o: usize, n: usize, to: usize| {
        let pos = ((o as f32 + 0.5) * n as f32 / to as f32 - 0.5).max(0.0);
        let i0 = (pos.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, pos - i0 as f32)
    };
    let (out_w, out_h) = (out_w.min(to_w), out_h.min(to_h));
    let xs: Vec<_> = (0..out_w).map(|x| axis(x, w, to_w)).collect();
    let ys: Vec<_> = (0..out_h).map(|y| axis(y, h, to_h)).collect();
    // Each source row the output reads, scaled along x once.
    let rows_used = ys.iter().map(|&(_, y1, _)| y1 + 1).max().unwrap_or(0);
    let mut rows = vec![0f32; rows_used * out_w];
    for (y, row) in rows.chunks_exact_mut(out_w.max(1)).enumerate().take(rows_used) {
        let src = &m[y * w..(y + 1) * w];
        for (o, &(x0, x1, fx)) in row.iter_mut().zip(&xs) {
            *o = src[x0] * (1.0 - fx) + src[x1] * fx;
        }
    }
    let mut out = vec![0f32; out_w * out_h];
    for (row, &(y0, y1, fy)) in out.chunks_exact_mut(out_w.max(1)).zip(&ys) {
        let (top, bottom) = (&rows[y0 * out_w..(y0 + 1) * out_w], &rows[y1 * out_w..(y1 + 1) * out_w]);
        for ((o, &t), &b) in row.iter_mut().zip(top).zip(bottom) {
            *o = t * (1.0 - fy) + b * fy;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_points_take_the_best_multimask_candidate_many_take_the_single_token() {
        // candidates: tokens 1, 2, 3, then token 0
        let scores = [0.2, 0.9, 0.5, 0.99];
        assert_eq!(Proposal::pick_best(&scores, 3, Some(3), 2), 1);
        assert_eq!(Proposal::pick_best(&scores, 3, Some(3), 3), 3);
        assert_eq!(Proposal::pick_best(&[0.3], 0, None, 5), 0);
        assert_eq!(Proposal::pick_best(&[0.3, 0.1, 0.7], 3, None, 4), 2);
    }

    /// `F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False)` of a 2×3 map, from PyTorch 2.15.
    #[test]
    fn bilinear_resize_matches_torch() {
        let m = [0.0, 1.0, 4.0, -2.0, 3.0, 8.0];
        let got = resize_logits(&m, 3, 2, 7, 5);
        let want_row0 = [0.0, 0.14285715, 0.5714286, 1.0, 2.2857144, 3.5714288, 4.0];
        let want_row2 = [-1.0, -0.5714285, 0.7142858, 2.0, 3.7142859, 5.4285717, 6.0];
        for (g, w) in got[..7].iter().zip(want_row0).chain(got[14..21].iter().zip(want_row2)) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn a_cropped_resize_is_the_corner_of_the_full_one() {
        let m: Vec<f32> = (0..64).map(|i| ((i * 37) % 17) as f32 - 8.0).collect();
        let full = resize_logits(&m, 8, 8, 32, 32);
        let crop = resize_logits_cropped(&m, 8, 8, 32, 32, 20, 13);
        for y in 0..13 {
            assert_eq!(crop[y * 20..(y + 1) * 20], full[y * 32..y * 32 + 20]);
        }
    }

    fn padded_frame_proposal() -> Proposal {
        // 4×4 low-res logits in an 8² frame; the image (6×3) fills 8×4 of it.
        let m: Vec<f32> = (0..16).map(|i| if i % 4 < 2 { 1.0 } else { -1.0 }).collect();
        Proposal {
            width: 6,
            height: 3,
            logits: vec![m],
            logit_width: 4,
            logit_height: 4,
            upscale: Upscale::PaddedFrame { side: 8, crop_width: 8, crop_height: 4 },
            refinable: true,
            scores: vec![0.5],
            multimask: 0,
            best: 0,
        }
    }

    #[test]
    fn sam_v1_logits_go_through_the_padded_frame_then_to_the_image() {
        let p = padded_frame_proposal();
        let framed = resize_logits(&p.logits[0], 4, 4, 8, 8);
        let crop: Vec<f32> = (0..4).flat_map(|y| framed[y * 8..y * 8 + 8].to_vec()).collect();
        assert_eq!(p.image_logits(0).unwrap(), resize_logits(&crop, 8, 4, 6, 3));
        assert_eq!(p.mask(0), [255, 255, 255, 0, 0, 0].repeat(3));
        assert_eq!(p.low_res(0).map(<[f32]>::len), Some(16));
        assert_eq!(p.preview_size(), (6, 3));
        assert_eq!(p.preview(0), p.mask(0));
        assert!(p.logits_at(1, 6, 3).is_none() && p.logits_at(0, 0, 3).is_none());
        let mut empty = p.clone();
        (empty.logit_width, empty.logits[0]) = (0, Vec::new());
        assert!(empty.logits_at(0, 6, 3).is_none(), "no panic on an empty map");
        let mut no_side = p.clone();
        no_side.upscale = Upscale::PaddedFrame { side: 0, crop_width: 8, crop_height: 4 };
        assert!(no_side.mask(0).is_empty());
    }

    #[test]
    fn big_images_preview_at_1024_on_the_long_side() {
        let mut p = padded_frame_proposal();
        (p.width, p.height) = (3000, 1500);
        assert_eq!(p.preview_size(), (1024, 512));
        assert_eq!(p.preview(0).len(), 1024 * 512);
        p.refinable = false;
        assert!(p.low_res(0).is_none());
    }
}
