#!/usr/bin/env python3
"""Builds the tiny random-weight ControlNet fixture, a ControlNet-capable tiny-sd15 UNet, two control images and
diffusers ControlNet reference images:

  tests/fixtures/sd/tiny-controlnet/model.onnx         ControlNetModel.from_unet(tiny-sd15 UNet), single file
  tests/fixtures/sd/tiny-controlnet/config.json        its diffusers config (save_config; "_class_name":
                                                       "ControlNetModel" marks the folder, no model_index.json)
  tests/fixtures/sd/tiny-sd15/controlnet/model.onnx    the tiny-sd15 UNet taking the ControlNet residuals
  tests/fixtures/sd/tiny-sd15/controlnet/config.json   a byte copy of tiny-sd15/unet/config.json
  tests/fixtures/sd/inputs/control.png, control2.png   64x64 RGB white line art on black
  tests/fixtures/sd/reference/cn_*.png                 diffusers PyTorch ControlNet pipeline outputs (CPU, fp32)
  tests/fixtures/sd/reference/controlnet_cases.json    the cases: the fields of reference/cases.json (see
                                                       make_references.py) plus "controls": [{"image", "model",
                                                       "scale", "start", "end"}, ...] (paths repo-relative)

ONNX layout (OnnxStack-style separate models, opset 17, TorchScript exporter with dynamo=False, float32; the
initializer names are the diffusers state-dict names, as in the plain unet/model.onnx):
  ControlNet   inputs  sample [batch, 4, height, width], timestep [] (float scalar, like tiny-sd15/unet),
                       encoder_hidden_states [batch, sequence_length, 16], controlnet_cond [batch, 3, 8*height,
                       8*width] (RGB in [0, 1]), conditioning_scale [] (float scalar, a real graph input: every
                       residual is multiplied by it inside the graph)
               outputs down_block_0_additional_residual ... down_block_11_additional_residual,
                       mid_block_additional_residual
               = controlnet(sample, timestep, encoder_hidden_states, controlnet_cond,
                            conditioning_scale=conditioning_scale, return_dict=False)
  UNet         inputs  sample, timestep, encoder_hidden_states (exactly as tiny-sd15/unet/model.onnx), then the 13
                       residuals under the same names; output out_sample
               = unet(sample, timestep, encoder_hidden_states, down_block_additional_residuals=[...],
                      mid_block_additional_residual=mid, return_dict=False)[0]; all-zero residuals reproduce
                      tiny-sd15/unet/model.onnx (checked).
  Residual shapes (tiny-sd15: block_out_channels (4,4,8,8), layers_per_block 2; h, w = latent size):
  [B,4,h,w] x3, [B,4,h/2,w/2] x3, [B,4,h/4,w/4], [B,8,h/4,w/4] x2, [B,8,h/8,w/8] x3; mid [B,8,h/8,w/8].

ControlNet weights: torch.manual_seed(SEED_CONTROLNET); ControlNetModel.from_unet(unet,
conditioning_embedding_out_channels=(8,8,8,8)) copies conv_in, time embedding, down blocks and mid block of the
tiny-sd15 UNet. Then, from torch.Generator("cpu").manual_seed(SEED_RANDOMIZE), every conv of the conditioning
embedding is redrawn as weight = N(0,1) * gain / sqrt(fan_in), bias = 0.1 * N(0,1) * gain (gain COND_GAIN for
conv_in and the blocks; COND_OUT_GAIN for its zero-initialised conv_out: with PyTorch's default init the control
image's signal dies out in the embedding), and the zero convolutions controlnet_down_blocks / controlnet_mid_block
get gain ZERO_CONV_GAIN. The script prints how much the ControlNet changes the txt2img output (mean |with -
without| in pixels), and how much the control image itself matters (control.png vs control2.png).

References: as make_references.py (PROMPT, SEED, STEPS=8, CFG=7, 64x64, make_sampler, torch.set_num_threads(1),
generator=torch.Generator("cpu").manual_seed(seed), output_type="pil"), with StableDiffusionControlNetPipeline,
StableDiffusionControlNetImg2ImgPipeline and StableDiffusionControlNetInpaintPipeline (MultiControlNetModel for
several controls). Each reference is also re-run with the ControlNet and the UNet replaced by the two ONNX files
(onnxruntime) inside the same diffusers pipeline, and must agree within 2/255.

What diffusers 0.39 does in these pipelines (pipeline_controlnet*.py, models/controlnets/controlnet.py,
multicontrolnet.py), i.e. what an ONNX re-implementation must reproduce:
  * Control image: control_image_processor = VaeImageProcessor(vae_scale_factor 8, do_convert_rgb=True,
    do_normalize=False). preprocess(image, height, width): size = (width, height) if given, else the control
    image's own size floored to a multiple of 8 (txt2img then generates at the control image's size); PIL
    image.resize((w, h), LANCZOS, reducing_gap None), which PIL skips (copy) when the size is unchanged and
    does with NEAREST for "P"/"1" images; THEN .convert("RGB") (alpha dropped, no compositing); float32 / 255;
    HWC -> CHW. No [-1, 1] normalisation, no binarisation, channel order RGB (config
    controlnet_conditioning_channel_order "rgb"). Repeated per image, then cat([img, img]) for CFG: the same
    control image for the uncond and the cond half.
  * Per step: the ControlNet gets exactly the UNet's first three inputs: scale_model_input(cat[latents, latents],
    t), t, cat[uncond, cond] embeddings (guess_mode off: config global_pool_conditions is false), and
    conditioning_scale = scale * keep_i; it runs even when keep_i = 0 (residuals then 0 * r = 0). Inside the
    ControlNet every down residual and the mid residual are multiplied by conditioning_scale. The UNet adds
    them: down_res[i] += r_i, mid += r_mid.
  * Step window: keep_i = 1 - float(i / N < start or (i + 1) / N > end), Python float division, N =
    len(timesteps) of the steps actually run (img2img/inpaint: after the strength cut, e.g. 4 for 8 steps at
    strength 0.6), i = 0..N-1. 8 steps, start 0.25, end 0.75 -> keep [0,0,1,1,1,1,0,0]. check_inputs requires
    0 <= start < end <= 1 (start == end is an error, not "off").
  * Multi-ControlNet: each net gets its own image, scale and [start, end]; the residuals of all nets are summed
    (net 0 first) before the UNet.
  * RNG order: the same as the plain pipelines (make_references.RNG_ORDER): the control image consumes no
    randomness. txt2img: latents = randn; img2img: VAE sample of the init image, then noise; inpaint with a
    4-channel UNet: VAE sample of the init image, noise, VAE sample of the masked image (unused); then the
    sampler's per-step noise (euler_a).
  * img2img (StableDiffusionControlNetImg2ImgPipeline): init image as StableDiffusionImg2ImgPipeline
    (VaeImageProcessor, [-1, 1]); the control image is preprocessed at the height/width arguments, NOT at the
    init image's size (pass the size explicitly).
  * inpaint (StableDiffusionControlNetInpaintPipeline) with the 4-channel UNet: the same mask handling as
    StableDiffusionInpaintPipeline (grayscale, LANCZOS resize, /255, binarise >= 0.5; masked_image = image *
    (mask < 0.5); latent mask = nearest F.interpolate; after every step latents = (1 - m) * add_noise(
    image_latents, noise, t_{i+1}) + m * latents, at the last step the clean image_latents). The ControlNet
    gets the 4-channel latent input (with a 9-channel UNet too, before the mask concat).
  * The default controlnet_conditioning_scale differs per pipeline (txt2img 1.0, img2img 0.8, inpaint 0.5);
    the cases pass it explicitly.

Usage:  python onnx/make_tiny_controlnet.py [--pt-dir DIR] [--skip-ort-pipeline-check]
        (PyTorch tiny-sd15 from make_tiny_models.py in $OEKAKI_TINY_PT / --pt-dir; if it is missing it is rebuilt
        there with make_tiny_models.build_pytorch_pipeline, which touches nothing in the repository; the weights
        are checked against tests/fixtures/sd/tiny-sd15 either way.)
Deterministic (byte-identical files on re-runs); about a minute on 2 CPU cores. Rerun it after
onnx/make_tiny_models.py re-exports tiny-sd15 (that removes tiny-sd15/controlnet/) and after
onnx/make_references.py (that deletes every reference/*.png, the cn_*.png included).
"""
import argparse
import io
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_references as mr  # noqa: E402
import make_tiny_models as mtm  # noqa: E402

