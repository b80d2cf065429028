#!/usr/bin/env python3
"""ONNX exports of ControlNet 1.1's neural line-art annotators, tiny test fixtures and reference outputs.

What: the two learned line-art preprocessors of ControlNet 1.1,

    lineart        "Informative Drawings" Generator(3, 1, n_residual_blocks=3), Sigmoid output
                   (lllyasviel/Annotators sk_model.pth; sk_model2.pth is the "coarse" variant, same layout)
    lineart_anime  Anime2Sketch UnetGenerator(3, 1, num_downs=8, ngf=64,
                   norm_layer=InstanceNorm2d(affine=False, track_running_stats=False)), Tanh output
                   (lllyasviel/Annotators netG.pth)

are defined here with the same module tree (so the real .pth state dicts load with strict=True) and exported
to single-file ONNX models:

    input  `input`  float32 [1, 3, H, W]   (H, W dynamic)
    output `output` float32 [1, 1, H, W]   lineart: Sigmoid, in [0, 1]; lineart_anime: Tanh, in [-1, 1]

H and W must be multiples of 4 for lineart (two stride-2 convs undone by two transposed convs) and multiples
of 256 for lineart_anime (8 stride-2 levels, the innermost one at H/256); the controlnet_aux chain below
already guarantees that (multiples of 64 from resize_image, then 256-alignment for anime).

Why: the app runs these preprocessors itself (ONNX Runtime from Rust) to make ControlNet line-art control maps
from the user's canvas, so it needs the models in ONNX, and its tests need tiny models of the same
architecture plus reference outputs of the exact controlnet_aux pre/post-processing.

Modes:

  --weights PATH --out DIR   real weights -> DIR/model.onnx + DIR/config.json
                             ({"_class_name": "LineartDetector", "kind": "lineart"} or
                              {"_class_name": "LineartAnimeDetector", "kind": "lineart_anime"};
                              --coarse adds "coarse": true for sk_model2.pth).
                             The kind is read from the state dict's keys (model0.* vs model.model.*) unless
                             --kind is given; loaded with torch.load(weights_only=True) (plain tensors only)
                             and a leading "module." is stripped from keys as controlnet_aux does for netG.pth.
  --tiny                     random-weight miniatures of both, same depth, narrower (each file < 300 KB):
                             lineart ngf=6, i.e. 6->12->24 channels instead of 64->128->256 (ngf=8 would be
                             313 KB); lineart_anime ngf=2 with num_downs=8 like the real one, so the 256
                             alignment holds (ngf=4 would be ~840 KB). Weights: PyTorch's default init under
                             torch.manual_seed(seed) (anime: seed + 1), then the last conv is rescaled so that its
                             pre-activation output on the fixture input has mean 0 and std 2.0 (Sigmoid) / 1.2
                             (Tanh), so the outputs span their range. Written to tests/fixtures/lineart/tiny-lineart/
                             and tests/fixtures/lineart/tiny-lineart-anime/, plus tests/fixtures/lineart/input.png
                             (a 256x256 RGB drawing made with PIL), reference_lineart.png,
                             reference_lineart_anime.png (8-bit grey final control maps, white lines on black) and
                             reference.json (pre/post-processing, ORT-vs-torch differences, statistics).

Pre/post-processing mirrored from controlnet_aux 0.0.10 (src/controlnet_aux/lineart/__init__.py,
lineart_anime/__init__.py, util.py; LineartDetector / LineartAnimeDetector.__call__), with the input
already at a size for which every resize of the chain is the identity (256x256, detect_resolution=256,
image_resolution=256; cv2.resize to the same size copies the image). The full chain's resizes are described in
reference.json. When controlnet_aux, einops and cv2 are importable (pip install --no-deps
controlnet_aux==0.0.10; see requirements.txt) the script also checks that the module trees match
controlnet_aux's classes (keys, shapes, outputs) and that the references equal LineartDetector /
LineartAnimeDetector.__call__ run on the tiny torch models bit for bit; otherwise it skips that check.

Usage:
    python onnx/export_lineart.py --tiny
    python onnx/export_lineart.py --weights sk_model.pth  --out models/lineart
    python onnx/export_lineart.py --weights sk_model2.pth --out models/lineart_coarse --coarse
    python onnx/export_lineart.py --weights netG.pth      --out models/lineart_anime
Options: --check-controlnet-aux {auto,require,skip} (default auto), --seed N (tiny weights; default 3101).
Deterministic: --tiny writes the same files on every run (the ORT-vs-torch differences in reference.json
are rounded to 2 significant digits and may differ in the last digit on another CPU). A few seconds on CPU.
"""
import argparse
import functools
import io
import json
import os
import sys
import types
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "lineart"

