#!/usr/bin/env python3
"""Makes tests/fixtures/sd/tiny-sd15-legacy/ with diffusers' own legacy exporter.

Before optimum, diffusers shipped `scripts/convert_stable_diffusion_checkpoint_to_onnx.py`; the ONNX models on the
Hub from that time (the `onnx` revisions of CompVis/stable-diffusion-v1-4 and runwayml/stable-diffusion-v1-5, and
the community conversions made with it) are in its layout: an "OnnxStableDiffusionPipeline" model index, no
config.json beside the models, text_encoder `input_ids` int32, unet inputs `sample`, float `timestep` [batch],
`encoder_hidden_states` and output `out_sample`, the UNet's weights in `unet/weights.pb`, and a `vae_encoder` that
samples the latent distribution inside the graph (output `latent_sample`).

This runs that script, unmodified, from a diffusers checkout on the tiny SD1.5-shaped PyTorch pipeline that
make_tiny_models.py saves (tiny-sd15), so the fixture has the same weights as tests/fixtures/sd/tiny-sd15. Two
shims are applied at run time, without touching the script:
  - torch.onnx.export defaults to the TorchScript exporter (dynamo=False), as every torch the script was written
    for did (the dynamo exporter in torch >= 2.9 needs onnxscript and gives other graphs);
  - OnnxRuntimeModel.from_pretrained gets provider_options=None: the script's reload step fails without it on
    diffusers 0.39 (KeyError 'provider_options').

Usage:  python onnx/make_legacy_fixture.py --diffusers-repo PATH [--pt-dir DIR]
PATH is a checkout of github.com/huggingface/diffusers (made with commit 58eb52c0803e); nothing of it is copied here.
Run onnx/make_tiny_models.py (--pt-only is enough) first.
"""
import argparse
import functools
import os
import runpy
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "sd" / "tiny-sd15-legacy"
SCRIPT = Path("scripts") / "convert_stable_diffusion_checkpoint_to_onnx.py"
DEFAULT_PT = Path(os.environ.get("OEKAKI_TINY_PT", Path.home() / ".cache" / "oekaki" / "tiny-pt"))


def apply_shims():
    import torch
    from diffusers import OnnxRuntimeModel

    torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)
    original = OnnxRuntimeModel.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        kwargs.setdefault("provider_options", None)
        return original(cls, *args, **kwargs)

    OnnxRuntimeModel.from_pretrained = classmethod(from_pretrained)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--diffusers-repo", required=True, type=Path, help="a checkout of huggingface/diffusers")
    ap.add_argument("--pt-dir", default=str(DEFAULT_PT), type=Path, help="make_tiny_models.py's PyTorch pipelines")
    a = ap.parse_args()
    script = a.diffusers_repo / SCRIPT
    if not script.is_file():
        sys.exit(f"{script} not found: --diffusers-repo must be a checkout of huggingface/diffusers")
    src = a.pt_dir / "tiny-sd15"
    if not (src / "model_index.json").is_file():
        sys.exit(f"{src} not found: run onnx/make_tiny_models.py --pt-only --only tiny-sd15 first")
    apply_shims()
    shutil.rmtree(OUT, ignore_errors=True)
    sys.argv = [str(script), "--model_path", str(src), "--output_path", str(OUT)]
    runpy.run_path(str(script), run_name="__main__")
    for f in OUT.rglob("*"):
        if f.is_file():
            f.chmod(0o644)  # onnx writes weights.pb as 0600
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f.relative_to(ROOT), f.stat().st_size)


if __name__ == "__main__":
    main()