REPO, FIXTURES, INPUTS, REFERENCE = mr.REPO, mr.FIXTURES, mr.INPUTS, mr.REFERENCE
MODEL = "tiny-sd15"
CN_NAME = "tiny-controlnet"
CN_DIR = FIXTURES / CN_NAME
UNET_CN_DIR = FIXTURES / MODEL / "controlnet"
CONTROL1 = INPUTS / "control.png"
CONTROL2 = INPUTS / "control2.png"

OPSET = 17
SEED_CONTROLNET = 1005     # continues make_tiny_models.py (1001..1003) and make_tiny_taesd.py (1004)
SEED_RANDOMIZE = 2005      # generator for the conditioning embedding and the zero convolutions
COND_EMBEDDING_CHANNELS = (8, 8, 8, 8)
COND_GAIN = 2.0            # conditioning embedding conv_in + blocks
COND_OUT_GAIN = 3.0        # conditioning embedding conv_out (zero-initialised by diffusers)
ZERO_CONV_GAIN = 1.0       # controlnet_down_blocks, controlnet_mid_block (zero-initialised by diffusers)
ORT_PIPELINE_TOLERANCE = 2  # max |torch - onnxruntime| per pixel channel, in 1/255

RESIDUAL_NAMES = [f"down_block_{i}_additional_residual" for i in range(12)] + ["mid_block_additional_residual"]


