#!/usr/bin/env python3
"""Makes tests/fixtures/onnx/: small ONNX files for the loader's edge cases, from the tiny SD fixtures.

- external/model.onnx + model.onnx_data: tiny-sd15's VAE decoder with every weight stored externally
  (as optimum writes models over 2 GB); it must load and give the same output as the embedded one.
- escape/model.onnx: the same graph whose external data claims to live at ../outside.bin; the engine must refuse
  it before ONNX Runtime opens anything.
- tests/fixtures/sd/tiny-sd15-fp16/: tiny-sd15 converted to float16 (inputs and outputs too, as fp16 exports without
  keep_io_types are), to prove fp16 models load and run.
(tests/fixtures/sd/tiny-sd15-legacy/ comes from diffusers' own legacy exporter: onnx/make_legacy_fixture.py.)

Run from the repository root: python onnx/make_onnx_edge_cases.py  (needs `onnx`, see onnx/requirements.txt)
"""
import shutil
from pathlib import Path

import onnx
from onnx.external_data_helper import convert_model_to_external_data
from onnxruntime.transformers.float16 import convert_float_to_float16

ROOT = Path(__file__).resolve().parent.parent
SD = ROOT / "tests/fixtures/sd"
SRC = SD / "tiny-sd15/vae_decoder/model.onnx"
OUT = ROOT / "tests/fixtures/onnx"


def main():
    ext = OUT / "external"
    ext.mkdir(parents=True, exist_ok=True)
    model = onnx.load(SRC)
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
    onnx.save_model(model, ext / "model.onnx")

    esc = OUT / "escape"
    esc.mkdir(parents=True, exist_ok=True)
    model = onnx.load(ext / "model.onnx", load_external_data=False)
    for init in model.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = "../outside.bin"
    onnx.save_model(model, esc / "model.onnx")
    make_fp16()
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(p.relative_to(ROOT), p.stat().st_size)


def copy_model(name):
    dst = SD / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(SD / "tiny-sd15", dst)
    return dst


def make_fp16():
    dst = copy_model("tiny-sd15-fp16")
    for part in ["text_encoder", "unet", "vae_encoder", "vae_decoder"]:
        path = dst / part / "model.onnx"
        model = convert_float_to_float16(onnx.load(path), keep_io_types=False)
        onnx.save_model(model, path)


if __name__ == "__main__":
    main()
