//! The neural line-art preprocessors (ONNX) against controlnet_aux's own output on tiny random-weight models
//! (tests/fixtures/lineart, made by onnx/export_lineart.py --tiny): same pre- and post-processing, maps within one
//! grey level (the final maps truncate to 8 bits, where ONNX Runtime and torch may differ by a hair).

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
