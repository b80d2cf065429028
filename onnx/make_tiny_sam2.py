#!/usr/bin/env python3
"""Builds a tiny random-weight SAM2 fixture in samexporter's SAM2 layout, and references from sam2's own
`SAM2ImagePredictor`.

    tests/fixtures/sam/tiny-sam2/tiny_sam2.encoder.onnx   samexporter SAM2ImageEncoder: image [1, 3, 1024, 1024]
                                                          -> high_res_feats_0, high_res_feats_1, image_embed
    tests/fixtures/sam/tiny-sam2/tiny_sam2.decoder.onnx   samexporter SAM2ImageDecoder (multimask): 3 masks at
                                                          256x256 (clamped to +-32) and their IoU predictions
    tests/fixtures/sam/reference-sam2/                     features (.f32, shapes in cases.json), masks, scores

Model: sam2's own SAM2Base built from its sam2_hiera_t.yaml with the widths cut down (Hiera embed_dim 8,
stages 1-1-2-1, neck/prompt/decoder width 32, a one-layer memory attention that the image predictor never
uses), keeping the real geometry: 1024 input, stride-16 embeddings (64x64), high-resolution features at 256
and 128, 256x256 low-resolution masks. The weights are made meaningful the same way as make_tiny_sam.py
(constant 2x2 transposed-conv kernels, centred and scaled hypernetwork outputs, a small dense prompt).

The picture is make_tiny_sam.py's 331x229 test image; prompts: one point, points, a box, points + box, and a
refinement step (the best low-resolution logits of the first case fed back). SAM2ImagePredictor puts box
corners before the points and always appends a padding point; samexporter's decoder appends the padding point
itself, so its inputs are box corners then clicks.

Usage:  python onnx/make_tiny_sam2.py [--seed 5]
Needs sam2==1.1.0 (pip install --no-deps, with hydra-core, omegaconf 2.3, antlr4-python3-runtime 4.9.3 and
iopath) and samexporter==0.5.0. About 20 s on 2 CPU cores.
"""
import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import sam2
from make_tiny_sam import (IMAGE_SIZE, OPSET, PROMPTS, constant_upscaling_kernels, quiet_dense_prompt, save_mask,
                           test_picture)
from sam2.sam2_image_predictor import SAM2ImagePredictor
from samexporter.export_sam2 import SAM2ImageDecoder, SAM2ImageEncoder

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 32


def tiny_sam2(seed: int):
    cfg = OmegaConf.load(Path(sam2.__file__).parent / "configs" / "sam2" / "sam2_hiera_t.yaml")
    m = cfg.model
    m.image_encoder.trunk.embed_dim = 8
    m.image_encoder.trunk.stages = [1, 1, 2, 1]  # q-pooling opens stages 2-4; the global block must not
    m.image_encoder.trunk.global_att_blocks = [3]
    m.image_encoder.neck.d_model = WIDTH
    m.image_encoder.neck.position_encoding.num_pos_feats = WIDTH
    m.image_encoder.neck.backbone_channel_list = [64, 32, 16, 8]
    m.memory_attention.d_model = WIDTH
    m.memory_attention.num_layers = 1
    m.memory_attention.layer.d_model = WIDTH
    m.memory_attention.layer.dim_feedforward = 32
    m.memory_attention.layer.self_attention.embedding_dim = WIDTH
    m.memory_attention.layer.cross_attention.embedding_dim = WIDTH
    m.memory_attention.layer.cross_attention.kv_in_dim = 16
    m.memory_encoder.out_dim = 16
    m.memory_encoder.position_encoding.num_pos_feats = 16
    m.memory_encoder.fuser.layer.dim = WIDTH
    m.memory_encoder.fuser.num_layers = 1
    torch.manual_seed(seed)
    model = instantiate(m, _recursive_=True).eval()
    constant_upscaling_kernels(model.sam_mask_decoder.output_upscaling)
    quiet_dense_prompt(model.sam_prompt_encoder)
    return model


