#!/usr/bin/env python3
"""Exports a diffusers-format Stable Diffusion 1.x/2.x folder to the ONNX layout Oekaki Studio reads.

Makes, under OUT/:
    model_index.json, scheduler/scheduler_config.json,
    tokenizer/{vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json},
    text_encoder/{model.onnx, config.json}, unet/{model.onnx[, model.onnx_data], config.json},
    vae_encoder/{model.onnx, config.json}, vae_decoder/{model.onnx, config.json}
i.e. the standard optimum-onnx layout (`optimum-cli export onnx`), with one change: text_encoder/model.onnx
is re-exported so that besides `last_hidden_state` and `pooler_output` it also outputs
`hidden_states.0` ... `hidden_states.N` (N = number of CLIP layers; index 0 = embeddings; all taken before the
final LayerNorm, exactly like optimum's SDXL text encoders). That is what makes CLIP skip possible: the app
takes hidden_states[-k] and applies the final LayerNorm itself, reading its weight and bias from the
initializers `text_model.final_layer_norm.weight` / `text_model.final_layer_norm.bias` of that file.

Usage:
    python onnx/export_diffusers.py SRC_DIFFUSERS_DIR OUT_DIR [--task text-to-image|inpainting|image-to-image]
                                    [--fp16 [--device cuda]] [--opset 18] [--no-validate]

Works offline (HF_HUB_OFFLINE=1 is set); SRC must be a local folder. `--fp16` traces the models in float16
(optimum `--dtype fp16`); optimum may require `--device cuda` for that. SDXL folders are accepted too: their
text encoders already get hidden-state outputs from optimum and are left as exported.
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_OPSET = 18


class TextEncoderWithHiddenStates(torch.nn.Module):
    """CLIPTextModel forward returning (last_hidden_state, pooler_output, *hidden_states).

    Holds the CLIP transformer as `self.text_model`, so ONNX initializer names match the PyTorch state dict
    (`text_model.final_layer_norm.weight`, ...)."""

    def __init__(self, clip_text_model):
        super().__init__()
        self.text_model = clip_text_model.text_model

    def forward(self, input_ids):
        o = self.text_model(input_ids=input_ids, output_hidden_states=True)
        return (o.last_hidden_state, o.pooler_output, *o.hidden_states)


def export_text_encoder_with_hidden_states(src_dir, out_path, opset=DEFAULT_OPSET, fp16=False, device="cpu",
                                           validate=True):
    """Re-exports SRC/text_encoder (a transformers CLIPTextModel) to OUT_PATH (model.onnx).

    Returns the list of output names. The final LayerNorm weight/bias stay named
    `text_model.final_layer_norm.{weight,bias}`; that is checked."""
    import onnx
    from transformers import CLIPTextModel

    dtype = torch.float16 if fp16 else torch.float32
    model = CLIPTextModel.from_pretrained(str(src_dir), dtype=dtype, attn_implementation="eager")
    model = model.to(device).eval()
    n_layers = model.config.num_hidden_layers
    wrapper = TextEncoderWithHiddenStates(model).eval()
    hs_names = [f"hidden_states.{i}" for i in range(n_layers + 1)]
    output_names = ["last_hidden_state", "pooler_output"] + hs_names
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "last_hidden_state": {0: "batch_size", 1: "sequence_length"},
           "pooler_output": {0: "batch_size"}}
    for n in hs_names:
        dyn[n] = {0: "batch_size", 1: "sequence_length"}
    max_len = model.config.max_position_embeddings
    dummy = torch.full((2, max_len), model.config.eos_token_id, dtype=torch.int64, device=device)
    dummy[:, 0] = model.config.bos_token_id
    dummy[0, 1:4] = torch.tensor([1, 2, 3])
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (out_path, out_path.with_name(out_path.name + "_data")):
        if stale.exists():
            stale.unlink()
    with torch.no_grad():
        torch.onnx.export(wrapper, (dummy,), str(out_path), dynamo=False, opset_version=opset,
                          input_names=["input_ids"], output_names=output_names, dynamic_axes=dyn,
                          do_constant_folding=True)
    # models over 2 GB are written with external data by torch; re-save them as one model.onnx_data file
    m = onnx.load(str(out_path), load_external_data=True)
    inits = {i.name for i in m.graph.initializer}
    for name in ("text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias"):
        if name not in inits:
            raise RuntimeError(f"{out_path}: initializer {name} missing; final LayerNorm cannot be read")
    if m.ByteSize() > 2 * 1024**3 - 1:
        for f in out_path.parent.iterdir():
            if f.name not in ("model.onnx", "config.json"):
                f.unlink()
        onnx.save_model(m, str(out_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=out_path.name + "_data", size_threshold=100)
    if validate:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
        ids = torch.full((1, max_len), model.config.eos_token_id, dtype=torch.int64)
        ids[0, 0] = model.config.bos_token_id
        ids[0, 1:6] = torch.arange(5, 10)
        with torch.no_grad():
            ref = [t.float().numpy() for t in wrapper(ids.to(device))]
        got = sess.run(None, {"input_ids": ids.numpy()})
        worst = max(float(np.abs(a - b.astype(np.float32)).max()) for a, b in zip(ref, got))
        tol = 5e-2 if fp16 else 1e-4
        print(f"  text encoder with hidden states: {len(got)} outputs, max |onnx - torch| = {worst:.2e}")
        if worst > tol:
            raise RuntimeError(f"text encoder ONNX differs from PyTorch by {worst}")
    return output_names


def export_pipeline(src, out, task="text-to-image", fp16=False, opset=DEFAULT_OPSET, device="cpu", validate=True):
    """Exports the diffusers folder SRC to OUT (see module docstring). Used by make_tiny_models.py too."""
    from optimum.exporters.onnx import main_export

    src, out = Path(src), Path(out)
    if out.exists():
        shutil.rmtree(out)
    # optimum's own validation is skipped for fp16: on CPU it raises (and then trips over its own error
    # reporting, IndexError in validate_models_outputs) although the exported files are fine
    main_export(model_name_or_path=str(src), output=str(out), task=task, opset=opset, device=device,
                dtype="fp16" if fp16 else "fp32", library_name="diffusers", local_files_only=True,
                do_validation=validate and not fp16)
    te_onnx = out / "text_encoder" / "model.onnx"
    if (src / "text_encoder").is_dir() and te_onnx.exists():
        import onnx

        names = [o.name for o in onnx.load(str(te_onnx), load_external_data=False).graph.output]
        if not any(n.startswith("hidden_states.") for n in names):
            export_text_encoder_with_hidden_states(src / "text_encoder", te_onnx, opset=opset, fp16=fp16,
                                                   device=device, validate=validate)
    for sub in ("tokenizer", "tokenizer_2"):
        if (src / sub).is_dir() and not (out / sub).is_dir():
            shutil.copytree(src / sub, out / sub)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="diffusers folder (model_index.json, unet/, vae/, text_encoder/, ...)")
    ap.add_argument("out", help="output folder (replaced)")
    ap.add_argument("--task", default=None,
                    help="optimum task; default: inpainting for 9-channel UNets, else text-to-image")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    ap.add_argument("--no-validate", action="store_true")
    a = ap.parse_args()
    task = a.task
    if task is None:
        unet_cfg = json.loads((Path(a.src) / "unet" / "config.json").read_text())
        task = "inpainting" if unet_cfg.get("in_channels") == 9 else "text-to-image"
    export_pipeline(a.src, a.out, task=task, fp16=a.fp16, opset=a.opset, device=a.device,
                    validate=not a.no_validate)
    print(f"exported {a.src} -> {a.out}")


if __name__ == "__main__":
    sys.exit(main())
