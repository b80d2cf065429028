#!/usr/bin/env python3
"""Builds the tiny random-weight TAESD decoder fixture and its PyTorch reference output.

TAESD (madebyollin/taesd, diffusers `AutoencoderTiny`) is the fast preview decoder: latents in, an image in
[-1, 1] out, 8x the latent size, no scaling factor (scaling_factor 1.0: it takes the UNet-space latents as
they are). This script makes a structure-faithful miniature of it so the Rust preview path can be tested
against diffusers without downloading anything:

    tests/fixtures/sd/tiny-sd15/taesd_decoder/model.onnx    the decoder only, single file, opset 17
    tests/fixtures/sd/tiny-sd15/taesd_decoder/config.json   the AutoencoderTiny config (save_config)
    tests/fixtures/sd/reference/taesd_decode.json           a fixed latent and the PyTorch decoder's output

ONNX convention (like the diffusers AutoencoderTiny.decode call): forward(latent_sample) returns
`vae.decode(latent_sample).sample`, i.e. input `latent_sample` [batch, 4, height, width] (dynamic batch,
height, width), output `sample` [batch, 3, height * 8, width * 8] in nominal range [-1, 1] (not clamped: the
decoder ends with x * 2 - 1, and a few values of this random model lie slightly outside).

Model: AutoencoderTiny, latent_channels 4, decoder_block_out_channels (8,8,8,8), num_decoder_blocks
(1,1,1,1), upsampling_scaling_factor 2 (3 upsamplings -> factor 8 like the real TAESD), relu, nearest
upsampling; the (unused, not exported) encoder is equally tiny. Weights: PyTorch's default initialisation
under torch.manual_seed(SEED), then rescaled layer by layer (LSUV-style, on a calibration latent drawn from
a separate generator) so that every inner conv outputs unit std, and the last conv outputs per-channel mean
0.5 / std 0.2, i.e. the decoded image has mean ~0 and std ~0.4 in [-1, 1] instead of being near-constant.

Reference: torch.manual_seed(7); latent = torch.randn(1, 4, 8, 8); sample = decoder(latent) (shape
[1, 3, 64, 64]); both stored as flat row-major lists rounded to 7 significant digits. The ONNX file is checked
against PyTorch with onnxruntime (max abs difference must be < 1e-4), also at batch 2 and a non-square size.

Usage:  python onnx/make_tiny_taesd.py [--seed 1004] [--out-dir DIR] [--reference FILE]
Deterministic (byte-identical files on re-runs); about 20 s on 2 CPU cores. Run it again after
onnx/make_tiny_models.py re-exports tiny-sd15 (that replaces the whole folder, taesd_decoder/ included).
"""
import argparse
import io
import json
import os
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "sd"
DEFAULT_OUT = FIXTURES / "tiny-sd15" / "taesd_decoder"
DEFAULT_REF = FIXTURES / "reference" / "taesd_decode.json"

OPSET = 17
SEED_TAESD = 1004          # continues make_tiny_models.py's SEED_TEXT/UNET/VAE = 1001..1003
SEED_CALIBRATION = 2004    # calibration latents for the weight rescaling (separate generator)
SEED_REFERENCE = 7         # the reference latent: torch.manual_seed(7); torch.randn(1, 4, 8, 8)
REF_LATENT_SHAPE = (1, 4, 8, 8)
OUT_MEAN, OUT_STD = 0.5, 0.2  # last conv output (before the decoder's x * 2 - 1)

TAESD_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4,
    encoder_block_out_channels=(8, 8, 8, 8), num_encoder_blocks=(1, 1, 1, 1),
    decoder_block_out_channels=(8, 8, 8, 8), num_decoder_blocks=(1, 1, 1, 1),
    upsampling_scaling_factor=2, act_fn="relu", upsample_fn="nearest",
    latent_magnitude=3, latent_shift=0.5, scaling_factor=1.0, shift_factor=0.0, force_upcast=False,
)