def rel(p):
    return mr.rel(p)


# ---------------------------------------------------------------------------------------------- inputs
def make_control_images():
    """Two deterministic 64x64 RGB line drawings, white (255) on black."""
    white = (255, 255, 255)
    a = Image.new("RGB", (mr.W, mr.H), (0, 0, 0))
    d = ImageDraw.Draw(a)
    d.ellipse((8, 8, 36, 36), outline=white, width=2)
    d.ellipse((34, 30, 58, 54), outline=white, width=2)
    d.line((4, 60, 60, 40), fill=white, width=2)
    d.line((44, 4, 60, 20), fill=white, width=1)
    b = Image.new("RGB", (mr.W, mr.H), (0, 0, 0))
    d = ImageDraw.Draw(b)
    d.rectangle((10, 12, 30, 50), outline=white, width=2)
    d.polygon([(40, 10), (58, 40), (36, 44)], outline=white, width=2)
    d.line((0, 0, 63, 63), fill=white, width=1)
    INPUTS.mkdir(parents=True, exist_ok=True)
    a.save(CONTROL1)
    b.save(CONTROL2)
    return CONTROL1, CONTROL2


# ---------------------------------------------------------------------------------------------- models
def load_base(pt_dir):
    if not (pt_dir / MODEL / "model_index.json").exists():
        print(f"  {pt_dir / MODEL} missing: rebuilding the PyTorch pipeline there (make_tiny_models.py weights)")
        mtm.build_pytorch_pipeline(MODEL, pt_dir / MODEL)
    pipe = mr.load_components(pt_dir, MODEL)
    mr.check_fixture_matches(pipe, MODEL)
    return pipe


@torch.no_grad()
def make_controlnet(unet, conditioning_embedding_out_channels=COND_EMBEDDING_CHANNELS, seed=SEED_CONTROLNET,
                    seed_randomize=SEED_RANDOMIZE):
    """ControlNetModel.from_unet(unet) with the conditioning embedding and the zero convolutions redrawn (see the
    module docstring). Also used by make_bench_controlnet.py for the full-size benchmark ControlNet."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    cn = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=conditioning_embedding_out_channels).eval()
    g = torch.Generator("cpu").manual_seed(seed_randomize)

    def redraw(conv, gain):
        fan_in = conv.weight[0].numel()
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * gain / fan_in ** 0.5)
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.1 * gain)

    emb = cn.controlnet_cond_embedding
    for conv in [emb.conv_in, *emb.blocks]:
        redraw(conv, COND_GAIN)
    redraw(emb.conv_out, COND_OUT_GAIN)
    for conv in [*cn.controlnet_down_blocks, cn.controlnet_mid_block]:
        redraw(conv, ZERO_CONV_GAIN)
    return cn


def controlnet_forward(cn):
    def forward(sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale):
        down, mid = type(cn).forward(cn, sample, timestep, encoder_hidden_states, controlnet_cond,
                                     conditioning_scale=conditioning_scale, return_dict=False)
        return (*down, mid)
    return forward


def unet_forward(unet):
    def forward(sample, timestep, encoder_hidden_states, *residuals):
        return type(unet).forward(unet, sample, timestep, encoder_hidden_states,
                                  down_block_additional_residuals=list(residuals[:-1]),
                                  mid_block_additional_residual=residuals[-1], return_dict=False)[0]
    return forward


def export(module, forward, args, path, input_names, output_names, dynamic_axes, external_data=False):
    """Exports `module` with its forward temporarily replaced (so initializer names are the module's own
    state-dict names, like optimum's unet/model.onnx).

    external_data=False: one self-contained file (models under 2 GB); returns the ModelProto.
    external_data=True (models over 2 GB): torch writes one file per tensor into a temporary folder next to
    `path`; that is loaded, the folder deleted, and the model re-saved as `path` + one `<name>_data` file (like
    onnx/export_diffusers.py); returns None (the proto is not kept in memory)."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / (path.name + ".tmp-export")
    if external_data:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        target = str(tmp / path.name)
    else:
        target = io.BytesIO()
    module.forward = forward
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, target, dynamo=False, opset_version=OPSET, do_constant_folding=True,
                              input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes)
    finally:
        del module.forward
    if not external_data:
        model = onnx.load_from_string(target.getvalue())
        onnx.checker.check_model(model)
        onnx.save_model(model, str(path), save_as_external_data=False)
        return model
    model = onnx.load(target, load_external_data=True)
    shutil.rmtree(tmp)  # before writing the new copy: only one copy of the weights on disk at a time
    for stale in (path, path.with_name(path.name + "_data")):
        if stale.exists():
            stale.unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + "_data", size_threshold=100)
    del model
    onnx.checker.check_model(str(path))
    return None


