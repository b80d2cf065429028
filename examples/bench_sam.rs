//! Segment Anything benchmark on a SAM folder: encoder time for a 1024² picture (all cores) and decoder time
//! per click (one intra-op thread, as the issue's target is stated), median of the runs. An optional
//! `WIDTHxHEIGHT` sets the picture's size (default 1024x1024; the studio works on areas up to 2048 px).
//!
//! ```sh
//! python onnx/make_tiny_sam.py --bench /tmp/sam-bench      # full-size random ViT-B and MobileSAM folders
//! cargo run --release --example bench_sam -- /tmp/sam-bench/sam-vit-b 3 20 [2048x1536]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use oekaki::ai::pipeline::Pixels;
use oekaki::ai::sam::{Point, Prompt, SamModel};
use oekaki::ai::session::{Device, set_intra_op_threads};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: bench_sam MODEL_DIR [ENCODES] [CLICKS] [WIDTHxHEIGHT]")?);
    let encodes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let clicks: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let (width, height) = match args.next() {
        Some(size) => {
            let (w, h) = size.split_once('x').ok_or("the size is WIDTHxHEIGHT")?;
            (w.parse::<usize>()?, h.parse::<usize>()?)
        }
        None => (1024, 1024),
    };
    let data = (0..width * height).flat_map(|i| [(i % width) as u8, (i / width % 256) as u8, ((i * 7) % 251) as u8]);
    let img = Pixels { width, height, data: data.collect() };

    let mut model = SamModel::load(&dir, Device::Cpu)?;
    let mut times = Vec::new();
    let mut emb = None;
    for _ in 0..encodes.max(1) {
        let t = Instant::now();
        emb = Some(model.encode(&img)?);
        times.push(t.elapsed().as_secs_f64());
    }
    println!(
        "{}: {} encoder at {width}×{height}: median {:.3} s over {} runs",
        dir.display(),
        model.family.label(),
        median(times),
        encodes.max(1)
    );
    let emb = emb.ok_or("no embedding")?;

    set_intra_op_threads(1);
    let mut decoder = SamModel::load(&dir, Device::Cpu)?;
    let mut times = Vec::new();
    let mut with_previews = Vec::new();
    let mut previous: Option<Vec<f32>> = None;
    for i in 0..clicks.max(2) {
        let points = (0..=i % 3)
            .map(|k| Point { x: 100.0 + 250.0 * k as f32, y: 300.0 + 40.0 * k as f32, foreground: k != 1 })
            .collect();
        let t = Instant::now();
        let p = decoder.decode(&emb, &Prompt { points, bbox: None }, previous.as_deref())?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        // What the studio's worker does next: every candidate as the tint draws it.
        let previews: Vec<Vec<u8>> = (0..p.candidates()).map(|i| p.preview(i)).collect();
        with_previews.push(t.elapsed().as_secs_f64() * 1000.0);
        let (pw, ph) = p.preview_size();
        assert!(previews.iter().all(|m| m.len() == pw * ph));
        let full = Instant::now();
        let mask = p.mask(p.best);
        let full = full.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(mask.len(), width * height);
        if i == 0 {
            println!("one candidate as a {width}×{height} mask (what the CLI and Enter use): {full:.1} ms");
        }
        previous = p.low_res(p.best).map(<[f32]>::to_vec);
    }
    println!(
        "decoder per click (1 thread, {width}×{height} image, refinement fed back): median {:.1} ms over {} clicks; \
         with every candidate's preview: {:.1} ms",
        median(times),
        clicks.max(2),
        median(with_previews)
    );
    Ok(())
}