OPSET = 17
CONTROLNET_AUX_VERSION = "0.0.10"
DEFAULT_SEED = 3101              # lineart tiny weights; lineart_anime uses seed + 1
TINY_NGF_LINEART = 6             # real: 64 (ngf=8 gives a 313 KB file)
TINY_NGF_ANIME = 2               # real: 64
MAX_FIXTURE_BYTES = 300 * 1024
MIN_OUTPUT_STD = 0.05
MAX_ORT_DIFF = 1e-4

KINDS = {
    "lineart": {"_class_name": "LineartDetector", "kind": "lineart"},
    "lineart_anime": {"_class_name": "LineartAnimeDetector", "kind": "lineart_anime"},
}


# ---------------------------------------------------------------------------------------------------------
# Architectures.
#
# lineart: "Informative Drawings" generator, as in controlnet_aux 0.0.10 src/controlnet_aux/lineart/__init__.py
# (classes ResidualBlock and Generator; identical to lllyasviel/ControlNet-v1-1-nightly
# annotator/lineart/__init__.py). The width 64 is a literal there; here it is the parameter `ngf` (default 64).
# Module tree (state-dict keys): model0 = [ReflectionPad2d(3), Conv2d(3, ngf, 7), InstanceNorm2d, ReLU],
# model1 = 2 x [Conv2d(c, 2c, 3, stride 2, padding 1), InstanceNorm2d, ReLU],
# model2 = n x ResidualBlock(4 ngf) with conv_block = [ReflectionPad2d(1), Conv2d(3), InstanceNorm2d, ReLU,
#          ReflectionPad2d(1), Conv2d(3), InstanceNorm2d] and x + conv_block(x),
# model3 = 2 x [ConvTranspose2d(c, c/2, 3, stride 2, padding 1, output_padding 1), InstanceNorm2d, ReLU],
# model4 = [ReflectionPad2d(3), Conv2d(ngf, output_nc, 7), Sigmoid]. InstanceNorm2d is the default one
# (affine=False, track_running_stats=False): it has no parameters.
# ---------------------------------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    def __init__(self, in_features):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class Generator(nn.Module):
    def __init__(self, input_nc, output_nc, n_residual_blocks=9, sigmoid=True, ngf=64):
        super().__init__()
        self.model0 = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(inplace=True))
        down, c = [], ngf
        for _ in range(2):
            down += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(c * 2), nn.ReLU(inplace=True)]
            c *= 2
        self.model1 = nn.Sequential(*down)
        self.model2 = nn.Sequential(*[ResidualBlock(c) for _ in range(n_residual_blocks)])
        up = []
        for _ in range(2):
            up += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(c // 2), nn.ReLU(inplace=True)]
            c //= 2
        self.model3 = nn.Sequential(*up)
        head = [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7)]
        if sigmoid:
            head.append(nn.Sigmoid())
        self.model4 = nn.Sequential(*head)

    def forward(self, x, cond=None):
        return self.model4(self.model3(self.model2(self.model1(self.model0(x)))))