def residual_axes(shapes, latent_hw):
    """dynamic axes per residual: batch, and height/width divided by the residual's downsampling factor."""
    axes = {}
    for name, shape in zip(RESIDUAL_NAMES, shapes):
        f = latent_hw // shape[-1]
        axes[name] = {0: "batch_size", 2: "height" if f == 1 else f"height/{f}",
                      3: "width" if f == 1 else f"width/{f}"}
    return axes


def dummy_inputs(unet, batch=2, hw=8):  # unet: a UNet or ControlNet (reads config.cross_attention_dim)
    g = torch.Generator("cpu").manual_seed(0)
    sample = torch.randn((batch, 4, hw, hw), generator=g)
    ehs = torch.randn((batch, 77, unet.config.cross_attention_dim), generator=g)
    cond = torch.rand((batch, 3, hw * 8, hw * 8), generator=g)
    return sample, torch.tensor(501.0), ehs, cond, torch.tensor(0.8)


BASE_AXES = {"sample": {0: "batch_size", 2: "height", 3: "width"},
             "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"}}


def export_controlnet(cn, cn_dir=CN_DIR, hw=8, external_data=False):
    """Replaces cn_dir with {model.onnx, config.json} of the ControlNet `cn`, traced on dummy_inputs(cn, 2, hw).
    Returns the dummy residuals (the tracing inputs for export_controlnet_unet)."""
    sample, t, ehs, cond, scale = dummy_inputs(cn, hw=hw)
    with torch.no_grad():
        res = controlnet_forward(cn)(sample, t, ehs, cond, scale)
    assert len(res) == len(RESIDUAL_NAMES), len(res)
    r_axes = residual_axes([r.shape for r in res], sample.shape[-1])
    if cn_dir.exists():
        shutil.rmtree(cn_dir)
    export(cn, controlnet_forward(cn), (sample, t, ehs, cond, scale), cn_dir / "model.onnx",
           ["sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale"],
           RESIDUAL_NAMES,
           {**BASE_AXES, "controlnet_cond": {0: "batch_size", 2: "image_height", 3: "image_width"}, **r_axes},
           external_data=external_data)
    cn.save_config(str(cn_dir))
    strip_name_or_path(cn_dir / "config.json")
    return res


def export_controlnet_unet(unet, res, unet_cn_dir=UNET_CN_DIR, unet_config=FIXTURES / MODEL / "unet" / "config.json",
                           external_data=False):
    """Replaces unet_cn_dir with {model.onnx, config.json (a byte copy of unet_config)} of the UNet taking the 13
    residuals; `res` = export_controlnet's dummy residuals (their latent size fixes the tracing size)."""
    sample, t, ehs, _, _ = dummy_inputs(unet, hw=res[0].shape[-1])
    r_axes = residual_axes([r.shape for r in res], sample.shape[-1])
    if unet_cn_dir.exists():
        shutil.rmtree(unet_cn_dir)
    export(unet, unet_forward(unet), (sample, t, ehs, *res), unet_cn_dir / "model.onnx",
           ["sample", "timestep", "encoder_hidden_states", *RESIDUAL_NAMES], ["out_sample"],
           {**BASE_AXES, **r_axes, "out_sample": {0: "batch_size", 2: "height", 3: "width"}},
           external_data=external_data)
    shutil.copyfile(unet_config, unet_cn_dir / "config.json")


