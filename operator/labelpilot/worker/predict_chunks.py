"""The chunks `infer` reads and predicts together, bounded by count and by decoded bytes.

A chunk's decoded inputs and the model's work on them are in memory at a time, not the whole
shard's. Its count is at most PREDICT_CHUNK (a multiple of the models' batch sizes); with
a byte budget (image tasks: PREDICT_BYTES) the decoded pixels its images hold, at full size
as decoded (the models resize a batch at a time inside `predict`), are at most the budget,
or the chunk is one image. Text chunks are bounded by count alone.

The decoded size of an object is known only once it is read, so objects are read in groups
sized by the largest image read so far: as many as fit in the room the chunk has left, one
at a time until an image has been read. A chunk and the rest of the group it was cut from
are then about the budget together, unless a later image is larger than every earlier one.
How objects are grouped does not change a prediction: each object's depends on it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

PREDICT_CHUNK = 8192
PREDICT_BYTES = 256 * 2**20

Loaded = list[tuple[int, Any]]


def held_bytes(item: Any) -> int:
    """The bytes a loaded input holds: an image's pixels; text and refusals count 0."""
    return int(getattr(item, "nbytes", 0))


def chunks(
    indices: Sequence[int],
    load: Callable[[list[int]], list[Any]],
    *,
    max_count: int = PREDICT_CHUNK,
    max_bytes: int | None = None,
) -> Iterator[Loaded]:
    """(index, loaded input) pairs in the order of `indices`, a chunk at a time; `load`
    reads a list of indices (an input, or the ObjectReadError that refused it, each).

    A chunk is emptied when the next is asked for: its inputs are not held while the next
    chunk's are read."""
    pending: Loaded = []
    pending_bytes = 0
    largest = 0
    position = 0
    while position < len(indices):
        room = max_count - len(pending)
        if max_bytes is not None:
            room = min(room, max(1, (max_bytes - pending_bytes) // largest) if largest else 1)
        group = list(indices[position : position + room])
        position += len(group)
        for index, item in zip(group, load(group), strict=True):
            size = held_bytes(item)
            largest = max(largest, size)
            if pending and max_bytes is not None and pending_bytes + size > max_bytes:
                yield pending
                pending.clear()
                pending_bytes = 0
            pending.append((index, item))
            pending_bytes += size
        if len(pending) == max_count:
            yield pending
            pending.clear()
            pending_bytes = 0
    if pending:
        yield pending
