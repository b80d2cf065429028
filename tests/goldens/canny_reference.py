#!/usr/bin/env python3
"""Canny goldens from OpenCV itself, as ControlNet's annotator calls it: cv2.Canny(img, low, high) on the RGB
uint8 image (L1 gradient, aperture 3). tests/ai_preprocess.rs compares src/ai/preprocess.rs with these.

Usage (opencv-python-headless is pinned in onnx/requirements.txt):
    python tests/goldens/canny_reference.py
Writes tests/goldens/canny/<input>_<low>_<high>.png (8-bit grey, 255 = edge).
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "goldens" / "canny"
INPUTS = {
    "lineart-input": REPO / "tests/fixtures/lineart/input.png",
    "sd-init": REPO / "tests/fixtures/sd/inputs/init.png",
}
THRESHOLDS = [(100, 200), (50, 120)]


def soft_input():
    """Soft shapes and gentle noise, so the two thresholds keep different edges (written once, read by both)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    img = np.zeros((96, 128, 3), np.float32)
    img[..., 0] = 120 + 80 * np.sin(x / 9.0) * np.cos(y / 13.0)
    img[..., 1] = 100 + 0.9 * x
    img[..., 2] = 60 + 1.2 * y
    disc = ((x - 60) ** 2 + (y - 45) ** 2) < 28 ** 2
    img[disc] = img[disc] * 0.5 + 90
    img = cv2.GaussianBlur(img, (0, 0), 1.5) + rng.normal(0, 6, img.shape)
    path = OUT / "soft-input.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print("OpenCV", cv2.__version__)
    INPUTS["soft"] = soft_input()
    for name, path in INPUTS.items():
        rgb = np.array(Image.open(path).convert("RGB"))
        for low, high in THRESHOLDS:
            edges = cv2.Canny(rgb, low, high)
            Image.fromarray(edges).save(OUT / f"{name}_{low}_{high}.png")
            print(f"{name} {low}/{high}: {int((edges > 0).sum())} edge pixels of {edges.size}")


if __name__ == "__main__":
    main()
