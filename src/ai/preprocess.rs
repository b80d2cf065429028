//! ControlNet preprocessors: turn a drawing or a picture into a control image (white lines on black, as the
//! line-art, canny and scribble ControlNets expect). Images are 8-bit RGB, row-major.
//!
//! - `invert`: dark lines on white (a clean line-art layer) → white on black.
//! - `scribble`: a sketch's dark strokes → white lines on black, thickened (ControlNet's scribble input).
//! - `canny`: OpenCV's `cv2.Canny(img, low, high)` as ControlNet's annotator calls it (3×3 Sobel, L1 magnitude,
//!   the strongest colour channel per pixel, no blur, 8-connected hysteresis); defaults 100 / 200.
//! - `lineart_standard`: controlnet_aux's network-free line art (difference from a σ = 6 Gaussian blur).
//! - `lineart`, `lineart_anime`: ControlNet 1.1's neural annotators as ONNX (`onnx/export_lineart.py` exports
//!   the user's `sk_model.pth` / `netG.pth`), with controlnet_aux's pre- and post-processing; their folder holds
//!   `model.onnx` and a `config.json` naming the kind.

use std::path::{Path, PathBuf};

use super::AiError;
use super::pipeline::Pixels;
use super::session::{Device, Feed, Model};

/// Which preprocessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invert,
    Scribble,
    Canny,
    LineartStandard,
    Lineart,
    LineartAnime,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Invert, Kind::Scribble, Kind::Canny, Kind::LineartStandard, Kind::Lineart, Kind::LineartAnime];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Invert => "invert",
            Kind::Scribble => "scribble",
            Kind::Canny => "canny",
            Kind::LineartStandard => "lineart_standard",
            Kind::Lineart => "lineart",
            Kind::LineartAnime => "lineart_anime",
        }
    }

    /// Neural preprocessors run an ONNX model from a folder.
    pub fn needs_model(self) -> bool {
        matches!(self, Kind::Lineart | Kind::LineartAnime)
    }

    pub fn parse(s: &str) -> Result<Kind, AiError> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            AiError::Input(format!("unknown preprocessor \"{s}\" ({})", names.join(", ")))
        })
    }
}

/// Options of the preprocessors that take any.
#[derive(Debug, Clone)]
pub struct Options {
    /// Canny hysteresis thresholds.
    pub low: f32,
    pub high: f32,
    /// Scribble line thickening radius in pixels.
    pub thickness: u32,
    /// The model folder of a neural preprocessor.
    pub model: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options { low: 100.0, high: 200.0, thickness: 2, model: None }
    }
}

fn check(img: &Pixels) -> Result<(), AiError> {
    if img.width == 0 || img.height == 0 || img.data.len() != img.width * img.height * 3 {
        return Err(AiError::Input("the image for the preprocessor is empty or malformed".into()));
    }
    Ok(())
}

/// Run a preprocessor; the result has the input's size.
pub fn run(kind: Kind, img: &Pixels, opts: &Options) -> Result<Pixels, AiError> {
    check(img)?;
    if kind == Kind::Canny && !(opts.low >= 0.0 && opts.low <= opts.high) {
        return Err(AiError::Input(format!("canny needs 0 <= low <= high (got {} and {})", opts.low, opts.high)));
    }
    let gray = match kind {
        Kind::Invert => return Ok(Pixels { data: img.data.iter().map(|v| 255 - v).collect(), ..img.clone() }),
        Kind::Scribble => scribble(img, opts.thickness),
        Kind::Canny => canny(img, opts.low, opts.high),
        Kind::LineartStandard => lineart_standard(img),
        Kind::Lineart | Kind::LineartAnime => {
            let dir = opts.model.as_deref().ok_or_else(|| {
                AiError::Input(format!("{} needs its model folder (model.onnx + config.json)", kind.name()))
            })?;
            neural(kind, dir, img)?
        }
    };
    Ok(Pixels { width: img.width, height: img.height, data: gray.iter().flat_map(|&v| [v, v, v]).collect() })
}

