#!/usr/bin/env python3
"""Writes tests/goldens/a1111_chunks.json: how AUTOMATIC1111 splits prompts into 77-token chunks with emphasis
multipliers (`FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line`: 75-token chunks, comma backtracking within
20 tokens, BREAK), using the real CLIP tokenizer of tests/fixtures/clip-tokenizer (transformers' CLIPTokenizer).

Like a1111_prompt_reference.py, A1111's code is not copied here: `tokenize_line` is taken at run time from
`modules/sd_hijack_clip.py` of stable-diffusion-webui at commit SD_HIJACK_COMMIT (downloaded into ~/.cache/oekaki/
or given with --hijack), and `parse_prompt_attention` through a1111_prompt_reference.py. Settings are A1111's
defaults: emphasis "Original", comma_padding_backtrack 20, no textual-inversion embeddings.

    python tests/goldens/a1111_chunks_reference.py [--hijack sd_hijack_clip.py] [--parser prompt_parser.py]
"""
import argparse
import ast
import json
import sys
import types
import urllib.request
from pathlib import Path

from transformers import CLIPTokenizer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import a1111_prompt_reference as prompt_ref  # noqa: E402

SD_HIJACK_COMMIT = "00e09382cd85c77ac35545c7264855823dfc2eb1"
URL = f"https://raw.githubusercontent.com/AUTOMATIC1111/stable-diffusion-webui/{SD_HIJACK_COMMIT}/modules/sd_hijack_clip.py"
OUT = HERE / "a1111_chunks.json"
TOKENIZER = HERE.parent / "fixtures/clip-tokenizer"

TAGS = "masterpiece, best quality, 1girl, solo, long hair, silver hair, red eyes, looking at viewer, smile, school uniform"
PROMPTS = [
    "a cat",
    "",
    TAGS,
    ", ".join([TAGS] * 3),
    ", ".join([TAGS] * 7),
    " ".join(["word"] * 80),
    " ".join(["word"] * 150),
    "a cat BREAK a dog",
    TAGS + " BREAK " + TAGS,
    "(" + ", ".join([TAGS] * 2) + ":1.3), [blurry], (bad hands:0.8)",
    "(masterpiece:1.2), ((best quality)), " + ", ".join(["scenery"] * 60),
    ", ".join(["sky"] * 74) + " tail words after the boundary",
    "one, " + " ".join(["two"] * 73) + ", three four five",
    "BREAK",
    "a BREAK BREAK b",
]


class PromptChunk:
    def __init__(self):
        self.tokens = []
        self.multipliers = []
        self.fixes = []


def load_tokenize_line(path):
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "FrozenCLIPEmbedderWithCustomWordsBase":
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "tokenize_line":
                    return fn
    raise SystemExit(f"{path}: no FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hijack")
    ap.add_argument("--parser")
    args = ap.parse_args()
    path = Path(args.hijack) if args.hijack else Path.home() / ".cache/oekaki" / f"a1111_sd_hijack_clip_{SD_HIJACK_COMMIT[:10]}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL, timeout=30) as r:
            path.write_bytes(r.read())
    parse = prompt_ref.load_parser(prompt_ref.find_parser(args.parser))
    tok = CLIPTokenizer(str(TOKENIZER / "vocab.json"), str(TOKENIZER / "merges.txt"), model_max_length=77)

    opts = types.SimpleNamespace(emphasis="Original", comma_padding_backtrack=20)
    ns = {
        "opts": opts,
        "prompt_parser": types.SimpleNamespace(parse_prompt_attention=parse),
        "PromptChunk": PromptChunk,
        "PromptChunkFix": None,
    }
    fn = load_tokenize_line(path)
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(path), "exec"), ns)
    embedder = types.SimpleNamespace(
        chunk_length=75,
        id_start=tok.bos_token_id,
        id_end=tok.eos_token_id,
        comma_token=tok.get_vocab()[",</w>"],
        tokenize=lambda texts: tok(texts, truncation=False, add_special_tokens=False)["input_ids"],
        hijack=types.SimpleNamespace(embedding_db=types.SimpleNamespace(find_embedding_at_position=lambda t, p: (None, None))),
    )
    cases = []
    for p in PROMPTS:
        chunks, count = ns["tokenize_line"](embedder, p)
        cases.append({"prompt": p, "token_count": count, "chunks": [{"tokens": c.tokens, "multipliers": c.multipliers} for c in chunks]})
    OUT.write_text(json.dumps({"source": f"A1111 {SD_HIJACK_COMMIT} tokenize_line", "cases": cases}))
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
