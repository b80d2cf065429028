#!/usr/bin/env python3
"""Builds a FULL-SIZE random-weight SD1.5 ControlNet and the matching ControlNet-capable UNet for benchmarking
(the per-step cost of ControlNet at 512x512 on CPU). Nothing is downloaded.

Needs the full-size random SD1.5 model from onnx/make_bench_model.py (default /work/bench-models/sd15-random).
Writes (keep both OUTSIDE the repository):
    OUT/{model.onnx, config.json}                 ControlNetModel.from_unet(UNet), default SD1.5 ControlNet
                                                  conditioning embedding (16, 32, 96, 256); 361 M params, one
                                                  self-contained file (~1.4 GB, under protobuf's 2 GB limit)
    BASE/controlnet/{model.onnx, model.onnx_data, config.json}
                                                  the UNet taking the 13 ControlNet residuals (~3.4 GB, external
                                                  data in one file); config.json = byte copy of BASE/unet/config.json

Weights: the UNet is rebuilt exactly as make_bench_model.py builds it (torch.manual_seed(seed + 1),
make_bench_model.make_unet(), randomize_norms), so BASE/controlnet has the weights of BASE/unet/model.onnx; this is
checked initializer by initializer (every state-dict tensor that optimum's export kept under its own name) and by
the all-zero-residual run below. The ControlNet is make_tiny_controlnet.make_controlnet(unet, (16, 32, 96, 256),
seed + 3, seed + 4): from_unet copies conv_in, time embedding, down blocks and mid block of that UNet, then the
conditioning embedding and the zero convolutions are redrawn (gains as for the tiny fixture), so every residual
is non-zero.

ONNX layout and export: exactly make_tiny_controlnet.py's (its export_controlnet / export_controlnet_unet are
reused): opset 17, TorchScript exporter (dynamo=False), fp32, initializer names = diffusers state-dict names.
ControlNet inputs sample, timestep [] (float), encoder_hidden_states, controlnet_cond [B, 3, 8h, 8w] (RGB in
[0, 1]), conditioning_scale [] (float); outputs down_block_0_additional_residual ... down_block_11_additional_residual,
mid_block_additional_residual. UNet inputs sample, timestep, encoder_hidden_states + the 13 residuals; output
out_sample. Traced at batch 2, 16x16 latents; all spatial axes dynamic. (BASE/unet itself is optimum's opset-18
export.)

Checks (after the export; --check-only runs just these):
  * PyTorch vs ONNX at batch 1, 32x32 latents (references computed before the export): ControlNet residuals and
    ControlNet-UNet output;
  * at batch 2, 64x64 latents (512x512 image), onnxruntime CPU with default session options: the 13 residual
    shapes ([2,320,64,64] x3, [2,320,32,32], [2,640,32,32] x2, [2,640,16,16], [2,1280,16,16] x2, [2,1280,8,8] x3,
    mid [2,1280,8,8]); all-zero residuals into BASE/controlnet == BASE/unet (max abs diff); timings of one run of
    BASE/unet, OUT, BASE/controlnet (warm-up, then median of 3), a cross-check for the Rust benchmark.

Disk: refuses to start an export that would leave under 2.5 GB free (needs ~5 GB for both, the UNet's temporary
per-tensor export is deleted before its final copy is written).
Memory: one big model at a time; peak RSS 10.7 GiB for the export, 17 GiB for the checks with timing (13 GiB with
--no-timing; they run in a fresh process, one onnxruntime session at a time).
Time on 2 busy CPU cores: export ~2.5 min, checks ~5.5 min (~2.5 min with --no-timing).

Usage:
    python onnx/make_bench_controlnet.py [--base /work/bench-models/sd15-random]
                                         [--out /work/bench-models/controlnet-random] [--seed 0]
                                         [--skip-check] [--check-only] [--no-timing]
--seed must be the one make_bench_model.py was run with (default 0 for both).
"""
import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_bench_model as mbm  # noqa: E402
import make_tiny_controlnet as mtc  # noqa: E402

