#!/usr/bin/env python3
"""Builds a tiny random-weight EfficientSAM fixture in the layout of EfficientSAM's own ONNX export
(`export_to_onnx.py` / `onnx_models.py`, from labelme), with references from those PyTorch modules.

    tests/fixtures/sam/tiny-efficientsam/tiny_efficientsam_encoder.onnx   batched_images [B, 3, H, W] (RGB in
                                     [0, 1], any size: the graph resizes to 1024² and normalizes) -> image_embeddings
    tests/fixtures/sam/tiny-efficientsam/tiny_efficientsam_decoder.onnx   image_embeddings, batched_point_coords
                                     [B, Q, N, 2] (original pixels), batched_point_labels [B, Q, N], orig_im_size
                                     int64 [2] -> output_masks [B, Q, 3, H, W], iou_predictions [B, Q, 3]
    tests/fixtures/sam/reference-efficientsam/   masks (logits > 0), scores, cases.json

EfficientSAM is not on PyPI: pass a checkout of github.com/yformer/EfficientSAM with --repo (its `efficient_sam`
package and `onnx_models.py` are imported from there; nothing of it is copied here).

Model: EfficientSAM's own classes with small widths (ViT encoder patch_embed_dim 32, depth 2, neck [32, 32];
decoder width 32, upscaling [16, 8]), keeping the real geometry (1024 input, 64x64 embeddings, 256x256 masks)
and the real prompt rules: at most 6 points per query, padded with label -1 inside the graph, box corners as
labels 2 and 3, background clicks as label 0 (EfficientSAM gives them no label embedding). Weights are made
meaningful as in make_tiny_sam.py. EfficientSAM has no mask input, so the refinement case is its clicks alone.

Usage:  python onnx/make_tiny_efficientsam.py --repo PATH_TO_EfficientSAM [--seed 3]
"""
import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from make_tiny_sam import IMAGE_SIZE, OPSET, PROMPTS, constant_upscaling_kernels, save_mask, test_picture

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 32


def tiny_efficientsam(seed: int):
    from efficient_sam.efficient_sam import EfficientSam
    from efficient_sam.efficient_sam_decoder import MaskDecoder, PromptEncoder
    from efficient_sam.efficient_sam_encoder import ImageEncoderViT
    from efficient_sam.two_way_transformer import TwoWayTransformer

    torch.manual_seed(seed)
    encoder = ImageEncoderViT(img_size=1024, patch_size=16, in_chans=3, patch_embed_dim=32,
                              normalization_type="layer_norm", depth=2, num_heads=2, mlp_ratio=2.0,
                              neck_dims=[WIDTH, WIDTH], act_layer=nn.GELU)
    decoder = MaskDecoder(
        transformer_dim=WIDTH,
        transformer=TwoWayTransformer(depth=2, embedding_dim=WIDTH, num_heads=2, mlp_dim=64, activation=nn.GELU,
                                      normalize_before_activation=False),
        num_multimask_outputs=3, activation=nn.GELU, normalization_type="layer_norm",
        normalize_before_activation=False, iou_head_depth=2, iou_head_hidden_dim=32, upscaling_layer_dims=[16, 8])
    model = EfficientSam(
        image_encoder=encoder,
        prompt_encoder=PromptEncoder(embed_dim=WIDTH, image_embedding_size=(64, 64), input_image_size=(1024, 1024)),
        decoder_max_num_input_points=6, mask_decoder=decoder,
        pixel_mean=[0.485, 0.456, 0.406], pixel_std=[0.229, 0.224, 0.225]).eval()
    constant_upscaling_kernels(model.mask_decoder.final_output_upscaling_layers)
    return model


