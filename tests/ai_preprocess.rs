//! The neural line-art preprocessors (ONNX) against controlnet_aux's own output on tiny random-weight models
//! (tests/fixtures/lineart, made by onnx/export_lineart.py --tiny): same pre- and post-processing, maps within one
//! grey level (the final maps truncate to 8 bits, where ONNX Runtime and torch may differ by a hair). Canny
//! against OpenCV's own output, exactly.

use std::path::PathBuf;

use oekaki::ai::pipeline::Pixels;
use oekaki::ai::preprocess::{self, Kind, Options};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lineart").join(rel)
}

fn input() -> Pixels {
    let img = image::open(fixture("input.png")).unwrap().to_rgb8();
    Pixels { width: img.width() as usize, height: img.height() as usize, data: img.into_raw() }
}

fn check(kind: Kind, model: &str, reference: &str) {
    let opts = Options { model: Some(fixture(model)), ..Options::default() };
    let out = preprocess::run(kind, &input(), &opts).unwrap();
    let want = image::open(fixture(reference)).unwrap().to_luma8();
    assert_eq!((out.width as u32, out.height as u32), want.dimensions());
    let got: Vec<u8> = out.data.chunks_exact(3).map(|p| p[0]).collect();
    let worst = got.iter().zip(want.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    let off = got.iter().zip(want.as_raw()).filter(|(a, b)| a != b).count();
    assert!(worst <= 1 && off < got.len() / 100, "{}: {off} values differ, by up to {worst}", kind.name());
}

#[test]
fn lineart_matches_controlnet_aux() {
    check(Kind::Lineart, "tiny-lineart", "reference_lineart.png");
}

#[test]
fn lineart_anime_matches_controlnet_aux() {
    check(Kind::LineartAnime, "tiny-lineart-anime", "reference_lineart_anime.png");
}

#[test]
fn neural_preprocessors_name_their_folder_problems() {
    let err = |opts: Options| preprocess::run(Kind::Lineart, &input(), &opts).unwrap_err().to_string();
    assert!(err(Options::default()).contains("needs its model folder"));
    let wrong = Options { model: Some(fixture("tiny-lineart-anime")), ..Options::default() };
    assert!(err(wrong).contains("holds a lineart_anime preprocessor"));
    let none = Options { model: Some(fixture("")), ..Options::default() };
    assert!(err(none).contains("not a lineart preprocessor folder"));
    // other sizes are resized to what the network takes and back
    let small = Pixels { width: 100, height: 70, data: vec![200; 100 * 70 * 3] };
    let anime = Options { model: Some(fixture("tiny-lineart-anime")), ..Options::default() };
    let out = preprocess::run(Kind::LineartAnime, &small, &anime).unwrap();
    assert_eq!((out.width, out.height), (100, 70));
}

/// OpenCV's own cv2.Canny output (tests/goldens/canny_reference.py) on a line drawing, a small picture, and soft
/// noisy shapes where the two threshold pairs keep different edges.
#[test]
fn canny_matches_opencv() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inputs = [
        ("lineart-input", root.join("tests/fixtures/lineart/input.png")),
        ("sd-init", root.join("tests/fixtures/sd/inputs/init.png")),
        ("soft", root.join("tests/goldens/canny/soft-input.png")),
    ];
    for (name, path) in inputs {
        let img = image::open(&path).unwrap().to_rgb8();
        let px = Pixels { width: img.width() as usize, height: img.height() as usize, data: img.into_raw() };
        for (low, high) in [(100, 200), (50, 120)] {
            let opts = Options { low: low as f32, high: high as f32, ..Options::default() };
            let got: Vec<u8> =
                preprocess::run(Kind::Canny, &px, &opts).unwrap().data.chunks_exact(3).map(|p| p[0]).collect();
            let want =
                image::open(root.join(format!("tests/goldens/canny/{name}_{low}_{high}.png"))).unwrap().to_luma8();
            let edges = want.as_raw().iter().filter(|&&v| v > 0).count();
            let off = got.iter().zip(want.as_raw()).filter(|(a, b)| a != b).count();
            assert_eq!(off, 0, "{name} {low}/{high}: {off} pixels differ from OpenCV ({edges} edges there)");
        }
    }
}