# ---------------------------------------------------------------------------------------------------------
# lineart_anime: Anime2Sketch / pix2pix U-Net, as in controlnet_aux 0.0.10
# src/controlnet_aux/lineart_anime/__init__.py (classes UnetGenerator and UnetSkipConnectionBlock; the same as
# ControlNet-v1-1-nightly annotator/lineart_anime and junyanz/pytorch-CycleGAN-and-pix2pix networks.py).
# Built from the innermost block outwards; every block's layers are one nn.Sequential `model`, nested blocks
# sit at index 1 (outermost) or 3 (the others), hence keys like model.model.1.model.3.model.1.weight.
#   outermost: [Conv2d(in, ngf, 4, 2, 1, bias), sub, ReLU, ConvTranspose2d(2 ngf, out, 4, 2, 1, bias), Tanh]
#   middle:    [LeakyReLU(0.2), Conv2d(outer, inner, 4, 2, 1, bias=use_bias), norm(inner), sub,
#               ReLU, ConvTranspose2d(2 inner, outer, 4, 2, 1, bias=use_bias), norm(outer)] (+ Dropout(0.5))
#   innermost: [LeakyReLU(0.2), Conv2d(outer, inner, ...), ReLU, ConvTranspose2d(inner, outer, ...), norm(outer)]
#   non-outermost blocks return cat([x, model(x)], dim 1).
# use_bias is True exactly when the norm is InstanceNorm2d (controlnet_aux passes
# functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)).
# ---------------------------------------------------------------------------------------------------------
class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        norm_cls = norm_layer.func if isinstance(norm_layer, functools.partial) else norm_layer
        use_bias = norm_cls == nn.InstanceNorm2d
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(True), upconv, norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=None, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm_layer=norm_layer)

    def forward(self, input):
        return self.model(input)


ANIME_NORM = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def make_lineart(ngf=64, n_residual_blocks=3):
    return Generator(3, 1, n_residual_blocks, ngf=ngf).eval()


def make_lineart_anime(ngf=64, num_downs=8):
    return UnetGenerator(3, 1, num_downs, ngf, norm_layer=ANIME_NORM, use_dropout=False).eval()


# ---------------------------------------------------------------------------------------------------------
# Pre/post-processing, mirrored from controlnet_aux 0.0.10 __call__ for an input whose resizes are identities.
# ---------------------------------------------------------------------------------------------------------
def lineart_preprocess(rgb_u8):
    """HWC uint8 RGB -> [1, 3, H, W] float32: x / 255 (torch: from_numpy(img).float() / 255.0)."""
    x = rgb_u8.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def lineart_postprocess(raw):
    """[1, 1, H, W] model output -> HxW uint8 control map (white lines on black)."""
    line = (raw[0, 0] * np.float32(255.0)).clip(0, 255).astype(np.uint8)   # truncation, not rounding
    return (255 - line).astype(np.uint8)


def anime_preprocess(rgb_u8):
    """HWC uint8 RGB (H, W multiples of 256) -> [1, 3, H, W] float32: x / 127.5 - 1."""
    x = rgb_u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def anime_postprocess(raw):
    """[1, 1, H, W] model output -> HxW uint8 control map: y * 127.5 + 127.5, clip, truncate, 255 - m."""
    line = raw[0, 0] * np.float32(127.5) + np.float32(127.5)
    line = line.clip(0, 255).astype(np.uint8)
    return (255 - line).astype(np.uint8)


def torch_run(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def ort_session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------------------------------------
def export_onnx(model, out_dir, kind, sample_hw, extra_config=None):
    import onnx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, *sample_hw)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), buf, dynamo=False, opset_version=OPSET, do_constant_folding=True,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}})
    proto = onnx.load_from_string(buf.getvalue())
    # The tracer leaves the output's batch dimension symbolic (e.g. "Sigmoidoutput_dim_0"); pin the declared
    # output shape to [1, 1, height, width] like the input's [1, 3, height, width].
    for dim, value in zip(proto.graph.output[0].type.tensor_type.shape.dim, (1, 1, "height", "width")):
        dim.Clear()
        if isinstance(value, int):
            dim.dim_value = value
        else:
            dim.dim_param = value
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, str(out_dir / "model.onnx"), save_as_external_data=False)
    config = dict(KINDS[kind])
    config.update(extra_config or {})
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out_dir / "model.onnx"


