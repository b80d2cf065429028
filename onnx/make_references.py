#!/usr/bin/env python3
"""Writes the reference outputs the Rust diffusion engine is tested against:

  tests/fixtures/sd/inputs/init.png, mask.png   deterministic 64x64 RGB init image / 8-bit gray binary mask
                                                (255 = repaint, 0 = keep)
  tests/fixtures/sd/reference/<case>.png        diffusers PyTorch pipeline outputs (CPU, float32) on the SAME
                                                weights as the ONNX fixtures (PyTorch pipelines saved by
                                                make_tiny_models.py in $OEKAKI_TINY_PT / --pt-dir)
  tests/fixtures/sd/reference/cases.json        one object per case (see CASE FIELDS below)
  tests/goldens/schedulers.json                 timesteps / sigmas / init_noise_sigma of every sampler x spacing x
                                                steps, plus latent trajectories with a fake model
  tests/goldens/torch_randn.json                torch.randn values of torch.Generator("cpu").manual_seed(s)

CASE FIELDS: name, model (folder under tests/fixtures/sd), pipeline (txt2img|img2img|inpaint|instruct|lcm),
sampler (euler_a|euler|dpmpp_2m_karras|ddim|lcm), prompt, negative, steps, cfg, image_cfg|null, strength|null,
seed, width, height, clip_skip (A1111 numbering: 1 = last layer, 2 = penultimate layer + final LayerNorm, i.e.
diffusers clip_skip=1), init|null, mask|null (repo-relative paths), output (repo-relative path), plus
"rng": the order in which the pipeline draws from its torch generator (all shapes [1,4,8,8]), "notes", and
prompt_ids / negative_ids: the CLIP tokenizer ids (padded to 77) of prompt and negative.

Samplers are built as diffusers does when swapping schedulers: Class.from_config(base.config, **overrides), with
base = the scheduler in the ONNX fixture folder (tests/fixtures/sd/<model>/scheduler/scheduler_config.json,
i.e. what the app reads; optimum writes "timestep_spacing": "leading" into it):
  euler_a = EulerAncestralDiscreteScheduler, euler = EulerDiscreteScheduler,
  dpmpp_2m_karras = DPMSolverMultistepScheduler(use_karras_sigmas=True, algorithm_type="dpmsolver++",
  solver_order=2), ddim = DDIMScheduler, lcm = LCMScheduler.
Every run uses generator=torch.Generator("cpu").manual_seed(seed) and torch.set_num_threads(1).

Usage:  python onnx/make_references.py [--pt-dir DIR]     (run onnx/make_tiny_models.py first)
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "sd"
INPUTS = FIXTURES / "inputs"
REFERENCE = FIXTURES / "reference"
GOLDENS = REPO / "tests" / "goldens"
DEFAULT_PT = Path(os.environ.get("OEKAKI_TINY_PT", Path.home() / ".cache" / "oekaki" / "tiny-pt"))

SAMPLERS = ["euler_a", "euler", "dpmpp_2m_karras", "ddim"]
SAMPLER_OVERRIDES = {
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler",
                        {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++", "solver_order": 2}),
    "ddim": ("DDIMScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}

SD15_RAW_SCHEDULER_CONFIG = {  # runwayml/stable-diffusion-v1-5, no "timestep_spacing" key
    "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "trained_betas": None, "clip_sample": False,
}

PROMPT = "a cat sitting on a red sofa, oil painting"
INSTRUCT_PROMPT = "make it look like winter"
W = H = 64
STEPS = 8
CFG = 7.0
SEED = 1234


def rel(p):
    return str(Path(p).relative_to(REPO))


# ---------------------------------------------------------------------------------------------- inputs
def make_inputs():
    INPUTS.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.int64)
    img[..., 0] = x * 4                      # red ramp left -> right
    img[..., 1] = y * 4                      # green ramp top -> bottom
    img[..., 2] = 160 - (x + y)              # blue diagonal
    disk = (x - 20) ** 2 + (y - 22) ** 2 <= 12 ** 2
    img[disk] = (230, 40, 40)
    rect = (x >= 36) & (x < 58) & (y >= 34) & (y < 56)
    img[rect] = (40, 60, 220)
    tri = (y >= 6) & (y < 24) & (np.abs(x - 48) <= (y - 6) // 2)
    img[tri] = (250, 220, 30)
    stripes = (y >= 50) & (y < 60) & (x < 30) & ((x // 3) % 2 == 0)
    img[stripes] = (20, 20, 20)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(INPUTS / "init.png")
    ell = ((x - 31.5) / 18.0) ** 2 + ((y - 31.5) / 12.0) ** 2 <= 1.0
    Image.fromarray(np.where(ell, 255, 0).astype(np.uint8), "L").save(INPUTS / "mask.png")
    return INPUTS / "init.png", INPUTS / "mask.png"


# ---------------------------------------------------------------------------------------------- pipelines
def load_components(pt_dir, model):
    import diffusers

    idx = json.loads((pt_dir / model / "model_index.json").read_text())
    pipe = getattr(diffusers, idx["_class_name"]).from_pretrained(str(pt_dir / model), safety_checker=None,
                                                                  requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    # the base scheduler = what the ONNX fixture folder says (what the app reads)
    cfg = json.loads((FIXTURES / model / "scheduler" / "scheduler_config.json").read_text())
    pipe.scheduler = getattr(diffusers, cfg["_class_name"]).from_pretrained(str(FIXTURES / model / "scheduler"))
    return pipe


def check_fixture_matches(pipe, model):
    """The ONNX files in tests/fixtures/sd/<model> must hold the same weights as the PyTorch pipeline."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = lambda sub: ort.InferenceSession(str(FIXTURES / model / sub / "model.onnx"), so,  # noqa: E731
                                            providers=["CPUExecutionProvider"])
    g = torch.Generator("cpu").manual_seed(0)
    u = pipe.unet
    s = torch.randn((1, u.config.in_channels, 8, 8), generator=g)
    e = torch.randn((1, 77, u.config.cross_attention_dim), generator=g)
    t = torch.tensor(501.0)
    feed = {"sample": s.numpy(), "timestep": t.numpy(), "encoder_hidden_states": e.numpy()}
    kw = {}
    if u.config.time_cond_proj_dim:
        tc = torch.randn((1, u.config.time_cond_proj_dim), generator=g)
        feed["timestep_cond"] = tc.numpy()
        kw["timestep_cond"] = tc
    with torch.no_grad():
        ref = u(s, t, e, **kw).sample.numpy()
        lat = torch.randn((1, 4, 8, 8), generator=g)
        dec = pipe.vae.decode(lat).sample.numpy()
    d_unet = np.abs(sess("unet").run(None, feed)[0] - ref).max()
    d_vae = np.abs(sess("vae_decoder").run(None, {"latent_sample": lat.numpy()})[0] - dec).max()
    if d_unet > 1e-3 or d_vae > 1e-3:
        raise SystemExit(f"{model}: ONNX fixture does not match {model} PyTorch weights (unet {d_unet}, vae {d_vae});"
                         " rerun make_tiny_models.py")


