"""Canvases with real MNIST digits pasted on them: exact boxes and masks, deterministic.

Each canvas gets 1..max_digits digits, each rescaled to a random side within
`digit_size`, placed without overlapping another digit's box (so every box and every mask
pixel is exact and unambiguous). The box is the tight box of the digit's ink (pixels > 0);
the mask marks pixels whose ink is at least `mask_threshold` (0..255) with the digit's
class + 1 (0 = background), Ground Truth's semantic segmentation convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Canvas:
    image: np.ndarray  # HxW uint8
    boxes: np.ndarray  # (k, 5) float32 [class, left, top, width, height]
    mask: np.ndarray  # HxW uint8, 0 = background, digit + 1
    sources: list[int]  # indices of the MNIST digits used


def paste_digits(
    digits: np.ndarray,
    labels: np.ndarray,
    count: int,
    *,
    seed: int,
    canvas: int = 96,
    max_digits: int = 3,
    digit_size: tuple[int, int] = (20, 36),
    mask_threshold: int = 128,
    pool: np.ndarray | None = None,
) -> list[Canvas]:
    """`count` canvases; digits drawn from `pool` (indices into `digits`) or all of them."""
    rng = np.random.default_rng(seed)
    pool = np.arange(len(digits)) if pool is None else np.asarray(pool)
    out = []
    for _ in range(count):
        image = np.zeros((canvas, canvas), np.uint8)
        mask = np.zeros((canvas, canvas), np.uint8)
        taken: list[tuple[int, int, int, int]] = []
        boxes, sources = [], []
        for _ in range(int(rng.integers(1, max_digits + 1))):
            index = int(pool[rng.integers(len(pool))])
            side = int(rng.integers(digit_size[0], digit_size[1] + 1))
            glyph = np.asarray(
                Image.fromarray(digits[index]).resize((side, side), Image.Resampling.BILINEAR)
            )
            ys, xs = np.nonzero(glyph)
            if len(xs) == 0:
                continue
            glyph = glyph[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            h, w = glyph.shape
            for _attempt in range(30):
                left = int(rng.integers(0, canvas - w + 1))
                top = int(rng.integers(0, canvas - h + 1))
                if all(
                    left + w + 1 <= l2
                    or l2 + w2 + 1 <= left
                    or top + h + 1 <= t2
                    or t2 + h2 + 1 <= top
                    for l2, t2, w2, h2 in taken
                ):
                    break
            else:
                continue
            taken.append((left, top, w, h))
            image[top : top + h, left : left + w] = glyph
            region = mask[top : top + h, left : left + w]
            region[glyph >= mask_threshold] = labels[index] + 1
            boxes.append([labels[index], left, top, w, h])
            sources.append(index)
        out.append(Canvas(image, np.asarray(boxes, np.float32).reshape(-1, 5), mask, sources))
    return out
