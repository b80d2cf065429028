#!/usr/bin/env python3
"""Python reference timings for the engine benchmark: optimum's ORT pipeline and the bare UNet in onnxruntime.

Given an SD1.5-layout ONNX folder (optimum layout, e.g. the random-weight one from onnx/make_bench_model.py):

(a) pipeline: `optimum.onnxruntime.ORTStableDiffusionPipeline.from_pretrained(dir, provider="CPUExecutionProvider")`,
    scheduler swapped to `EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)` (euler_a), txt2img
    size x size, `steps` steps, guidance 7 (CFG: one batch-2 UNet call per step),
    `generator=torch.Generator("cpu").manual_seed(0)`. Reports model load time, total wall time of the call
    (text encoding + denoising + VAE decode + postprocessing), per-step times from `callback_on_step_end`
    timestamps (step 0 is measured from the start of its UNet call), and per-call times of the text encoder,
    UNet and VAE decoder sessions (their `forward` is wrapped).
(b) unet: a plain `onnxruntime.InferenceSession(unet/model.onnx, providers=["CPUExecutionProvider"])` with
    DEFAULT session options (ORT_ENABLE_ALL, default intra/inter-op threads, i.e. what a Rust engine using
    `GraphOptimizationLevel::All` and no thread settings gets), fed batch 2 (CFG) random inputs:
    sample f32 [2,4,size/8,size/8], timestep f32 rank-0 (999), encoder_hidden_states f32 [2,77,768].
    `--unet-warmup` untimed runs (reported separately), then `--unet-runs` timed runs; mean/min/max per run.

The pipeline session set is released before (b) starts, so only one copy of the UNet weights is resident.
A background thread samples the load average and the rustc/cargo processes every 5 s, so a polluted run can
be recognised from the JSON (`environment.max_rustc_cargo_seen`, `rustc_cargo_seen_at`, `loadavg_1m_max`,
`cpu_share_during_run` from /proc/stat incl. VM steal).

Usage:
    python onnx/bench_reference.py MODEL_DIR [--size 256|512] [--steps 4] [--unet-runs 3] [--unet-warmup 1]
                                   [--skip-pipeline] [--skip-unet] [--prompt TEXT] [--out FILE.json]
Prints one JSON object to stdout (progress goes to stderr).
"""
import argparse
import gc
import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)


def peak_rss_gib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)