def io_signature(onnx_path):
    import onnx

    proto = onnx.load(str(onnx_path), load_external_data=False)

    def describe(v):
        t = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
        return {"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": dims}

    return {"inputs": [describe(v) for v in proto.graph.input], "outputs": [describe(v) for v in proto.graph.output]}


def compare_ort_torch(model, onnx_path, inputs):
    """Max abs difference of the raw outputs over a list of NCHW float32 inputs."""
    sess = ort_session(onnx_path)
    worst = 0.0
    for x in inputs:
        ref = torch_run(model, x)
        got = sess.run(["output"], {"input": x})[0]
        assert got.shape == ref.shape == (1, 1) + x.shape[2:], (got.shape, ref.shape, x.shape)
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


# ---------------------------------------------------------------------------------------------------------
# Real weights.
# ---------------------------------------------------------------------------------------------------------
def load_state_dict(path):
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise SystemExit(f"{path}: expected a plain state dict of tensors")
    # controlnet_aux's LineartAnimeDetector.from_pretrained replaces 'module.' in every key (netG.pth was
    # saved from a DataParallel model).
    return {k.replace("module.", ""): v for k, v in sd.items()}


def model_from_state_dict(sd, kind=None):
    if kind is None:
        if "model0.1.weight" in sd:
            kind = "lineart"
        elif "model.model.0.weight" in sd:
            kind = "lineart_anime"
        else:
            raise SystemExit("cannot tell the architecture from the keys; pass --kind")
    if kind == "lineart":
        ngf = sd["model0.1.weight"].shape[0]
        n_res = len({k.split(".")[1] for k in sd if k.startswith("model2.")})
        model = make_lineart(ngf, n_res)
    else:
        ngf = sd["model.model.0.weight"].shape[0]
        # Level 1 (outermost) is model.model.*; level 2 is model.model.1.model.*; level n + 1 nests at .model.3.
        levels, block = 1, "model.model.1."
        while any(k.startswith(block + "model.") for k in sd):
            levels += 1
            block += "model.3."
        model = make_lineart_anime(ngf, levels)
    model.load_state_dict(sd, strict=True)
    return kind, model.eval()


def export_weights(args):
    sd = load_state_dict(args.weights)
    kind, model = model_from_state_dict(sd, args.kind)
    extra = {"coarse": True} if args.coarse else None
    onnx_path = export_onnx(model, args.out, kind, (256, 256), extra)
    rng = np.random.default_rng(0)
    shapes = [(256, 256), (256, 512)] if kind == "lineart_anime" else [(256, 256), (192, 320)]
    inputs = [rng.uniform(-1 if kind == "lineart_anime" else 0, 1, size=(1, 3) + s).astype(np.float32)
              for s in shapes]
    diff = compare_ort_torch(model, onnx_path, inputs)
    print(f"{kind}: wrote {onnx_path} ({onnx_path.stat().st_size} bytes) and config.json; "
          f"ORT vs torch max abs diff {diff:.2e} at {shapes}")
    print(json.dumps(io_signature(onnx_path)))
    if diff >= MAX_ORT_DIFF:
        raise SystemExit(f"ORT vs torch difference {diff} >= {MAX_ORT_DIFF}")


