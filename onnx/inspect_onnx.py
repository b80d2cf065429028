#!/usr/bin/env python3
"""Prints the ONNX Runtime inputs/outputs (name, dtype, shape) of every model.onnx under the given folders
(default: tests/fixtures/sd/*), the CLIP final-LayerNorm initializers of text encoders, and the tokenizer ids
of a few prompts. Makes no files.  Usage: python onnx/inspect_onnx.py [DIR ...]
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def describe(path):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for kind, items in (("in ", s.get_inputs()), ("out", s.get_outputs())):
        for a in items:
            print(f"    {kind} {a.name:22s} {a.type:16s} rank {len(a.shape)} {a.shape}")


def main():
    dirs = [Path(d) for d in sys.argv[1:]] or sorted(p for p in (REPO / "tests/fixtures/sd").iterdir()
                                                    if (p / "model_index.json").exists())
    for d in dirs:
        print(f"== {d}")
        for m in sorted(d.glob("*/model.onnx")):
            model = onnx.load(str(m), load_external_data=False)
            print(f"  {m.parent.name}/model.onnx  opset {model.opset_import[0].version}, "
                  f"{m.stat().st_size} bytes")
            describe(m)
            if m.parent.name.startswith("text_encoder"):
                inits = {i.name: i for i in onnx.load(str(m)).graph.initializer}
                for n in sorted(k for k in inits if "final_layer_norm" in k):
                    v = onnx.numpy_helper.to_array(inits[n])
                    print(f"    initializer {n} shape {list(v.shape)} first {np.round(v[:3], 4).tolist()}")
        if (d / "tokenizer").is_dir():
            from transformers import CLIPTokenizer

            tok = CLIPTokenizer.from_pretrained(str(d / "tokenizer"))
            for p in ("a cat", ""):
                ids = tok(p, padding="max_length", max_length=tok.model_max_length, truncation=True).input_ids
                print(f"  tokenizer {p!r}: {ids}")


if __name__ == "__main__":
    main()
