#!/usr/bin/env python3
"""Builds tiny random-weight Segment Anything (SAM v1) fixtures in the samexporter layout, and references
from segment-anything's own `SamPredictor`.

    tests/fixtures/sam/tiny-sam/tiny_sam.encoder.onnx        samexporter `--use-preprocess` encoder: input_image
                                                             f32 [h, w, 3] RGB 0-255 (long side already 1024)
    tests/fixtures/sam/tiny-sam/tiny_sam.decoder.onnx        official SamOnnxModel, all 4 mask tokens
    tests/fixtures/sam/tiny-sam-plain/tiny_sam.encoder.onnx  encoder without preprocessing: [1, 3, 1024, 1024],
                                                             normalized and zero-padded by the caller
    tests/fixtures/sam/tiny-sam-plain/tiny_sam.decoder.onnx  SamOnnxModel --return-single-mask
    tests/fixtures/sam/reference/image.png                   a 331x229 test picture (odd, non-square)
    tests/fixtures/sam/reference/embeddings.f32              PyTorch's image embeddings for it, f32 LE [1,C,64,64]
    tests/fixtures/sam/reference/cases.json                  prompts, IoU scores and mask file names
    tests/fixtures/sam/reference/*.png                       PyTorch masks (255 inside, logits > 0)

Model: segment_anything's own classes with small widths (ViT encoder embed_dim 32, depth 2, 2 heads, window 14,
global attention in block 1, neck/out channels 32; prompt encoder and two-way transformer at width 32), keeping
the real geometry: 1024 input, 16 px patches, 64x64 embeddings, 256x256 low-resolution masks. Weights: PyTorch's
default initialisation under torch.manual_seed(SEED); the hypernetwork MLPs' last layers are then scaled so the
mask logits have a standard deviation of about 8 on the test picture (random SAMs otherwise give logits near 0,
where any comparison would pass).

Decoder export: `SamOnnxModel` crops the upsampled masks with `int(prepadded_size[...])`, which the TorchScript
exporter freezes to the dummy's aspect ratio; the script patches that crop to slice by the tensor (the same
arithmetic, kept dynamic) and checks the ONNX decoder against PyTorch at three aspect ratios.

References (SamPredictor on image.png): one foreground point (multimask), foreground + background points, a box,
points + box, and a refinement step (the best low-resolution logits of the first case fed back as mask_input
with one more point). Masks are stored per token; `scores` are the IoU predictions.

Usage:  python onnx/make_tiny_sam.py [--seed 8] [--out DIR]
        python onnx/make_tiny_sam.py --bench DIR     full-size random ViT-B (encoder + decoder) and MobileSAM
                                                      encoders for the benchmarks (~450 MB, outside the repo)
Needs segment-anything==1.0 and torchvision (transforms only) beside torch; --bench also samexporter (MobileSAM's
TinyViT). Deterministic; about 30 s on 2 CPU cores.
"""
import argparse
import json
import os
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from segment_anything import SamPredictor
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from segment_anything.utils.onnx import SamOnnxModel
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SIZE = (331, 229)  # width, height
OPSET = 17
# The prompts every reference is made for (points in image pixels; label 1 = this, 0 = not this).
PROMPTS = [
    {"name": "point", "points": [[132.0, 101.0, 1]], "box": None},
    {"name": "points", "points": [[132.0, 101.0, 1], [250.0, 120.0, 0], [40.5, 200.25, 1]], "box": None},
    {"name": "box", "points": [], "box": [60.0, 45.0, 190.0, 170.0]},
    {"name": "points_box", "points": [[120.0, 110.0, 1], [280.0, 60.0, 0]], "box": [190.0, 30.0, 310.0, 200.0]},
    {"name": "refine", "points": [[132.0, 101.0, 1], [60.0, 60.0, 0]], "box": None, "mask_input_from": "point"},
]


def tiny_sam(seed: int, width: int = 32) -> Sam:
    torch.manual_seed(seed)
    encoder = ImageEncoderViT(
        depth=2,
        embed_dim=32,
        img_size=1024,
        mlp_ratio=2.0,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=2,
        patch_size=16,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=[1],
        window_size=14,
        out_chans=width,
    )
    prompt = PromptEncoder(
        embed_dim=width, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=4
    )
    decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=width, mlp_dim=64, num_heads=2),
        transformer_dim=width,
        iou_head_depth=3,
        iou_head_hidden_dim=32,
    )
    sam = Sam(image_encoder=encoder, prompt_encoder=prompt, mask_decoder=decoder)
    constant_upscaling_kernels(sam.mask_decoder.output_upscaling)
    quiet_dense_prompt(sam.prompt_encoder)
    return sam.eval()


@torch.no_grad()
def constant_upscaling_kernels(upscaling: torch.nn.Module) -> None:
    """Random 2x2 transposed-conv kernels print a 4-pixel checkerboard over every mask; kernels that are
    constant over their 2x2 taps upsample like nearest neighbour, so masks follow the picture (trained SAMs do)."""
    for layer in upscaling.modules():
        if isinstance(layer, torch.nn.ConvTranspose2d):
            layer.weight.copy_(layer.weight.mean(dim=(2, 3), keepdim=True).expand_as(layer.weight))


