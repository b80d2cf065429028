#!/usr/bin/env python3
"""Builds the tiny random-weight Stable Diffusion 1.5-shaped test fixtures in tests/fixtures/sd/.

For each variant it makes a diffusers PyTorch pipeline with the real SD1.5 *architecture shape* but tiny
widths, saves it outside the repository (default ~/.cache/oekaki/tiny-pt/<name>, override with
$OEKAKI_TINY_PT or --pt-dir; make_references.py reads it from there), and exports it with
onnx/export_diffusers.py (optimum-onnx + a text encoder that also outputs hidden_states.*) to
tests/fixtures/sd/<name>/:

    tiny-sd15          StableDiffusionPipeline, 4-channel UNet, PNDM scheduler (SD1.5 config)
    tiny-sd15-inpaint  StableDiffusionInpaintPipeline, 9-channel UNet
    tiny-sd15-ip2p     StableDiffusionInstructPix2PixPipeline, 8-channel UNet
    tiny-sd15-lcm      LatentConsistencyModelPipeline, 4-channel UNet with time_cond_proj_dim=8, LCMScheduler
    tiny-sd2-v         StableDiffusionPipeline shaped like SD 2.1 (768-v): OpenCLIP-style text encoder (exact
                       gelu, SD2's token ids bos 0 / eos 2 / pad 1 in its config), tokenizer padding with "!",
                       UNet with linear transformer projections, per-block head counts and upcast attention,
                       DDIMScheduler with prediction_type v_prediction (stabilityai/stable-diffusion-2-1's config)

Shapes (structure-faithful, see shared reference §8.2):
  tokenizer   byte-level CLIP BPE: vocab.json = 256 byte symbols + 256 "</w>" forms + <|startoftext|> (512)
              + <|endoftext|> (513), merges.txt = "#version: 0.2" only, pad = <|endoftext|> like SD1.x, 77 tokens
  text enc.   CLIPTextModel hidden 16, intermediate 32, 2 layers, 2 heads, quick_gelu, vocab 514
  UNet        4 down blocks (3 CrossAttnDownBlock2D + DownBlock2D) / 4 up blocks, layers_per_block 2,
              block_out_channels (4,4,8,8), norm_num_groups 2, cross_attention_dim 16, attention_head_dim 2,
              sample_size 8  -> 12 ControlNet-style down residuals like SD1.5
  VAE         AutoencoderKL block_out_channels (8,8,8,8) (factor 8), 4 latent channels, layers_per_block 1,
              norm_num_groups 4, scaling_factor 0.18215
All LayerNorm/GroupNorm affine parameters are randomised (weight ~ 1 + 0.3 N(0,1), bias ~ 0.2 N(0,1)) so that,
e.g., applying the CLIP final LayerNorm is observable. torch.manual_seed(<fixed>) precedes every component.

Usage:  python onnx/make_tiny_models.py [--pt-dir DIR] [--only NAME ...] [--pt-only]
(--pt-only rebuilds just the PyTorch pipelines that make_references.py reads, leaving tests/fixtures/ alone.)
Deterministic (byte-identical ONNX files on re-runs); about 30 s per variant on 2 CPU cores.
Re-exporting tiny-sd15 replaces its folder: run onnx/make_tiny_taesd.py afterwards (tiny-sd15/taesd_decoder/).
It also removes tiny-sd15/controlnet/ (the ControlNet-capable UNet): run onnx/make_tiny_controlnet.py afterwards too.
tiny-sd15-legacy/ holds tiny-sd15's weights too (onnx/make_legacy_fixture.py): re-make it when tiny-sd15 changes.
"""
import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from export_diffusers import export_pipeline  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "sd"
DEFAULT_PT = Path(os.environ.get("OEKAKI_TINY_PT", Path.home() / ".cache" / "oekaki" / "tiny-pt"))

# runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json (no "timestep_spacing" key, like the original)
SD15_SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
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

