"""Tiny synthetic data sets for the model tests: learnable in seconds on one CPU thread."""

from __future__ import annotations

import numpy as np
import torch

torch.set_num_threads(1)

FAST = {"threads": 1, "device": "cpu"}


def bars(
    n: int, seed: int = 0, size: int = 16, rgb: bool = False
) -> tuple[list[np.ndarray], np.ndarray]:
    """Three classes: a horizontal bar, a vertical bar, a filled square; noisy, anywhere."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        cls = i % 3
        image = rng.integers(0, 60, (size, size)).astype(np.float32)
        r, c = rng.integers(2, size - 6, 2)
        if cls == 0:
            image[r : r + 2, 1 : size - 1] = 230
        elif cls == 1:
            image[1 : size - 1, c : c + 2] = 230
        else:
            image[r : r + 5, c : c + 5] = 230
        image = image.astype(np.uint8)[:, :, None]
        images.append(np.repeat(image, 3, axis=2) if rgb else image)
        labels.append(cls)
    return images, np.asarray(labels)


def squares(
    n: int, seed: int = 0, size: int = 32
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Images with 1-2 squares: class 0 filled, class 1 hollow; exact boxes and masks."""
    rng = np.random.default_rng(seed)
    images, boxes, masks = [], [], []
    for _ in range(n):
        image = np.zeros((size, size), np.uint8)
        mask = np.zeros((size, size), np.uint8)
        found = []
        for slot in range(int(rng.integers(1, 3))):
            cls = int(rng.integers(0, 2))
            side = int(rng.integers(7, 11))
            half = size // 2
            left = int(rng.integers(0, half - side + 1)) + slot * half
            top = int(rng.integers(0, size - side + 1))
            image[top : top + side, left : left + side] = 220
            mask[top : top + side, left : left + side] = cls + 1
            if cls == 1:
                image[top + 2 : top + side - 2, left + 2 : left + side - 2] = 0
                mask[top + 2 : top + side - 2, left + 2 : left + side - 2] = 0
            found.append([cls, left, top, side, side])
        images.append(image[:, :, None])
        boxes.append(np.asarray(found, np.float32))
        masks.append(mask)
    return images, boxes, masks


def topic_texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Two topics in plain English: sport and cooking."""
    rng = np.random.default_rng(seed)
    topics = [
        [
            "the team won the football match",
            "a great goal in the final minute",
            "the striker scored twice",
            "fans cheered at the stadium",
            "the coach praised the players",
        ],
        [
            "bake the bread for twenty minutes",
            "add salt and pepper to the soup",
            "chop the onions and garlic",
            "the recipe needs fresh butter",
            "simmer the sauce gently",
        ],
    ]
    texts, labels = [], []
    for i in range(n):
        cls = i % 2
        parts = rng.choice(len(topics[cls]), 2, replace=False)
        texts.append(". ".join(topics[cls][p] for p in parts) + f". note {rng.integers(1000)}")
        labels.append(cls)
    return texts, np.asarray(labels)


def bars_present(n: int, seed: int = 0, size: int = 16) -> tuple[list[np.ndarray], np.ndarray]:
    """Multi-label: each of a horizontal bar, a vertical bar and a filled square is in an
    image with probability 1/2, independently; (N, 3) 0/1 targets."""
    rng = np.random.default_rng(seed)
    images, targets = [], np.zeros((n, 3), np.float32)
    for i in range(n):
        image = rng.integers(0, 60, (size, size)).astype(np.float32)
        present = rng.random(3) < 0.5
        targets[i] = present
        if present[0]:
            r = int(rng.integers(1, size - 3))
            image[r : r + 2, 1 : size - 1] = 230
        if present[1]:
            c = int(rng.integers(1, size - 3))
            image[1 : size - 1, c : c + 2] = 230
        if present[2]:
            r, c = rng.integers(2, size - 6, 2)
            image[r : r + 5, c : c + 5] = 160
        images.append(image.astype(np.uint8)[:, :, None])
    return images, targets


def topics_present(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Multi-label: sport and cooking sentences, each topic in a text with probability 1/2
    (a text with neither is about the weather); (N, 2) 0/1 targets."""
    rng = np.random.default_rng(seed)
    sentences = {
        0: [t.split(". ")[0] for t, c in zip(*topic_texts(40, seed), strict=True) if c == 0],
        1: [t.split(". ")[0] for t, c in zip(*topic_texts(40, seed), strict=True) if c == 1],
    }
    texts, targets = [], np.zeros((n, 2), np.float32)
    for i in range(n):
        present = rng.random(2) < 0.5
        targets[i] = present
        parts = [str(rng.choice(sentences[k])) for k in (0, 1) if present[k]]
        texts.append(". ".join(parts or ["it may rain later today"]) + f". note {i}")
    return texts, targets