def make_sampler(base_scheduler, sampler):
    import diffusers

    cls, over = SAMPLER_OVERRIDES[sampler]
    return getattr(diffusers, cls).from_config(base_scheduler.config, **over)


def encode_clip_skip(pipe, text, clip_skip_a1111):
    """A1111 semantics: hidden_states[-clip_skip] then the final LayerNorm (clip_skip >= 2), for cond AND uncond.
    (diffusers' own clip_skip only applies it to the positive prompt.)"""
    ids = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids
    with torch.no_grad():
        out = pipe.text_encoder(ids, output_hidden_states=True)
        h = out.hidden_states[-clip_skip_a1111]
        return pipe.text_encoder.text_model.final_layer_norm(h)


RNG_ORDER = {
    "txt2img": ["latents = randn * init_noise_sigma", "scheduler.step noise (euler_a: every step)"],
    "img2img": ["vae_encoder latent_dist.sample (mean + std*randn) of the init image",
                "noise = randn, latents = scheduler.add_noise(image_latents, noise, timesteps[0])",
                "scheduler.step noise (euler_a: every step)"],
    "inpaint9": ["noise = randn, latents = noise * init_noise_sigma (strength 1.0)",
                 "vae_encoder latent_dist.sample of masked_image = image * (mask < 0.5)",
                 "scheduler.step noise (euler_a: every step)"],
    "inpaint4": ["vae_encoder latent_dist.sample of the init image (image_latents)",
                 "noise = randn, latents = noise * init_noise_sigma (strength 1.0)",
                 "vae_encoder latent_dist.sample of masked_image (computed, unused by a 4-channel UNet)",
                 "scheduler.step noise (euler_a: every step)"],
    "instruct": ["latents = randn * init_noise_sigma (image latents = latent_dist.mode(), unscaled: no draw)",
                 "scheduler.step noise (euler_a: every step)"],
    "lcm": ["latents = randn * init_noise_sigma", "LCMScheduler.step noise on every step but the last"],
}