# LCMScheduler with SD1.5 betas and LCMScheduler's own defaults for the LCM-specific keys
LCM_SCHEDULER_CONFIG = {
    "_class_name": "LCMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "original_inference_steps": 50,
    "prediction_type": "epsilon",
    "set_alpha_to_one": True,
    "steps_offset": 1,
    "timestep_scaling": 10.0,
    "timestep_spacing": "leading",
    "trained_betas": None,
}

# stabilityai/stable-diffusion-2-1 scheduler/scheduler_config.json (768-v: v-prediction, no "timestep_spacing")
SD21_SCHEDULER_CONFIG = {
    "_class_name": "DDIMScheduler",
    "_diffusers_version": "0.8.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

SD15 = "sd15"
SD2 = "sd2"

VARIANTS = {
    # name: (pipeline class, unet in_channels, time_cond_proj_dim, scheduler config, optimum task, family)
    "tiny-sd15": ("StableDiffusionPipeline", 4, None, SD15_SCHEDULER_CONFIG, "text-to-image", SD15),
    "tiny-sd15-inpaint": ("StableDiffusionInpaintPipeline", 9, None, SD15_SCHEDULER_CONFIG, "inpainting", SD15),
    "tiny-sd15-ip2p": ("StableDiffusionInstructPix2PixPipeline", 8, None, SD15_SCHEDULER_CONFIG, "text-to-image",
                       SD15),
    "tiny-sd15-lcm": ("LatentConsistencyModelPipeline", 4, 8, LCM_SCHEDULER_CONFIG, "text-to-image", SD15),
    "tiny-sd2-v": ("StableDiffusionPipeline", 4, None, SD21_SCHEDULER_CONFIG, "text-to-image", SD2),
}

SEED_TEXT, SEED_UNET, SEED_VAE = 1001, 1002, 1003


def randomize_norms(module, scale_w=0.3, scale_b=0.2):
    """Gives every LayerNorm/GroupNorm a non-trivial affine transform (uses the global torch RNG)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and m.weight is not None:
                m.weight.copy_(1.0 + scale_w * torch.randn_like(m.weight))
                m.bias.copy_(scale_b * torch.randn_like(m.bias))


def write_tokenizer(dst, family=SD15):
    """SD1.x pads with <|endoftext|>; SD2.x (OpenCLIP's tokenizer as diffusers ships it) pads with "!" (id 0)."""
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    syms = list(bytes_to_unicode().values())
    vocab = syms + [s + "</w>" for s in syms] + ["<|startoftext|>", "<|endoftext|>"]
    tmp = dst / "_src"
    tmp.mkdir(exist_ok=True)
    (tmp / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    pad = "!" if family == SD2 else "<|endoftext|>"
    tok = CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=77, pad_token=pad)
    shutil.rmtree(tmp)
    assert tok.bos_token_id == 512 and tok.eos_token_id == 513
    assert tok.pad_token_id == (0 if family == SD2 else 513)
    return tok


def make_text_encoder(family=SD15):
    from transformers import CLIPTextConfig, CLIPTextModel

    if family == SD2:
        # SD2's converted OpenCLIP ViT-H text tower: exact gelu, and the legacy token ids 0/2/1 in its config
        # (transformers then pools at argmax(input_ids), which is <|endoftext|> here too)
        act, ids = "gelu", dict(bos_token_id=0, eos_token_id=2, pad_token_id=1)
    else:
        act, ids = "quick_gelu", dict(bos_token_id=512, eos_token_id=513, pad_token_id=513)
    cfg = CLIPTextConfig(vocab_size=514, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act=act,
                         layer_norm_eps=1e-5, projection_dim=16, **ids)
    torch.manual_seed(SEED_TEXT)
    te = CLIPTextModel(cfg)
    # a larger token-embedding scale so different prompts give clearly different embeddings
    with torch.no_grad():
        te.text_model.embeddings.token_embedding.weight.normal_(0.0, 0.5)
        te.text_model.embeddings.position_embedding.weight.normal_(0.0, 0.1)
    randomize_norms(te)
    return te.eval()


def make_unet(in_channels, time_cond_proj_dim, family=SD15):
    from diffusers import UNet2DConditionModel

    # SD2.x: Linear (not 1x1 conv) transformer in/out projections, a head count per block (SD2's
    # attention_head_dim [5, 10, 20, 20] is really that), attention computed in float32 (2.1)
    sd2 = dict(attention_head_dim=(1, 2, 4, 4), use_linear_projection=True, upcast_attention=True)
    torch.manual_seed(SEED_UNET)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=in_channels, out_channels=4, layers_per_block=2,
        block_out_channels=(4, 4, 8, 8),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=16, norm_num_groups=2, time_cond_proj_dim=time_cond_proj_dim,
        **(sd2 if family == SD2 else dict(attention_head_dim=2)))
    randomize_norms(unet)
    return unet.eval()


def make_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(SEED_VAE)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 8, 8),
                        layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=64,
                        scaling_factor=0.18215)
    randomize_norms(vae)
    return vae.eval()