def calibrate(model, predictor, target_std: float = 8.0) -> None:
    """Centre and scale each mask token's logits for one click (see make_tiny_sam.calibrate_logits)."""
    w, h = IMAGE_SIZE
    captured = {}

    def grab(_m, _i, out):
        captured["e"] = out

    # The upscaled embedding is act2(dc2(...) + feat_s0): hook the last activation.
    hook = model.sam_mask_decoder.output_upscaling[-1].register_forward_hook(grab)
    for _ in range(3):
        _, _, low = predictor.predict(np.array([[w * 0.4, h * 0.45]]), np.array([1]), multimask_output=True,
                                      return_logits=True)
        e = captured["e"][0]
        m = e.mean(dim=(1, 2))
        with torch.no_grad():
            for i, mlp in enumerate(model.sam_mask_decoder.output_hypernetworks_mlps):
                if i == 0:
                    continue  # token 0 is not among the multimask outputs
                logits = low[i - 1]
                mu, std = float(logits.mean()), float(logits.std())
                mlp.layers[-1].bias.sub_(mu * m / float(m @ m))
                mlp.layers[-1].weight.mul_(target_std / std)
                mlp.layers[-1].bias.mul_(target_std / std)
    hook.remove()


def export(model, out: Path) -> None:
    encoder = SAM2ImageEncoder(model).eval()
    decoder = SAM2ImageDecoder(model, multimask_output=True).eval()
    img = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        f0, f1, emb = encoder(img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, img, str(out / "tiny_sam2.encoder.onnx"), export_params=True, opset_version=OPSET,
                          do_constant_folding=True, input_names=["image"],
                          output_names=["high_res_feats_0", "high_res_feats_1", "image_embed"], dynamo=False)
        args = (emb, f0, f1, torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
                torch.randint(0, 1, (1, 5), dtype=torch.float), torch.randn(1, 1, 256, 256),
                torch.tensor([1], dtype=torch.float))
        torch.onnx.export(
            decoder, args, str(out / "tiny_sam2.decoder.onnx"), export_params=True, opset_version=OPSET,
            do_constant_folding=True,
            input_names=["image_embed", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels",
                         "mask_input", "has_mask_input"],
            output_names=["masks", "iou_predictions"],
            dynamic_axes={"point_coords": {0: "num_labels", 1: "num_points"},
                          "point_labels": {0: "num_labels", 1: "num_points"},
                          "mask_input": {0: "num_labels"}, "has_mask_input": {0: "num_labels"}},
            dynamo=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "sam")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 2))
    model = tiny_sam2(args.seed)
    image = test_picture()
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(image)
    calibrate(model, predictor)

    fixture, ref = args.out / "tiny-sam2", args.out / "reference-sam2"
    for d in (fixture, ref):
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("*"):
            f.unlink()
    export(model, fixture)

    features = {"image_embed": predictor._features["image_embed"],
                "high_res_feats_0": predictor._features["high_res_feats"][0],
                "high_res_feats_1": predictor._features["high_res_feats"][1]}
    shapes = {}
    for name, t in features.items():
        t.detach().numpy().astype("<f4").tofile(ref / f"{name}.f32")
        shapes[name] = list(t.shape)

    cases, low_res = [], {}
    for p in PROMPTS:
        coords = np.array([q[:2] for q in p["points"]], np.float32) if p["points"] else None
        labels = np.array([q[2] for q in p["points"]], np.int64) if p["points"] else None
        box = np.array(p["box"], np.float32) if p["box"] else None
        masks, scores, logits = predictor.predict(point_coords=coords, point_labels=labels, box=box,
                                                  mask_input=low_res.get(p.get("mask_input_from")),
                                                  multimask_output=True, return_logits=True)
        names, fractions = [], []
        for i, m in enumerate(masks):
            name = f"{p['name']}-{i}.png"
            save_mask(m, ref / name)
            names.append(name)
            fractions.append(float(np.mean(m > 0)))
        print(p["name"], "inside:", " ".join(f"{f:.3f}" for f in fractions))
        assert sum(0.03 < f < 0.97 for f in fractions) >= 2, (p["name"], fractions)
        low_res[p["name"]] = logits[int(np.argmax(scores))][None]
        cases.append(dict(p, masks=names, scores=[float(s) for s in scores]))
    doc = {
        "about": "SAM2ImagePredictor (sam2 1.1.0, multimask) on ../reference/image.png with the tiny random-weight "
                 "SAM2; written by onnx/make_tiny_sam2.py.",
        "image_size": list(IMAGE_SIZE),
        "features": shapes,
        "cases": cases,
    }
    (ref / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", fixture, ref)


if __name__ == "__main__":
    main()
