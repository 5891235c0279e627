"""YOLO: one `labels/<image stem>.txt` per image, a line `class cx cy w h` per box (the
centre and size divided by the image's width and height, the box clipped to the image; a
box with no area inside it is left out),
`classes.txt` (one label a line), `data.yaml` (`names`, `nc`) and `images.txt` (each
image's source-ref, in the order of the label files)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import yaml

from labelpilot.engine import storage
from labelpilot.engine.exports.common import Item, Left, by_unique_stem, clipped
from labelpilot.engine.formats import Boxes

LABELS = "labels"


def label_lines(boxes: Boxes) -> str:
    """The label file of one image."""
    lines = []
    for c, (left, top, right, bottom), _ in clipped(boxes):
        x0, x1 = left / boxes.width, right / boxes.width
        y0, y1 = top / boxes.height, bottom / boxes.height
        values = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
        lines.append(" ".join([str(int(c)), *(f"{v:.6f}" for v in values)]) + "\n")
    return "".join(lines)


def write(out: str, items: Iterable[Item], labels: Sequence[str], left: list[Left]) -> list[str]:
    """Writes the label files and the class lists under `out`; an image whose file name
    another took first goes to `left`. Returns the files written."""
    written = []
    refs = []
    for stem, item in by_unique_stem(items, left):
        assert isinstance(item.label, Boxes)
        path = storage.join(out, LABELS, f"{stem}.txt")
        storage.write_text(path, label_lines(item.label))
        written.append(path)
        refs.append(f"{item.ref}\n")
    names = storage.join(out, "classes.txt")
    storage.write_text(names, "".join(f"{name}\n" for name in labels))
    data = storage.join(out, "data.yaml")
    storage.write_text(
        data,
        yaml.safe_dump(
            {"nc": len(labels), "names": dict(enumerate(labels))},
            sort_keys=False,
            allow_unicode=True,
        ),
    )
    images = storage.join(out, "images.txt")
    storage.write_text(images, "".join(refs))
    return [*written, names, data, images]