/// The ONNX file of a neural preprocessor's folder, checked against the kind its config.json names.
pub fn model_file(kind: Kind, dir: &Path) -> Result<PathBuf, AiError> {
    let config: Option<serde_json::Value> =
        std::fs::read_to_string(dir.join("config.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let named = config.as_ref().and_then(|c| c.get("kind")).and_then(|k| k.as_str()).map(str::to_string);
    match named {
        Some(k) if k == kind.name() => {}
        Some(k) => {
            return Err(AiError::Model(format!("{} holds a {k} preprocessor, not {}", dir.display(), kind.name())));
        }
        None => {
            return Err(AiError::Model(format!(
                "{} is not a {} preprocessor folder (config.json with \"kind\" is missing)",
                dir.display(),
                kind.name()
            )));
        }
    }
    let file = dir.join("model.onnx");
    if !file.is_file() {
        return Err(AiError::Model(format!("missing {}", file.display())));
    }
    Ok(file)
}

/// ControlNet's neural line-art annotators, with controlnet_aux's value mapping: `lineart` takes RGB / 255 and
/// gives lines as 1 (sigmoid); `lineart_anime` takes RGB / 127.5 − 1 at sides that are multiples of 256 (the
/// image is resized there and the output back, bicubic) and gives tanh values. Both maps are truncated to
/// 8 bits and inverted, so lines come out white on black.
fn neural(kind: Kind, dir: &Path, img: &Pixels) -> Result<Vec<u8>, AiError> {
    let file = model_file(kind, dir)?;
    let mut model = take_cached(&file).map_or_else(|| Model::load(&file, Device::Cpu), Ok)?;
    let result = run_neural(kind, &mut model, dir, img);
    keep_cached(file, model);
    result
}

/// The last neural preprocessor used stays loaded: guide previews and guided edits call it again and again.
static LAST_MODEL: std::sync::Mutex<Option<(PathBuf, Model)>> = std::sync::Mutex::new(None);

fn take_cached(file: &Path) -> Option<Model> {
    let mut slot = LAST_MODEL.lock().unwrap_or_else(|e| e.into_inner());
    match slot.take() {
        Some((path, model)) if path == file => Some(model),
        other => {
            *slot = other;
            None
        }
    }
}

fn keep_cached(file: PathBuf, model: Model) {
    *LAST_MODEL.lock().unwrap_or_else(|e| e.into_inner()) = Some((file, model));
}

fn run_neural(kind: Kind, model: &mut Model, dir: &Path, img: &Pixels) -> Result<Vec<u8>, AiError> {
    let (w, h) = (img.width, img.height);
    let anime = kind == Kind::LineartAnime;
    let (mw, mh) =
        if anime { (w.div_ceil(256) * 256, h.div_ceil(256) * 256) } else { (w.div_ceil(4) * 4, h.div_ceil(4) * 4) };
    let rgb = image::RgbImage::from_raw(w as u32, h as u32, img.data.clone())
        .ok_or_else(|| AiError::Input("the image for the preprocessor is malformed".into()))?;
    let rgb = if (mw, mh) == (w, h) {
        rgb
    } else {
        image::imageops::resize(&rgb, mw as u32, mh as u32, image::imageops::FilterType::CatmullRom)
    };
    let plane = mw * mh;
    let mut x = vec![0f32; 3 * plane];
    for (i, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            let v = p[c] as f32;
            x[c * plane + i] = if anime { v / 127.5 - 1.0 } else { v / 255.0 };
        }
    }
    let out = model.run(vec![("input", Feed::F32(vec![1, 3, mh, mw], x))], &["output"])?.remove(0);
    if out.data.len() != plane {
        return Err(AiError::Model(format!("{}: unexpected output size", dir.display())));
    }
    let mut y: Vec<f32> = if anime {
        out.data.iter().map(|v| v * 127.5 + 127.5).collect()
    } else {
        out.data.iter().map(|v| v * 255.0).collect()
    };
    if (mw, mh) != (w, h) {
        let buf = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(mw as u32, mh as u32, y)
            .ok_or_else(|| AiError::Model("unexpected output size".into()))?;
        y = image::imageops::resize(&buf, w as u32, h as u32, image::imageops::FilterType::CatmullRom).into_raw();
    }
    // uint8 by truncation (numpy astype), then inverted
    Ok(y.iter().map(|v| 255 - v.clamp(0.0, 255.0) as u8).collect())
}

/// Dark strokes (any channel below 127, as ControlNet's scribble demo thresholds) → 255, dilated by `radius`.
fn scribble(img: &Pixels, radius: u32) -> Vec<u8> {
    // Every pixel within `radius` of a dark one (an exact Euclidean disk, in time independent of the radius).
    let rect = crate::geom::Rect::from_xywh(0, 0, img.width as i32, img.height as i32);
    let mut ink = crate::raster::GrayBuf::new(rect, 0);
    for (o, p) in ink.data.iter_mut().zip(img.data.chunks_exact(3)) {
        if p.iter().min().copied().unwrap_or(255) < 127 {
            *o = 255;
        }
    }
    crate::raster::morph::grow(&ink, radius, rect).data
}

/// `cv2.Canny(img, low, high)` on a 3-channel 8-bit image.
fn canny(img: &Pixels, low: f32, high: f32) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let at = |x: i64, y: i64, c: usize| -> i32 {
        // BORDER_REPLICATE, as cv2.Canny's Sobel
        let (x, y) = (x.clamp(0, w as i64 - 1) as usize, y.clamp(0, h as i64 - 1) as usize);
        img.data[(y * w + x) * 3 + c] as i32
    };
    let mut dx = vec![0i32; w * h];
    let mut dy = vec![0i32; w * h];
    let mut mag = vec![0i32; w * h];
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let i = y as usize * w + x as usize;
            for c in 0..3 {
                let gx = (at(x + 1, y - 1, c) + 2 * at(x + 1, y, c) + at(x + 1, y + 1, c))
                    - (at(x - 1, y - 1, c) + 2 * at(x - 1, y, c) + at(x - 1, y + 1, c));
                let gy = (at(x - 1, y + 1, c) + 2 * at(x, y + 1, c) + at(x + 1, y + 1, c))
                    - (at(x - 1, y - 1, c) + 2 * at(x, y - 1, c) + at(x + 1, y - 1, c));
                let m = gx.abs() + gy.abs();
                if c == 0 || m > mag[i] {
                    (dx[i], dy[i], mag[i]) = (gx, gy, m);
                }
            }
        }
    }
    // OpenCV floors the thresholds for the L1 norm.
    let (low, high) = (low.floor() as i32, high.floor() as i32);
    let m = |x: i64, y: i64| -> i32 {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 { 0 } else { mag[y as usize * w + x as usize] }
    };
    // 0: no edge, 1: weak candidate, 2: edge
    let mut state = vec![0u8; w * h];
    let mut stack = Vec::new();
    const TG22: i64 = 13573; // tan(22.5°) · 2^15
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let i = y as usize * w + x as usize;
            let v = mag[i];
            if v <= low {
                continue;
            }
            let (xs, ys) = (dx[i] as i64, dy[i] as i64);
            let (ax, ay) = (xs.abs(), ys.abs() << 15);
            let tg22x = ax * TG22;
            let is_max = if ay < tg22x {
                v > m(x - 1, y) && v >= m(x + 1, y)
            } else {
                let tg67x = tg22x + (ax << 16);
                if ay > tg67x {
                    v > m(x, y - 1) && v >= m(x, y + 1)
                } else {
                    let s = if (xs ^ ys) < 0 { -1 } else { 1 };
                    v > m(x - s, y - 1) && v > m(x + s, y + 1)
                }
            };
            if is_max {
                if v > high {
                    state[i] = 2;
                    stack.push((x, y));
                } else {
                    state[i] = 1;
                }
            }
        }
    }
    while let Some((x, y)) = stack.pop() {
        for (ox, oy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
            let (nx, ny) = (x + ox, y + oy);
            if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                continue;
            }
            let j = ny as usize * w + nx as usize;
            if state[j] == 1 {
                state[j] = 2;
                stack.push((nx, ny));
            }
        }
    }
    state.iter().map(|&s| if s == 2 { 255 } else { 0 }).collect()
}