def export_models(cn, unet):
    res = export_controlnet(cn)
    export_controlnet_unet(unet, res)


def strip_name_or_path(path):
    d = json.loads(path.read_text())
    if "_name_or_path" in d:
        del d["_name_or_path"]
        path.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------- checks
DTYPES = {1: "float32", 10: "float16", 7: "int64", 6: "int32"}


def describe_io(path):
    import onnx

    m = onnx.load(str(path))
    init = {i.name for i in m.graph.initializer}
    lines = []
    for kind, vals in (("input", [v for v in m.graph.input if v.name not in init]), ("output", m.graph.output)):
        for v in vals:
            t = v.type.tensor_type
            dims = [d.dim_param or d.dim_value for d in t.shape.dim]
            lines.append(f"    {kind:6s} {v.name:36s} {DTYPES.get(t.elem_type, t.elem_type):8s} {dims}")
    return "\n".join(lines)


def session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def check_onnx(cn, unet):
    """The two ONNX files against PyTorch (batch 1 and 2, a non-square size), and all-zero residuals against
    the plain tiny-sd15/unet/model.onnx."""
    s_cn, s_unet = session(CN_DIR / "model.onnx"), session(UNET_CN_DIR / "model.onnx")
    s_plain = session(FIXTURES / MODEL / "unet" / "model.onnx")
    g = torch.Generator("cpu").manual_seed(1)
    worst_cn = worst_unet = worst_zero = 0.0
    for batch, h, w, scale in ((2, 8, 8, 0.8), (1, 8, 16, 1.3)):
        sample = torch.randn((batch, 4, h, w), generator=g)
        ehs = torch.randn((batch, 77, unet.config.cross_attention_dim), generator=g)
        cond = (torch.rand((batch, 3, h * 8, w * 8), generator=g) > 0.9).float()
        t = torch.tensor(321.0)
        with torch.no_grad():
            res = controlnet_forward(cn)(sample, t, ehs, cond, torch.tensor(scale))
            out = unet_forward(unet)(sample, t, ehs, *res)
            plain = unet(sample, t, ehs).sample
        feed = {"sample": sample.numpy(), "timestep": t.numpy(), "encoder_hidden_states": ehs.numpy()}
        got = s_cn.run(RESIDUAL_NAMES, {**feed, "controlnet_cond": cond.numpy(),
                                        "conditioning_scale": np.asarray(scale, np.float32)})
        for r, o in zip(res, got):
            assert r.shape == o.shape, (r.shape, o.shape)
            worst_cn = max(worst_cn, float(np.abs(r.numpy() - o).max()))
        o = s_unet.run(["out_sample"], {**feed, **{n: r.numpy() for n, r in zip(RESIDUAL_NAMES, res)}})[0]
        worst_unet = max(worst_unet, float(np.abs(o - out.numpy()).max()))
        zeros = {n: np.zeros(r.shape, np.float32) for n, r in zip(RESIDUAL_NAMES, res)}
        z = s_unet.run(["out_sample"], {**feed, **zeros})[0]
        p = s_plain.run(["out_sample"], feed)[0]
        worst_zero = max(worst_zero, float(np.abs(z - p).max()))
        effect = float((out - plain).abs().mean())
        print(f"  batch {batch}, latent {h}x{w}, scale {scale}: mean |unet(residuals) - unet| = {effect:.3f} "
              f"(unet output std {float(plain.std()):.3f})")
    print(f"  ControlNet ONNX vs PyTorch: max abs diff {worst_cn:.2e}")
    print(f"  ControlNet-UNet ONNX vs PyTorch: max abs diff {worst_unet:.2e}")
    print(f"  ControlNet-UNet ONNX with all-zero residuals vs tiny-sd15/unet/model.onnx: max abs diff "
          f"{worst_zero:.2e}")
    assert worst_cn < 1e-4 and worst_unet < 1e-4, (worst_cn, worst_unet)
    assert worst_zero < 1e-5, worst_zero
    return worst_zero