def build_cases(init, mask):
    cases = []

    def add(name, model, pipeline, sampler, **kw):
        c = dict(name=name, model=model, pipeline=pipeline, sampler=sampler, prompt=PROMPT, negative="",
                 steps=STEPS, cfg=CFG, image_cfg=None, strength=None, seed=SEED, width=W, height=H, clip_skip=1,
                 init=None, mask=None, output=rel(REFERENCE / f"{name}.png"), notes="")
        c.update(kw)
        cases.append(c)

    for s in SAMPLERS + ["lcm"]:
        add(f"txt2img_{s}", "tiny-sd15", "txt2img", s, rng=RNG_ORDER["txt2img"])
    for s in SAMPLERS + ["lcm"]:
        add(f"img2img_{s}", "tiny-sd15", "img2img", s, strength=0.6, init=rel(init), rng=RNG_ORDER["img2img"],
            notes="StableDiffusionImg2ImgPipeline; int(8*0.6)=4 denoising steps from timesteps[4:]")
    for s in SAMPLERS + ["lcm"]:
        add(f"inpaint9_{s}", "tiny-sd15-inpaint", "inpaint", s, strength=1.0, init=rel(init), mask=rel(mask),
            rng=RNG_ORDER["inpaint9"],
            notes="StableDiffusionInpaintPipeline, 9-channel UNet input cat[scale_model_input(x), mask, "
                  "masked_image_latents]")
    for s in SAMPLERS + ["lcm"]:
        add(f"inpaint4_{s}", "tiny-sd15", "inpaint", s, strength=1.0, init=rel(init), mask=rel(mask),
            rng=RNG_ORDER["inpaint4"],
            notes="StableDiffusionInpaintPipeline with the ordinary 4-channel UNet: after every step "
                  "latents = (1-m)*add_noise(image_latents, noise, t_next) + m*latents; at the last step "
                  "image_latents unnoised")
    for s in SAMPLERS + ["lcm"]:
        add(f"instruct_{s}", "tiny-sd15-ip2p", "instruct", s, prompt=INSTRUCT_PROMPT, image_cfg=1.5,
            init=rel(init), rng=RNG_ORDER["instruct"],
            notes="StableDiffusionInstructPix2PixPipeline; CFG batch [cond, uncond, uncond]")
    add("lcm_lcm", "tiny-sd15-lcm", "lcm", "lcm", steps=4, cfg=2.0, rng=RNG_ORDER["lcm"],
        notes="LatentConsistencyModelPipeline: no CFG batch, negative unused; timestep_cond = guidance "
              "embedding of (cfg-1), dim 8; output decodes the last step's `denoised`")
    add("txt2img_euler_clipskip2", "tiny-sd15", "txt2img", "euler", clip_skip=2, rng=RNG_ORDER["txt2img"],
        notes="A1111 CLIP skip 2 on cond AND uncond: final_layer_norm(hidden_states[-2]); passed to diffusers as "
              "prompt_embeds/negative_prompt_embeds (diffusers' clip_skip=1 would skip the positive prompt only)")
    add("txt2img_dpmpp_2m_karras_negative", "tiny-sd15", "txt2img", "dpmpp_2m_karras",
        negative="blurry, low quality, watermark", rng=RNG_ORDER["txt2img"])
    # SD 2.x (768-v): v-prediction from the model's own DDIM config, prompts padded with "!", gelu text tower
    sd2 = "SD2.1-shaped tiny model: v_prediction, tokenizer pad '!'"
    for s in SAMPLERS:
        add(f"sd2v_txt2img_{s}", "tiny-sd2-v", "txt2img", s, rng=RNG_ORDER["txt2img"], notes=sd2)
    add("sd2v_txt2img_dpmpp_2m_karras_negative", "tiny-sd2-v", "txt2img", "dpmpp_2m_karras",
        negative="blurry, low quality, watermark", rng=RNG_ORDER["txt2img"], notes=sd2)
    add("sd2v_txt2img_euler_clipskip2", "tiny-sd2-v", "txt2img", "euler", clip_skip=2, rng=RNG_ORDER["txt2img"],
        notes=sd2 + "; A1111 CLIP skip 2 as in txt2img_euler_clipskip2")
    add("sd2v_img2img_euler_a", "tiny-sd2-v", "img2img", "euler_a", strength=0.6, init=rel(init),
        rng=RNG_ORDER["img2img"], notes=sd2)
    add("sd2v_inpaint4_ddim", "tiny-sd2-v", "inpaint", "ddim", strength=1.0, init=rel(init), mask=rel(mask),
        rng=RNG_ORDER["inpaint4"], notes=sd2 + "; latent blending as inpaint4_*")
    return cases