/// Separable Gaussian blur of one float plane (σ, BORDER_REFLECT_101, OpenCV's kernel size for float images).
fn gaussian(plane: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let size = ((sigma * 4.0 * 2.0 + 1.0).round() as usize) | 1;
    let half = (size / 2) as i64;
    let mut k: Vec<f32> = (-half..=half).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    let reflect = |i: i64, n: usize| -> usize {
        let n = n as i64;
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let mut i = i.rem_euclid(period);
        if i >= n {
            i = period - i;
        }
        i as usize
    };
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] =
                k.iter().enumerate().map(|(j, kv)| kv * plane[y * w + reflect(x as i64 + j as i64 - half, w)]).sum();
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] =
                k.iter().enumerate().map(|(j, kv)| kv * tmp[reflect(y as i64 + j as i64 - half, h) * w + x]).sum();
        }
    }
    out
}

/// controlnet_aux `LineartStandardDetector`: `min_c(blur(x) − x)` clipped, normalised by the median of the
/// values above 8 (at least 16), × 127.
fn lineart_standard(img: &Pixels) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let planes: Vec<Vec<f32>> =
        (0..3).map(|c| img.data.chunks_exact(3).map(|p| p[c] as f32).collect::<Vec<f32>>()).collect();
    let blurred: Vec<Vec<f32>> = planes.iter().map(|p| gaussian(p, w, h, 6.0)).collect();
    let intensity: Vec<f32> = (0..w * h)
        .map(|i| (0..3).map(|c| blurred[c][i] - planes[c][i]).fold(f32::INFINITY, f32::min).clamp(0.0, 255.0))
        .collect();
    let mut above: Vec<f32> = intensity.iter().copied().filter(|&v| v > 8.0).collect();
    let median = if above.is_empty() {
        0.0
    } else {
        above.sort_by(f32::total_cmp);
        let n = above.len();
        if n % 2 == 1 { above[n / 2] } else { (above[n / 2 - 1] + above[n / 2]) / 2.0 }
    };
    let norm = median.max(16.0);
    intensity.iter().map(|v| (v / norm * 127.0).clamp(0.0, 255.0) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark filled square on white.
    fn square(size: usize, x0: usize, x1: usize) -> Pixels {
        let mut data = vec![255u8; size * size * 3];
        for y in x0..x1 {
            for x in x0..x1 {
                data[(y * size + x) * 3..(y * size + x) * 3 + 3].copy_from_slice(&[20, 30, 40]);
            }
        }
        Pixels { width: size, height: size, data }
    }

    fn gray(p: &Pixels) -> Vec<u8> {
        p.data.chunks_exact(3).map(|c| c[0]).collect()
    }

    #[test]
    fn canny_finds_the_edges_of_a_square_and_nothing_else() {
        let out = gray(&run(Kind::Canny, &square(40, 10, 30), &Options::default()).unwrap());
        let at = |x: usize, y: usize| out[y * 40 + x];
        // every side of the square has an edge within a pixel of it
        for t in 12..28 {
            assert!((9..=10).any(|x| at(x, t) == 255), "left side at y={t}");
            assert!((29..=30).any(|x| at(x, t) == 255), "right side at y={t}");
            assert!((9..=10).any(|y| at(t, y) == 255), "top side at x={t}");
            assert!((29..=30).any(|y| at(t, y) == 255), "bottom side at x={t}");
        }
        // flat areas inside and outside stay black
        assert_eq!(at(20, 20), 0);
        assert_eq!(at(2, 2), 0);
        assert!(out.iter().all(|&v| v == 0 || v == 255));
        // edges are thin: no row crossing the left side has more than 2 edge pixels there
        assert!((12..28).all(|y| (5..15).filter(|&x| at(x, y) == 255).count() <= 2));
        // thresholds above the strongest gradient find nothing
        let none = run(Kind::Canny, &square(40, 10, 30), &Options { low: 5000.0, high: 6000.0, ..Options::default() });
        assert!(gray(&none.unwrap()).iter().all(|&v| v == 0));
    }

    #[test]
    fn invert_and_scribble_are_exact_on_small_images() {
        let img = Pixels { width: 2, height: 1, data: vec![0, 10, 255, 200, 200, 200] };
        assert_eq!(run(Kind::Invert, &img, &Options::default()).unwrap().data, vec![255, 245, 0, 55, 55, 55]);
        // one dark pixel in the middle of a 5×5: a disc of radius 1 around it
        let mut data = vec![255u8; 75];
        data[(2 * 5 + 2) * 3..(2 * 5 + 2) * 3 + 3].copy_from_slice(&[0, 0, 0]);
        let s = gray(
            &run(
                Kind::Scribble,
                &Pixels { width: 5, height: 5, data },
                &Options { thickness: 1, ..Options::default() },
            )
            .unwrap(),
        );
        let expected = [
            0, 0, 0, 0, 0, //
            0, 0, 255, 0, 0, //
            0, 255, 255, 255, 0, //
            0, 0, 255, 0, 0, //
            0, 0, 0, 0, 0,
        ];
        assert_eq!(s, expected);
    }

    #[test]
    fn scribble_is_the_disk_dilation_at_any_thickness() {
        // scattered ink on a 23×17 picture, against the definition: within `r` of an ink pixel
        let (w, h) = (23usize, 17usize);
        let ink = |x: usize, y: usize| (x * 7 + y * 13).is_multiple_of(29);
        let data = (0..w * h).flat_map(|i| if ink(i % w, i / w) { [0u8; 3] } else { [255u8; 3] }).collect();
        let img = Pixels { width: w, height: h, data };
        for r in [0u32, 1, 2, 3, 5] {
            let got = gray(&run(Kind::Scribble, &img, &Options { thickness: r, ..Options::default() }).unwrap());
            let r = r as i64;
            let want: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as i64, (i / w) as i64);
                    let near = (0..w * h).any(|j| {
                        let (sx, sy) = ((j % w) as i64, (j / w) as i64);
                        ink(j % w, j / w) && (sx - x).pow(2) + (sy - y).pow(2) <= r * r
                    });
                    if near { 255 } else { 0 }
                })
                .collect();
            assert_eq!(got, want, "radius {r}");
        }
        // absurd thickness: everything, at once
        let all = run(Kind::Scribble, &img, &Options { thickness: u32::MAX, ..Options::default() }).unwrap();
        assert!(gray(&all).iter().all(|&v| v == 255));
    }

    #[test]
    fn lineart_standard_draws_dark_lines_as_bright_and_leaves_flat_paper_black() {
        let mut data = vec![255u8; 64 * 64 * 3];
        for y in 10..54 {
            data[(y * 64 + 32) * 3..(y * 64 + 32) * 3 + 3].copy_from_slice(&[0, 0, 0]);
        }
        let out =
            gray(&run(Kind::LineartStandard, &Pixels { width: 64, height: 64, data }, &Options::default()).unwrap());
        assert!(out[30 * 64 + 32] > 100, "the line is bright: {}", out[30 * 64 + 32]);
        assert_eq!(out[30 * 64 + 5], 0, "paper far from the line is black");
        assert_eq!(out[2 * 64 + 32], 0);
    }

    #[test]
    fn bad_input_is_one_clear_error() {
        let empty = Pixels { width: 0, height: 0, data: vec![] };
        assert!(run(Kind::Canny, &empty, &Options::default()).unwrap_err().to_string().contains("empty"));
        let img = square(8, 2, 4);
        let e = run(Kind::Canny, &img, &Options { low: 200.0, high: 100.0, ..Options::default() }).unwrap_err();
        assert!(e.to_string().contains("low <= high"));
        assert!(Kind::parse("hed").unwrap_err().to_string().contains("canny"));
    }
}
