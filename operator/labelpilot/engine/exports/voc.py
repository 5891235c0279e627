"""Pascal VOC XML: one `<image stem>.xml` per image: `filename` (the source-ref's file
name), `path` (the source-ref), `size`, and an `object` with `bndbox` (xmin, ymin = left,
top; xmax, ymax = left + width, top + height, in pixels) per box, clipped to the image:
a box the edge cuts is `truncated`, one with no area inside the image is left out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from labelpilot.engine import storage
from labelpilot.engine.exports.common import Item, Left, by_unique_stem, clipped
from labelpilot.engine.formats import Boxes


def _child(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def annotation(ref: str, boxes: Boxes, labels: Sequence[str]) -> bytes:
    """The VOC XML of one image."""
    root = ET.Element("annotation")
    _child(root, "folder", ref.rstrip("/").rsplit("/", 1)[0] if "/" in ref else "")
    _child(root, "filename", ref.rstrip("/").rsplit("/", 1)[-1])
    _child(root, "path", ref)
    _child(_child(root, "source"), "database", "LabelPilot")
    size = _child(root, "size")
    for tag, value in (("width", boxes.width), ("height", boxes.height), ("depth", boxes.depth)):
        _child(size, tag, value)
    _child(root, "segmented", 0)
    for c, corners, truncated in clipped(boxes):
        obj = _child(root, "object")
        _child(obj, "name", labels[c])
        _child(obj, "pose", "Unspecified")
        _child(obj, "truncated", int(truncated))
        _child(obj, "difficult", 0)
        box = _child(obj, "bndbox")
        for tag, corner in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            _child(box, tag, corner)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8") + b"\n"


def write(out: str, items: Iterable[Item], labels: Sequence[str], left: list[Left]) -> list[str]:
    """Writes one XML per image under `out`; an image whose file name another took first
    goes to `left`. Returns the files written."""
    written = []
    for stem, item in by_unique_stem(items, left):
        assert isinstance(item.label, Boxes)
        path = storage.join(out, f"{stem}.xml")
        storage.write_bytes(path, annotation(str(item.ref), item.label, labels))
        written.append(path)
    return written