def prompt_tensors(p):
    """Clicks, then box corners (labels 2, 3), as one query."""
    pts = [q[:2] for q in p["points"]]
    labels = [float(q[2]) for q in p["points"]]
    if p["box"]:
        x0, y0, x1, y1 = p["box"]
        pts += [[x0, y0], [x1, y1]]
        labels += [2.0, 3.0]
    return torch.tensor([[pts]], dtype=torch.float), torch.tensor([[labels]], dtype=torch.float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, required=True, help="a checkout of github.com/yformer/EfficientSAM")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "sam")
    args = ap.parse_args()
    sys.path.insert(0, str(args.repo))
    import onnx_models

    torch.set_num_threads(max(1, os.cpu_count() or 2))
    model = tiny_efficientsam(args.seed)
    enc, dec = onnx_models.OnnxEfficientSamEncoder(model=model), onnx_models.OnnxEfficientSamDecoder(model=model)
    w, h = IMAGE_SIZE
    picture = torch.from_numpy(test_picture()).permute(2, 0, 1)[None].float() / 255.0
    size = torch.tensor([h, w], dtype=torch.long)
    with torch.no_grad():
        emb = enc(picture)
        # Centre and scale the multimask tokens' logits for one click (see make_tiny_sam.calibrate_logits).
        captured = {}
        hook = model.mask_decoder.final_output_upscaling_layers[-1].register_forward_hook(
            lambda _m, _i, out: captured.update(e=out))
        for _ in range(3):
            pts, labels = prompt_tensors({"points": [[w * 0.4, h * 0.45, 1]], "box": None})
            masks, _, _ = dec(emb, pts, labels, size)
            m = captured["e"][0].mean(dim=(1, 2))
            for i in range(1, 4):
                fc = model.mask_decoder.output_hypernetworks_mlps[i].fc
                logits = masks[0, 0, i - 1]
                mu, std = float(logits.mean()), float(logits.std())
                fc.bias.sub_(mu * m / float(m @ m))
                fc.weight.mul_(8.0 / std)
                fc.bias.mul_(8.0 / std)
        hook.remove()
        emb = enc(picture)

    fixture, ref = args.out / "tiny-efficientsam", args.out / "reference-efficientsam"
    for d in (fixture, ref):
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("*"):
            f.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(enc, (torch.rand(1, 3, 300, 500),), str(fixture / "tiny_efficientsam_encoder.onnx"),
                          export_params=True, opset_version=OPSET, do_constant_folding=True,
                          input_names=["batched_images"], output_names=["image_embeddings"],
                          dynamic_axes={"batched_images": {0: "batch", 2: "height", 3: "width"}}, dynamo=False)
        dummy = (torch.randn(1, WIDTH, 64, 64), torch.randint(0, 300, (1, 1, 5, 2)).float(),
                 torch.randint(0, 4, (1, 1, 5)).float(), torch.tensor([300, 500], dtype=torch.long))
        torch.onnx.export(dec, dummy, str(fixture / "tiny_efficientsam_decoder.onnx"), export_params=True,
                          opset_version=OPSET, do_constant_folding=True,
                          input_names=["image_embeddings", "batched_point_coords", "batched_point_labels",
                                       "orig_im_size"],
                          output_names=["output_masks", "iou_predictions"],
                          dynamic_axes={"image_embeddings": {0: "batch"}, "batched_point_coords": {2: "num_points"},
                                        "batched_point_labels": {2: "num_points"}}, dynamo=False)
    emb.numpy().astype("<f4").tofile(ref / "image_embeddings.f32")

    cases = []
    with torch.no_grad():
        for p in PROMPTS:
            pts, labels = prompt_tensors(p)
            masks, scores, _ = dec(emb, pts, labels, size)
            names, fractions = [], []
            for i in range(masks.shape[2]):
                name = f"{p['name']}-{i}.png"
                mask = masks[0, 0, i].numpy()
                save_mask(mask, ref / name)
                names.append(name)
                fractions.append(float(np.mean(mask > 0)))
            print(p["name"], "inside:", " ".join(f"{f:.3f}" for f in fractions))
            assert sum(0.03 < f < 0.97 for f in fractions) >= 2, (p["name"], fractions)
            case = {k: v for k, v in p.items() if k != "mask_input_from"}
            cases.append(dict(case, masks=names, scores=[float(s) for s in scores[0, 0]]))
    doc = {
        "about": "EfficientSAM's ONNX export modules (onnx_models.py) in PyTorch on ../reference/image.png with the "
                 "tiny random-weight EfficientSAM; written by onnx/make_tiny_efficientsam.py.",
        "image_size": [w, h],
        "features": {"image_embeddings": list(emb.shape)},
        "cases": cases,
    }
    (ref / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", fixture, ref)


if __name__ == "__main__":
    main()
