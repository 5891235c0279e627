"""The inference shards of one iteration: `infer` writes them, `threshold` and `human` read
them back.

Shard I of K is `shard-I-of-K.npz` in the iteration's inference folder; the iteration's
predictions are complete once every shard of some K is there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace


def pack(
    predictions: Any, indices: list[int], sizes: list[tuple[int, ...]], failed: dict[int, str]
) -> bytes:
    """One shard: the objects' indices and image sizes, their predictions (ragged boxes and
    masks flat, with their lengths and shapes) and the objects that could not be read."""
    arrays: dict[str, Any] = {
        "indices": np.asarray(indices, dtype=np.int64),
        "sizes": np.asarray(sizes, dtype=np.int64).reshape(-1, 3),
        "failedIndices": np.asarray(list(failed), dtype=np.int64),
        "failedReasons": np.asarray(list(failed.values()), dtype=np.str_),
    }
    if predictions is not None:
        if predictions.probs is not None:
            arrays["probs"] = np.asarray(predictions.probs, dtype=np.float32)
        if predictions.image_confidence is not None:
            arrays["confidence"] = np.asarray(predictions.image_confidence, dtype=np.float32)
        if predictions.class_confidence is not None:
            arrays["classConfidence"] = np.asarray(predictions.class_confidence, np.float32)
        if predictions.embeddings is not None and len(predictions.embeddings) == len(indices):
            arrays["embeddings"] = np.asarray(predictions.embeddings, dtype=np.float32)
        if predictions.boxes is not None:
            arrays["boxCounts"] = np.asarray([len(b) for b in predictions.boxes], np.int64)
            arrays["boxes"] = (
                np.concatenate(predictions.boxes).astype(np.float32)
                if predictions.boxes
                else np.zeros((0, 6), np.float32)
            )
        if predictions.masks is not None:
            arrays["maskShapes"] = np.asarray([m.shape for m in predictions.masks], np.int64)
            arrays["masks"] = (
                np.concatenate([m.ravel() for m in predictions.masks])
                if predictions.masks
                else np.zeros(0, np.uint8)
            ).astype(np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


_SHARD = re.compile(r"^shard-(\d+)-of-(\d+)\.npz$")


class Rows(Sequence[np.ndarray]):
    """The rows of a 2-D array that arrives a shard at a time, kept as one array: a view
    per object would take more memory than the object's row."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def extend(self, rows: np.ndarray) -> None:
        if len(rows):  # an empty shard's array may lack the others' width
            self._parts.append(rows)

    def _array(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0]

    @overload
    def __getitem__(self, k: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[np.ndarray]: ...
    def __getitem__(self, k: int | slice) -> Any:
        if not self._parts:
            raise IndexError(k)
        return self._array()[k]

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)


@dataclass
class ObjectPredictions:
    """Predictions of one iteration, by object index."""

    position: dict[int, int] = field(default_factory=dict)
    size: list[tuple[int, int, int]] = field(default_factory=list)
    probs: Rows = field(default_factory=Rows)
    confidence: list[float] = field(default_factory=list)
    embeddings: Rows = field(default_factory=Rows)
    boxes: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    # segmentation, where the model gives it: (C + 1,) per object, NaN for an absent class
    class_confidence: Rows = field(default_factory=Rows)
    failed: dict[int, str] = field(default_factory=dict)


def load_predictions(ws: Workspace, iteration: int) -> ObjectPredictions:
    """Every shard of iteration `iteration`'s inference, read back by object index."""
    folder = ws.inference(iteration)
    groups: dict[int, set[int]] = {}
    for name in storage.listdir(folder):
        match = _SHARD.match(name)
        if match:
            groups.setdefault(int(match.group(2)), set()).add(int(match.group(1)))
    complete = sorted(k for k, found in groups.items() if found == set(range(k)))
    if not complete:
        raise RuntimeError(f"inference of iteration {iteration} is incomplete: {groups}")
    count = complete[0]
    out = ObjectPredictions()
    for shard in range(count):
        # NpzFile reads (and decompresses) an array on every item access: read each once,
        # or the loop below is quadratic and keeps one whole copy per object alive.
        with np.load(
            io.BytesIO(storage.read_bytes(ws.inference_shard(iteration, shard, count)))
        ) as npz:
            data = {name: npz[name] for name in npz.files}
        out.failed.update(
            zip(data["failedIndices"].tolist(), data["failedReasons"].tolist(), strict=True)
        )
        n = len(data["indices"])
        box_start = (
            np.concatenate([[0], np.cumsum(data["boxCounts"])]) if "boxCounts" in data else None
        )
        mask_start = (
            np.concatenate([[0], np.cumsum(np.prod(data["maskShapes"], axis=1))])
            if "maskShapes" in data
            else None
        )
        for name, rows in (
            ("probs", out.probs),
            ("embeddings", out.embeddings),
            ("classConfidence", out.class_confidence),
        ):
            if name in data:
                rows.extend(data[name])
        for j in range(n):
            out.position[int(data["indices"][j])] = len(out.size)
            height, width, depth = (int(v) for v in data["sizes"][j])
            out.size.append((height, width, depth))
            if "confidence" in data:
                out.confidence.append(float(data["confidence"][j]))
            if box_start is not None:
                out.boxes.append(data["boxes"][box_start[j] : box_start[j + 1]])
            if mask_start is not None:
                shape = tuple(data["maskShapes"][j])
                out.masks.append(data["masks"][mask_start[j] : mask_start[j + 1]].reshape(shape))
    return out
