#!/usr/bin/env bash
# Packs what a GPU check of the engine needs into .device/ (ignored by git), for the device tool of a session
# that is lent a GPU machine (see tools/device/check.sh for the calls to make there).
#
# That machine reaches no network and takes at most 64 MiB per call with the working tree (~28 MiB), so the
# CUDA build of ONNX Runtime (onnxruntime-gpu 1.31.1: a 284 MB CUDA provider library, 186 MB as xz) travels
# in ~30 MB pieces, one piece per call, staged in /tmp there while the machine stays warm. piece-0 holds the
# programs (the release builds of the pipeline parity tests and of the engine benchmark) and the rest of the
# runtime; it goes with the last call.
#
# Usage (here, from the repository root):  tools/device/pack.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PIECE_MB=${PIECE_MB:-30}
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf .device && mkdir -p .device/stage

echo "== release builds (the pipeline tests and the benchmark)"
test_bin=$(cargo test --workspace --release --test ai_pipelines --no-run 2>&1 \
  | grep -o 'target/release/deps/ai_pipelines-[0-9a-f]*' | tail -1)
cargo build --workspace --release --example bench_pipeline
cp "$test_bin" .device/stage/ai_pipelines
cp target/release/examples/bench_pipeline .device/stage/bench_pipeline
pwd > .device/stage/built_in   # the tests read their fixtures below the folder they were built in

echo "== the CUDA flavour of ONNX Runtime (fetched and verified by the engine itself)"
OEKAKI_ORT_FLAVOR=cuda target/release/examples/bench_pipeline tests/fixtures/sd/tiny-sd15 1 64 >/dev/null
cache=$(find "${XDG_CACHE_HOME:-$HOME/.cache}/oekaki-studio/onnxruntime" -maxdepth 1 -type d -name '*-cuda' | sort | tail -1)
[ -f "$cache/libonnxruntime_providers_cuda.so" ] || { echo "no CUDA provider library in $cache"; exit 1; }
cp "$cache"/libonnxruntime.so.* "$cache"/libonnxruntime_providers_shared.so .device/stage/

echo "== pieces of at most ${PIECE_MB} MB"
tar -C .device/stage -cJf .device/piece-0.tar.xz .
xz -T2 -6 -c "$cache/libonnxruntime_providers_cuda.so" | split -b "${PIECE_MB}m" -d -a 1 - .device/cuda.xz.
rm -rf .device/stage
i=1
for f in .device/cuda.xz.*; do mv "$f" ".device/piece-$i"; i=$((i + 1)); done
sha256sum "$cache/libonnxruntime_providers_cuda.so" | awk '{print $1}' > .device/cuda.sha256
ls -l .device
echo "pieces: $(ls .device/piece-* | wc -l); make one device call per piece (tools/device/check.sh says how)"