def busy_processes(names=("rustc", "cargo")):
    """pid -> comm of the processes whose name is in `names` (read from /proc, Linux only)."""
    found = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                comm = (d / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                found[int(d.name)] = comm
    return found


def cpu_times():
    """The aggregate `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal ...), or None."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    def __init__(self, period=5.0):
        super().__init__(daemon=True)
        self.period, self.samples, self._stop_evt = period, [], threading.Event()

    def run(self):
        while not self._stop_evt.is_set():
            procs = busy_processes() if Path("/proc").is_dir() else {}
            self.samples.append({"t": round(time.time(), 1), "loadavg_1m": round(os.getloadavg()[0], 2),
                                 "rustc_cargo": len(procs)})
            self._stop_evt.wait(self.period)

    def stop(self):
        self._stop_evt.set()
        self.join()


def machine_info():
    import onnxruntime as ort

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "onnxruntime": ort.__version__,
            "ort_providers_available": ort.get_available_providers()}


def run_pipeline(model_dir, size, steps, prompt, negative, guidance, seed):
    import torch
    from diffusers import EulerAncestralDiscreteScheduler
    from optimum.onnxruntime import ORTStableDiffusionPipeline

    t0 = time.perf_counter()
    pipe = ORTStableDiffusionPipeline.from_pretrained(str(model_dir), provider="CPUExecutionProvider")
    load_s = time.perf_counter() - t0
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    eprint(f"pipeline loaded in {load_s:.1f}s (peak RSS {peak_rss_gib()} GiB)")

    calls = {"text_encoder": [], "unet": [], "vae_decoder": []}
    unet_starts = []

    def wrap(component, key, on_start=None):
        inner = component.forward

        def timed(*a, **k):
            s = time.perf_counter()
            if on_start:
                on_start(s)
            r = inner(*a, **k)
            calls[key].append(time.perf_counter() - s)
            return r

        component.forward = timed

    wrap(pipe.text_encoder, "text_encoder")
    wrap(pipe.unet, "unet", unet_starts.append)
    wrap(pipe.vae.decoder, "vae_decoder")

    step_ends, timesteps = [], []

    def on_step_end(_pipe, i, t, kw):
        step_ends.append(time.perf_counter())
        timesteps.append(float(t))
        eprint(f"  step {i + 1}/{steps} t={float(t):.1f}: {step_ends[-1] - (step_ends[-2] if i else unet_starts[0]):.2f}s")
        return kw

    gen = torch.Generator("cpu").manual_seed(seed)
    t0 = time.perf_counter()
    out = pipe(prompt=prompt, negative_prompt=negative, height=size, width=size, num_inference_steps=steps,
               guidance_scale=guidance, generator=gen, callback_on_step_end=on_step_end)
    total_s = time.perf_counter() - t0
    img = np.asarray(out.images[0], dtype=np.float32)
    step_s = [step_ends[0] - unet_starts[0]] + [b - a for a, b in zip(step_ends, step_ends[1:])]
    res = {
        "class": type(pipe).__name__, "scheduler": type(pipe.scheduler).__name__,
        "timestep_spacing": pipe.scheduler.config.get("timestep_spacing"),
        "size": size, "steps": steps, "guidance_scale": guidance, "seed": seed, "prompt": prompt,
        "negative_prompt": negative,
        "load_s": round(load_s, 3), "total_s": round(total_s, 3),
        "step_s": [round(s, 3) for s in step_s], "mean_step_s": round(float(np.mean(step_s)), 3),
        "timesteps": timesteps,
        "before_first_step_s": round(unet_starts[0] - t0, 3),
        "after_last_step_s": round(t0 + total_s - step_ends[-1], 3),
        "session_calls_s": {k: [round(x, 3) for x in v] for k, v in calls.items()},
        "image": {"shape": list(img.shape), "mean": round(float(img.mean()), 2), "std": round(float(img.std()), 2)},
    }
    del pipe, out
    gc.collect()
    return res


def run_unet(model_dir, size, runs, warmup, seed):
    import onnxruntime as ort

    path = Path(model_dir) / "unet" / "model.onnx"
    t0 = time.perf_counter()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # default SessionOptions
    session_s = time.perf_counter() - t0
    so = sess.get_session_options()
    eprint(f"unet session in {session_s:.1f}s (peak RSS {peak_rss_gib()} GiB)")
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    chans = shapes["sample"][1] if isinstance(shapes["sample"][1], int) else 4
    ctx = shapes["encoder_hidden_states"][2] if isinstance(shapes["encoder_hidden_states"][2], int) else 768
    rng = np.random.default_rng(seed)
    h = w = size // 8
    feeds = {
        "sample": rng.standard_normal((2, chans, h, w), dtype=np.float32),
        "timestep": np.array(999.0, dtype=np.float32),
        "encoder_hidden_states": rng.standard_normal((2, 77, ctx), dtype=np.float32),
    }
    warm, times = [], []
    for i in range(warmup + runs):
        s = time.perf_counter()
        o = sess.run(["out_sample"], feeds)[0]
        dt = time.perf_counter() - s
        (warm if i < warmup else times).append(dt)
        eprint(f"  unet {'warm-up' if i < warmup else 'run'} {i + 1}: {dt:.2f}s")
    res = {
        "model": str(path), "batch": 2, "sample_shape": list(feeds["sample"].shape),
        "encoder_hidden_states_shape": list(feeds["encoder_hidden_states"].shape), "timestep": 999.0,
        "session_options": {"graph_optimization_level": str(so.graph_optimization_level),
                            "intra_op_num_threads": so.intra_op_num_threads,
                            "inter_op_num_threads": so.inter_op_num_threads,
                            "execution_mode": str(so.execution_mode)},
        "session_s": round(session_s, 3), "warmup_s": [round(x, 3) for x in warm],
        "run_s": [round(x, 3) for x in times],
        "mean_s": round(float(np.mean(times)), 3) if times else None,
        "min_s": round(float(np.min(times)), 3) if times else None,
        "max_s": round(float(np.max(times)), 3) if times else None,
        "out_finite": bool(np.isfinite(o).all()), "out_std": round(float(o.std()), 4),
    }
    del sess
    gc.collect()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--size", type=int, default=512, help="image size in pixels (256 or 512)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--guidance", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt", default="a cat sitting on a windowsill, watercolor")
    ap.add_argument("--negative-prompt", default="")
    ap.add_argument("--unet-runs", type=int, default=3)
    ap.add_argument("--unet-warmup", type=int, default=1)
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--skip-unet", action="store_true")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    a = ap.parse_args()
    if a.size % 8:
        ap.error("--size must be a multiple of 8")

    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    sampler = Sampler()
    sampler.start()
    started, cpu0 = time.time(), cpu_times()
    result = {"model_dir": str(a.model_dir.resolve()), "size": a.size, "steps": a.steps,
              "environment": machine_info()}
    result["environment"]["rustc_cargo_at_start"] = sorted(busy_processes().values())
    phase_start = {}
    if not a.skip_pipeline:
        phase_start["pipeline"] = time.time()
        eprint(f"== pipeline {a.size}x{a.size}, {a.steps} steps")
        result["pipeline"] = run_pipeline(a.model_dir, a.size, a.steps, a.prompt, a.negative_prompt, a.guidance,
                                          a.seed)
    if not a.skip_unet:
        phase_start["unet"] = time.time()
        eprint(f"== unet alone, batch 2, {a.size // 8}x{a.size // 8} latents")
        result["unet"] = run_unet(a.model_dir, a.size, a.unet_runs, a.unet_warmup, a.seed)
    sampler.stop()
    env = result["environment"]
    env["rustc_cargo_at_end"] = sorted(busy_processes().values())
    env["samples"] = len(sampler.samples)
    # [seconds since start, 1-min load average, number of rustc/cargo processes] while any were running
    env["rustc_cargo_seen_at"] = [[round(x["t"] - started, 1), x["loadavg_1m"], x["rustc_cargo"]]
                                  for x in sampler.samples if x["rustc_cargo"]]
    env["phase_start_s"] = {k: round(v - started, 1) for k, v in phase_start.items()}
    env["max_rustc_cargo_seen"] = max((s["rustc_cargo"] for s in sampler.samples), default=0)
    env["loadavg_1m_max"] = max((s["loadavg_1m"] for s in sampler.samples), default=None)
    cpu1 = cpu_times()
    if cpu0 and cpu1 and len(cpu1) > 7:
        d = [b - a for a, b in zip(cpu0, cpu1)]
        total = sum(d[:8]) or 1
        env["cpu_share_during_run"] = {"busy": round(1 - (d[3] + d[4] + d[7]) / total, 3),
                                       "idle": round((d[3] + d[4]) / total, 3), "steal": round(d[7] / total, 3)}
    env["wall_s"] = round(time.time() - started, 1)
    env["peak_rss_gib"] = peak_rss_gib()
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