class TaesdDecode(torch.nn.Module):
    """latent_sample -> vae.decode(latent_sample).sample (the diffusers AutoencoderTiny.decode convention)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample).sample


@torch.no_grad()
def rescale_decoder(vae):
    """LSUV-style: in forward order, scale each decoder conv so that its output on the calibration latents has
    unit std; the last conv gets per-channel mean OUT_MEAN and std OUT_STD."""
    g = torch.Generator("cpu").manual_seed(SEED_CALIBRATION)
    calib = torch.randn((2, 4, 16, 16), generator=g)
    convs = [m for m in vae.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    for i, conv in enumerate(convs):
        seen = {}
        hook = conv.register_forward_hook(lambda m, inp, out: seen.__setitem__("y", out))
        vae.decoder(calib)
        hook.remove()
        y = seen["y"]
        last = i == len(convs) - 1
        if last:  # per output channel: mean OUT_MEAN, std OUT_STD
            mean = y.mean(dim=(0, 2, 3))
            std = y.std(dim=(0, 2, 3)).clamp_min(1e-6)
            conv.weight.mul_((OUT_STD / std).view(-1, 1, 1, 1))
            conv.bias.copy_(OUT_MEAN + (conv.bias - mean) * OUT_STD / std)
        else:
            conv.weight.div_(y.std().clamp_min(1e-6))
            if conv.bias is not None:
                conv.bias.div_(y.std().clamp_min(1e-6))
    return vae


def make_taesd(seed):
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    vae = AutoencoderTiny(**TAESD_CONFIG).eval()
    return rescale_decoder(vae)


def export_decoder(vae, out_path):
    import onnx

    wrapper = TaesdDecode(vae).eval()
    dummy = torch.randn(REF_LATENT_SHAPE)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (dummy,), buf, dynamo=False, opset_version=OPSET, do_constant_folding=True,
                          input_names=["latent_sample"], output_names=["sample"],
                          dynamic_axes={"latent_sample": {0: "batch", 2: "height", 3: "width"},
                                        "sample": {0: "batch", 2: "height * 8", 3: "width * 8"}})
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out_path), save_as_external_data=False)
    return model


def sig7(values):
    return [float(f"{v:.7g}") for v in values]


def check_onnx(vae, model_path, latents):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    print("  ONNX inputs :", [(i.name, i.shape) for i in sess.get_inputs()])
    print("  ONNX outputs:", [(o.name, o.shape) for o in sess.get_outputs()])
    worst = 0.0
    for lat in latents:
        with torch.no_grad():
            ref = vae.decode(lat).sample.numpy()
        got = sess.run(["sample"], {"latent_sample": lat.numpy()})[0]
        assert got.shape == ref.shape, (got.shape, ref.shape)
        diff = float(np.abs(got - ref).max())
        print(f"  latent {list(lat.shape)} -> sample {list(got.shape)}: max |onnx - torch| = {diff:.3e}")
        worst = max(worst, diff)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED_TAESD, help="torch.manual_seed for the weights")
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT), help="where model.onnx and config.json go")
    ap.add_argument("--reference", default=str(DEFAULT_REF), help="the reference JSON to write")
    a = ap.parse_args()
    import diffusers

    diffusers.logging.set_verbosity_error()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    out_dir, ref_path = Path(a.out_dir), Path(a.reference)

    vae = make_taesd(a.seed)
    n_dec = sum(p.numel() for p in vae.decoder.parameters())
    print(f"AutoencoderTiny (decoder {n_dec} parameters)")

    model_path = out_dir / "model.onnx"
    export_decoder(vae, model_path)
    vae.save_config(str(out_dir))  # config.json, indent 2, sorted keys

    torch.manual_seed(SEED_REFERENCE)
    latent = torch.randn(REF_LATENT_SHAPE)
    with torch.no_grad():
        sample = vae.decode(latent).sample
    s = sample.numpy()
    print(f"  reference sample {list(sample.shape)}: min {s.min():.3f} max {s.max():.3f} mean {s.mean():.3f} "
          f"std {s.std():.3f}, outside [-1, 1]: {float((np.abs(s) > 1).mean()) * 100:.1f} %")
    ref = {"latent_shape": list(latent.shape), "latent": sig7(latent.reshape(-1).tolist()),
           "sample_shape": list(sample.shape), "sample": sig7(sample.reshape(-1).tolist())}
    ref_path.parent.mkdir(parents=True, exist_ok=True)
    ref_path.write_text(json.dumps(ref, allow_nan=False).replace('], "', '],\n "') + "\n")

    g = torch.Generator("cpu").manual_seed(0)
    worst = check_onnx(vae, model_path, [latent, torch.randn((2, 4, 5, 7), generator=g)])
    # the stored (rounded) reference against onnxruntime, as a Rust test will compare it
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    stored = json.loads(ref_path.read_text())
    lat = np.asarray(stored["latent"], np.float32).reshape(stored["latent_shape"])
    got = sess.run(["sample"], {"latent_sample": lat})[0].reshape(-1)
    d_ref = float(np.abs(got - np.asarray(stored["sample"], np.float32)).max())
    print(f"  stored reference vs onnxruntime: max abs diff {d_ref:.3e}")
    assert worst < 1e-4 and d_ref < 1e-4, (worst, d_ref)
    for p in (model_path, out_dir / "config.json", ref_path):
        print(f"  {p.relative_to(REPO) if p.is_relative_to(REPO) else p}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