log = mbm.log
DEFAULT_BASE = Path("/work/bench-models/sd15-random")
DEFAULT_OUT = Path("/work/bench-models/controlnet-random")
COND_EMBEDDING_CHANNELS = (16, 32, 96, 256)  # diffusers' default = every SD1.5 ControlNet
TRACE_HW = 16
MIN_FREE_GB = 2.5
SD15_RESIDUAL_SHAPES = ([[2, 320, 64, 64]] * 3 + [[2, 320, 32, 32]] + [[2, 640, 32, 32]] * 2 + [[2, 640, 16, 16]]
                        + [[2, 1280, 16, 16]] * 2 + [[2, 1280, 8, 8]] * 3 + [[2, 1280, 8, 8]])


def free_gb(path):
    return shutil.disk_usage(path).free / 1e9


def du_gb(path):
    path = Path(path)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9 if path.exists() else 0.0


def require_disk(where, need_gb, replaced):
    free = free_gb(where) + du_gb(replaced)
    log(f"disk: {free_gb(where):.2f} GB free ({free:.2f} GB once {replaced} is replaced), this export needs "
        f"~{need_gb:.1f} GB")
    if free - need_gb < MIN_FREE_GB:
        sys.exit(f"STOP: exporting to {replaced} would leave {free - need_gb:.2f} GB free (< {MIN_FREE_GB} GB)")


def build_unet(seed):
    torch.manual_seed(seed + 1)  # as make_bench_model.make_pipeline
    return mbm.randomize_norms(mbm.make_unet())


