#!/usr/bin/env python3
"""Builds a FULL-SIZE SD1.5-architecture pipeline with random weights and exports it (fp32) for benchmarking.

The point is realistic compute and memory (same layer widths, depths, attention shapes and weight sizes as
runwayml/stable-diffusion-v1-5), not meaningful images. Nothing is downloaded: every component is built from
its config with PyTorch's default initialisation, plus LayerNorm/GroupNorm affine parameters drawn as
1 + 0.1 N(0,1) / 0.05 N(0,1) (checked to keep activations well inside fp32 range:
out_sample std ~0.3, decoded pixels within a few units).

Output (default /work/bench-models/sd15-random, keep it OUTSIDE the repository; ~4.3 GB):
    model_index.json                      StableDiffusionPipeline, as written by optimum
    scheduler/scheduler_config.json       PNDMScheduler, SD1.5 config (optimum re-saves it with all defaults)
    tokenizer/...                         byte-level CLIP BPE (see below)
    text_encoder/{model.onnx, config.json}          CLIP-L text model; outputs last_hidden_state, pooler_output,
                                                    hidden_states.0 .. hidden_states.12 (like onnx/export_diffusers.py)
    unet/{model.onnx, model.onnx_data, config.json} 859.5 M params, external data (~3.4 GB)
    vae_encoder/{model.onnx, config.json}, vae_decoder/{model.onnx, config.json}

Components:
  UNet    UNet2DConditionModel, SD1.5 config: block_out_channels (320,640,1280,1280), layers_per_block 2,
          cross_attention_dim 768, attention_head_dim 8, sample_size 64, norm_num_groups 32,
          down 3x CrossAttnDownBlock2D + DownBlock2D, up UpBlock2D + 3x CrossAttnUpBlock2D
  CLIP    CLIPTextModel with CLIP-L text config (hidden 768, 12 layers, 12 heads, intermediate 3072,
          vocab 49408, max_position 77, quick_gelu); bos/eos/pad ids 512/513/513 to match the tokenizer
  tok.    byte-level vocab (256 bytes + 256 "</w>" forms + <|startoftext|> 512 + <|endoftext|> 513), no merges,
          model_max_length 77, pad = <|endoftext|> (like SD1.x). Token ids are all < 514, so only the first
          514 rows of the 49408-row embedding table are ever read; compute and file size are CLIP-L's.
  VAE     AutoencoderKL, SD1.5 config: block_out_channels (128,256,512,512), layers_per_block 2, 4 latent
          channels, norm_num_groups 32, sample_size 512, scaling_factor 0.18215
  sched.  PNDMScheduler with SD1.5's scheduler_config.json

Export: optimum-onnx's `onnx_export_from_model` on the in-memory pipeline (the same exporter as
`optimum-cli export onnx`, TorchScript, opset 18, optimum's I/O names and dynamic axes), without optimum's
own validation; then the text encoder is re-exported with hidden_states.* outputs, the convention of
onnx/export_diffusers.py (needed for CLIP skip). Afterwards every model is loaded in onnxruntime, its I/O
printed, and run on small inputs; outputs are compared with PyTorch references computed before the export
(UNet: batch 1, 32x32 latents, t=951).

Usage:
    HF_HUB_OFFLINE=1 python onnx/make_bench_model.py [--out /work/bench-models/sd15-random] [--seed 0]
                                                     [--skip-verify] [--verify-only]
Takes ~8 min on 2 CPU cores (measured: 8m05s, peak RSS 8.8 GiB; the UNet export alone ~6 min).
"""
import argparse
import gc
import json
import os
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_OUT = Path("/work/bench-models/sd15-random")
OPSET = 18  # optimum-onnx's default for SD, also onnx/export_diffusers.py's DEFAULT_OPSET

# runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json
SD15_SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}

BOS, EOS = 512, 513


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def log(msg, t0=[time.time()]):  # noqa: B006 (start time of the script)
    print(f"[{time.time() - t0[0]:7.1f}s, peak RSS {peak_rss_gb():5.2f} GiB] {msg}", flush=True)


