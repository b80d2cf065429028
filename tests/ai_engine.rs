//! The engine's loading rules and job control on the real ONNX Runtime: external weights, refusing weights outside
//! the model folder, clear messages for incomplete folders, progress and cancellation, session reuse.

use std::path::{Path, PathBuf};

use oekaki::ai::AiError;
use oekaki::ai::model::ModelFolder;
use oekaki::ai::pipeline::{Engine, Progress, Request};
use oekaki::ai::session::{Device, Feed, Model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of the tiny SD1.5 fixture at `dir/name`, to damage or rename.
fn tiny_sd15_copy(dir: &Path, name: &str) -> PathBuf {
    let model = dir.join(name);
    copy_dir(&root().join("tests/fixtures/sd/tiny-sd15"), &model);
    model
}

/// Why `ModelFolder::open` refuses `dir`.
fn open_error(dir: &Path) -> String {
    ModelFolder::open(dir).expect_err("the folder must be refused").to_string()
}

fn request() -> Request {
    Request { prompt: "a cat".into(), steps: 4, seed: 1, width: 64, height: 64, ..Request::default() }
}

#[test]
fn external_weights_load_and_give_the_same_result() {
    let embedded = root().join("tests/fixtures/sd/tiny-sd15/vae_decoder/model.onnx");
    let external = root().join("tests/fixtures/onnx/external/model.onnx");
    let latents: Vec<f32> = (0..4 * 8 * 8).map(|i| ((i * 37 % 17) as f32 - 8.0) / 4.0).collect();
    let mut outs = Vec::new();
    for path in [embedded, external] {
        let mut m = Model::load(&path, Device::Cpu).unwrap();
        assert_eq!(m.provider, "CPU");
        let mut o = m.run(vec![("latent_sample", Feed::F32(vec![1, 4, 8, 8], latents.clone()))], &["sample"]).unwrap();
        outs.push(o.remove(0));
    }
    assert_eq!(outs[0].shape, vec![1, 3, 64, 64]);
    assert_eq!(outs[0].data, outs[1].data);
}

#[test]
fn weights_outside_the_model_folder_are_refused() {
    let err = Model::load(&root().join("tests/fixtures/onnx/escape/model.onnx"), Device::Cpu).err().unwrap();
    assert!(err.to_string().contains("outside its folder"), "{err}");
}

#[test]
fn incomplete_folders_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_sd15_copy(dir.path(), "m");
    std::fs::remove_file(model.join("unet/model.onnx")).unwrap();
    let err = open_error(&model);
    assert!(err.contains("unet") && err.contains("model.onnx") && err.contains("missing"), "{err}");
    std::fs::remove_file(model.join("scheduler/scheduler_config.json")).unwrap();
    let err = open_error(&model);
    assert!(err.contains("scheduler_config.json"), "{err}");
    std::fs::write(model.join("model_index.json"), "{ not json").unwrap();
    let err = open_error(&model);
    assert!(err.contains("model_index.json"), "{err}");
    let err = open_error(dir.path());
    assert!(err.contains("model_index.json"), "{err}");
}

#[test]
fn sdxl_folders_are_refused_by_name_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_sd15_copy(dir.path(), "animagine-xl");
    std::fs::create_dir(model.join("text_encoder_2")).unwrap();
    let err = open_error(&model);
    assert!(err.contains("SDXL model") && err.contains("not supported yet"), "{err}");
    std::fs::remove_dir(model.join("text_encoder_2")).unwrap();
    let index = std::fs::read_to_string(model.join("model_index.json")).unwrap();
    std::fs::write(
        model.join("model_index.json"),
        index.replace("StableDiffusionPipeline", "StableDiffusionXLPipeline"),
    )
    .unwrap();
    assert!(open_error(&model).contains("SDXL model"));
}

#[test]
fn kinds_and_sizes_come_from_the_folder() {
    let sd = |name: &str| ModelFolder::open(&root().join("tests/fixtures/sd").join(name)).unwrap();
    use oekaki::ai::model::UnetKind;
    assert_eq!(sd("tiny-sd15").kind, UnetKind::Standard);
    assert_eq!(sd("tiny-sd15-inpaint").kind, UnetKind::Inpainting);
    assert_eq!(sd("tiny-sd15-ip2p").kind, UnetKind::Instruct);
    assert!(sd("tiny-sd15-lcm").time_cond_proj_dim.is_some());
    // SD 2.1-shaped: an ordinary UNet whose scheduler config asks for v-prediction (diffusers parity: cases sd2v_*)
    let v = sd("tiny-sd2-v");
    assert_eq!(v.kind, UnetKind::Standard);
    assert_eq!(v.scheduler.prediction_type.as_deref(), Some("v_prediction"));
    let m = sd("tiny-sd15");
    assert_eq!(m.native_size(), 64);
    assert_eq!(m.size_multiple(), 64);
    assert!(m.check_size(128, 64).is_ok());
    assert!(m.check_size(96, 64).is_err());
}