# ---------------------------------------------------------------------------------------------------------
# Tiny fixtures and references.
# ---------------------------------------------------------------------------------------------------------
def make_input_image():
    """A deterministic 256x256 RGB drawing: dark strokes on a light, slightly warm, gently graded paper."""
    from PIL import Image, ImageDraw

    h = w = 256
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.stack([246 - 10 * yy / h, 238 - 6 * xx / w, 222 + 8 * (xx + yy) / (h + w)], axis=-1)
    img = Image.fromarray(np.round(bg).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    ink, blue, red = (28, 26, 34), (40, 52, 110), (120, 36, 30)
    d.ellipse((40, 30, 150, 140), outline=ink, width=4)                       # a head
    d.ellipse((70, 65, 82, 77), fill=ink)                                     # eyes
    d.ellipse((108, 65, 120, 77), fill=ink)
    d.arc((65, 80, 125, 120), start=20, end=160, fill=red, width=3)           # a smile
    d.line((95, 140, 95, 215), fill=ink, width=5)                             # body and limbs
    d.line((95, 165, 55, 195), fill=ink, width=3)
    d.line((95, 165, 140, 185), fill=ink, width=3)
    d.line((95, 215, 70, 250), fill=ink, width=3)
    d.line((95, 215, 125, 250), fill=ink, width=3)
    d.rectangle((165, 120, 235, 230), outline=blue, width=3)                  # a house
    d.polygon([(160, 122), (200, 75), (240, 122)], outline=blue, width=3)
    d.rectangle((190, 185, 210, 230), fill=blue)
    d.line([(160 + 10 * i, 30 + 12 * (i % 2)) for i in range(9)], fill=ink, width=2)   # a zigzag
    for i in range(6):                                                        # hatching
        d.line((10 + 6 * i, 200, 30 + 6 * i, 160), fill=ink, width=1)
    return np.asarray(img, dtype=np.uint8).copy()


def calibrate_head(model, head, pre_activation, x, target_std):
    """Rescales the last conv so its pre-activation output on x has mean 0 and std target_std."""
    with torch.no_grad():
        y = pre_activation(torch.from_numpy(x))
        mean, std = y.mean(), y.std().clamp_min(1e-6)
        head.weight.mul_(target_std / std)
        head.bias.copy_((head.bias - mean) * target_std / std)
    return model


def build_tiny_lineart(seed, x):
    torch.manual_seed(seed)
    model = make_lineart(TINY_NGF_LINEART, 3)
    head = model.model4[1]

    def pre(t):   # everything but the Sigmoid
        return head(model.model4[0](model.model3(model.model2(model.model1(model.model0(t))))))

    return calibrate_head(model, head, pre, x, 2.0)


def build_tiny_anime(seed, x):
    torch.manual_seed(seed)
    model = make_lineart_anime(TINY_NGF_ANIME, 8)
    seq = model.model.model           # [downconv, sub, ReLU, upconv, Tanh]
    head = seq[3]

    def pre(t):   # everything but the Tanh
        return head(seq[2](seq[1](seq[0](t))))

    return calibrate_head(model, head, pre, x, 1.2)


def stats(a):
    a = np.asarray(a, dtype=np.float64)
    return {"min": round(float(a.min()), 6), "max": round(float(a.max()), 6), "mean": round(float(a.mean()), 4),
            "std": round(float(a.std()), 4)}


def load_controlnet_aux():
    """Imports controlnet_aux's lineart modules without running its package __init__ (which imports every
    detector and needs timm, scikit-image, ...). Returns (lineart_module, anime_module, version) or None."""
    import importlib
    import importlib.metadata
    import importlib.util

    try:
        spec = importlib.util.find_spec("controlnet_aux")
        if spec is None or not spec.submodule_search_locations:
            return None
        if "controlnet_aux" not in sys.modules:
            pkg = types.ModuleType("controlnet_aux")
            pkg.__path__ = list(spec.submodule_search_locations)
            sys.modules["controlnet_aux"] = pkg
        la = importlib.import_module("controlnet_aux.lineart")
        an = importlib.import_module("controlnet_aux.lineart_anime")
        return la, an, importlib.metadata.version("controlnet_aux")
    except Exception as e:  # noqa: BLE001 - any import problem means "not available"
        print(f"controlnet_aux not usable ({type(e).__name__}: {e})")
        return None


def check_against_controlnet_aux(mode, img, tiny_lineart, tiny_anime, map_lineart, map_anime):
    if mode == "skip":
        return
    found = load_controlnet_aux()
    if found is None:
        if mode == "require":
            raise SystemExit("--check-controlnet-aux require: controlnet_aux (with cv2, einops) is not importable")
        print("controlnet_aux cross-check skipped (not installed)")
        return
    la, an, version = found
    if version != CONTROLNET_AUX_VERSION:
        print(f"warning: controlnet_aux {version} installed, this script mirrors {CONTROLNET_AUX_VERSION}")

    def same_tree(ours, theirs, x):
        a = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        b = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert a == b, "state-dict keys/shapes differ from controlnet_aux"
        if x is not None:
            ours.load_state_dict(theirs.state_dict())
            with torch.no_grad():
                d = (ours(x) - theirs(x)).abs().max().item()
            assert d == 0.0, f"outputs differ from controlnet_aux by {d}"

    torch.manual_seed(0)
    same_tree(make_lineart(64, 3), la.Generator(3, 1, 3).eval(), torch.rand(1, 3, 64, 64))
    with torch.device("meta"):
        same_tree(make_lineart_anime(64, 8), an.UnetGenerator(3, 1, 8, 64, norm_layer=ANIME_NORM), None)
    torch.manual_seed(0)
    same_tree(make_lineart_anime(TINY_NGF_ANIME, 8),
              an.UnetGenerator(3, 1, 8, TINY_NGF_ANIME, norm_layer=ANIME_NORM).eval(),
              torch.rand(1, 3, 256, 256) * 2 - 1)

    h, w = img.shape[:2]
    got = la.LineartDetector(tiny_lineart, tiny_lineart)(img, detect_resolution=min(h, w),
                                                         image_resolution=min(h, w), output_type="np")
    assert got.shape == (h, w, 3) and all(np.array_equal(got[:, :, c], map_lineart) for c in range(3)), \
        "lineart reference differs from controlnet_aux LineartDetector.__call__"
    got = an.LineartAnimeDetector(tiny_anime)(img, detect_resolution=min(h, w), image_resolution=min(h, w),
                                             output_type="np")
    assert got.shape == (h, w, 3) and all(np.array_equal(got[:, :, c], map_anime) for c in range(3)), \
        "lineart_anime reference differs from controlnet_aux LineartAnimeDetector.__call__"
    print(f"controlnet_aux {version}: module trees match (keys, shapes, outputs); both reference maps equal "
          f"__call__(img, detect_resolution={min(h, w)}, image_resolution={min(h, w)}, output_type='np') bit for bit")


FULL_CHAIN_COMMON = [
    "img = HWC3(img): gray -> 3 channels; RGBA composited over white (color * a + 255 * (1 - a), a = A / 255, "
    "clip, truncate to uint8)",
    "img = resize_image(img, detect_resolution=512): k = 512 / min(H, W); H' = round(H * k / 64) * 64, "
    "W' = round(W * k / 64) * 64 (np.round, half to even); cv2.resize INTER_LANCZOS4 if k > 1 else INTER_AREA",
]
FULL_CHAIN_TAIL = [
    "map = HWC3(map) (3 equal channels)",
    "(H'', W'') = resize_image(img, image_resolution=512).shape (same rule, applied to the detect-resized img); "
    "map = cv2.resize(map, (W'', H''), INTER_LINEAR)",
    "map = 255 - map",
]


def write_tiny(args):
    from PIL import Image

    FIXTURES.mkdir(parents=True, exist_ok=True)
    img = make_input_image()
    Image.fromarray(img, "RGB").save(FIXTURES / "input.png")
    img = np.asarray(Image.open(FIXTURES / "input.png").convert("RGB"), dtype=np.uint8)   # what tests read
    h, w = img.shape[:2]
    assert h % 256 == 0 and w % 256 == 0

    x_line = lineart_preprocess(img)
    x_anime = anime_preprocess(img)
    tiny_lineart = build_tiny_lineart(args.seed, x_line)
    tiny_anime = build_tiny_anime(args.seed + 1, x_anime)

    rng = np.random.default_rng(args.seed)
    extra_line = [rng.uniform(0, 1, size=(1, 3, 192, 320)).astype(np.float32)]
    extra_anime = [rng.uniform(-1, 1, size=(1, 3, 256, 512)).astype(np.float32)]

    report = {
        "description": "Tiny random-weight ControlNet line-art preprocessors and reference control maps, made by "
                       "onnx/export_lineart.py --tiny. Pre/post-processing mirrors controlnet_aux "
                       f"{CONTROLNET_AUX_VERSION} LineartDetector / LineartAnimeDetector.__call__; the input is "
                       "256x256 and the references equal __call__(img, detect_resolution=256, image_resolution=256, "
                       "output_type='np')[:, :, 0], for which every resize of the chain is the identity "
                       "(cv2.resize to the same size copies). Tolerances: raw outputs ORT vs torch < 1e-4; the "
                       "final maps truncate floats to uint8, so compare them with a tolerance of 1 grey level.",
        "controlnet_aux_version": CONTROLNET_AUX_VERSION,
        "input": {"file": "tests/fixtures/lineart/input.png", "mode": "RGB", "height": h, "width": w},
        "onnx": {"input": {"name": "input", "dtype": "float32", "shape": [1, 3, "height", "width"]},
                 "output": {"name": "output", "dtype": "float32", "shape": [1, 1, "height", "width"]},
                 "opset": OPSET},
    }

    for kind, model, x, extra, post, folder, png, arch in [
        ("lineart", tiny_lineart, x_line, extra_line, lineart_postprocess, "tiny-lineart", "reference_lineart.png",
         f"Generator(3, 1, n_residual_blocks=3, ngf={TINY_NGF_LINEART}) (real: ngf=64), Sigmoid output"),
        ("lineart_anime", tiny_anime, x_anime, extra_anime, anime_postprocess, "tiny-lineart-anime",
         "reference_lineart_anime.png",
         f"UnetGenerator(3, 1, num_downs=8, ngf={TINY_NGF_ANIME}, InstanceNorm2d(affine=False)) (real: ngf=64), "
         "Tanh output"),
    ]:
        onnx_path = export_onnx(model, FIXTURES / folder, kind, (h, w))
        size = onnx_path.stat().st_size
        assert size < MAX_FIXTURE_BYTES, f"{onnx_path}: {size} bytes >= {MAX_FIXTURE_BYTES}"
        raw = torch_run(model, x)
        assert raw.std() > MIN_OUTPUT_STD, f"{kind}: output std {raw.std()} too small"
        diff_ref = compare_ort_torch(model, onnx_path, [x])
        diff_all = compare_ort_torch(model, onnx_path, [x] + extra)
        assert diff_all < MAX_ORT_DIFF, f"{kind}: ORT vs torch {diff_all}"
        final = post(raw)
        final_ort = post(ort_session(onnx_path).run(["output"], {"input": x})[0])
        Image.fromarray(final, "L").save(FIXTURES / png)
        n_params = sum(p.numel() for p in model.parameters())
        entry = {
            "model_dir": f"tests/fixtures/lineart/{folder}",
            "config": KINDS[kind],
            "architecture": arch,
            "parameters": n_params,
            "onnx_bytes": size,
            "reference_png": f"tests/fixtures/lineart/{png}",
            "reference_png_mode": "L (8-bit grey; the chain's output is HxWx3 with three equal channels)",
            "ort_vs_torch_max_abs_diff_raw_output": float(f"{diff_ref:.2g}"),
            "ort_vs_torch_max_abs_diff_raw_output_incl_other_sizes": float(f"{diff_all:.2g}"),
            "ort_final_map_max_abs_diff_vs_reference": int(np.abs(final_ort.astype(int) - final.astype(int)).max()),
            "ort_final_map_pixels_differing": int((final_ort != final).sum()),
            "raw_output_stats": stats(raw),
            "final_map_stats": stats(final),
        }
        if kind == "lineart":
            entry.update({
                "preprocess": "x = float32(rgb_u8) / 255.0; NCHW [1, 3, H, W], channels R, G, B (no mean/std)",
                "postprocess": "line = uint8(clip(output[0, 0] * 255.0, 0, 255)) (astype: truncation toward "
                               "zero, not rounding); map = 255 - line",
                "size_requirement": "H, W multiples of 4 (the chain gives multiples of 64)",
                "full_chain": FULL_CHAIN_COMMON + [
                    "x = img / 255 -> model -> line = uint8(clip(output[0, 0] * 255, 0, 255)) at the detect size",
                ] + FULL_CHAIN_TAIL,
                "full_chain_for_this_input_with_defaults": "detect_resolution=512: k = 2 > 1 -> 256x256 resized to "
                    "512x512 with cv2.INTER_LANCZOS4, model at 512x512; image_resolution=512 -> the final "
                    "INTER_LINEAR resize is 512->512 (identity). The reference uses detect_resolution=256 and "
                    "image_resolution=256 instead: k = 1 -> INTER_AREA 256->256 and INTER_LINEAR 256->256, "
                    "both identities.",
            })
        else:
            entry.update({
                "preprocess": "x = float32(rgb_u8) / 127.5 - 1.0; NCHW [1, 3, H, W], channels R, G, B",
                "postprocess": "y = output[0, 0] * 127.5 + 127.5 (float32); line = uint8(clip(y, 0, 255)) "
                               "(truncation); map = 255 - line",
                "size_requirement": "H, W multiples of 256",
                "full_chain": FULL_CHAIN_COMMON + [
                    "(H, W) = img.shape[:2]; Hn = 256 * ceil(H / 256), Wn = 256 * ceil(W / 256); "
                    "feed = cv2.resize(img, (Wn, Hn), INTER_CUBIC)",
                    "x = feed / 127.5 - 1 -> model -> y = output[0, 0] * 127.5 + 127.5 (float32)",
                    "y = cv2.resize(y, (W, H), INTER_CUBIC) (float32, before the clip); "
                    "line = uint8(clip(y, 0, 255)) (truncation)",
                ] + FULL_CHAIN_TAIL,
                "full_chain_for_this_input_with_defaults": "detect_resolution=512: 256x256 -> 512x512 with "
                    "cv2.INTER_LANCZOS4; 512 is already a multiple of 256 so both INTER_CUBIC resizes are "
                    "identities; the final INTER_LINEAR 512->512 is an identity. The reference uses "
                    "detect_resolution=256, image_resolution=256: every resize is 256->256 (identity).",
            })
        report[kind] = entry
        print(f"{kind}: {onnx_path.relative_to(REPO)} {size} bytes, {n_params} parameters; raw {stats(raw)}; "
              f"final {stats(final)}; ORT-torch {diff_ref:.2e} (with other sizes {diff_all:.2e}); "
              f"ORT final map differs in {entry['ort_final_map_pixels_differing']} pixels")

    check_against_controlnet_aux(args.check_controlnet_aux, img, tiny_lineart, tiny_anime,
                                 np.asarray(Image.open(FIXTURES / "reference_lineart.png")),
                                 np.asarray(Image.open(FIXTURES / "reference_lineart_anime.png")))
    (FIXTURES / "reference.json").write_text(json.dumps(report, indent=2) + "\n")
    for folder in ("tiny-lineart", "tiny-lineart-anime"):
        print(folder, json.dumps(io_signature(FIXTURES / folder / "model.onnx")))
    print(f"wrote {FIXTURES.relative_to(REPO)}/: input.png, reference_lineart.png, reference_lineart_anime.png, "
          "reference.json, tiny-lineart/, tiny-lineart-anime/")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--tiny", action="store_true", help="write the tiny fixtures and references")
    mode.add_argument("--weights", type=Path, help="a real .pth (sk_model.pth, sk_model2.pth or netG.pth)")
    p.add_argument("--out", type=Path, help="output folder for --weights")
    p.add_argument("--kind", choices=sorted(KINDS), help="architecture for --weights (default: from the keys)")
    p.add_argument("--coarse", action="store_true", help='add "coarse": true to config.json (sk_model2.pth)')
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="tiny weights seed (anime uses seed + 1)")
    p.add_argument("--check-controlnet-aux", choices=["auto", "require", "skip"], default="auto",
                   help="cross-check against an installed controlnet_aux (--tiny)")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.weights:
        if args.out is None:
            p.error("--weights needs --out")
        export_weights(args)
    else:
        write_tiny(args)


if __name__ == "__main__":
    main()
