#!/usr/bin/env bash
# Engine benchmark: txt2img with the Rust engine (release build) on a model folder at 256² and 512²; prints per-step
# time and the engine's overhead (generation − time inside ONNX Runtime).
#   onnx/bench_engine.sh /path/to/sd15-random [steps]
# Make the full-size random-weight SD1.5 folder with onnx/make_bench_model.py; compare with
# onnx/bench_reference.py (optimum's ORT pipeline and raw onnxruntime runs on the same files).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q --example bench_pipeline -- "${1:?model folder}" "${2:-4}" 256 512
