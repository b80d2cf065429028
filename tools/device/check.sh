#!/usr/bin/env bash
# Runs on the GPU machine of the device tool, from the repository root there, after tools/device/pack.sh here.
#
# One call per piece of the CUDA library, each carrying only that piece, while the machine stays warm (its
# idle wait is 30 s: make the next call at once), then the last call with the programs and the checksum:
#   run(command="tools/device/check.sh stage", carry=[".device/piece-1"], timeout_s=60)
#   ...                                                        (piece-2 ... piece-6)
#   run(command="tools/device/check.sh run", carry=[".device/piece-0.tar.xz", ".device/cuda.sha256"],
#       timeout_s=300)
# then give_back. Each call moves ~58 MiB (the working tree is ~28 MiB of it). "run" unpacks, points ONNX Runtime at the CUDA 13 / cuDNN 9 libraries of the machine's
# PyTorch environment, and runs: the diffusers parity cases on the CPU provider of the GPU build (to check the
# kit), then on CUDA (every pipeline x sampler, with the provider each ran on), and the engine benchmark on CUDA.
# Logs go to $OUT (parity-cpu.log, parity-cuda.log, bench-cuda.log, env.log).
set -uo pipefail
cd "$(dirname "$0")/../.."
STAGE=/tmp/oekaki-gpu
OUT=${OUT:-$STAGE/out}
mkdir -p "$STAGE" "$OUT"

unxz() { if command -v xz >/dev/null; then xz -dc; else python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))'; fi; }

# Whatever pieces this call carried join the ones staged by earlier calls.
for piece in .device/piece-*; do [ -f "$piece" ] && cp "$piece" "$STAGE/"; done

case "${1:-}" in
stage)
  ls -l "$STAGE"
  ;;
run)
  set -e
  cd "$STAGE"
  mkdir -p bin
  unxz < piece-0.tar.xz | tar -C bin -xf -
  cat $(ls piece-[1-9]* | sort -t- -k2 -n) | unxz > bin/libonnxruntime_providers_cuda.so
  cd - >/dev/null
  if [ -f .device/cuda.sha256 ]; then
    echo "$(cat .device/cuda.sha256)  $STAGE/bin/libonnxruntime_providers_cuda.so" | sha256sum -c -
  fi
  # The test binary finds its fixtures at the path it was built in.
  built_in=$(cat "$STAGE/bin/built_in")
  if [ "$built_in" != "$PWD" ] && [ ! -e "$built_in" ]; then mkdir -p "$(dirname "$built_in")" && ln -s "$PWD" "$built_in"; fi
  libs=$(find /opt /usr -type d -path '*site-packages/nvidia/*/lib' 2>/dev/null | paste -sd: -)
  export LD_LIBRARY_PATH="$STAGE/bin:$libs:${LD_LIBRARY_PATH:-}"
  export ORT_DYLIB_PATH=$(ls "$STAGE"/bin/libonnxruntime.so.* | head -1)
  { nvidia-smi || true; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; echo "ORT_DYLIB_PATH=$ORT_DYLIB_PATH"; } > "$OUT/env.log" 2>&1
  set +e
  OEKAKI_TEST_DEVICE=cpu "$STAGE/bin/ai_pipelines" --nocapture --test-threads=1 every_pipeline 2>&1 | tee "$OUT/parity-cpu.log" | tail -3
  OEKAKI_TEST_DEVICE=cuda "$STAGE/bin/ai_pipelines" --nocapture --test-threads=1 2>&1 | tee "$OUT/parity-cuda.log" | tail -25
  OEKAKI_BENCH_DEVICE=cuda "$STAGE/bin/bench_pipeline" tests/fixtures/sd/tiny-sd15 8 64 512 2>&1 | tee "$OUT/bench-cuda.log"
  ;;
*)
  echo "usage: tools/device/check.sh stage | run"; exit 2
  ;;
esac