def compare_with_onnx_unet(unet, onnx_path):
    """Max |state dict - initializer| over every UNet tensor that the ONNX file holds under its own name."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(onnx_path), load_external_data=False)
    sd = unet.state_dict()
    worst, n, maps = 0.0, 0, {}
    for init in m.graph.initializer:
        if init.name not in sd:
            continue
        if init.data_location == onnx.TensorProto.EXTERNAL:
            ext = {e.key: e.value for e in init.external_data}
            f = onnx_path.parent / ext["location"]
            if f not in maps:
                maps[f] = np.memmap(f, dtype=np.uint8, mode="r")
            off = int(ext.get("offset", 0))
            arr = maps[f][off:off + int(ext["length"])].view(np.float32).reshape(tuple(init.dims))
        else:
            arr = numpy_helper.to_array(init)
        ref = sd[init.name].numpy()
        assert arr.shape == ref.shape, (init.name, arr.shape, ref.shape)
        worst = max(worst, float(np.abs(arr - ref).max()))
        n += 1
    n_params = sum(v.numel() for k, v in sd.items() if k in {i.name for i in m.graph.initializer})
    return n, len(sd), n_params, worst


def small_inputs():
    g = torch.Generator("cpu").manual_seed(77)
    return (torch.randn((1, 4, 32, 32), generator=g), torch.tensor(951.0), torch.randn((1, 77, 768), generator=g),
            (torch.rand((1, 3, 256, 256), generator=g) > 0.9).float(), torch.tensor(1.0))


def bench_inputs():
    g = torch.Generator("cpu").manual_seed(78)
    return {"sample": torch.randn((2, 4, 64, 64), generator=g).numpy(),
            "timestep": np.asarray(951.0, np.float32),
            "encoder_hidden_states": torch.randn((2, 77, 768), generator=g).numpy(),
            "controlnet_cond": (torch.rand((2, 3, 512, 512), generator=g) > 0.9).float().numpy(),
            "conditioning_scale": np.asarray(1.0, np.float32)}


def export_all(a):
    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)

    unet = build_unet(a.seed)
    log(f"unet: {sum(p.numel() for p in unet.parameters()) / 1e6:.1f} M params")
    n, n_sd, n_params, worst = compare_with_onnx_unet(unet, a.base / "unet" / "model.onnx")
    same = worst == 0.0
    log(f"unet vs {a.base / 'unet' / 'model.onnx'}: {n} of {n_sd} state-dict tensors present by name "
        f"({n_params / 1e6:.1f} M params), max abs diff {worst:.3g} -> "
        f"{'SAME weights' if same else 'DIFFERENT weights'}")
    if not same:
        print("  WARNING: the rebuilt UNet differs from BASE/unet (other --seed or library versions?); the "
              "ControlNet UNet will still be a valid random SD1.5 UNet, but not BASE/unet's weights")

    cn = mtc.make_controlnet(unet, COND_EMBEDDING_CHANNELS, a.seed + 3, a.seed + 4)
    log(f"controlnet: {sum(p.numel() for p in cn.parameters()) / 1e6:.1f} M params")
    sample, t, ehs, cond, scale = small_inputs()
    with torch.no_grad():
        t0 = time.time()
        res = mtc.controlnet_forward(cn)(sample, t, ehs, cond, scale)
        out = mtc.unet_forward(unet)(sample, t, ehs, *res)
        log(f"torch references (batch 1, 32x32) in {time.time() - t0:.1f}s; residual std "
            f"{min(float(r.std()) for r in res):.3f}..{max(float(r.std()) for r in res):.3f}")
    refs = {"res": [r.numpy() for r in res], "out": out.numpy()}
    np.savez(a.refs_file, **{f"r{i}": r for i, r in enumerate(refs["res"])}, out=refs["out"])
    del res, out

    require_disk(a.out.parent, 1.5, a.out)
    t0 = time.time()
    dummy_res = mtc.export_controlnet(cn, a.out, hw=TRACE_HW, external_data=False)
    log(f"controlnet exported to {a.out} in {time.time() - t0:.0f}s")
    del cn
    gc.collect()

    cn_unet_dir = a.base / "controlnet"
    require_disk(a.base, 3.5, cn_unet_dir)
    t0 = time.time()
    mtc.export_controlnet_unet(unet, dummy_res, cn_unet_dir, a.base / "unet" / "config.json", external_data=True)
    log(f"controlnet unet exported to {cn_unet_dir} in {time.time() - t0:.0f}s; {free_gb(a.base):.2f} GB free")
    del unet, dummy_res
    gc.collect()


def release_memory():
    """gc, then hand freed heap memory back to the OS (glibc keeps a deleted session's buffers otherwise)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def session(path):
    import onnxruntime as ort

    t0 = time.time()
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # default options and threads
    return s, time.time() - t0


def timed(sess, feed, names, label, timing, warm=True):
    if warm and timing:
        sess.run(names, feed)
    ts, out = [], None
    for _ in range(3 if timing else 1):
        t0 = time.time()
        out = sess.run(names, feed)
        ts.append(time.time() - t0)
    med = statistics.median(ts)
    log(f"{label}: median {med:.2f}s of {['%.2f' % x for x in ts]}")
    return out, med


def check(a):
    x = bench_inputs()
    base_feed = {k: x[k] for k in ("sample", "timestep", "encoder_hidden_states")}
    res_names = mtc.RESIDUAL_NAMES
    ok, timings = True, {}
    ref = np.load(a.refs_file) if a.refs_file.exists() else None
    if ref is None:
        print(f"  (no PyTorch references at {a.refs_file}: skipping the torch-vs-onnx check)")
    sx = small_inputs()
    small_feed = {"sample": sx[0].numpy(), "timestep": sx[1].numpy(), "encoder_hidden_states": sx[2].numpy()}

    # 1. plain UNet
    s, t_load = session(a.base / "unet" / "model.onnx")
    log(f"{a.base / 'unet'} session {t_load:.1f}s")
    (plain,), timings["unet"] = timed(s, base_feed, ["out_sample"], "plain unet, batch 2, 64x64", a.timing)
    del s
    release_memory()

    # 2. ControlNet
    s, t_load = session(a.out / "model.onnx")
    log(f"{a.out} session {t_load:.1f}s")
    if ref is not None:
        got = s.run(res_names, {**small_feed, "controlnet_cond": sx[3].numpy(), "conditioning_scale": sx[4].numpy()})
        d = max(float(np.abs(g - ref[f"r{i}"]).max()) for i, g in enumerate(got))
        sc = max(float(np.abs(ref[f"r{i}"]).max()) for i in range(len(got)))
        log(f"controlnet ONNX vs PyTorch (batch 1, 32x32): max abs diff {d:.2e} (max |residual| {sc:.1f})")
        ok &= d <= 1e-3 * max(1.0, sc)
    res, timings["controlnet"] = timed(s, x, res_names, "controlnet, batch 2, 64x64 (cond 512x512)", a.timing)
    del s
    release_memory()
    shapes = [list(r.shape) for r in res]
    print(f"  residual shapes: {shapes}")
    print(f"  residual std: {[round(float(r.std()), 3) for r in res]}")
    ok &= shapes == SD15_RESIDUAL_SHAPES
    ok &= all(np.isfinite(r).all() and float(np.abs(r).max()) > 0 for r in res)

    # 3. ControlNet UNet
    s, t_load = session(a.base / "controlnet" / "model.onnx")
    log(f"{a.base / 'controlnet'} session {t_load:.1f}s")
    if ref is not None:
        got = s.run(["out_sample"], {**small_feed, **{n: ref[f"r{i}"] for i, n in enumerate(res_names)}})[0]
        d = float(np.abs(got - ref["out"]).max())
        log(f"controlnet unet ONNX vs PyTorch (batch 1, 32x32): max abs diff {d:.2e} "
            f"(max |out| {float(np.abs(ref['out']).max()):.2f})")
        ok &= d <= 1e-3 * max(1.0, float(np.abs(ref["out"]).max()))
    zeros = {n: np.zeros_like(r) for n, r in zip(res_names, res)}
    t0 = time.time()
    z = s.run(["out_sample"], {**base_feed, **zeros})[0]  # also the warm-up
    d_zero = float(np.abs(z - plain).max())
    log(f"controlnet unet with all-zero residuals vs plain unet (batch 2, 64x64): max abs diff {d_zero:.3e} "
        f"(plain out std {plain.std():.3f}, max |out| {np.abs(plain).max():.3f}); run {time.time() - t0:.2f}s")
    ok &= d_zero <= 1e-3
    (o,), timings["controlnet_unet"] = timed(s, {**base_feed, **dict(zip(res_names, res))}, ["out_sample"],
                                             "controlnet unet, batch 2, 64x64", a.timing, warm=False)
    del s
    release_memory()
    print(f"  out_sample with residuals: std {o.std():.3f}, finite {bool(np.isfinite(o).all())}; "
          f"mean |with residuals - plain| = {float(np.abs(o - plain).mean()):.3f}")
    ok &= bool(np.isfinite(o).all())
    if a.timing:
        u, c, cu = timings["unet"], timings["controlnet"], timings["controlnet_unet"]
        print(f"  TIMINGS (onnxruntime {__import__('onnxruntime').__version__}, CPU, default threads, batch 2, "
              f"64x64 latents): unet {u:.2f}s, controlnet {c:.2f}s, controlnet unet {cu:.2f}s; "
              f"step with ControlNet / without = {(c + cu) / u:.2f}x (+{c + cu - u:.2f}s)")
    return ok


def dir_report(*dirs):
    for d in dirs:
        for f in sorted(Path(d).rglob("*")):
            if f.is_file():
                print(f"  {f}: {f.stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, default=DEFAULT_BASE, help="make_bench_model.py's output")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the ControlNet folder (replaced)")
    ap.add_argument("--seed", type=int, default=0, help="make_bench_model.py's --seed")
    ap.add_argument("--skip-check", action="store_true")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--no-timing", dest="timing", action="store_false", help="one run per model, no medians")
    a = ap.parse_args()
    a.base, a.out = a.base.resolve(), a.out.resolve()
    a.refs_file = a.out.parent / (a.out.name + ".torch-refs.npz")  # small; removed after the check
    repo = HERE.parent
    for p in (a.base, a.out):
        if p == repo or repo in p.parents:
            sys.exit(f"refusing to write GBs into the repository: {p}")
    assert (a.base / "unet" / "model.onnx").exists(), f"{a.base}: run onnx/make_bench_model.py first"
    cfg = json.loads((a.base / "unet" / "config.json").read_text())
    assert cfg["block_out_channels"] == [320, 640, 1280, 1280], cfg["block_out_channels"]
    log(f"start; {free_gb(a.base):.2f} GB free")
    if not a.check_only:
        export_all(a)
        if not a.skip_check:  # a fresh process: the exporter's freed memory is not all returned to the OS
            cmd = [sys.executable, __file__, "--check-only", "--base", str(a.base), "--out", str(a.out),
                   "--seed", str(a.seed)] + ([] if a.timing else ["--no-timing"])
            return subprocess.run(cmd).returncode
    ok = True
    if not a.skip_check:
        ok = check(a)
        a.refs_file.unlink(missing_ok=True)
    dir_report(a.out, a.base / "controlnet")
    log(f"{free_gb(a.base):.2f} GB free; " + ("done" if ok else "CHECK FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