def run_case(pipes, c):
    import diffusers

    model, kind = c["model"], c["pipeline"]
    base = pipes[model]
    sched = make_sampler(base.scheduler, c["sampler"])
    comps = dict(base.components)
    comps["scheduler"] = sched
    gen = torch.Generator("cpu").manual_seed(c["seed"])
    common = dict(num_inference_steps=c["steps"], guidance_scale=c["cfg"], generator=gen, output_type="pil")
    init = Image.open(REPO / c["init"]).convert("RGB") if c["init"] else None
    mask = Image.open(REPO / c["mask"]).convert("RGB") if c["mask"] else None
    if kind == "txt2img":
        p = diffusers.StableDiffusionPipeline(**comps)
        p.set_progress_bar_config(disable=True)
        if c["clip_skip"] > 1:
            pe = encode_clip_skip(p, c["prompt"], c["clip_skip"])
            ne = encode_clip_skip(p, c["negative"], c["clip_skip"])
            out = p(prompt_embeds=pe, negative_prompt_embeds=ne, height=c["height"], width=c["width"], **common)
        else:
            out = p(c["prompt"], negative_prompt=c["negative"], height=c["height"], width=c["width"], **common)
    elif kind == "img2img":
        p = diffusers.StableDiffusionImg2ImgPipeline(**comps)
        p.set_progress_bar_config(disable=True)
        out = p(c["prompt"], image=init, strength=c["strength"], negative_prompt=c["negative"], **common)
    elif kind == "inpaint":
        p = diffusers.StableDiffusionInpaintPipeline(**comps)
        p.set_progress_bar_config(disable=True)
        out = p(c["prompt"], image=init, mask_image=mask, strength=c["strength"], negative_prompt=c["negative"],
                height=c["height"], width=c["width"], **common)
    elif kind == "instruct":
        p = diffusers.StableDiffusionInstructPix2PixPipeline(**comps)
        p.set_progress_bar_config(disable=True)
        out = p(c["prompt"], image=init, image_guidance_scale=c["image_cfg"], negative_prompt=c["negative"],
                **common)
    elif kind == "lcm":
        p = diffusers.LatentConsistencyModelPipeline(**comps)
        p.set_progress_bar_config(disable=True)
        out = p(c["prompt"], height=c["height"], width=c["width"], **common)
    else:
        raise ValueError(kind)
    img = out.images[0]
    assert img.mode == "RGB" and img.size == (c["width"], c["height"])
    return img


