//! `oekaki generate` as other tools call it: the flag contract, the reference image, the A1111 parameters
//! chunk, `--timings`, and one-line errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn fixture(rel: &str) -> String {
    root().join("tests/fixtures/sd").join(rel).to_string_lossy().into_owned()
}

fn oekaki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oekaki")).args(args).env("OEKAKI_QUIET", "1").output().expect("run oekaki")
}

fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "error must be one line: {err:?}");
    assert!(err.starts_with("oekaki: error:"), "{err}");
    err
}

/// `oekaki generate` as the txt2img_euler_a reference was made (tiny-sd15, seed 1234, 8 steps, 64²), plus `extra`.
fn generate_like_the_reference(extra: &[&str]) -> Output {
    let model = fixture("tiny-sd15");
    let mut args = vec![
        "generate",
        "--model",
        &model,
        "--prompt",
        "a cat sitting on a red sofa, oil painting",
        "--steps",
        "8",
        "--cfg",
        "7",
        "--sampler",
        "euler_a",
        "--seed",
        "1234",
        "--width",
        "64",
        "--height",
        "64",
        "--ep",
        "cpu",
    ];
    args.extend_from_slice(extra);
    oekaki(&args)
}

/// The largest channel difference between two PNGs.
fn worst_difference(a: &Path, b: &str) -> u8 {
    let got = image::open(a).unwrap().to_rgb8();
    let want = image::open(fixture(b)).unwrap().to_rgb8();
    got.as_raw().iter().zip(want.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap()
}

#[test]
fn txt2img_through_the_cli_matches_diffusers_and_records_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    let timings = dir.path().join("t.json");
    let o = generate_like_the_reference(&["--timings", timings.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let worst = worst_difference(&out, "reference/txt2img_euler_a.png");
    assert!(worst <= 2, "CLI output differs from diffusers by {worst}/255");
    let bytes = std::fs::read(&out).unwrap();
    let params = oekaki::io::png_text::parameters_from_png(&bytes).unwrap().expect("parameters chunk");
    for needle in
        ["a cat sitting on a red sofa", "Steps: 8", "Sampler: Euler a", "CFG scale: 7", "Seed: 1234", "Size: 64x64"]
    {
        assert!(params.contains(needle), "{needle} missing from {params:?}");
    }
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timings).unwrap()).unwrap();
    assert_eq!(t["unet_steps"].as_array().unwrap().len(), 8);
    for key in ["tokenize", "tokenize_and_encode", "text_encoder", "vae_encode", "vae_decode", "total", "onnx_runtime"]
    {
        assert!(t[key].as_f64().is_some(), "{key} missing from timings");
    }
    assert!(t["onnx_runtime"].as_f64().unwrap() <= t["total"].as_f64().unwrap());
    assert_eq!(t["providers"]["unet"], "CPU");
}

