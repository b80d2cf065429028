//! Engine benchmark on a model folder: txt2img at the given sizes, reporting per-step time and the engine's
//! overhead (generation time − time inside ONNX Runtime). Build it in release:
//!
//! ```sh
//! cargo run --release --example bench_pipeline -- /path/to/sd15-random 4 256 512
//! ```
//! The full-size random-weight SD1.5 folder comes from `onnx/make_bench_model.py`; `onnx/bench_reference.py`
//! times diffusers/optimum and raw onnxruntime on the same files.
//!
//! `OEKAKI_BENCH_DEVICE=cuda` (or directml, coreml) runs on that provider instead of the CPU.
//!
//! With `OEKAKI_BENCH_CONTROLNET=/path/to/controlnet` each size also runs guided by that ControlNet (the base
//! folder needs `controlnet/model.onnx`), and the per-step cost is reported as a ratio to the plain step.

use std::path::PathBuf;

use oekaki::ai::pipeline::{Engine, Request};
use oekaki::ai::session::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(args.next().ok_or("usage: bench_pipeline MODEL [STEPS] [SIZE...]")?);
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(4);
    let mut sizes: Vec<usize> = args.map(|s| s.parse()).collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        sizes = vec![256, 512];
    }
    let controlnet = std::env::var_os("OEKAKI_BENCH_CONTROLNET").map(PathBuf::from);
    // OEKAKI_BENCH_DEVICE=cuda|directml|coreml times a GPU provider (default: the CPU).
    let device = std::env::var("OEKAKI_BENCH_DEVICE").map_or(Ok(Device::Cpu), |d| Device::parse(&d))?;
    let mut engine = Engine::new(device);
    for size in sizes {
        let req = Request {
            prompt: "1girl, silver hair, cherry blossoms, (masterpiece:1.2)".into(),
            negative: "lowres, bad hands".into(),
            steps,
            width: size,
            height: size,
            ..Request::default()
        };
        let out = engine.generate(&model, &req, &mut |_| true)?;
        println!("providers: {:?}", out.providers);
        let t = &out.timings;
        let generation = t.total - t.load;
        let overhead = generation - t.onnx_runtime;
        let mean = t.unet_steps.iter().sum::<f64>() / t.unet_steps.len() as f64;
        println!(
            "{size}x{size}: load {:.2} s | prompt {:.3} s (tokenize {:.4} s) | step mean {:.3} s, first {:.3} s | \
             vae decode {:.3} s | generation {:.3} s, inside ORT {:.3} s, overhead {:.4} s = {:.3} %",
            t.load,
            t.tokenize_and_encode,
            t.tokenize,
            mean,
            t.unet_steps[0],
            t.vae_decode,
            generation,
            t.onnx_runtime,
            overhead,
            100.0 * overhead / generation
        );
        if let Some(dir) = &controlnet {
            // A line drawing: a grid of white lines on black.
            let data = (0..size * size)
                .flat_map(|i| if (i % size) % 32 == 0 || (i / size) % 32 == 0 { [255u8; 3] } else { [0u8; 3] })
                .collect();
            let image = oekaki::ai::pipeline::Pixels { width: size, height: size, data };
            let control =
                oekaki::ai::controlnet::Control { image, model: dir.clone(), scale: 1.0, start: 0.0, end: 1.0 };
            let guided = engine.generate(&model, &Request { controls: vec![control], ..req }, &mut |_| true)?;
            let steps = &guided.timings.unet_steps;
            // the first guided step also loads nothing (sessions load before the loop), but warms the ControlNet
            let warm: Vec<f64> = steps.iter().skip(1).copied().collect();
            let plain: Vec<f64> = out.timings.unet_steps.iter().skip(1).copied().collect();
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            println!(
                "{size}x{size} with ControlNet: step mean {:.3} s (plain {:.3} s, both without the first step) = {:.2}x the plain step",
                mean(&warm),
                mean(&plain),
                mean(&warm) / mean(&plain)
            );
        }
    }
    Ok(())
}