@torch.no_grad()
def quiet_dense_prompt(prompt_encoder: torch.nn.Module) -> None:
    """The dense prompt is no_mask_embed without a mask input, the downscaled mask with one: keep both small
    next to the image embeddings, so a refinement step refines instead of replacing the picture."""
    prompt_encoder.mask_downscaling[-1].weight.mul_(0.2)
    prompt_encoder.mask_downscaling[-1].bias.mul_(0.2)
    prompt_encoder.no_mask_embed.weight.mul_(0.2)


def vit_b_sam(seed: int) -> Sam:
    """The real ViT-B configuration (segment_anything.build_sam._build_sam) with random weights."""
    from segment_anything.build_sam import _build_sam

    torch.manual_seed(seed)
    return _build_sam(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=12,
                      encoder_global_attn_indexes=[2, 5, 8, 11]).eval()


def test_picture() -> np.ndarray:
    """A deterministic picture with flat regions and edges: a sky gradient, a disc, a bar and some noise."""
    w, h = IMAGE_SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = 40 + 120 * y / h
    img[..., 1] = 90 + 60 * x / w
    img[..., 2] = 200 - 80 * y / h
    disc = (x - 120) ** 2 + (y - 110) ** 2 < 60**2
    img[disc] = [235, 180, 60]
    bar = (x > 200) & (x < 300) & (y > 40) & (y < 190)
    img[bar] = [30, 40, 120]
    rng = np.random.default_rng(3)
    img += rng.normal(0, 2, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


class DynamicCropSamOnnxModel(SamOnnxModel):
    """SamOnnxModel with the crop kept dynamic in the export (see the module doc); arithmetic unchanged."""

    def mask_postprocessing(self, masks, orig_im_size):
        masks = F.interpolate(masks, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
        prepadded_size = self.resize_longest_image_size(orig_im_size, self.img_size)
        masks = masks[..., : prepadded_size[0], : prepadded_size[1]]
        orig_im_size = orig_im_size.to(torch.int64)
        h, w = orig_im_size[0], orig_im_size[1]
        return F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)


def export_decoder(sam: Sam, path: Path, single_mask: bool) -> None:
    model = DynamicCropSamOnnxModel(sam, return_single_mask=single_mask)
    c = sam.prompt_encoder.embed_dim
    h, w = sam.prompt_encoder.image_embedding_size
    dummy = {
        "image_embeddings": torch.randn(1, c, h, w),
        "point_coords": torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(0, 4, (1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * h, 4 * w),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, tuple(dummy.values()), str(path), export_params=True, opset_version=OPSET,
            do_constant_folding=True, input_names=list(dummy.keys()),
            output_names=["masks", "iou_predictions", "low_res_masks"],
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, dynamo=False,
        )
    # The crop must follow orig_im_size: compare with PyTorch at three aspect ratios.
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in ([229, 331], [400, 300], [256, 256]):
        feeds = {k: v.numpy() for k, v in dummy.items()}
        feeds["orig_im_size"] = np.array(size, np.float32)
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            want = model(*[torch.from_numpy(v) for v in feeds.values()])[0].numpy()
        assert got.shape == want.shape, (got.shape, want.shape)
        assert np.mean((got > 0) == (want > 0)) > 0.999, size


class EncoderWithPreprocess(torch.nn.Module):
    """samexporter's ImageEncoderOnnxModel(use_preprocess=True): HWC 0-255 in, normalize, permute, zero-pad."""

    def __init__(self, sam: Sam):
        super().__init__()
        self.encoder = sam.image_encoder
        self.register_buffer("mean", torch.tensor([123.675, 116.28, 103.53]))
        self.register_buffer("std", torch.tensor([58.395, 57.12, 57.375]))

    def forward(self, input_image):
        x = (input_image - self.mean) / self.std
        x = torch.permute(x, (2, 0, 1))
        h, w = x.shape[-2:]
        x = F.pad(x, (0, self.encoder.img_size - w, 0, self.encoder.img_size - h))
        return self.encoder(torch.unsqueeze(x, 0))


def export_encoder(sam: Sam, path: Path, preprocess: bool) -> None:
    if preprocess:
        model, dummy, axes = EncoderWithPreprocess(sam).eval(), torch.rand(1024, 700, 3) * 255, {
            "input_image": {0: "image_height", 1: "image_width"}}
    else:
        model, dummy, axes = sam.image_encoder, torch.randn(1, 3, 1024, 1024), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (dummy,), str(path), export_params=True, opset_version=OPSET, do_constant_folding=True,
            input_names=["input_image"], output_names=["image_embeddings"], dynamic_axes=axes, dynamo=False,
        )


def calibrate_logits(sam: Sam, predictor: SamPredictor, target_std: float = 8.0) -> None:
    """Make each mask token's logits for a click centred (about half the picture inside) with std ~target_std.

    The logits are the hypernetwork vector h_i dotted with the upscaled embedding e(x, y). Moving h_i's bias
    against the mean embedding m removes the token's mean logit; then the last layer is scaled.
    """
    w, h = IMAGE_SIZE
    captured = {}
    hook = sam.mask_decoder.output_upscaling.register_forward_hook(lambda _m, _i, out: captured.update(e=out))
    for _ in range(3):
        _, _, logits = predictor.predict(np.array([[w * 0.4, h * 0.45]]), np.array([1]), multimask_output=True,
                                         return_logits=True)
        _, _, single = predictor.predict(np.array([[w * 0.4, h * 0.45]]), np.array([1]), multimask_output=False,
                                         return_logits=True)
        e = captured["e"][0]
        m = e.mean(dim=(1, 2))
        # The picture covers the top-left of the 256x256 low-resolution frame; the rest is padding.
        lh, lw = round(256 * h / w), 256
        all_logits = np.concatenate([single, logits])[:, :lh, :lw]
        with torch.no_grad():
            for i, mlp in enumerate(sam.mask_decoder.output_hypernetworks_mlps):
                mu, std = float(all_logits[i].mean()), float(all_logits[i].std())
                mlp.layers[-1].bias.sub_(mu * m / float(m @ m))
                mlp.layers[-1].weight.mul_(target_std / std)
                mlp.layers[-1].bias.mul_(target_std / std)
    hook.remove()


def save_mask(mask: np.ndarray, path: Path) -> None:
    Image.fromarray((mask > 0).astype(np.uint8) * 255, mode="L").save(path, optimize=True)


def make_fixtures(seed: int, out: Path) -> None:
    sam = tiny_sam(seed)
    image = test_picture()
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    calibrate_logits(sam, predictor)

    full, plain, ref = out / "tiny-sam", out / "tiny-sam-plain", out / "reference"
    for d in (full, plain, ref):
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("*"):
            f.unlink()
    export_encoder(sam, full / "tiny_sam.encoder.onnx", preprocess=True)
    export_decoder(sam, full / "tiny_sam.decoder.onnx", single_mask=False)
    export_encoder(sam, plain / "tiny_sam.encoder.onnx", preprocess=False)
    export_decoder(sam, plain / "tiny_sam.decoder.onnx", single_mask=True)

    Image.fromarray(image).save(ref / "image.png", optimize=True)
    embeddings = predictor.get_image_embedding().numpy().astype("<f4")
    embeddings.tofile(ref / "embeddings.f32")

    w, h = IMAGE_SIZE
    cases, low_res = [], {}
    for p in PROMPTS:
        coords = np.array([q[:2] for q in p["points"]], np.float32) if p["points"] else None
        labels = np.array([q[2] for q in p["points"]], np.int64) if p["points"] else None
        box = np.array(p["box"], np.float32) if p["box"] else None
        mask_input = low_res.get(p.get("mask_input_from"))
        case, fractions = dict(p), []
        for multimask in (True, False):
            masks, scores, logits = predictor.predict(
                point_coords=coords, point_labels=labels, box=box, mask_input=mask_input,
                multimask_output=multimask, return_logits=True)
            key = "multimask" if multimask else "single"
            names = []
            for i, m in enumerate(masks):
                name = f"{p['name']}-{key}-{i}.png"
                save_mask(m, ref / name)
                names.append(name)
                fractions.append(float(np.mean(m > 0)))
            case[key] = {"masks": names, "scores": [float(s) for s in scores]}
            if multimask:
                low_res[p["name"]] = logits[int(np.argmax(scores))][None]
        # Masks that are nearly all in or all out would let a broken decoder pass the comparisons.
        print(p["name"], "inside:", " ".join(f"{f:.3f}" for f in fractions))
        assert sum(0.03 < f < 0.97 for f in fractions) >= 2, (p["name"], fractions)
        cases.append(case)

    doc = {
        "about": "SamPredictor (segment-anything 1.0) on image.png with the tiny random-weight SAM; written by "
                 "onnx/make_tiny_sam.py. multimask = tokens 1-3, single = token 0, as SamPredictor.predict.",
        "image_size": [w, h],
        "embeddings_shape": list(embeddings.shape),
        "cases": cases,
    }
    (ref / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", out)


def make_bench(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    vit_b = out / "sam-vit-b"
    vit_b.mkdir(exist_ok=True)
    sam = vit_b_sam(1)
    export_encoder(sam, vit_b / "sam_vit_b.encoder.onnx", preprocess=True)
    export_decoder(sam, vit_b / "sam_vit_b.decoder.onnx", single_mask=False)
    from samexporter.mobile_encoder.setup_mobile_sam import setup_model

    torch.manual_seed(2)
    mobile = setup_model().eval()
    mob = out / "mobile-sam"
    mob.mkdir(exist_ok=True)
    export_encoder(mobile, mob / "mobile_sam.encoder.onnx", preprocess=True)
    export_decoder(mobile, mob / "mobile_sam.decoder.onnx", single_mask=False)
    print("wrote", out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "sam")
    ap.add_argument("--bench", type=Path, help="write full-size random-weight benchmark models here instead")
    args = ap.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    if args.bench:
        make_bench(args.bench)
    else:
        make_fixtures(args.seed, args.out)


if __name__ == "__main__":
    main()