def randomize_norms(module, scale_w=0.1, scale_b=0.05):
    """Gives every LayerNorm/GroupNorm a non-trivial affine transform, like a trained model. With the default
    init (all ones / zeros) the TorchScript exporter merges the identical tensors, so e.g.
    `text_model.final_layer_norm.weight` (read by the app for CLIP skip) would not exist under its name."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and m.weight is not None:
                m.weight.copy_(1.0 + scale_w * torch.randn_like(m.weight))
                m.bias.copy_(scale_b * torch.randn_like(m.bias))
    return module


def make_tokenizer(tmp):
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    syms = list(bytes_to_unicode().values())
    vocab = syms + [s + "</w>" for s in syms] + ["<|startoftext|>", "<|endoftext|>"]
    (tmp / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=77,
                        pad_token="<|endoftext|>")
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (BOS, EOS, EOS)
    return tok


def make_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                         num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, projection_dim=768, bos_token_id=BOS, eos_token_id=EOS,
                         pad_token_id=EOS)
    cfg._attn_implementation = "eager"  # as onnx/export_diffusers.py exports the text encoder
    cfg.architectures = ["CLIPTextModel"]
    return CLIPTextModel(cfg).eval()


def make_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
        freq_shift=0, down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1,
        mid_block_scale_factor=1, act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768,
        attention_head_dim=8).eval()


def make_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                         layers_per_block=2, act_fn="silu", latent_channels=4, norm_num_groups=32,
                         sample_size=512, scaling_factor=0.18215).eval()


def make_pipeline(seed, tmp):
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    tok = make_tokenizer(tmp)
    torch.manual_seed(seed)
    te = randomize_norms(make_text_encoder())
    log(f"text encoder: {sum(p.numel() for p in te.parameters()) / 1e6:.1f} M params")
    torch.manual_seed(seed + 1)
    unet = randomize_norms(make_unet())
    log(f"unet: {sum(p.numel() for p in unet.parameters()) / 1e6:.1f} M params")
    torch.manual_seed(seed + 2)
    vae = randomize_norms(make_vae())
    log(f"vae: {sum(p.numel() for p in vae.parameters()) / 1e6:.1f} M params")
    sched = PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG)
    return StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def check_inputs():
    """Small deterministic inputs for the PyTorch-vs-ONNX check."""
    g = torch.Generator("cpu").manual_seed(1234)
    ids = torch.full((2, 77), EOS, dtype=torch.int64)
    ids[:, 0] = BOS
    ids[1, 1:12] = torch.tensor([ord(c) for c in "a red apple"])  # byte ids (ASCII letters map to themselves)
    return {
        "input_ids": ids,
        "sample": torch.randn((1, 4, 32, 32), generator=g),
        "timestep": torch.tensor(951.0),
        "encoder_hidden_states": torch.randn((1, 77, 768), generator=g),
        "image": torch.rand((1, 3, 64, 64), generator=g) * 2 - 1,
        "latent_sample": torch.randn((1, 4, 16, 16), generator=g),
    }


class TextEncoderWithHiddenStates(torch.nn.Module):
    """(last_hidden_state, pooler_output, *hidden_states), as in onnx/export_diffusers.py; keeps the
    `text_model.` prefix so the final LayerNorm initializers are `text_model.final_layer_norm.{weight,bias}`."""

    def __init__(self, clip_text_model):
        super().__init__()
        self.text_model = clip_text_model.text_model

    def forward(self, input_ids):
        o = self.text_model(input_ids=input_ids, output_hidden_states=True)
        return (o.last_hidden_state, o.pooler_output, *o.hidden_states)


@torch.no_grad()
def torch_references(pipe, x):
    refs = {}
    te = TextEncoderWithHiddenStates(pipe.text_encoder).eval()
    refs["text_encoder"] = [t.numpy() for t in te(x["input_ids"])]
    t0 = time.time()
    refs["unet"] = [pipe.unet(x["sample"], x["timestep"], x["encoder_hidden_states"]).sample.numpy()]
    log(f"torch unet 1x4x32x32: {time.time() - t0:.1f}s")
    refs["vae_encoder"] = [torch.cat([pipe.vae.encode(x["image"]).latent_dist.mean,
                                      pipe.vae.encode(x["image"]).latent_dist.logvar], 1).numpy()]
    refs["vae_decoder"] = [pipe.vae.decode(x["latent_sample"]).sample.numpy()]
    return refs


def export_text_encoder_with_hidden_states(text_encoder, out_path):
    import onnx

    n_layers = text_encoder.config.num_hidden_layers
    wrapper = TextEncoderWithHiddenStates(text_encoder).eval()
    hs = [f"hidden_states.{i}" for i in range(n_layers + 1)]
    names = ["last_hidden_state", "pooler_output"] + hs
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": {0: "batch_size"}}
    dyn.update({n: {0: "batch_size", 1: "sequence_length"} for n in hs})
    dummy = torch.full((2, 77), EOS, dtype=torch.int64)
    dummy[:, 0] = BOS
    dummy[0, 1:4] = torch.tensor([1, 2, 3])
    out_path = Path(out_path)
    for stale in (out_path, out_path.with_name(out_path.name + "_data")):
        if stale.exists():
            stale.unlink()
    with torch.no_grad():
        torch.onnx.export(wrapper, (dummy,), str(out_path), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids"], output_names=names, dynamic_axes=dyn,
                          do_constant_folding=True)
    m = onnx.load(str(out_path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    for name in ("text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias"):
        assert name in inits, f"{name} missing in {out_path}"
    return names


def export(pipe, out):
    from optimum.exporters.onnx import onnx_export_from_model

    if out.exists():
        shutil.rmtree(out)
    t0 = time.time()
    onnx_export_from_model(pipe, output=str(out), opset=OPSET, task="text-to-image", do_validation=False,
                           device="cpu")
    log(f"optimum export done in {time.time() - t0:.0f}s")
    export_text_encoder_with_hidden_states(pipe.text_encoder, out / "text_encoder" / "model.onnx")
    log("text encoder re-exported with hidden_states.* outputs")
    # drop machine-specific "_name_or_path" entries
    for cfg in sorted(out.rglob("*.json")):
        d = json.loads(cfg.read_text())
        if isinstance(d, dict) and "_name_or_path" in d:
            del d["_name_or_path"]
            cfg.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")


def describe_session(name, sess):
    lines = [f"  {name}:"]
    for kind, lst in (("in ", sess.get_inputs()), ("out", sess.get_outputs())):
        for a in lst:
            lines.append(f"    {kind} {a.name:24s} {a.type:16s} {a.shape}")
    return "\n".join(lines)


def verify(out, refs=None, x=None):
    import onnxruntime as ort

    x = x or check_inputs()
    feeds = {
        "text_encoder": {"input_ids": x["input_ids"].numpy()},
        "unet": {"sample": x["sample"].numpy(), "timestep": x["timestep"].numpy().astype(np.float32),
                 "encoder_hidden_states": x["encoder_hidden_states"].numpy()},
        "vae_encoder": {"sample": x["image"].numpy()},
        "vae_decoder": {"latent_sample": x["latent_sample"].numpy()},
    }
    ok = True
    for name, feed in feeds.items():
        path = out / name / "model.onnx"
        t0 = time.time()
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # default options
        t_load = time.time() - t0
        print(describe_session(name, sess))
        t0 = time.time()
        got = sess.run(None, feed)
        t_run = time.time() - t0
        finite = all(np.isfinite(g).all() for g in got)
        o = got[0]
        msg = (f"    run: {t_run:.2f}s (session {t_load:.1f}s); {sess.get_outputs()[0].name} shape "
               f"{list(o.shape)} min {o.min():.4f} max {o.max():.4f} std {o.std():.4f} finite={finite}")
        if refs is not None:
            diff = max(float(np.abs(a - b).max()) for a, b in zip(refs[name], got))
            scale = max(float(np.abs(a).max()) for a in refs[name])
            msg += f"; max |onnx - torch| = {diff:.2e} (max |torch| {scale:.2f})"
            ok &= diff <= 1e-3 * max(1.0, scale)
        if name == "unet":
            msg += f"; out_sample[0,:,0,0] = {np.array2string(o[0, :, 0, 0], precision=5)}"
        print(msg, flush=True)
        ok &= finite
        del sess, got
        gc.collect()
    return ok


def dir_report(out):
    for f in sorted(out.rglob("*")):
        if f.is_file():
            print(f"  {f.stat().st_size:>14,d}  {f.relative_to(out)}")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"  {total:>14,d}  total")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-verify", action="store_true", help="do not run the onnxruntime check")
    ap.add_argument("--verify-only", action="store_true",
                    help="only load and run the existing export (no PyTorch comparison)")
    a = ap.parse_args()
    out = a.out.resolve()
    if a.verify_only:
        ok = verify(out)
        dir_report(out)
        return 0 if ok else 1
    repo = Path(__file__).resolve().parent.parent
    if out == repo or repo in out.parents:
        sys.exit(f"refusing to write ~4.3 GB into the repository: {out}")

    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    tmp = out.parent / (out.name + ".tmp-tokenizer")
    pipe = make_pipeline(a.seed, tmp)
    x = check_inputs()
    refs = None if a.skip_verify else torch_references(pipe, x)
    for k, v in (refs or {}).items():
        assert all(np.isfinite(t).all() for t in v), f"torch {k} output not finite"
    export(pipe, out)
    shutil.rmtree(tmp, ignore_errors=True)
    del pipe
    gc.collect()
    ok = True
    if not a.skip_verify:
        log("onnxruntime check (default session options, CPU EP)")
        ok = verify(out, refs, x)
    dir_report(out)
    log("done" + ("" if ok else " -- CHECK FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