# ---------------------------------------------------------------------------------------------- schedulers
def finite_json(obj):
    """Strict JSON: non-finite floats (e.g. DPMSolver's lambda_min_clipped = -inf) become "inf"/"-inf"/"nan"."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return "nan" if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


def dump_json(obj, **kw):
    text = json.dumps(finite_json(obj), allow_nan=False, **kw)
    if kw.get("indent") is not None:  # keep lists of numbers (token ids) on one line
        text = re.sub(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]",
                      lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    return text + "\n"


def fl(t):
    return torch.as_tensor(t).detach().cpu().reshape(-1).tolist()


def scheduler_goldens():
    import diffusers

    raw = {k: v for k, v in SD15_RAW_SCHEDULER_CONFIG.items() if not k.startswith("_")}
    spacings = ["leading", "linspace", "trailing", None]  # None = key absent -> class default
    samplers = ["euler", "euler_a", "dpmpp_2m_karras", "ddim", "lcm"]
    schedules = []
    resolved = {}
    for s in samplers:
        cls_name, over = SAMPLER_OVERRIDES[s]
        cls = getattr(diffusers, cls_name)
        for sp in spacings:
            kw = dict(over)
            if sp is not None:
                kw["timestep_spacing"] = sp
            sch = cls.from_config(raw, **kw)
            key = f"{s}/{sp or 'default'}"
            resolved[key] = {k: v for k, v in dict(sch.config).items() if not k.startswith("_")}
            for n in (1, 4, 8, 20, 50):
                sch = cls.from_config(raw, **kw)
                sch.set_timesteps(n)
                schedules.append({
                    "sampler": s, "spacing": sp or "default",
                    "resolved_spacing": sch.config.timestep_spacing, "steps": n,
                    "timesteps": fl(sch.timesteps),
                    "sigmas": fl(sch.sigmas) if hasattr(sch, "sigmas") and sch.sigmas is not None else None,
                    "init_noise_sigma": float(sch.init_noise_sigma),
                })

    trajectories = []
    for s in samplers:
        cls_name, over = SAMPLER_OVERRIDES[s]
        cls = getattr(diffusers, cls_name)
        for sp in spacings:
            for pred in ("epsilon", "v_prediction"):
                kw = dict(over, prediction_type=pred)
                if sp is not None:
                    kw["timestep_spacing"] = sp
                sch = cls.from_config(raw, **kw)
                sch.set_timesteps(8)
                x = torch.randn((1, 4, 8, 8), generator=torch.Generator("cpu").manual_seed(7)) * sch.init_noise_sigma
                g = torch.Generator("cpu").manual_seed(11)
                after1 = denoised = None
                for i, t in enumerate(sch.timesteps):
                    x_in = sch.scale_model_input(x, t)
                    c = torch.tensor(0.01 * float(t) / 1000.0, dtype=torch.float32)
                    eps = 0.5 * torch.tanh(x_in) + c
                    out = sch.step(eps, t, x, generator=g, return_dict=True)
                    x = out.prev_sample
                    if s == "lcm":
                        denoised = out.denoised
                    if i == 0:
                        after1 = x.clone()
                trajectories.append({
                    "sampler": s, "spacing": sp or "default", "prediction_type": pred, "steps": 8,
                    "timesteps": fl(sch.timesteps), "init_noise_sigma": float(sch.init_noise_sigma),
                    "after_step_1": fl(after1), "final": fl(x),
                    "final_denoised": fl(denoised) if denoised is not None else None,
                })
    return {
        "description": "diffusers " + diffusers.__version__ + " schedulers built with Class.from_config(base, "
                       "**overrides[sampler], timestep_spacing=spacing); spacing 'default' = key absent, so the "
                       "class default applies. sigmas include the appended final sigma. Trajectories: "
                       "x = torch.randn((1,4,8,8), generator=Generator('cpu').manual_seed(7)) * init_noise_sigma; "
                       "for each t: x_in = scale_model_input(x, t); eps = 0.5*tanh(x_in) + "
                       "float32(0.01*float(t)/1000); x = step(eps, t, x, generator=g).prev_sample with ONE "
                       "g = Generator('cpu').manual_seed(11) for the whole loop (used by euler_a every step and "
                       "by lcm on every step but the last). The model output is read as epsilon or v per "
                       "prediction_type. All float32.",
        "base_config": SD15_RAW_SCHEDULER_CONFIG,
        "sampler_classes": {k: v[0] for k, v in SAMPLER_OVERRIDES.items()},
        "sampler_overrides": {k: v[1] for k, v in SAMPLER_OVERRIDES.items()},
        "resolved_configs": resolved,  # non-finite values written as "-inf" / "inf" / "nan" strings
        "schedules": schedules,
        "trajectories": trajectories,
    }


def randn_goldens():
    seeds = [0, 1, 42, 12345, 4294967297, 9223372036854775807]
    shapes = [(1,), (7,), (15,), (16,), (17,), (33,), (1, 4, 8, 8)]
    out = []
    for s in seeds:
        for sh in shapes:
            g = torch.Generator("cpu").manual_seed(s)
            out.append({"seed": s, "dtype": "float32", "shape": list(sh),
                        "values": torch.randn(sh, generator=g, dtype=torch.float32).reshape(-1).tolist()})
        g = torch.Generator("cpu").manual_seed(s)
        a = torch.randn((1, 4, 8, 8), generator=g, dtype=torch.float32).reshape(-1).tolist()
        b = torch.randn((1, 4, 8, 8), generator=g, dtype=torch.float32).reshape(-1).tolist()
        out.append({"seed": s, "dtype": "float32", "shape": [1, 4, 8, 8], "draws": 2, "values": a, "values2": b})
    for sh in [(3,), (17,)]:
        g = torch.Generator("cpu").manual_seed(0)
        out.append({"seed": 0, "dtype": "float64", "shape": list(sh),
                    "values": torch.randn(sh, generator=g, dtype=torch.float64).reshape(-1).tolist()})
    return {"description": f"torch {torch.__version__}: torch.randn(shape, generator=torch.Generator('cpu')."
                           "manual_seed(seed), dtype=dtype), flattened row-major. Entries with draws=2: two "
                           "consecutive (1,4,8,8) draws from one generator (values, values2).",
            "cases": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pt-dir", default=str(DEFAULT_PT))
    a = ap.parse_args()
    torch.set_num_threads(1)
    import diffusers
    import transformers

    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    pt_dir = Path(a.pt_dir)
    t0 = time.time()

    GOLDENS.mkdir(parents=True, exist_ok=True)
    (GOLDENS / "torch_randn.json").write_text(dump_json(randn_goldens()))
    (GOLDENS / "schedulers.json").write_text(dump_json(scheduler_goldens()))
    print(f"goldens written ({time.time() - t0:.1f} s)")

    init, mask = make_inputs()
    cases = build_cases(init, mask)
    pipes = {}
    for m in sorted({c["model"] for c in cases}):
        pipes[m] = load_components(pt_dir, m)
        check_fixture_matches(pipes[m], m)
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for f in REFERENCE.glob("*.png"):
        if not f.name.startswith("cn_"):  # onnx/make_tiny_controlnet.py owns the ControlNet references
            f.unlink()
    for c in cases:
        tok = pipes[c["model"]].tokenizer
        for field in ("prompt", "negative"):
            c[field + "_ids"] = tok(c[field], padding="max_length", max_length=tok.model_max_length,
                                    truncation=True).input_ids
        t1 = time.time()
        img = run_case(pipes, c)
        img.save(REPO / c["output"])
        px = np.asarray(img, np.float32)
        print(f"  {c['name']:34s} std {px.std():6.1f}/255  mean {px.mean():6.1f}  {time.time() - t1:.1f} s")
        if px.std() < 10:
            print(f"  WARNING: {c['name']} is nearly flat")
    (REFERENCE / "cases.json").write_text(dump_json(cases, indent=1))
    print(f"{len(cases)} cases, total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
