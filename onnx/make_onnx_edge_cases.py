#!/usr/bin/env python3
"""Makes tests/fixtures/onnx/: small ONNX files for the loader's edge cases, from the tiny SD fixtures.

- external/model.onnx + model.onnx_data: tiny-sd15's VAE decoder with every weight stored externally
  (as optimum writes models over 2 GB); it must load and give the same output as the embedded one.
- escape/model.onnx: the same graph whose external data claims to live at ../outside.bin; the engine must refuse
  it before ONNX Runtime opens anything.
- tests/fixtures/sd/tiny-sd15-fp16/: tiny-sd15 converted to float16 (inputs and outputs too, as fp16 exports without
  keep_io_types are), to prove fp16 models load and run.
- tests/fixtures/sd/tiny-sd15-legacy/: tiny-sd15 rearranged as diffusers' legacy OnnxStableDiffusionPipeline layout:
  "OnnxStableDiffusionPipeline" model index, no per-component config.json, int32 input_ids and a float32 [batch]
  timestep, as the legacy export script writes them.

Run from the repository root: python onnx/make_onnx_edge_cases.py  (needs `onnx`, see onnx/requirements.txt)
"""
import json
import shutil
from pathlib import Path

import onnx
from onnx import TensorProto, helper
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
    make_legacy()
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


def retype_input(graph, name, elem_type, dims, make_nodes):
    """Give input `name` a new type; `make_nodes(new_name)` returns nodes that rebuild the old value as `name`."""
    old = next(i for i in graph.input if i.name == name)
    new_name = name + "_legacy"
    new = helper.make_tensor_value_info(new_name, elem_type, dims)
    graph.input.remove(old)
    graph.input.insert(0, new)
    for n in reversed(make_nodes(new_name)):
        graph.node.insert(0, n)
    # keep the public name: rename the new input back and the rebuilt value to an internal one
    internal = name + "_rebuilt"
    for n in graph.node:
        n.input[:] = [internal if x == name else x for x in n.input]
        n.output[:] = [internal if x == name else x for x in n.output]
        n.input[:] = [name if x == new_name else x for x in n.input]
    graph.input[0].name = name


def make_legacy():
    dst = copy_model("tiny-sd15-legacy")
    index = json.loads((dst / "model_index.json").read_text())
    index["_class_name"] = "OnnxStableDiffusionPipeline"
    for part in ["text_encoder", "unet", "vae_encoder", "vae_decoder"]:
        index[part] = ["diffusers", "OnnxRuntimeModel"]
        (dst / part / "config.json").unlink(missing_ok=True)
    (dst / "model_index.json").write_text(json.dumps(index, indent=2))

    te = onnx.load(dst / "text_encoder/model.onnx")
    retype_input(te.graph, "input_ids", TensorProto.INT32, ["batch", "sequence"],
                 lambda src: [helper.make_node("Cast", [src], ["input_ids"], to=TensorProto.INT64)])
    onnx.checker.check_model(te)
    onnx.save_model(te, dst / "text_encoder/model.onnx")

    unet = onnx.load(dst / "unet/model.onnx")
    zero = helper.make_tensor("legacy_zero", TensorProto.INT64, [], [0])
    unet.graph.initializer.append(zero)
    retype_input(unet.graph, "timestep", TensorProto.FLOAT, ["batch"],
                 lambda src: [helper.make_node("Gather", [src, "legacy_zero"], ["timestep"], axis=0)])
    onnx.checker.check_model(unet)
    onnx.save_model(unet, dst / "unet/model.onnx")


if __name__ == "__main__":
    main()