#[test]
fn a_controlnet_guided_generation_through_the_cli_matches_diffusers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cn.png");
    let (control, cn) = (fixture("inputs/control.png"), fixture("tiny-controlnet"));
    let o = generate_like_the_reference(&[
        "--control",
        &control,
        "--control-model",
        &cn,
        "--control-scale",
        "0.8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let worst = worst_difference(&out, "reference/cn_txt2img_euler_a.png");
    assert!(worst <= 2, "CLI output differs from diffusers by {worst}/255");
    let params = oekaki::io::png_text::parameters_from_png(&std::fs::read(&out).unwrap()).unwrap().unwrap();
    assert!(params.contains("ControlNet 0: \"Model: tiny-controlnet, Weight: 0.8"), "{params}");
}

#[test]
fn bad_requests_fail_with_one_clear_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.png");
    let out_s = out.to_str().unwrap();
    let model = fixture("tiny-sd15");
    let base = ["generate", "--model", model.as_str(), "--prompt", "x", "--steps", "2", "--out", out_s];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        one_line_error(&oekaki(&v))
    };
    assert!(with(&["--sampler", "heun"]).contains("unknown sampler \"heun\""));
    assert!(with(&["--width", "100", "--height", "64"]).contains("multiples of 64"));
    assert!(with(&["--ep", "tpu"]).contains("unknown --ep \"tpu\""));
    let small = dir.path().join("small.png");
    image::RgbImage::new(32, 32).save(&small).unwrap();
    assert!(with(&["--init", small.to_str().unwrap(), "--width", "64", "--height", "64"]).contains("must match"));
    let init = fixture("inputs/init.png");
    assert!(with(&["--init", init.as_str(), "--mask", small.to_str().unwrap()]).contains("must match"));
    let not_a_model = dir.path().to_str().unwrap().to_string();
    let o = oekaki(&["generate", "--model", &not_a_model, "--prompt", "x", "--out", out_s]);
    assert!(one_line_error(&o).contains("model_index.json"));
    let inpaint = fixture("tiny-sd15-inpaint");
    let o = oekaki(&["generate", "--model", &inpaint, "--prompt", "x", "--out", out_s]);
    assert!(one_line_error(&o).contains("inpainting model"));

    // ControlNet: counts must pair up, the folder must be a ControlNet, the base needs its ControlNet UNet.
    let control = fixture("inputs/control.png");
    let cn = fixture("tiny-controlnet");
    assert!(with(&["--control", &control]).contains("1 --control images but 0 --control-model"));
    let e = with(&["--control", &control, "--control-model", &cn, "--control-scale", "1", "--control-scale", "2"]);
    assert!(e.contains("2 values of --control-scale for 1 --control"), "{e}");
    let e = with(&["--control", &control, "--control-model", &cn, "--control-start", "0.8", "--control-end", "0.2"]);
    assert!(e.contains("start < end"), "{e}");
    assert!(with(&["--control", &control, "--control-model", &model]).contains("not a ControlNet folder"));
    let o = oekaki(&[
        "generate",
        "--model",
        &inpaint,
        "--prompt",
        "x",
        "--init",
        &init,
        "--mask",
        &fixture("inputs/mask.png"),
        "--control",
        &control,
        "--control-model",
        &cn,
        "--steps",
        "2",
        "--out",
        out_s,
    ]);
    assert!(one_line_error(&o).contains("no ControlNet-capable UNet"));

    // Numbers out of range (negative ones parse as numbers), runaway prompt weights, and outputs that cannot be
    // written are refused up front.
    assert!(with(&["--cfg", "nan"]).contains("CFG scale must be between 0 and 100 (got NaN)"));
    assert!(with(&["--init", &init, "--strength", "-1"]).contains("strength must be between 0 and 1 (got -1)"));
    let o = oekaki(&["generate", "--model", &model, "--prompt", "x", "--steps", "0", "--out", out_s]);
    assert!(one_line_error(&o).contains("steps must be between 1 and 1000 (got 0)"));
    let e = with(&["--control", &control, "--control-model", &cn, "--control-scale", "inf"]);
    assert!(e.contains("ControlNet scale must be between 0 and 10"), "{e}");
    let nested = format!("{}cat", "(".repeat(1000));
    let e =
        one_line_error(&oekaki(&["generate", "--model", &model, "--prompt", &nested, "--steps", "2", "--out", out_s]));
    assert!(e.contains("prompt weight is too large"), "{e}");
    let ora = dir.path().join("never.ora");
    let o = oekaki(&["generate", "--model", &model, "--prompt", "x", "--out", ora.to_str().unwrap()]);
    assert!(one_line_error(&o).contains("the output must be a .png file"));
    assert!(with(&["--timings", out_s]).contains("the output must be a .json file"));
    let nowhere = dir.path().join("no/such/folder/t.json");
    assert!(with(&["--timings", nowhere.to_str().unwrap()]).contains("there is no folder"));
    let o = oekaki(&["generate", "--model", &model, "--out", out_s]);
    assert!(one_line_error(&o).contains("not provided: --prompt <PROMPT>"), "clap's message names what is missing");
    assert!(!out.exists() && !ora.exists(), "a failed job must not write its output");
}

