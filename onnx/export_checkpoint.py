#!/usr/bin/env python3
"""Exports a single-file Stable Diffusion 1.x checkpoint (.safetensors, A1111/ComfyUI style) to the ONNX layout
Oekaki Studio reads (same output as onnx/export_diffusers.py: optimum layout + a text encoder with
hidden_states.* outputs for CLIP skip).

Steps: checkpoint --StableDiffusion*Pipeline.from_single_file(ckpt, config=<local config dir>,
original_config=<yaml, optional>, local_files_only=True)--> diffusers folder (temporary, or --keep-diffusers DIR)
--export_diffusers.export_pipeline--> OUT_DIR.

Works fully offline. diffusers normally downloads component configs and the CLIP tokenizer from the Hub; here
they come from disk instead:
  --config DIR      a diffusers-format SD1.x folder (model_index.json, */config.json, tokenizer/); weights in it
                    are not needed and not used. If omitted, one is generated from the built-in SD1.5 configs
                    below plus the tokenizer given with --tokenizer.
  --tokenizer DIR   folder with the CLIP ViT-L/14 vocab.json + merges.txt (e.g. ComfyUI's comfy/sd1_tokenizer,
                    or the tokenizer/ folder of any SD1.x diffusers model). Needed when --config is omitted.
  --original-config YAML  the original LDM config (v1-inference.yaml, v1-inpainting-inference.yaml, ...). Optional:
                    when given, diffusers derives the UNet/VAE configs from it (legacy from_single_file behaviour).
The UNet input channels are read from the checkpoint (model.diffusion_model.input_blocks.0.0.weight):
4 -> StableDiffusionPipeline, 9 -> StableDiffusionInpaintPipeline, 8 -> StableDiffusionInstructPix2PixPipeline.

Usage:
    python onnx/export_checkpoint.py model.safetensors OUT_DIR --tokenizer path/to/sd1_tokenizer [--fp16]
    python onnx/export_checkpoint.py model.safetensors OUT_DIR --config path/to/sd15-diffusers-configs
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from export_diffusers import DEFAULT_OPSET, export_pipeline  # noqa: E402

# stable-diffusion-v1-5/stable-diffusion-v1-5 component configs
SD15_UNET = {
    "_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False, "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD15_VAE = {
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "norm_num_groups": 32, "out_channels": 3, "sample_size": 512, "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
SD15_TEXT_ENCODER = {  # openai/clip-vit-large-patch14 text tower, as in SD1.5's text_encoder/config.json
    "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
    "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768, "initializer_factor": 1.0,
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
    "model_type": "clip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1,
    "projection_dim": 768, "torch_dtype": "float32", "vocab_size": 49408,
}
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "trained_betas": None, "clip_sample": False,
}
PIPELINE_FOR_CHANNELS = {4: "StableDiffusionPipeline", 9: "StableDiffusionInpaintPipeline",
                         8: "StableDiffusionInstructPix2PixPipeline"}


def unet_in_channels(ckpt):
    from safetensors import safe_open

    with safe_open(str(ckpt), framework="pt") as f:
        key = "model.diffusion_model.input_blocks.0.0.weight"
        if key not in f.keys():
            raise SystemExit(f"{ckpt}: no {key}; not an SD1.x LDM checkpoint")
        return f.get_slice(key).get_shape()[1]


def write_config_dir(dst, pipeline_class, in_channels, tokenizer_dir):
    from transformers import CLIPTokenizer

    dst = Path(dst)
    for sub, cfg in (("unet", dict(SD15_UNET, in_channels=in_channels)), ("vae", SD15_VAE),
                     ("text_encoder", SD15_TEXT_ENCODER)):
        (dst / sub).mkdir(parents=True, exist_ok=True)
        (dst / sub / "config.json").write_text(json.dumps(cfg, indent=2))
    (dst / "scheduler").mkdir(exist_ok=True)
    (dst / "scheduler" / "scheduler_config.json").write_text(json.dumps(SD15_SCHEDULER, indent=2))
    tdir = Path(tokenizer_dir)
    if (tdir / "tokenizer_config.json").exists():
        tok = CLIPTokenizer.from_pretrained(str(tdir))
    else:  # SD1.x pads with <|endoftext|>
        tok = CLIPTokenizer(str(tdir / "vocab.json"), str(tdir / "merges.txt"), model_max_length=77,
                            pad_token="<|endoftext|>")
    tok.save_pretrained(str(dst / "tokenizer"))
    index = {
        "_class_name": pipeline_class, "feature_extractor": [None, None], "safety_checker": [None, None],
        "requires_safety_checker": False, "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
    }
    if pipeline_class != "StableDiffusionInstructPix2PixPipeline":
        index["image_encoder"] = [None, None]
    (dst / "model_index.json").write_text(json.dumps(index, indent=2))
    return dst


def checkpoint_to_diffusers(ckpt, diffusers_dir, config_dir=None, tokenizer_dir=None, original_config=None):
    import diffusers

    in_ch = unet_in_channels(ckpt)
    if in_ch not in PIPELINE_FOR_CHANNELS:
        raise SystemExit(f"unsupported UNet input channels {in_ch}")
    cls_name = PIPELINE_FOR_CHANNELS[in_ch]
    with tempfile.TemporaryDirectory() as tmp:
        if config_dir is None:
            if tokenizer_dir is None:
                raise SystemExit("give --config DIR or --tokenizer DIR (CLIP vocab.json + merges.txt)")
            config_dir = write_config_dir(Path(tmp) / "config", cls_name, in_ch, tokenizer_dir)
        kw = dict(config=str(config_dir), local_files_only=True, safety_checker=None)
        if original_config:
            kw["original_config"] = str(original_config)
        pipe = getattr(diffusers, cls_name).from_single_file(str(ckpt), **kw)
        pipe.save_pretrained(str(diffusers_dir), safe_serialization=True)
    return cls_name, in_ch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--config", help="local diffusers-format config folder (no weights needed)")
    ap.add_argument("--tokenizer", help="folder with CLIP vocab.json + merges.txt")
    ap.add_argument("--original-config", help="original LDM yaml (optional)")
    ap.add_argument("--keep-diffusers", help="keep the intermediate diffusers folder here")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    ap.add_argument("--no-validate", action="store_true")
    a = ap.parse_args()
    if Path(a.checkpoint).suffix.lower() != ".safetensors":
        # .ckpt / .pt / .bin files are Python pickles: loading one can run arbitrary code. We never unpickle.
        raise SystemExit(f"{a.checkpoint}: only .safetensors checkpoints are accepted (pickled .ckpt/.pt/.bin files "
                         "can run code when loaded; convert them with a tool you trust first)")
    tmp = None
    if a.keep_diffusers:
        ddir = Path(a.keep_diffusers)
        if ddir.exists():
            shutil.rmtree(ddir)
    else:
        tmp = tempfile.mkdtemp(prefix="oekaki-diffusers-")
        ddir = Path(tmp) / "model"
    try:
        cls_name, in_ch = checkpoint_to_diffusers(a.checkpoint, ddir, a.config, a.tokenizer, a.original_config)
        print(f"{a.checkpoint}: {cls_name} ({in_ch}-channel UNet) -> {ddir}")
        task = "inpainting" if in_ch == 9 else "text-to-image"
        export_pipeline(ddir, a.out, task=task, fp16=a.fp16, opset=a.opset, device=a.device,
                        validate=not a.no_validate)
        print(f"exported -> {a.out}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