class OrtModels:
    """Temporarily replaces the forward of the PyTorch ControlNet and UNet by the ONNX files (onnxruntime)."""

    def __init__(self, cn, unet):
        self.cn, self.unet = cn, unet
        self.s_cn, self.s_unet = session(CN_DIR / "model.onnx"), session(UNET_CN_DIR / "model.onnx")

    def cn_forward(self, sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale=1.0,
                   guess_mode=False, return_dict=True, **_):
        assert not guess_mode and not return_dict
        out = self.s_cn.run(RESIDUAL_NAMES, {
            "sample": sample.numpy(), "timestep": np.asarray(float(timestep), np.float32),
            "encoder_hidden_states": encoder_hidden_states.numpy(), "controlnet_cond": controlnet_cond.numpy(),
            "conditioning_scale": np.asarray(float(conditioning_scale), np.float32)})
        return [torch.from_numpy(o) for o in out[:-1]], torch.from_numpy(out[-1])

    def unet_forward(self, sample, timestep, encoder_hidden_states, down_block_additional_residuals=None,
                     mid_block_additional_residual=None, return_dict=True, **_):
        assert not return_dict
        feed = {"sample": sample.numpy(), "timestep": np.asarray(float(timestep), np.float32),
                "encoder_hidden_states": encoder_hidden_states.numpy()}
        feed.update({n: r.numpy() for n, r in zip(RESIDUAL_NAMES, [*down_block_additional_residuals,
                                                                   mid_block_additional_residual])})
        return (torch.from_numpy(self.s_unet.run(["out_sample"], feed)[0]),)

    def __enter__(self):
        self.cn.forward, self.unet.forward = self.cn_forward, self.unet_forward
        return self

    def __exit__(self, *exc):
        del self.cn.forward, self.unet.forward


# ---------------------------------------------------------------------------------------------- cases
RNG = {"txt2img": mr.RNG_ORDER["txt2img"], "img2img": mr.RNG_ORDER["img2img"], "inpaint": mr.RNG_ORDER["inpaint4"]}
NO_RNG_NOTE = "the control image consumes no randomness: draws exactly as the plain pipeline"


def keeps(n, start, end):
    return [1.0 - float(i / n < start or (i + 1) / n > end) for i in range(n)]


def run_steps(case):
    if case["pipeline"] == "txt2img":
        return case["steps"]
    init = min(int(case["steps"] * case["strength"]), case["steps"])
    return case["steps"] - max(case["steps"] - init, 0)


def build_cases(init, mask):
    cases = []

    def add(name, pipeline, sampler, controls, notes, **kw):
        c = dict(name=name, model=MODEL, pipeline=pipeline, sampler=sampler, prompt=mr.PROMPT, negative="",
                 steps=mr.STEPS, cfg=mr.CFG, image_cfg=None, strength=None, seed=mr.SEED, width=mr.W,
                 height=mr.H, clip_skip=1, init=None, mask=None, output=rel(REFERENCE / f"{name}.png"), notes="",
                 rng=RNG[pipeline])
        c.update(kw)
        c["controls"] = [dict(image=rel(img), model=CN_NAME, scale=s, start=a, end=b) for img, s, a, b in controls]
        n = run_steps(c)
        k = "; ".join(f"keep[{Path(ctl['image']).name}] = {[int(x) for x in keeps(n, ctl['start'], ctl['end'])]}"
                      for ctl in c["controls"])
        c["notes"] = (f"{notes}; {k} (keep_i = 1 - float(i/N < start or (i+1)/N > end), N = {n} steps run; "
                      f"ControlNet conditioning_scale = scale * keep_i); {NO_RNG_NOTE}; UNet = "
                      f"{MODEL}/controlnet/model.onnx, ControlNet = {CN_NAME}/model.onnx")
        cases.append(c)

    ctl_pre = ("control image: RGB, size already 64x64 (no resize), /255 -> [0,1], CHW, same image for the "
               "uncond and cond halves of the CFG batch")
    add("cn_txt2img_euler_a", "txt2img", "euler_a", [(CONTROL1, 0.8, 0.0, 1.0)],
        f"StableDiffusionControlNetPipeline; {ctl_pre}")
    add("cn_txt2img_ddim_window", "txt2img", "ddim", [(CONTROL1, 1.0, 0.25, 0.75)],
        f"StableDiffusionControlNetPipeline, control_guidance_start 0.25, control_guidance_end 0.75: the "
        f"ControlNet still runs at keep 0 with conditioning_scale 0 (zero residuals); {ctl_pre}")
    add("cn_img2img_euler", "img2img", "euler", [(CONTROL1, 1.0, 0.0, 1.0)],
        f"StableDiffusionControlNetImg2ImgPipeline (image=init.png, control_image=control.png); int(8*0.6)=4 "
        f"denoising steps from timesteps[4:], the step window counts those 4 steps; init image as "
        f"StableDiffusionImg2ImgPipeline; {ctl_pre}", strength=0.6, init=rel(init))
    add("cn_inpaint4_euler_a", "inpaint", "euler_a", [(CONTROL1, 1.0, 0.0, 1.0)],
        f"StableDiffusionControlNetInpaintPipeline with the ordinary 4-channel UNet: mask, masked image and the "
        f"per-step blend latents = (1-m)*add_noise(image_latents, noise, t_next) + m*latents (last step: "
        f"image_latents unnoised) exactly as StableDiffusionInpaintPipeline (inpaint4_*); the ControlNet gets "
        f"the 4-channel latent input; {ctl_pre}", strength=1.0, init=rel(init), mask=rel(mask))
    add("cn_multi_dpmpp", "txt2img", "dpmpp_2m_karras", [(CONTROL1, 0.7, 0.0, 1.0), (CONTROL2, 0.5, 0.0, 1.0)],
        f"StableDiffusionControlNetPipeline with MultiControlNetModel([cn, cn]) (the same tiny-controlnet "
        f"twice), images [control.png, control2.png], scales [0.7, 0.5]: residuals of both nets summed (net 0 "
        f"first) before the UNet; {ctl_pre}")
    return cases


