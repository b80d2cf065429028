//! The `oekaki` command line as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn oekaki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oekaki")).args(args).output().expect("run oekaki")
}

fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "error must be one line: {err:?}");
    assert!(err.starts_with("oekaki: error:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn write_png(path: &Path, params: Option<&str>) {
    let img = image::RgbaImage::from_fn(40, 30, |x, y| image::Rgba([x as u8 * 6, y as u8 * 8, 90, 255]));
    let text: Vec<(String, String)> = params.map(|p| ("parameters".to_string(), p.to_string())).into_iter().collect();
    let bytes = oekaki::io::png_text::encode_png_rgba8(40, 30, img.as_raw(), &text).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn export_round_trip_keeps_pixels_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("in.png");
    let params = "1girl, silver hair, smile\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 40x30";
    write_png(&png, Some(params));
    let ora = dir.path().join("mid.ora");
    let out = dir.path().join("out.png");
    assert!(oekaki(&["export", png.to_str().unwrap(), ora.to_str().unwrap()]).status.success());
    assert!(oekaki(&["export", ora.to_str().unwrap(), out.to_str().unwrap()]).status.success());
    let (a, b) = (image::open(&png).unwrap().into_rgba8(), image::open(&out).unwrap().into_rgba8());
    assert_eq!(a, b);
    let through_ora = String::from_utf8_lossy(&oekaki(&["info", out.to_str().unwrap()]).stdout).to_string();
    assert!(through_ora.contains("Seed: 42"), "parameters survive PNG → ORA → PNG: {through_ora}");
    let direct = dir.path().join("direct.png");
    assert!(oekaki(&["export", png.to_str().unwrap(), direct.to_str().unwrap()]).status.success());
    let info = oekaki(&["info", direct.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("40×30, 1 layers"), "{text}");
    assert!(text.contains("prompt: 1girl, silver hair, smile"), "{text}");
    assert!(text.contains("Sampler: Euler a"), "{text}");
    for ext in ["jpg", "webp"] {
        let p = dir.path().join(format!("o.{ext}"));
        assert!(oekaki(&["export", ora.to_str().unwrap(), p.to_str().unwrap()]).status.success(), "{ext}");
        assert_eq!(image::image_dimensions(&p).unwrap(), (40, 30));
    }
}

#[test]
fn info_never_prints_the_files_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("esc.png");
    write_png(&png, Some("a cat\u{1b}[2J\u{7} in red\nSteps: 2"));
    let o = oekaki(&["info", png.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("prompt: a cat\u{fffd}[2J\u{fffd} in red"), "{text}");
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
}

#[test]
fn info_lists_layers() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    write_png(&png, None);
    let o = oekaki(&["info", png.to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("layer \"a\" svg:src-over 100% visible offset 0,0 size 40×30"), "{text}");
}

#[test]
fn apply_paints_with_json_ops() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    write_png(&png, None);
    let ops = dir.path().join("ops.json");
    std::fs::write(
        &ops,
        r#"[{"op": "stroke", "target": {"target": "layer", "layer": 1}, "brush": {"diameter": 6, "hardness": 1},
             "color": {"r": 1, "g": 1, "b": 1, "a": 1},
             "samples": [{"x": 2, "y": 15, "pressure": 1}, {"x": 38, "y": 15, "pressure": 1}]}]"#,
    )
    .unwrap();
    let out = dir.path().join("b.png");
    let o = oekaki(&["apply", png.to_str().unwrap(), ops.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&out).unwrap().into_rgba8();
    assert_eq!(img.get_pixel(20, 15).0, [255, 255, 255, 255]);
    assert_ne!(img.get_pixel(20, 2).0, [255, 255, 255, 255]);
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    one_line_error(&oekaki(&["info", d.join("missing.png").to_str().unwrap()]));
    let trunc = d.join("t.png");
    write_png(&trunc, None);
    let bytes = std::fs::read(&trunc).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    one_line_error(&oekaki(&["info", trunc.to_str().unwrap()]));
    let notzip = d.join("x.ora");
    std::fs::write(&notzip, b"hello").unwrap();
    one_line_error(&oekaki(&["export", notzip.to_str().unwrap(), d.join("y.png").to_str().unwrap()]));
    one_line_error(&oekaki(&["export", trunc.to_str().unwrap(), d.join("y.bmpx").to_str().unwrap()]));
    one_line_error(&oekaki(&["frobnicate"]));
    assert!(!d.join("y.png").exists(), "a failed export must not leave a file");
}

