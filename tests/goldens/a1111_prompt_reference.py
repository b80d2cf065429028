#!/usr/bin/env python3
"""Writes tests/goldens/a1111_prompts.json: AUTOMATIC1111's own `parse_prompt_attention` applied to
~50 tricky prompts, as [{"prompt": ..., "parsed": [[text, weight], ...]}, ...].

The parser is NOT copied into this repository (stable-diffusion-webui is AGPL-3.0). It is loaded at run
time from `modules/prompt_parser.py` of stable-diffusion-webui, pinned to commit A1111_COMMIT:

    python3 tests/goldens/a1111_prompt_reference.py [--parser /path/to/prompt_parser.py]

Without --parser (or $A1111_PROMPT_PARSER) the file is downloaded from raw.githubusercontent.com into
~/.cache/oekaki/. Only `re_attention`, `re_break` and `parse_prompt_attention` are taken from the file
(via `ast`), so neither lark nor torch is needed. Plain Python 3, deterministic.

A1111 semantics worth knowing: "(x)" ×1.1, "[x]" ÷1.1, "(x:w)" ×w, unbalanced openers are closed at the
end, unmatched closers are literal text, "BREAK" becomes the marker ["BREAK", -1], runs of equal
weights are merged (also the text around a bracket whose weight ends up 1.0), the empty prompt gives
[["", 1.0]]. Weights are floats computed by repeated multiplication (1.1*1.1*1.3 = 1.5730000000000004).
"""
import argparse
import ast
import json
import os
import re
import urllib.request
from pathlib import Path

A1111_COMMIT = "0674fabd0d82c69c02ff362762815c4536687b95"
URL = f"https://raw.githubusercontent.com/AUTOMATIC1111/stable-diffusion-webui/{A1111_COMMIT}/modules/prompt_parser.py"
HERE = Path(__file__).resolve().parent
OUT = HERE / "a1111_prompts.json"

PROMPTS = [
    "",
    "a cat",
    "masterpiece, best quality, (1girl:1.2), [bad hands]",
    "(a)",
    "((a))",
    "(((a)))",
    "(a:1.3)",
    "(a:0.5)",
    "(a:-1)",
    "(a:+1.5)",
    "(a:.5)",
    "(a:1.)",
    "(a: 1.3)",
    "(a :1.3)",
    "(a:1.3 )",
    "(a:1e3)",
    "(a:x)",
    "[a]",
    "[[a]]",
    "[a:0.5]",
    "((a:1.3))",
    "(b (a:1.3) c)",
    "(a:1.3) (b:0.7)",
    "a (b) c",
    "a (b:1) c",
    r"\(escaped\)",
    r"\[escaped\]",
    r"a \\ b",
    r"trailing backslash \\",
    "lone \\ backslash",
    "(unbalanced",
    "unbalanced)",
    "[unbalanced",
    "unbalanced]",
    "((a) b",
    "(a]",
    "[a)",
    "a: b: c",
    "a BREAK b",
    "a BREAK",
    "BREAK a",
    "a BREAK BREAK b",
    "aBREAK b",
    "a break b",
    "(a BREAK b:1.2)",
    "a\nBREAK\nb",
    "   spaces   around   ",
    ",,, commas ,,,",
    "(red:1.2) hair, (blue eyes:0.8), [[smile]], (((detailed)))",
    "(unnecessary)(parens)",
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
    "()",
    "(:1.2)",
    "[]",
    "emoji 🎨 and ümlaut (ß:1.1)",
]


def load_parser(path):
    src = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(src)
    wanted = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "parse_prompt_attention":
            wanted.append(node)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("re_attention", "re_break") for t in node.targets
        ):
            wanted.append(node)
    if len(wanted) != 3:
        raise SystemExit(f"{path}: expected re_attention, re_break, parse_prompt_attention")
    ns = {"re": re}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(path), "exec"), ns)
    return ns["parse_prompt_attention"]


def find_parser(arg):
    if arg:
        return Path(arg)
    env = os.environ.get("A1111_PROMPT_PARSER")
    if env:
        return Path(env)
    cache = Path.home() / ".cache" / "oekaki" / f"a1111_prompt_parser_{A1111_COMMIT[:10]}.py"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL, timeout=30) as r:
            cache.write_bytes(r.read())
    return cache


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parser", help="path to stable-diffusion-webui modules/prompt_parser.py")
    args = ap.parse_args()
    parse = load_parser(find_parser(args.parser))
    # the parser's own doctest, as a sanity check of the loaded file
    assert parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).")[1] == ["house", 1.5730000000000004]
    out = [{"prompt": p, "parsed": parse(p)} for p in PROMPTS]
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    print(f"wrote {OUT} ({len(out)} prompts)")


if __name__ == "__main__":
    main()