def run_case(base, cn, c):
    import diffusers

    comps = dict(base.components)
    comps["scheduler"] = mr.make_sampler(base.scheduler, c["sampler"])
    ctl = c["controls"]
    images = [Image.open(REPO / x["image"]).convert("RGB") for x in ctl]
    if len(ctl) == 1:
        net, image = cn, images[0]
        kw = dict(controlnet_conditioning_scale=ctl[0]["scale"], control_guidance_start=ctl[0]["start"],
                  control_guidance_end=ctl[0]["end"])
    else:
        net, image = diffusers.MultiControlNetModel([cn] * len(ctl)), images
        kw = dict(controlnet_conditioning_scale=[x["scale"] for x in ctl],
                  control_guidance_start=[x["start"] for x in ctl], control_guidance_end=[x["end"] for x in ctl])
    gen = torch.Generator("cpu").manual_seed(c["seed"])
    kw.update(prompt=c["prompt"], negative_prompt=c["negative"], num_inference_steps=c["steps"],
              guidance_scale=c["cfg"], generator=gen, output_type="pil", height=c["height"], width=c["width"])
    init = Image.open(REPO / c["init"]).convert("RGB") if c["init"] else None
    mask = Image.open(REPO / c["mask"]).convert("RGB") if c["mask"] else None
    if c["pipeline"] == "txt2img":
        p = diffusers.StableDiffusionControlNetPipeline(**comps, controlnet=net)
        kw.update(image=image)
    elif c["pipeline"] == "img2img":
        p = diffusers.StableDiffusionControlNetImg2ImgPipeline(**comps, controlnet=net)
        kw.update(image=init, control_image=image, strength=c["strength"])
    elif c["pipeline"] == "inpaint":
        p = diffusers.StableDiffusionControlNetInpaintPipeline(**comps, controlnet=net)
        kw.update(image=init, mask_image=mask, control_image=image, strength=c["strength"])
    else:
        raise ValueError(c["pipeline"])
    p.set_progress_bar_config(disable=True)
    img = p(**kw).images[0]
    assert img.mode == "RGB" and img.size == (c["width"], c["height"])
    return img


def run_plain_txt2img(base, c):
    import diffusers

    comps = dict(base.components)
    comps["scheduler"] = mr.make_sampler(base.scheduler, c["sampler"])
    p = diffusers.StableDiffusionPipeline(**comps)
    p.set_progress_bar_config(disable=True)
    return p(c["prompt"], negative_prompt=c["negative"], height=c["height"], width=c["width"],
             num_inference_steps=c["steps"], guidance_scale=c["cfg"], output_type="pil",
             generator=torch.Generator("cpu").manual_seed(c["seed"])).images[0]


