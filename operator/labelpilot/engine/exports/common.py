"""What the export writers share: an exported object, an object left out, file names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from labelpilot.engine.formats import Boxes, Label

# Why an object is not exported (the summary's counters).
FAILED = "failed"  # the job could not label it: its metadata has a failure-reason
UNLABELED = "unlabeled"  # neither a label nor a failure: the job stopped before it
INVALID = "invalid"  # a line or label that cannot be read
NOT_WRITABLE = "not-writable"  # the format cannot hold it (a file name taken twice, ...)
REASONS = (FAILED, UNLABELED, INVALID, NOT_WRITABLE)


class ExportError(ValueError):
    """An export that cannot be done at all: the message says what to give instead."""


@dataclass(frozen=True)
class Item:
    """An object with a label: its line in the manifest, its source and the label as
    formats.decode_label gives it."""

    index: int
    ref: str | None  # source-ref
    source: str | None  # inline source (text)
    label: Label

    @property
    def key(self) -> str:
        return self.ref if self.ref is not None else f"line {self.index + 1}"


@dataclass(frozen=True)
class Left:
    """An object not exported, and why (`reason` one of REASONS, `detail` the cause)."""

    index: int
    key: str | None
    reason: str
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.index + 1,
            "key": self.key,
            "reason": self.reason,
            "detail": self.detail,
        }


def pixels(value: float) -> int | float:
    """A coordinate as JSON or XML shows it: an integer when it is one, else 3 decimals."""
    rounded = round(float(value), 3)
    return int(rounded) if rounded.is_integer() else rounded


def clipped(boxes: Boxes) -> Iterator[tuple[int, list[int | float], bool]]:
    """Each box with an area inside the image: its class, [xmin, ymin, xmax, ymax] within
    the image (as written), and whether the image's edge cut it."""
    for c, left, top, width, height in boxes.boxes.tolist():
        drawn = [pixels(v) for v in (left, top, left + width, top + height)]
        limits = (boxes.width, boxes.height, boxes.width, boxes.height)
        inside = [min(max(v, 0), limit) for v, limit in zip(drawn, limits, strict=True)]
        if inside[2] > inside[0] and inside[3] > inside[1]:
            yield int(c), inside, inside != drawn


def file_stem(ref: str | None, index: int) -> str:
    """The file name of `ref` without its folder and extension (line number when none)."""
    name = (ref or "").rstrip("/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return stem if stem.strip(".") else f"line-{index + 1:08d}"


def by_unique_stem(items: Iterable[Item], left: list[Left]) -> list[tuple[str, Item]]:
    """Each item with its file stem; an item whose stem another item took first goes to
    `left` (a format with one file per image, named after the image, cannot hold both)."""
    taken: dict[str, Item] = {}
    out = []
    for item in items:
        stem = file_stem(item.ref, item.index)
        first = taken.setdefault(stem, item)
        if first is not item:
            left.append(
                Left(
                    item.index,
                    item.ref,
                    NOT_WRITABLE,
                    f"its file name {stem!r} is taken by line {first.index + 1} ({first.key})",
                )
            )
            continue
        out.append((stem, item))
    return out