def build_pytorch_pipeline(name, dst):
    import diffusers

    cls_name, in_ch, tcond, sched_cfg, _, family = VARIANTS[name]
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    tok = write_tokenizer(dst / "_tok", family)
    sched_cls = getattr(diffusers, sched_cfg["_class_name"])
    scheduler = sched_cls.from_config({k: v for k, v in sched_cfg.items() if not k.startswith("_")})
    kwargs = dict(vae=make_vae(), text_encoder=make_text_encoder(family), tokenizer=tok,
                  unet=make_unet(in_ch, tcond, family), scheduler=scheduler, safety_checker=None,
                  feature_extractor=None, requires_safety_checker=False)
    pipe = getattr(diffusers, cls_name)(**kwargs)
    pipe.save_pretrained(str(dst), safe_serialization=True)
    shutil.rmtree(dst / "_tok")
    # the scheduler config exactly as in the original model (save_pretrained would add every default)
    (dst / "scheduler" / "scheduler_config.json").write_text(json.dumps(sched_cfg, indent=2) + "\n")
    return pipe


def check_vae_contrast(pipe):
    g = torch.Generator("cpu").manual_seed(0)
    lat = torch.randn((1, 4, 8, 8), generator=g)
    with torch.no_grad():
        img = pipe.vae.decode(lat / pipe.vae.config.scaling_factor).sample
    img = (img / 2 + 0.5).clamp(0, 1)
    return float(img.std() * 255)


def dir_size(p):
    return sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pt-dir", default=str(DEFAULT_PT), help="where the PyTorch pipelines go (outside the repo)")
    ap.add_argument("--only", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--pt-only", action="store_true", help="build the PyTorch pipelines only, export nothing")
    a = ap.parse_args()
    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)  # TorchScript exporter chatter
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    pt_root = Path(a.pt_dir)
    for name in a.only:
        t0 = time.time()
        print(f"== {name}")
        pipe = build_pytorch_pipeline(name, pt_root / name)
        print(f"  PyTorch pipeline -> {pt_root / name}; decoded random latents pixel std = "
              f"{check_vae_contrast(pipe):.1f}/255")
        if a.pt_only:
            continue
        out = FIXTURES / name
        export_pipeline(pt_root / name, out, task=VARIANTS[name][4])
        # optimum keeps the diffusers class names; make sure the pipeline class is the source's
        src_index = json.loads((pt_root / name / "model_index.json").read_text())
        idx_path = out / "model_index.json"
        idx = json.loads(idx_path.read_text())
        if idx.get("_class_name") != src_index["_class_name"]:
            print(f"  model_index _class_name {idx.get('_class_name')} -> {src_index['_class_name']}")
            idx["_class_name"] = src_index["_class_name"]
            idx_path.write_text(json.dumps(idx, indent=2, sort_keys=True) + "\n")
        # drop machine-specific source paths ("_name_or_path") so the fixtures are byte-reproducible
        for cfg in sorted(out.rglob("*.json")):
            d = json.loads(cfg.read_text())
            if isinstance(d, dict) and "_name_or_path" in d:
                del d["_name_or_path"]
                cfg.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
        print(f"  {out.relative_to(REPO)}: {dir_size(out) / 1e6:.2f} MB, {time.time() - t0:.0f} s")
    print(f"tests/fixtures/sd total: {dir_size(FIXTURES) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
