//! Per-step previews of the picture being denoised: the TAESD decoder when the model folder has
//! `taesd_decoder/model.onnx` (diffusers' `AutoencoderTiny.decode` export: `latent_sample` → `sample` in
//! [-1, 1], fed the scaled latents as they are), else the cheap linear latent-to-RGB map (one pixel per latent).

use std::path::Path;

use image::{GrayImage, RgbImage, RgbaImage, imageops::FilterType};

use crate::ai::edit::Region;
use crate::ai::pipeline::vae::{self, Latents};
use crate::ai::session::{Device, Model};

/// Where a model folder keeps its TAESD decoder.
pub const TAESD_DECODER: &str = "taesd_decoder/model.onnx";

pub struct Previewer {
    taesd: Option<Model>,
}

impl Previewer {
    /// A TAESD decoder that fails to load is not an error: previews fall back to the cheap map.
    pub fn for_model(dir: &Path, device: Device) -> Previewer {
        let path = dir.join(TAESD_DECODER);
        Previewer { taesd: path.is_file().then(|| Model::load(&path, device).ok()).flatten() }
    }

    pub fn uses_taesd(&self) -> bool {
        self.taesd.is_some()
    }

    /// The preview over `region.context`, with the paste mask as alpha, at the decoder's resolution.
    pub fn image(&mut self, latents: &Latents, region: &Region) -> RgbaImage {
        let (w, h, rgb) = match self.taesd.as_mut().map(|m| vae::decode(m, latents, 1.0)) {
            Some(Ok(decoded)) => decoded,
            _ => vae::preview_rgb(latents),
        };
        let rgb = RgbImage::from_raw(w as u32, h as u32, rgb).unwrap_or_else(|| RgbImage::new(w as u32, h as u32));
        let m = &region.paste_mask;
        let mask = GrayImage::from_raw(m.width() as u32, m.height() as u32, m.data.clone())
            .map(|g| image::imageops::resize(&g, w as u32, h as u32, FilterType::Triangle))
            .unwrap_or_else(|| GrayImage::from_pixel(w as u32, h as u32, image::Luma([255])));
        RgbaImage::from_fn(w as u32, h as u32, |x, y| {
            let p = rgb.get_pixel(x, y).0;
            image::Rgba([p[0], p[1], p[2], mask.get_pixel(x, y).0[0]])
        })
    }
}
