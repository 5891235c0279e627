"""Icons of a font drawn as small gray images, each one varied at random.

A glyph is drawn large, white on black, cropped to its ink, then rotated, stretched,
shrunk and moved on a `size` x `size` image, blurred, dimmed and given noise; some images
get a stray stroke. So two images of one icon are never alike, and a classifier has to
learn the shape rather than look up pixels. Deterministic for a random generator's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DRAW_SIZE = 96


@dataclass(frozen=True)
class Variation:
    rotation: float = 25.0  # degrees, either way
    stretch: float = 0.2  # width / height varies by this fraction
    side: tuple[float, float] = (0.5, 0.9)  # the longer side, a share of the image
    blur: float = 0.9  # Gaussian radius, at most
    noise: float = 20.0  # standard deviation of the added noise, at most
    stroke: float = 0.3  # chance of a stray stroke


def draw(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    """The glyph alone: uint8 ink, cropped to its bounding box."""
    canvas = Image.new("L", (2 * DRAW_SIZE, 2 * DRAW_SIZE), 0)
    ImageDraw.Draw(canvas).text((DRAW_SIZE // 2, DRAW_SIZE // 2), char, fill=255, font=font)
    ink = np.asarray(canvas)
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        raise ValueError(f"the font has no ink for {char!r}")
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def vary(
    glyph: np.ndarray, rng: np.random.Generator, size: int = 28, how: Variation = Variation()
) -> np.ndarray:
    """One random image of `glyph` (from `draw`), `size` x `size` uint8."""
    image = Image.fromarray(glyph).rotate(
        float(rng.uniform(-how.rotation, how.rotation)),
        resample=Image.Resampling.BILINEAR,
        expand=True,
    )
    w, h = image.size
    ratio = float(rng.uniform(1 - how.stretch, 1 + how.stretch))
    longer = float(rng.uniform(*how.side)) * size
    scale = longer / max(w * ratio, h)
    nw, nh = max(1, round(w * ratio * scale)), max(1, round(h * scale))
    small = image.resize((nw, nh), Image.Resampling.BILINEAR)
    out = Image.new("L", (size, size), 0)
    out.paste(small, (int(rng.integers(0, size - nw + 1)), int(rng.integers(0, size - nh + 1))))
    if rng.random() < how.stroke:
        ends = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2)]
        ImageDraw.Draw(out).line(ends, fill=int(rng.integers(120, 256)), width=1)
    out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, how.blur))))
    pixels = np.asarray(out, np.float32) * float(rng.uniform(0.6, 1.0))
    pixels += rng.normal(0.0, float(rng.uniform(0, how.noise)), pixels.shape)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def icon_images(
    font: ImageFont.FreeTypeFont,
    chars: list[str],
    count: int,
    *,
    seed: int,
    size: int = 28,
    how: Variation = Variation(),
) -> tuple[np.ndarray, np.ndarray]:
    """(images (count, size, size) uint8, labels (count,) int64): classes equally often, in
    a seeded order; label i is `chars[i]`."""
    rng = np.random.default_rng(seed)
    glyphs = [draw(font, char) for char in chars]
    labels = rng.permutation(np.arange(count) % len(chars)).astype(np.int64)
    images = np.stack([vary(glyphs[label], rng, size, how) for label in labels])
    return images.reshape(count, size, size), labels
