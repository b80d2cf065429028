//! The engine's numerics against the reference implementations' own output:
//! - `tests/goldens/torch_randn.json`: torch.randn with `torch.Generator("cpu").manual_seed(n)`;
//! - `tests/goldens/schedulers.json`: diffusers' timesteps, sigmas and whole sampling trajectories;
//! - `tests/goldens/a1111_prompts.json`: AUTOMATIC1111's `parse_prompt_attention`.
//!
//! Regenerate with `onnx/make_references.py` and `tests/goldens/a1111_prompt_reference.py`.

use oekaki::ai::rng::TorchRng;
use oekaki::ai::scheduler::{SamplerKind, Scheduler, SchedulerConfigFile};
use oekaki::ai::text::parse_attention;
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/tests/goldens/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= rel * w.abs().max(1.0), "{what}[{i}]: got {g}, diffusers {w}");
    }
}

#[test]
fn randn_reproduces_torch_draw_for_draw() {
    let g = golden("torch_randn.json");
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for c in cases {
        let seed = c["seed"].as_u64().unwrap();
        let n: usize = c["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).product();
        let mut rng = TorchRng::new(seed);
        let what = format!("seed {seed} shape {} {}", c["shape"], c["dtype"]);
        let draw = |rng: &mut TorchRng| -> Vec<f64> {
            if c["dtype"] == "float64" {
                rng.randn_f64(n)
            } else {
                rng.randn_f32(n).into_iter().map(f64::from).collect()
            }
        };
        // float32 Box–Muller goes through the platform's logf/cosf (torch uses SLEEF): agreement to a few ulps.
        assert_close(&what, &draw(&mut rng), &floats(&c["values"]), 2e-7);
        if let Some(second) = c.get("values2") {
            assert_close(&format!("{what} (second draw)"), &draw(&mut rng), &floats(second), 2e-7);
        }
    }
}

fn config(g: &Value, spacing: &str, prediction: Option<&str>) -> SchedulerConfigFile {
    let mut cfg = g["base_config"].clone();
    if spacing != "default" {
        cfg["timestep_spacing"] = Value::from(spacing);
    }
    if let Some(p) = prediction {
        cfg["prediction_type"] = Value::from(p);
    }
    SchedulerConfigFile::from_json(&cfg.to_string()).unwrap()
}

#[test]
fn schedules_match_diffusers() {
    let g = golden("schedulers.json");
    let schedules = g["schedules"].as_array().unwrap();
    assert!(schedules.len() >= 100);
    for s in schedules {
        let sampler = s["sampler"].as_str().unwrap();
        let spacing = s["spacing"].as_str().unwrap();
        let steps = s["steps"].as_u64().unwrap() as usize;
        let what = format!("{sampler} {spacing} {steps} steps");
        let sched = Scheduler::new(SamplerKind::parse(sampler).unwrap(), &config(&g, spacing, None), steps, None)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_close(&format!("{what} timesteps"), sched.timesteps(), &floats(&s["timesteps"]), 1e-6);
        if let Some(sigmas) = s.get("sigmas").filter(|v| !v.is_null()) {
            let got: Vec<f64> = sched.sigmas().iter().map(|&v| v as f64).collect();
            assert_close(&format!("{what} sigmas"), &got, &floats(sigmas), 1e-5);
        }
        let init = s["init_noise_sigma"].as_f64().unwrap();
        assert_close(&format!("{what} init sigma"), &[sched.init_noise_sigma() as f64], &[init], 1e-5);
    }
}

#[test]
fn sampling_trajectories_match_diffusers() {
    let g = golden("schedulers.json");
    let trajectories = g["trajectories"].as_array().unwrap();
    assert!(trajectories.len() >= 40);
    for t in trajectories {
        let sampler = t["sampler"].as_str().unwrap();
        let spacing = t["spacing"].as_str().unwrap();
        let prediction = t["prediction_type"].as_str().unwrap();
        let steps = t["steps"].as_u64().unwrap() as usize;
        let what = format!("{sampler} {spacing} {prediction}");
        let mut sched =
            Scheduler::new(SamplerKind::parse(sampler).unwrap(), &config(&g, spacing, Some(prediction)), steps, None)
                .unwrap();
        assert_close(&format!("{what} timesteps"), sched.timesteps(), &floats(&t["timesteps"]), 1e-6);
        let init = sched.init_noise_sigma();
        let mut x: Vec<f32> = TorchRng::new(7).randn_f32(256).into_iter().map(|v| v * init).collect();
        let mut rng = TorchRng::new(11);
        let mut denoised = None;
        for i in 0..sched.timesteps().len() {
            let ts = sched.timesteps()[i];
            let x_in = sched.scale_model_input(i, &x);
            let offset = (0.01 * ts / 1000.0) as f32;
            let eps: Vec<f32> = x_in.iter().map(|v| 0.5 * v.tanh() + offset).collect();
            denoised = sched.step(i, &eps, &mut x, &mut rng).denoised;
            if i == 0 {
                let got: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                assert_close(&format!("{what} after step 1"), &got, &floats(&t["after_step_1"]), 2e-5);
            }
        }
        let got: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        assert_close(&format!("{what} final"), &got, &floats(&t["final"]), 2e-5);
        if let (Some(d), Some(want)) = (denoised, t.get("final_denoised").filter(|v| !v.is_null())) {
            let got: Vec<f64> = d.iter().map(|&v| v as f64).collect();
            assert_close(&format!("{what} final denoised"), &got, &floats(want), 2e-5);
        }
    }
}

#[test]
fn prompt_attention_parses_as_a1111_does() {
    let cases = golden("a1111_prompts.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for c in cases {
        let prompt = c["prompt"].as_str().unwrap();
        let want: Vec<(String, f64)> = c["parsed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap()))
            .collect();
        let got = parse_attention(prompt);
        assert_eq!(got.len(), want.len(), "{prompt:?}: got {got:?}, A1111 {want:?}");
        for ((gt, gw), (wt, ww)) in got.iter().zip(&want) {
            assert_eq!(gt, wt, "{prompt:?}: got {got:?}, A1111 {want:?}");
            assert!((gw - ww).abs() < 1e-12, "{prompt:?}: got {got:?}, A1111 {want:?}");
        }
    }
}

#[test]
fn clip_tokenizer_matches_transformers() {
    use oekaki::ai::text::ClipTokenizer;
    let tok =
        ClipTokenizer::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tokenizer"))
            .unwrap();
    assert_eq!((tok.start, tok.end, tok.pad, tok.comma), (49406, 49407, 49407, Some(267)));
    let g = golden("clip_tokenizer.json");
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let want: Vec<i64> = c["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(tok.encode(text).unwrap(), want, "{text:?}");
    }
}

#[test]
fn prompts_are_chunked_as_a1111_chunks_them() {
    use oekaki::ai::text::{ClipTokenizer, chunk_prompt};
    let tok =
        ClipTokenizer::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tokenizer"))
            .unwrap();
    let g = golden("a1111_chunks.json");
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let prompt = c["prompt"].as_str().unwrap();
        let chunks = chunk_prompt(&tok, &parse_attention(prompt)).unwrap();
        let want = c["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), want.len(), "{prompt:?}: chunk count");
        for (got, want) in chunks.iter().zip(want) {
            let ids: Vec<i64> = want["tokens"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            assert_eq!(got.ids, ids, "{prompt:?}");
            let mults = floats(&want["multipliers"]);
            let got_m: Vec<f64> = got.multipliers.iter().map(|&m| m as f64).collect();
            assert_close(&format!("{prompt:?} multipliers"), &got_m, &mults, 1e-6);
        }
    }
}