#[test]
fn preprocess_writes_a_control_image_or_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sketch = dir.path().join("sketch.png");
    // a dark square on a transparent layer
    image::RgbaImage::from_fn(48, 40, |x, y| {
        if (12..36).contains(&x) && (10..30).contains(&y) {
            image::Rgba([10, 10, 10, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    })
    .save(&sketch)
    .unwrap();
    let out = dir.path().join("edges.png");
    let o = oekaki(&["preprocess", "canny", "--in", sketch.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let edges = image::open(&out).unwrap().to_rgb8();
    assert_eq!(edges.dimensions(), (48, 40));
    assert_eq!(edges.get_pixel(20, 20).0, [0, 0, 0], "inside the square is flat");
    assert_eq!(edges.get_pixel(3, 3).0, [0, 0, 0], "transparent paper is flat white, no edges");
    assert!((10..=13).any(|x| edges.get_pixel(x, 20).0 == [255, 255, 255]), "the left side is an edge");
    let inv = dir.path().join("inv.png");
    let o = oekaki(&["preprocess", "invert", "--in", sketch.to_str().unwrap(), "--out", inv.to_str().unwrap()]);
    assert!(o.status.success());
    let inv = image::open(&inv).unwrap().to_rgb8();
    assert_eq!((inv.get_pixel(20, 20).0, inv.get_pixel(3, 3).0), ([245, 245, 245], [0, 0, 0]));

    let never = dir.path().join("never.png");
    let run = |args: &[&str]| {
        let o = oekaki(args);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).trim().to_string()
    };
    let e = run(&["preprocess", "hed", "--in", sketch.to_str().unwrap(), "--out", never.to_str().unwrap()]);
    assert!(e.starts_with("oekaki: error:") && e.contains("unknown preprocessor") && !e.contains('\n'), "{e}");
    let e = run(&[
        "preprocess",
        "canny",
        "--in",
        sketch.to_str().unwrap(),
        "--low",
        "300",
        "--out",
        never.to_str().unwrap(),
    ]);
    assert!(e.contains("low <= high"), "{e}");
    let e = run(&[
        "preprocess",
        "canny",
        "--in",
        dir.path().join("missing.png").to_str().unwrap(),
        "--out",
        never.to_str().unwrap(),
    ]);
    assert!(e.contains("missing.png"), "{e}");
    let e = run(&["preprocess", "lineart", "--in", sketch.to_str().unwrap(), "--out", never.to_str().unwrap()]);
    assert!(e.contains("needs its model folder"), "{e}");
    assert!(!never.exists());
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lineart/tiny-lineart");
    let lines = dir.path().join("lines.png");
    let o = oekaki(&[
        "preprocess",
        "lineart",
        "--model",
        model,
        "--in",
        sketch.to_str().unwrap(),
        "--out",
        lines.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&lines).unwrap().to_rgb8().dimensions(), (48, 40));
}

/// `oekaki segment` against SamPredictor's masks for the same prompts (tests/fixtures/sam, onnx/make_tiny_sam.py).
#[test]
fn segment_writes_sam_masks_and_scores_or_one_clear_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("tests/fixtures/sam");
    let (model, image) = (root.join("tiny-sam"), root.join("reference/image.png"));
    let (model, image) = (model.to_str().unwrap(), image.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let agree = |got: &Path, want: &str| {
        let got = image::open(got).unwrap().to_luma8();
        let want = image::open(root.join("reference").join(want)).unwrap().to_luma8();
        assert_eq!(got.dimensions(), want.dimensions());
        let same = got.as_raw().iter().zip(want.as_raw()).filter(|(a, b)| (**a > 127) == (**b > 127)).count();
        same as f64 / got.as_raw().len() as f64
    };
    let segment = |extra: &[&str]| {
        let mut args = vec!["segment", "--model", model, "--image", image];
        args.extend(extra);
        oekaki(&args)
    };
    // Three points, no box: the demo's pick is the single-mask token.
    let out = dir.path().join("mask.png");
    let out_arg = out.to_str().unwrap();
    let o = segment(&["--point", "132,101", "--point", "250,120,bg", "--point", "40.5,200.25,fg", "--out", out_arg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(agree(&out, "points-single-0.png") >= 0.99);
    let mask = image::open(&out).unwrap().to_luma8();
    assert!(mask.as_raw().iter().all(|&v| v == 0 || v == 255));

    let o = segment(&["--box", "60,45,190,170", "--multimask", "--out", out_arg, "--ep", "cpu"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    for i in 0..3 {
        assert!(agree(&dir.path().join(format!("mask-{i}.png")), &format!("box-multimask-{i}.png")) >= 0.99);
        assert!(stdout.lines().nth(i).unwrap().contains(&format!("mask-{i}.png\tiou ")));
    }

    let never = dir.path().join("never.png");
    let never = never.to_str().unwrap();
    for (args, says) in [
        (vec!["--out", never], "at least one --point or a --box"),
        (vec!["--point", "400,10", "--out", never], "outside the 331×229 image"),
        (vec!["--point", "4,x", "--out", never], "numbers separated by commas"),
        (vec!["--point", "-5,-5", "--out", never], "outside the 331×229 image"),
        (vec!["--point", "4,4", "--out", &never.replace(".png", ".ora")], "the output must be a .png file"),
    ] {
        let e = one_line_error(&segment(&args));
        assert!(e.contains(says), "{e}");
    }
    let e =
        one_line_error(&oekaki(&["segment", "--model", model, "--image", "/no.png", "--point", "4,4", "--out", never]));
    assert!(e.contains("cannot read"), "{e}");
    let e = one_line_error(&oekaki(&["segment", "--model", image, "--image", image, "--point", "4,4", "--out", never]));
    assert!(e.contains("is not a folder"), "{e}");
    assert!(!Path::new(never).exists());

    // --multimask writes all of its masks or none: here the second name is taken by a folder
    let all = dir.path().join("all.png");
    std::fs::create_dir(dir.path().join("all-1.png")).unwrap();
    let e = one_line_error(&segment(&["--box", "60,45,190,170", "--multimask", "--out", all.to_str().unwrap()]));
    assert!(e.contains("all-1.png is a folder"), "{e}");
    assert!(!dir.path().join("all-0.png").exists());
}
