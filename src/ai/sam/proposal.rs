//! The decoder's answer: candidate masks (logits at the image size), their predicted IoU, and the
//! low-resolution logits that a refinement click feeds back.

/// Candidate masks for one prompt.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub width: usize,
    pub height: usize,
    /// Logits per candidate, row-major `width`×`height`; a pixel is inside where the logit is > 0.
    pub masks: Vec<Vec<f32>>,
    /// Predicted IoU per candidate.
    pub scores: Vec<f32>,
    /// Low-resolution logits per candidate (256², the encoder's frame), fed back on the next click; empty for
    /// decoders without a mask input.
    pub low_res: Vec<Vec<f32>>,
    /// How many of the candidates (from the first) are the multimask ones (SAM's tokens 1–3).
    pub multimask: usize,
    /// The candidate SAM's demo shows: the single-mask token once there are three or more prompt points
    /// (box corners and the padding point count), else the multimask candidate with the best score.
    pub best: usize,
}

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

    /// Candidate `i` as an 8-bit mask (255 inside).
    pub fn mask(&self, i: usize) -> Vec<u8> {
        self.masks.get(i).map(|m| m.iter().map(|&v| if v > 0.0 { 255 } else { 0 }).collect()).unwrap_or_default()
    }

    pub fn candidates(&self) -> usize {
        self.masks.len()
    }
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
}