#[test]
fn progress_is_reported_and_cancelling_stops_within_a_step() {
    let model = root().join("tests/fixtures/sd/tiny-sd15");
    let mut engine = Engine::new(Device::Cpu);
    let mut loading = Vec::new();
    let mut steps = Vec::new();
    let result = engine.generate(&model, &request(), &mut |p| {
        match p {
            Progress::Loading { part, .. } => loading.push(part.to_string()),
            Progress::Step { step, total, latents } => {
                assert_eq!(latents.data.len(), 4 * 8 * 8);
                steps.push((*step, *total));
            }
        }
        steps.len() < 2
    });
    assert!(matches!(result, Err(AiError::Cancelled)), "{:?}", result.err());
    assert_eq!(loading, ["text_encoder", "unet", "vae_decoder", "vae_encoder"]);
    assert_eq!(steps, [(1, 4), (2, 4)]);

    // The sessions stay loaded: the next job reports no loading and finishes.
    let mut loaded_again = false;
    let done = engine
        .generate(&model, &request(), &mut |p| {
            loaded_again |= matches!(p, Progress::Loading { .. });
            true
        })
        .unwrap();
    assert!(!loaded_again);
    assert_eq!((done.width, done.height, done.rgb.len()), (64, 64, 64 * 64 * 3));
    assert_eq!(done.timings.unet_steps.len(), 4);
    assert!(done.timings.onnx_runtime > 0.0 && done.timings.onnx_runtime <= done.timings.total);
}

#[test]
fn v_prediction_configs_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_sd15_copy(dir.path(), "v");
    let cfg_path = model.join("scheduler/scheduler_config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["prediction_type"] = "v_prediction".into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let mut engine = Engine::new(Device::Cpu);
    let v = engine.generate(&model, &request(), &mut |_| true).unwrap();
    let eps = engine.generate(&root().join("tests/fixtures/sd/tiny-sd15"), &request(), &mut |_| true).unwrap();
    assert_ne!(v.rgb, eps.rgb, "the prediction type must change the result");
}

fn reference_case() -> (Request, Vec<u8>) {
    let req = Request { prompt: "a cat sitting on a red sofa, oil painting".into(), steps: 8, seed: 1234, ..request() };
    let img = image::open(root().join("tests/fixtures/sd/reference/txt2img_euler_a.png")).unwrap().to_rgb8();
    (req, img.into_raw())
}

#[test]
fn the_legacy_onnx_layout_gives_the_same_image() {
    // int32 input_ids, a float [batch] timestep and no config.json files, as diffusers' legacy exporter writes.
    let (req, want) = reference_case();
    let folder = ModelFolder::open(&root().join("tests/fixtures/sd/tiny-sd15-legacy")).unwrap();
    assert!(folder.legacy);
    // Without config.json the UNet's channels and down blocks come from its weights.
    assert_eq!((folder.unet_channels, folder.down_blocks, folder.size_multiple()), (4, 4, 64));
    let out = Engine::new(Device::Cpu).generate(&folder.dir, &req, &mut |_| true).unwrap();
    let worst = out.rgb.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(worst <= 2, "legacy layout differs by {worst}/255");
}

#[test]
fn legacy_vae_encoders_are_rewritten_and_still_encode_when_loaded_whole() {
    use oekaki::ai::onnx_edit::{LATENT_MEAN, LATENT_STD};
    use oekaki::ai::pipeline::vae::{self, Latents, Sampling};
    use oekaki::ai::rng::TorchRng;
    let legacy = root().join("tests/fixtures/sd/tiny-sd15-legacy/vae_encoder/model.onnx");
    let rewritten = vae::load_encoder(&legacy, Device::Cpu).unwrap();
    assert!(rewritten.rewritten && rewritten.has_output(LATENT_MEAN) && rewritten.has_output(LATENT_STD));
    assert!(!rewritten.has_output("latent_sample"));
    // The fallback when a rewrite is impossible: the graph's own draw, taken as it is.
    let mut whole = Model::load(&legacy, Device::Cpu).unwrap();
    assert!(whole.has_output("latent_sample"));
    let image = Latents { channels: 3, height: 64, width: 64, data: vec![0.25; 3 * 64 * 64] };
    let lat = vae::encode(&mut whole, &image, Sampling::Sample, 0.18215, &mut TorchRng::new(1)).unwrap();
    assert_eq!((lat.channels, lat.height, lat.width), (4, 8, 8));
    // optimum's encoder has nothing to rewrite
    let optimum = root().join("tests/fixtures/sd/tiny-sd15/vae_encoder/model.onnx");
    let plain = vae::load_encoder(&optimum, Device::Cpu).unwrap();
    assert!(!plain.rewritten && plain.has_output("latent_parameters"));
}

#[test]
fn float16_models_run_close_to_float32() {
    let (req, want) = reference_case();
    let out = Engine::new(Device::Cpu)
        .generate(&root().join("tests/fixtures/sd/tiny-sd15-fp16"), &req, &mut |_| true)
        .unwrap();
    let diffs: Vec<u8> = out.rgb.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).collect();
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    let worst = *diffs.iter().max().unwrap();
    println!("fp16 vs fp32 reference: mean {mean:.3}/255, max {worst}/255");
    assert!(mean < 1.0 && worst <= 8, "fp16 result too far from fp32: mean {mean}, max {worst}");
}

#[test]
fn latent_previews_have_one_pixel_per_latent() {
    use oekaki::ai::pipeline::vae::{Latents, preview_rgb};
    let lat = Latents { channels: 4, height: 2, width: 3, data: (0..24).map(|i| i as f32 / 12.0 - 1.0).collect() };
    let (w, h, rgb) = preview_rgb(&lat);
    assert_eq!((w, h, rgb.len()), (3, 2, 18));
    assert!(rgb.iter().any(|&v| v > 0 && v < 255), "a preview is not just clipped black and white");
}
