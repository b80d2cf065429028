#!/usr/bin/env python3
"""Makes the real CLIP tokenizer fixture and its goldens, from public packages only (no model hub):

- tests/fixtures/clip-tokenizer/{vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json}:
  OpenAI CLIP's BPE (the one SD1.x `tokenizer/` folders hold), rebuilt from `bpe_simple_vocab_16e6.txt.gz` of the
  `open_clip_torch` wheel exactly as CLIP's SimpleTokenizer builds its vocabulary (49408 entries).
- tests/goldens/clip_tokenizer.json: ids from transformers' CLIPTokenizer (the slow tokenizer diffusers uses)
  for ~30 prompts, without special tokens, and padded to 77. ftfy must be installed (it is in
  onnx/requirements.txt): with it the slow tokenizer cleans text as OpenAI's CLIP and A1111 do; without it
  transformers falls back to a BERT-style cleaner that splits CJK text differently.

    pip install -r onnx/requirements.txt && pip download --no-deps open_clip_torch==3.3.0 -d /tmp/oc
    python tests/goldens/clip_tokenizer_reference.py /tmp/oc/open_clip_torch-3.3.0-py3-none-any.whl
"""
import gzip
import io
import json
import sys
import zipfile
from pathlib import Path

import ftfy  # noqa: F401  (required: see the docstring)
from transformers import CLIPTokenizer

ROOT = Path(__file__).resolve().parent.parent.parent
FIX = ROOT / "tests/fixtures/clip-tokenizer"
OUT = ROOT / "tests/goldens/clip_tokenizer.json"

PROMPTS = [
    "a cat",
    "",
    "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile",
    "1girl, silver hair, red eyes, school uniform, cherry blossoms, wind",
    "hatsune miku, twintails, aqua hair, detached sleeves, (smile:1.2)",
    "Portrait of a WOMAN, Highly Detailed, 8K, UHD",
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit",
    "  lots   of\tspaces\nand newlines  ",
    "don't can't it's we're they've I'm you'll he'd",
    "numbers 1234567890 3.14 1e10 1920x1080",
    "emoji 🐱🌸✨ and kaomoji (^_^) o_o >_<",
    "日本語のプロンプト、猫耳、制服",
    "café naïve résumé Ångström",
    "hyphen-ated words and under_scored_tags",
    "a,b,c;d:e!f?g",
    "(((masterpiece))), [[[bad]]], {curly}, <lora:foo:0.8>",
    "UPPER lower MiXeD",
    "score_9, score_8_up, source_anime, rating_safe",
    "by greg rutkowski and alphonse mucha, trending on artstation",
    "x" * 120,
    ", ".join(["blue sky"] * 40),
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ",
    "tab\tseparated\tvalues",
    "quote \"double\" and 'single'",
    "html &amp; entities &lt;b&gt;",
    "ß ẞ ﬁ ligatures",
    "a photo of an astronaut riding a horse on mars",
    "BREAK and break and Break",
]


def build_fixture(wheel):
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    merges = text.split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    # CLIP's bytes_to_unicode
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_chars = [chr(c) for c in cs]
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    FIX.mkdir(parents=True, exist_ok=True)
    (FIX / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False), encoding="utf-8")
    (FIX / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }
    (FIX / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (FIX / "tokenizer_config.json").write_text(
        json.dumps({**special, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}, indent=2)
    )


def main():
    build_fixture(sys.argv[1])
    tok = CLIPTokenizer(str(FIX / "vocab.json"), str(FIX / "merges.txt"), model_max_length=77)
    assert len(tok) == 49408, len(tok)
    cases = []
    for p in PROMPTS:
        ids = tok(p, add_special_tokens=False, truncation=False)["input_ids"]
        padded = tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]
        cases.append({"text": p, "ids": ids, "padded": padded})
    OUT.write_text(json.dumps({"tokenizer": "transformers CLIPTokenizer (slow), OpenAI CLIP BPE", "cases": cases}, ensure_ascii=False, indent=0))
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
