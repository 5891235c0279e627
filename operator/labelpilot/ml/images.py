"""Turning HxWxC uint8 arrays of any size into fixed-size float tensors, and augmentation."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def as_hwc(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an HxWxC image with C in 1, 3, 4; got shape {array.shape}")
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return array


def resize(image: np.ndarray, height: int, width: int, *, nearest: bool = False) -> np.ndarray:
    """Resizes an HxWxC or HxW uint8 array (bilinear, or nearest for masks)."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    squeeze = image.ndim == 3 and image.shape[2] == 1
    pil = Image.fromarray(image[:, :, 0] if squeeze else image)
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    out = np.asarray(pil.resize((width, height), method))
    return out[:, :, None] if squeeze else out


def shrunk(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` scaled down (bilinear, aspect kept) so that no side is over `max_side`;
    an image within it is returned as it is."""
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    return resize(image, max(1, round(height * scale)), max(1, round(width * scale)))


def to_tensor(images: list[np.ndarray], size: tuple[int, int], channels: int) -> torch.Tensor:
    """(N, channels, H, W) float32 in [0, 1]; grayscale repeated to RGB or RGB averaged to gray."""
    height, width = size
    out = np.empty((len(images), height, width, channels), dtype=np.uint8)
    for i, image in enumerate(images):
        array = resize(as_hwc(image), height, width)
        if array.shape[2] != channels:
            if channels == 3:
                array = np.repeat(array, 3, axis=2)
            else:
                array = array.mean(axis=2, keepdims=True).round().astype(np.uint8)
        out[i] = array
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def pick_size(images: list[np.ndarray], multiple: int, lo: int, hi: int) -> tuple[int, int]:
    """A square working size: the median side, rounded up to `multiple`, within [lo, hi]."""
    sides = [max(np.asarray(im).shape[:2]) for im in images] or [lo]
    side = int(np.median(sides))
    side = int(math.ceil(side / multiple) * multiple)
    side = min(hi, max(lo, side))
    return side, side


def pick_channels(images: list[np.ndarray]) -> int:
    return 1 if all(as_hwc(im).shape[2] == 1 for im in images) else 3


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 10.0,
    scale: float = 0.1,
    translate: float = 0.1,
) -> torch.Tensor:
    """A random small rotation, scaling and shift per image (classification augmentation)."""
    n = x.shape[0]
    u = torch.rand(n, 3, generator=generator) * 2 - 1
    v = torch.rand(n, 2, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    s = 1.0 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack(
        [
            torch.stack([cos, -sin, v[:, 0] * translate], 1),
            torch.stack([sin, cos, v[:, 1] * translate], 1),
        ],
        1,
    ).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
