"""Decoded images, written once by `prepare` and read by `train` and `infer`.

`prepare` decodes every image to find the unreadable ones; keeping the pixels saves every
later step from reading and decoding them again (BENCHMARKS.md, "Side by side with a plain
loop"). The cache holds at most MAX_BYTES of pixels: past that the remaining images are
left out and read from their source as before. One uncompressed .npz in the workspace:
`indices`, `shapes` (N x 3), `offsets` into the flat uint8 `pixels`.
"""

from __future__ import annotations

import io
import threading

import numpy as np

from labelpilot.engine import storage

MAX_BYTES = 128 * 2**20


class DecodedImages:
    """index -> HxWxC uint8 array, for the objects the cache holds."""

    def __init__(self, images: dict[int, np.ndarray]) -> None:
        self._images = images

    def __len__(self) -> int:
        return len(self._images)

    def get(self, index: int) -> np.ndarray | None:
        return self._images.get(index)

    @classmethod
    def empty(cls) -> DecodedImages:
        return cls({})


class Collector:
    """Gathers decoded images from several threads until `max_bytes` of pixels; images
    past that are not kept (those objects are read from their source later)."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: list[tuple[int, np.ndarray]] = []
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, index: int, image: np.ndarray) -> None:
        with self._lock:
            if self._bytes + image.nbytes <= self.max_bytes:
                self._kept.append((index, image))
                self._bytes += image.nbytes

    def pack(self) -> bytes:
        """The cache file's bytes."""
        kept = sorted(self._kept, key=lambda pair: pair[0])
        parts = [np.ascontiguousarray(image, dtype=np.uint8).ravel() for _, image in kept]
        sizes = np.asarray([p.size for p in parts], dtype=np.int64)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            indices=np.asarray([index for index, _ in kept], dtype=np.int64),
            shapes=np.asarray([image.shape for _, image in kept], dtype=np.int64).reshape(-1, 3),
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            pixels=np.concatenate(parts) if parts else np.zeros(0, np.uint8),
        )
        return buffer.getvalue()


def unpack(data: bytes) -> DecodedImages:
    with np.load(io.BytesIO(data)) as arrays:
        indices, shapes = arrays["indices"], arrays["shapes"]
        offsets, pixels = arrays["offsets"], arrays["pixels"]
    pixels.setflags(write=False)  # shared by every image's view
    return DecodedImages(
        {
            int(index): pixels[offsets[i] : offsets[i + 1]].reshape(tuple(shapes[i]))
            for i, index in enumerate(indices)
        }
    )


def load(uri: str) -> DecodedImages:
    """The cache at `uri`; empty when there is none (a text job, or a workspace that an
    earlier version prepared)."""
    if not storage.exists(uri):
        return DecodedImages.empty()
    return unpack(storage.read_bytes(uri))
