#!/usr/bin/env python3
"""Reference outputs for every blend mode, transcribed from W3C Compositing and Blending Level 1.

https://www.w3.org/TR/compositing-1/ — section 5.8 (the general formula with blending), 9.1 (separable
blend functions) and 9.2 (non-separable: Lum, ClipColor, SetLum, Sat, SetSat). 'add' is Porter-Duff
'plus' (section 9.1.12 "lighter"), which OpenRaster writes as svg:plus.

Plain Python with float64, independent of the Rust code. Re-run to regenerate the golden file:

    python3 tests/goldens/blend_reference.py

Writes tests/goldens/blend_w3c.json: for each mode, a list of [backdrop, source, result], each a
premultiplied [r, g, b, a] in 0..1.
"""
import json
import os

# ---- 9.1 separable blend modes: B(Cb, Cs) on un-premultiplied colour components

def multiply(cb, cs):
    return cb * cs

def screen(cb, cs):
    return cb + cs - cb * cs

def hard_light(cb, cs):
    if cs <= 0.5:
        return multiply(cb, 2 * cs)
    return screen(cb, 2 * cs - 1)

def overlay(cb, cs):
    return hard_light(cs, cb)

def darken(cb, cs):
    return min(cb, cs)

def lighten(cb, cs):
    return max(cb, cs)

def color_dodge(cb, cs):
    if cb == 0:
        return 0.0
    if cs == 1:
        return 1.0
    return min(1.0, cb / (1 - cs))

def color_burn(cb, cs):
    if cb == 1:
        return 1.0
    if cs == 0:
        return 0.0
    return 1 - min(1.0, (1 - cb) / cs)

def soft_light(cb, cs):
    if cs <= 0.5:
        return cb - (1 - 2 * cs) * cb * (1 - cb)
    if cb <= 0.25:
        d = ((16 * cb - 12) * cb + 4) * cb
    else:
        d = cb ** 0.5
    return cb + (2 * cs - 1) * (d - cb)

def difference(cb, cs):
    return abs(cb - cs)

def exclusion(cb, cs):
    return cb + cs - 2 * cb * cs

def normal(cb, cs):
    return cs

SEPARABLE = {
    "normal": normal, "multiply": multiply, "screen": screen, "overlay": overlay, "darken": darken,
    "lighten": lighten, "color-dodge": color_dodge, "color-burn": color_burn, "hard-light": hard_light,
    "soft-light": soft_light, "difference": difference, "exclusion": exclusion,
}

# ---- 9.2 non-separable blend modes

def lum(c):
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]

def clip_color(c):
    l = lum(c)
    n = min(c)
    x = max(c)
    if n < 0:
        c = [l + (v - l) * l / (l - n) for v in c]
    if x > 1:
        c = [l + (v - l) * (1 - l) / (x - l) for v in c]
    return c

def set_lum(c, l):
    d = l - lum(c)
    return clip_color([v + d for v in c])

def sat(c):
    return max(c) - min(c)

def set_sat(c, s):
    order = sorted(range(3), key=lambda i: c[i])
    cmin, cmid, cmax = order
    out = [0.0, 0.0, 0.0]
    if c[cmax] > c[cmin]:
        out[cmid] = (c[cmid] - c[cmin]) * s / (c[cmax] - c[cmin])
        out[cmax] = s
    return out

NON_SEPARABLE = {
    "hue": lambda cb, cs: set_lum(set_sat(cs, sat(cb)), lum(cb)),
    "saturation": lambda cb, cs: set_lum(set_sat(cb, sat(cs)), lum(cb)),
    "color": lambda cb, cs: set_lum(cs, lum(cb)),
    "luminosity": lambda cb, cs: set_lum(cb, lum(cs)),
}

# ---- 5.8 general formula: source-over with blending, premultiplied in and out

def unpremultiply(p):
    a = p[3]
    if a == 0:
        return [0.0, 0.0, 0.0]
    return [min(1.0, max(0.0, v / a)) for v in p[:3]]

def composite(mode, b, s):
    ab, as_ = b[3], s[3]
    if mode == "add":
        return [min(1.0, s[i] + b[i]) for i in range(4)]
    cb, cs = unpremultiply(b), unpremultiply(s)
    if mode in SEPARABLE:
        mixed = [SEPARABLE[mode](cb[i], cs[i]) for i in range(3)]
    else:
        mixed = NON_SEPARABLE[mode](cb, cs)
    # Cs' = (1 - ab) * Cs + ab * B(Cb, Cs); co = as * Cs' + cb_premul * (1 - as)
    co = [s[i] * (1 - ab) + b[i] * (1 - as_) + as_ * ab * mixed[i] for i in range(3)]
    ao = as_ + ab * (1 - as_)
    return co + [ao]

MODES = list(SEPARABLE) + ["add"] + list(NON_SEPARABLE)

# ---- inputs: edge values, greys, saturated colours and fixed pseudo-random pixels

def premul(rgb, a):
    return [v * a for v in rgb] + [a]

def lcg(seed):
    state = seed
    while True:
        state = (state * 1103515245 + 12345) % (2 ** 31)
        yield state / (2 ** 31)

def pixels():
    rgbs = [
        [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75],
        [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.5, 0.0], [0.2, 0.4, 0.9],
        [0.9, 0.8, 0.1], [0.5, 0.25, 1.0],
    ]
    alphas = [1.0, 0.5, 0.25, 0.0]
    out = [premul(c, a) for c in rgbs for a in alphas]
    r = lcg(20261125)
    for _ in range(24):
        out.append(premul([next(r), next(r), next(r)], next(r)))
    return out

def main():
    ps = pixels()
    cases = [(b, s) for i, b in enumerate(ps) for j, s in enumerate(ps) if (i * 7 + j * 3) % 17 == 0]
    r6 = lambda p: [round(v, 6) for v in p]
    golden = {m: [[r6(b), r6(s), r6(composite(m, r6(b), r6(s)))] for b, s in cases] for m in MODES}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "blend_w3c.json")
    with open(path, "w") as f:
        json.dump({"source": "W3C Compositing and Blending Level 1", "cases": golden}, f, separators=(",", ":"))
    print(f"wrote {path}: {len(MODES)} modes x {len(cases)} cases")

if __name__ == "__main__":
    main()