#[test]
fn edit_inpaint_adds_one_layer_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("in.png");
    image::RgbaImage::from_fn(96, 80, |x, y| image::Rgba([x as u8 * 2, y as u8 * 3, 90, 255])).save(&doc).unwrap();
    let mask = dir.path().join("mask.png");
    image::GrayImage::from_fn(96, 80, |x, y| {
        image::Luma([if (30..60).contains(&x) && (20..50).contains(&y) { 255 } else { 0 }])
    })
    .save(&mask)
    .unwrap();
    let out = dir.path().join("out.ora");
    let model = fixture("tiny-sd15-inpaint");
    let never = dir.path().join("never.ora");
    let (doc_s, never_s) = (doc.to_str().unwrap(), never.to_str().unwrap());
    // `oekaki edit WHAT --doc in.png --model tiny-sd15-inpaint` plus `extra`
    let edit = |what: &str, extra: &[&str]| {
        let mut args = vec!["edit", what, "--doc", doc_s, "--model", &model];
        args.extend_from_slice(extra);
        oekaki(&args)
    };
    let info = |path: &Path| String::from_utf8_lossy(&oekaki(&["info", path.to_str().unwrap()]).stdout).to_string();
    let o = edit(
        "inpaint",
        &[
            "--mask",
            mask.to_str().unwrap(),
            "--prompt",
            "a red scarf",
            "--steps",
            "2",
            "--seed",
            "5",
            "--ep",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let i = info(&out);
    assert!(i.contains("96×80, 2 layers"), "{i}");
    assert!(i.contains("Inpainted: a red scarf"), "{i}");
    assert!(i.contains("Seed: 5"), "{i}");
    let small = dir.path().join("small.png");
    image::GrayImage::new(10, 10).save(&small).unwrap();
    let o = edit("inpaint", &["--mask", small.to_str().unwrap(), "--prompt", "x", "--out", never_s]);
    assert!(one_line_error(&o).contains("must match"));
    let o = edit("inpaint", &["--prompt", "x", "--out", never_s]);
    assert!(one_line_error(&o).contains("needs a selection"));
    let m = mask.to_str().unwrap();
    let o = edit("inpaint", &["--mask", m, "--prompt", "x", "--feather", "nan", "--out", never_s]);
    assert!(one_line_error(&o).contains("feather must be between 0 and 256 px"));
    let o = edit("inpaint", &["--mask", m, "--prompt", "x", "--out", &never_s.replace(".ora", ".txt")]);
    assert!(one_line_error(&o).contains("use .ora, .png, .jpg or .webp"));
    assert!(!never.exists());
    // more padding than the canvas is the whole canvas (it used to overflow)
    let huge = dir.path().join("huge.ora");
    let o = edit(
        "inpaint",
        &["--mask", m, "--prompt", "x", "--steps", "2", "--padding", "4294967295", "--out", huge.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(info(&huge).contains("96×80, 2 layers"), "{}", info(&huge));

    // expand: the canvas grows on the chosen side and the new strip is painted into a new layer
    let wide = dir.path().join("wide.ora");
    let o = edit(
        "expand",
        &[
            "--side",
            "top",
            "--amount",
            "32",
            "--prompt",
            "sky",
            "--steps",
            "2",
            "--ep",
            "cpu",
            "--out",
            wide.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let i = info(&wide);
    assert!(i.contains("96×112, 2 layers"), "{i}");
    let o = edit("expand", &["--side", "up", "--prompt", "x", "--out", never_s]);
    assert!(one_line_error(&o).contains("unknown side"));
    assert!(!dir.path().join("never.ora").exists());
}

/// The headless twin of the AI panel on a layered ORA: inpaint, refine and generate each add one layer that is
/// transparent outside the grown and feathered mask, and leave every other layer's pixels as they were.
#[test]
fn edits_of_an_ora_add_one_masked_layer_and_leave_the_others_untouched() {
    use oekaki::doc::Document;
    use oekaki::geom::Rect;
    use oekaki::raster::Surface;
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (96, 80);
    let mut doc = Document::new(w, h).unwrap();
    let mut paper = Surface::new([0; 4]);
    let gradient: Vec<[u8; 4]> = (0..w * h).map(|i| [(i % w) as u8 * 2, (i / w) as u8 * 3, 90, 255]).collect();
    paper.write_rect(Rect::new(0, 0, w as i32, h as i32), &gradient);
    let mut lines = Surface::new([0; 4]);
    lines.write_rect(Rect::new(5, 70, 90, 72), &[[0, 0, 0, 255]; 170]);
    doc.layers = vec![doc.new_raster_layer("Paper", paper), doc.new_raster_layer("Lines", lines)];
    let input = dir.path().join("in.ora");
    oekaki::io::save_path(&doc, &input).unwrap();
    let mask = dir.path().join("mask.png");
    let (x0, y0, x1, y1) = (30, 20, 60, 50);
    image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if (x0..x1).contains(&x) && (y0..y1).contains(&y) { 255 } else { 0 }])
    })
    .save(&mask)
    .unwrap();
    let pixels = |d: &Document, i: usize| d.layers[i].surface().unwrap().read_rect(d.bounds());
    // Grow 4 px, feather 4 px: well past 4 + 3·4 px from the mask nothing of the new layer shows.
    let far = |x: u32, y: u32| {
        let dx = (x0 as i32 - x as i32).max(x as i32 - (x1 as i32 - 1)).max(0);
        let dy = (y0 as i32 - y as i32).max(y as i32 - (y1 as i32 - 1)).max(0);
        dx.max(dy) > 16
    };
    let mut before = doc;
    for (i, (what, model)) in
        [("inpaint", "tiny-sd15-inpaint"), ("refine", "tiny-sd15"), ("generate", "tiny-sd15")].into_iter().enumerate()
    {
        let from = if i == 0 { input.clone() } else { dir.path().join(format!("out{}.ora", i - 1)) };
        let out = dir.path().join(format!("out{i}.ora"));
        let model = fixture(model);
        let o = oekaki(&[
            "edit",
            what,
            "--doc",
            from.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--model",
            &model,
            "--prompt",
            "a red scarf",
            "--steps",
            "2",
            "--strength",
            "0.6",
            "--ep",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
        let after = oekaki::io::open_path(&out, oekaki::io::Limits::default()).unwrap();
        assert_eq!(after.layers.len(), before.layers.len() + 1, "{what} adds one layer");
        for l in 0..before.layers.len() {
            assert!(pixels(&after, l) == pixels(&before, l), "{what} left layer {l} as it was");
        }
        let new = pixels(&after, before.layers.len());
        let mut outside = 0;
        for y in 0..h {
            for x in 0..w {
                let a = new[(y * w + x) as usize][3];
                if far(x, y) {
                    assert_eq!(a, 0, "{what}: the new layer shows at {x},{y}, far outside the mask");
                    outside += 1;
                }
            }
        }
        assert!(outside > 3500, "the test looked at the area outside ({outside} px)");
        assert_eq!(new[(35 * w + 45) as usize][3], 255, "{what}: the middle of the mask is replaced");
        before = after;
    }
}