def px(img):
    return np.asarray(img, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pt-dir", default=str(mr.DEFAULT_PT), help="the PyTorch tiny pipelines (outside the repo)")
    ap.add_argument("--skip-ort-pipeline-check", action="store_true",
                    help="do not re-run the references with the ONNX ControlNet and UNet")
    a = ap.parse_args()
    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.set_num_threads(1)
    t0 = time.time()

    base = load_base(Path(a.pt_dir))
    unet = base.unet
    cn = make_controlnet(unet)
    print(f"ControlNet: {sum(p.numel() for p in cn.parameters())} parameters "
          f"(UNet {sum(p.numel() for p in unet.parameters())})")
    export_models(cn, unet)
    for path in (CN_DIR / "model.onnx", UNET_CN_DIR / "model.onnx"):
        print(f"  {rel(path)}:\n{describe_io(path)}")
    check_onnx(cn, unet)

    init, mask = INPUTS / "init.png", INPUTS / "mask.png"
    assert init.exists() and mask.exists(), "run onnx/make_references.py first (inputs/init.png, mask.png)"
    make_control_images()
    cases = build_cases(init, mask)
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for f in REFERENCE.glob("cn_*.png"):
        f.unlink()
    ort_models = None if a.skip_ort_pipeline_check else OrtModels(cn, unet)
    for c in cases:
        tok = base.tokenizer
        for field in ("prompt", "negative"):
            c[field + "_ids"] = tok(c[field], padding="max_length", max_length=tok.model_max_length,
                                    truncation=True).input_ids
        t1 = time.time()
        img = run_case(base, cn, c)
        img.save(REPO / c["output"])
        v = px(img)
        line = f"  {c['name']:24s} std {v.std():5.1f}/255 mean {v.mean():6.1f}"
        if v.std() < 10:
            print(f"  WARNING: {c['name']} is nearly flat")
        if c["name"] == "cn_txt2img_euler_a":
            plain = px(run_plain_txt2img(base, c))
            existing = REFERENCE / "txt2img_euler_a.png"
            if existing.exists() and not np.array_equal(plain, px(Image.open(existing).convert("RGB"))):
                print("  WARNING: the no-ControlNet run differs from reference/txt2img_euler_a.png")
            d_plain, d_max = float(np.abs(v - plain).mean()), float(np.abs(v - plain).max())
            other = dict(c, controls=[dict(c["controls"][0], image=rel(CONTROL2))])
            d_img = float(np.abs(v - px(run_case(base, cn, other))).mean())
            print(f"  {c['name']}: mean |with ControlNet - without| = {d_plain:.2f}/255 (max {d_max:.0f}); "
                  f"mean |control.png - control2.png| = {d_img:.2f}/255")
            assert d_plain > 5 and d_img > 2, (d_plain, d_img)
            c["notes"] += (f"; measured: mean |this - the same case without ControlNet (= txt2img_euler_a.png)| = "
                           f"{d_plain:.2f}/255 per channel (max {d_max:.0f}); with control2.png instead: "
                           f"mean diff {d_img:.2f}/255")
        if ort_models is not None:
            with ort_models:
                o = px(run_case(base, cn, c))
            d = np.abs(o - v)
            line += f"  | onnxruntime ControlNet+UNet in the same pipeline: max {d.max():.0f}/255 mean {d.mean():.3f}"
            assert d.max() <= ORT_PIPELINE_TOLERANCE, (c["name"], d.max())
        print(line + f"  {time.time() - t1:.1f} s")
    order = ["name", "model", "pipeline", "sampler", "prompt", "negative", "steps", "cfg", "image_cfg", "strength",
             "seed", "width", "height", "clip_skip", "init", "mask", "output", "notes", "rng", "controls",
             "prompt_ids", "negative_ids"]
    cases = [{k: c[k] for k in order} for c in cases]
    (REFERENCE / "controlnet_cases.json").write_text(mr.dump_json(cases, indent=1))
    paths = [CN_DIR / "model.onnx", CN_DIR / "config.json", UNET_CN_DIR / "model.onnx", UNET_CN_DIR / "config.json",
             CONTROL1, CONTROL2, REFERENCE / "controlnet_cases.json"] + [REPO / c["output"] for c in cases]
    for p in paths:
        print(f"  {rel(p)}: {p.stat().st_size} bytes")
    print(f"{len(cases)} cases, total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
