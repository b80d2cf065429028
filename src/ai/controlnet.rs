//! ControlNet as separate models (the OnnxStack / Amuse layout): a ControlNet folder holds `model.onnx` and the
//! diffusers `config.json` (`"_class_name": "ControlNetModel"`); it maps (latents, timestep, text, control
//! image in [0, 1], scale) to one residual per UNet down-block layer plus a mid-block residual. The base model
//! folder carries a ControlNet-capable UNet at `controlnet/model.onnx` that takes those residuals as extra inputs.
//!
//! Numerics follow diffusers' `StableDiffusionControlNet*Pipeline`: the control image at the generation size,
//! repeated for the CFG batch; residuals scaled inside the ControlNet by `scale · keep_i` where step `i` of `N`
//! is kept unless `i/N < start` or `(i+1)/N > end`; several ControlNets sum their residuals.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::AiError;
use super::pipeline::Pixels;
use super::session::Model;

/// Where a base model keeps its ControlNet-capable UNet.
pub const CONTROL_UNET: &str = "controlnet/model.onnx";

/// One ControlNet asked for by a request.
#[derive(Debug, Clone)]
pub struct Control {
    /// RGB control image (white lines on black for line art); resized to the generation size if needed.
    pub image: Pixels,
    /// The ControlNet folder.
    pub model: PathBuf,
    pub scale: f32,
    /// Guidance window as fractions of the steps (diffusers' `control_guidance_start` / `_end`).
    pub start: f64,
    pub end: f64,
}

impl Control {
    /// Whether step `i` of `n` is guided (diffusers' `controlnet_keep`).
    pub fn active(&self, i: usize, n: usize) -> bool {
        let (a, b) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
        !(a < self.start || b > self.end)
    }

    /// The control image at `width × height` as `[3, h, w]` values in [0, 1].
    pub fn tensor(&self, width: usize, height: usize) -> Result<Vec<f32>, AiError> {
        let img = image::RgbImage::from_raw(self.image.width as u32, self.image.height as u32, self.image.data.clone())
            .ok_or_else(|| AiError::Input("the control image is malformed".into()))?;
        let img = if (img.width() as usize, img.height() as usize) == (width, height) {
            img
        } else {
            image::imageops::resize(&img, width as u32, height as u32, FilterType::Lanczos3)
        };
        let plane = width * height;
        let mut out = vec![0f32; 3 * plane];
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = p[c] as f32 / 255.0;
            }
        }
        Ok(out)
    }
}

/// Is `dir` a ControlNet folder?
pub fn is_controlnet(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("_class_name").and_then(|c| c.as_str()).map(|c| c == "ControlNetModel"))
        .unwrap_or(false)
}

/// The ONNX file of a ControlNet folder, or what is wrong with the folder.
pub fn model_file(dir: &Path) -> Result<PathBuf, AiError> {
    if !is_controlnet(dir) {
        return Err(AiError::Model(format!(
            "{} is not a ControlNet folder (it needs a config.json of a ControlNetModel and model.onnx)",
            dir.display()
        )));
    }
    let file = dir.join("model.onnx");
    if !file.is_file() {
        return Err(AiError::Model(format!("not a usable ControlNet folder: missing {}", file.display())));
    }
    Ok(file)
}

/// The residual names a model produces (ControlNet) or takes (ControlNet-capable UNet), sorted.
pub fn residual_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = names.filter(|n| n.ends_with("_additional_residual")).map(str::to_string).collect();
    v.sort();
    v
}

/// A clear error when a ControlNet's residuals do not fit the UNet's inputs.
pub fn check_fit(net: &Model, unet: &Model) -> Result<(), AiError> {
    let gives = residual_names(net.outputs.iter().map(String::as_str));
    let takes = residual_names(unet.inputs.iter().map(|i| i.name.as_str()));
    if gives.is_empty() || gives != takes {
        return Err(AiError::Model(format!(
            "the ControlNet {} does not fit this model: it gives {} residuals, the model's ControlNet UNet takes {}",
            net.path.display(),
            gives.len(),
            takes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(start: f64, end: f64) -> Control {
        let image = Pixels { width: 2, height: 1, data: vec![255, 0, 0, 0, 0, 255] };
        Control { image, model: PathBuf::new(), scale: 1.0, start, end }
    }

    #[test]
    fn a_control_image_of_another_size_is_resized_to_the_generation_size_as_planar_rgb() {
        // 32×16, white column at x = 20..22 on black, asked for at 16×8: the column lands at x = 10.
        let data = (0..32 * 16).flat_map(|i| if (20..22).contains(&(i % 32)) { [255; 3] } else { [0; 3] }).collect();
        let c = Control { image: Pixels { width: 32, height: 16, data }, ..control(0.0, 1.0) };
        let t = c.tensor(16, 8).unwrap();
        assert_eq!(t.len(), 3 * 16 * 8);
        let plane = 16 * 8;
        for ch in 0..3 {
            let row = &t[ch * plane + 4 * 16..ch * plane + 5 * 16];
            let brightest = (0..16).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(brightest, 10, "channel {ch}: {row:?}");
            assert!(row[10] > 0.85 && row[2] < 0.05 && row.iter().all(|v| (-0.01..=1.01).contains(v)));
        }
        assert!(
            Control { image: Pixels { width: 5, height: 5, data: vec![0; 3] }, ..control(0.0, 1.0) }
                .tensor(4, 4)
                .is_err()
        );
    }

    #[test]
    fn the_step_window_is_diffusers_controlnet_keep() {
        // keep_i = 1 − (i/N < start or (i+1)/N > end)
        let c = control(0.25, 0.75);
        let kept: Vec<bool> = (0..8).map(|i| c.active(i, 8)).collect();
        assert_eq!(kept, [false, false, true, true, true, true, false, false]);
        assert!((0..10).all(|i| control(0.0, 1.0).active(i, 10)));
        // 0.7 as a float64 from the command line, like Python's
        assert!(control(0.0, 0.7).active(6, 10));
        assert!(!control(0.0, 0.7).active(7, 10));
    }

    #[test]
    fn control_images_become_planes_in_zero_to_one() {
        let t = control(0.0, 1.0).tensor(2, 1).unwrap();
        assert_eq!(t, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(control(0.0, 1.0).tensor(4, 3).unwrap().len(), 3 * 12);
    }
}
