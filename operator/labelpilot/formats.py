"""Ground Truth's formats: the input manifest, and label encoding in the augmented manifest.

In-memory label types per task type:
- classification (image, text): `int`, the class index into the job's labels.
- object detection: `Boxes` (image size, and a (k, 5) float array
  [class_id, left, top, width, height] in pixels).
- semantic segmentation: `np.ndarray` HxW uint8 of class ids (0 = background,
  c + 1 = labels[c]); in the manifest it is the URI of a PNG mask under `<attr>-ref`.

The output manifest, the simulated workforce's ground truth and the evaluator all use the
records that `encode_label` writes and `decode_label` reads.
"""

from __future__ import annotations

import colorsys
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from labelpilot import storage
from labelpilot.config import TaskType

SOURCE_REF = "source-ref"
SOURCE = "source"
BACKGROUND = "BACKGROUND"
BACKGROUND_HEX = "#ffffff"
# matplotlib's tab10, as Ground Truth's console uses; more classes get generated hues.
_PALETTE = (
    "#2ca02c", "#1f77b4", "#ff7f0e", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)

TYPE_NAMES = {
    TaskType.IMAGE_CLASSIFICATION: "groundtruth/image-classification",
    TaskType.TEXT_CLASSIFICATION: "groundtruth/text-classification",
    TaskType.OBJECT_DETECTION: "groundtruth/object-detection",
    TaskType.SEMANTIC_SEGMENTATION: "groundtruth/semantic-segmentation",
}


class FormatError(ValueError):
    """A record that does not hold a valid label of the expected type."""


# ---------------------------------------------------------------- input manifest


@dataclass(frozen=True)
class DataObject:
    """One line of the input manifest. `index` is its 0-based line number among non-blank
    lines; it identifies the object everywhere in the workspace."""

    index: int
    record: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def source_ref(self) -> str | None:
        value = self.record.get(SOURCE_REF)
        return value if isinstance(value, str) else None

    @property
    def source(self) -> str | None:
        value = self.record.get(SOURCE)
        return value if isinstance(value, str) else None

    @property
    def key(self) -> str | None:
        """What ground truth is keyed by: the source-ref, else the inline source."""
        return self.source_ref if self.source_ref is not None else self.source


def parse_manifest_line(index: int, line: str) -> DataObject:
    """Parses one JSON line; anything wrong becomes a failed object with the reason."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return DataObject(index, {}, f"MalformedLine: not valid JSON ({exc.msg} at column "
                                     f"{exc.colno})")
    if not isinstance(record, dict):
        return DataObject(index, {}, f"MalformedLine: expected a JSON object, got "
                                     f"{type(record).__name__}")
    if SOURCE_REF in record:
        if not isinstance(record[SOURCE_REF], str) or not record[SOURCE_REF].strip():
            return DataObject(index, record, "MalformedLine: 'source-ref' must be a non-empty "
                                             "string")
        return DataObject(index, record)
    if SOURCE in record:
        if not isinstance(record[SOURCE], str):
            return DataObject(index, record, "MalformedLine: 'source' must be a string")
        return DataObject(index, record)
    return DataObject(index, record, "MalformedLine: neither 'source-ref' nor 'source' is set")


def parse_manifest(lines: Iterable[str]) -> list[DataObject]:
    """Parses JSON Lines; blank lines are skipped and take no index."""
    objects: list[DataObject] = []
    for line in lines:
        if line.strip():
            objects.append(parse_manifest_line(len(objects), line))
    return objects


def read_manifest(uri: str) -> list[DataObject]:
    """Reads an input manifest. Raises OSError/FileNotFoundError when it cannot be read."""
    data = storage.read_bytes(uri)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{uri} is not UTF-8 text: {exc}") from exc
    return parse_manifest(storage.json_lines(text))


# ---------------------------------------------------------------- label types and keys


@dataclass
class Boxes:
    """Object-detection label of one image: size and boxes (k, 5) [class, left, top, w, h]."""

    width: int
    height: int
    depth: int = 3
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), dtype=np.float32))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 5)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Boxes)
            and (self.width, self.height, self.depth) == (other.width, other.height, other.depth)
            and self.boxes.shape == other.boxes.shape
            and bool(np.allclose(self.boxes, other.boxes))
        )


Label = int | Boxes | np.ndarray


@dataclass(frozen=True)
class LabelMeta:
    """The `<attr>-metadata` fields shared by every task type."""

    confidence: float
    human_annotated: bool
    job_name: str
    creation_date: str | None = None
    box_confidences: Sequence[float] | None = None  # detection: one per box


def label_key(task_type: TaskType, attr: str) -> str:
    """The key holding the label: `attr`, or for segmentation `attr` ending in '-ref'."""
    if TaskType(task_type) is TaskType.SEMANTIC_SEGMENTATION and not attr.endswith("-ref"):
        return f"{attr}-ref"
    return attr


def metadata_key(task_type: TaskType, attr: str) -> str:
    return f"{label_key(task_type, attr)}-metadata"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


# ---------------------------------------------------------------- colour maps and masks


def class_colors(n: int) -> list[str]:
    """`n` distinct hex colours, none of them the background's white."""
    colors = list(_PALETTE[:n])
    i = 0
    while len(colors) < n:
        hue = (i * 0.618033988749895) % 1.0
        light = 0.35 + 0.25 * ((i // 7) % 2)
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        candidate = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        if candidate not in colors and candidate != BACKGROUND_HEX:
            colors.append(candidate)
        i += 1
    return colors


def color_map(labels: Sequence[str]) -> dict[str, dict[str, str]]:
    """Ground Truth's `internal-color-map`: "0" is the background, "c+1" is labels[c]."""
    out = {"0": {"class-name": BACKGROUND, "hex-color": BACKGROUND_HEX}}
    for i, (name, color) in enumerate(zip(labels, class_colors(len(labels)), strict=True)):
        out[str(i + 1)] = {"class-name": name, "hex-color": color}
    return out


def _hex_to_rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) != 6:
        raise FormatError(f"bad hex colour {color!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def mask_png_bytes(mask: np.ndarray, colors: Mapping[str, Mapping[str, str]]) -> bytes:
    """Encodes a class-id mask as a palette PNG whose colours are the colour map's: viewers
    see Ground Truth's coloured mask, and the palette index equals the class id."""
    from PIL import Image

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise FormatError(f"a mask must be HxW, got shape {mask.shape}")
    ids = mask.astype(np.uint8)
    if int(ids.max(initial=0)) >= len(colors):
        raise FormatError(f"mask holds class id {int(ids.max())}, colour map has {len(colors)}")
    palette = [0] * 768
    for key, entry in colors.items():
        palette[3 * int(key) : 3 * int(key) + 3] = _hex_to_rgb(entry["hex-color"])
    image = Image.fromarray(ids, mode="P")
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def mask_from_png_bytes(data: bytes, colors: Mapping[str, Mapping[str, str]]) -> np.ndarray:
    """Decodes a mask PNG by its colours (RGB or palette); grayscale PNGs hold ids directly.
    Pixels of a colour not in the map become background."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.mode in ("L", "I", "I;16"):
        return np.asarray(image).astype(np.uint8)
    rgb = np.asarray(image.convert("RGB")).astype(np.int32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    out = np.zeros(packed.shape, dtype=np.uint8)
    for key, entry in colors.items():
        r, g, b = _hex_to_rgb(entry["hex-color"])
        out[packed == ((r << 16) | (g << 8) | b)] = int(key)
    return out


def write_mask_png(uri: str, mask: np.ndarray, colors: Mapping[str, Mapping[str, str]]) -> None:
    storage.write_bytes(uri, mask_png_bytes(mask, colors))


def read_mask_png(uri: str, colors: Mapping[str, Mapping[str, str]]) -> np.ndarray:
    return mask_from_png_bytes(storage.read_bytes(uri), colors)


# ---------------------------------------------------------------- encode / decode


def encode_label(
    task_type: TaskType,
    attr: str,
    label: Label | str,
    meta: LabelMeta,
    *,
    labels: Sequence[str],
) -> dict[str, Any]:
    """The `{label key: ..., metadata key: {...}}` entries of one augmented-manifest line.

    For segmentation `label` is the mask's URI (write the PNG with `write_mask_png` first).
    """
    task_type = TaskType(task_type)
    metadata: dict[str, Any] = {
        "confidence": round(float(meta.confidence), 6),
        "human-annotated": "yes" if meta.human_annotated else "no",
        "creation-date": meta.creation_date or now_iso(),
        "type": TYPE_NAMES[task_type],
        "job-name": f"labeling-job/{meta.job_name}",
    }
    if task_type.is_classification:
        class_id = int(label)  # type: ignore[arg-type]
        if not 0 <= class_id < len(labels):
            raise FormatError(f"class id {class_id} outside the {len(labels)} labels")
        metadata["class-name"] = labels[class_id]
        value: Any = class_id
    elif task_type is TaskType.OBJECT_DETECTION:
        if not isinstance(label, Boxes):
            raise FormatError("an object-detection label must be Boxes")
        value = {
            "image_size": [{"width": int(label.width), "height": int(label.height),
                            "depth": int(label.depth)}],
            "annotations": [
                {"class_id": int(c), "left": round(float(x)), "top": round(float(y)),
                 "width": round(float(w)), "height": round(float(h))}
                for c, x, y, w, h in label.boxes.tolist()
            ],
        }
        confidences = (
            list(meta.box_confidences) if meta.box_confidences is not None
            else [float(meta.confidence)] * len(label.boxes)
        )
        if len(confidences) != len(label.boxes):
            raise FormatError("one box confidence per box is needed")
        metadata["class-map"] = {str(i): name for i, name in enumerate(labels)}
        metadata["objects"] = [{"confidence": round(float(c), 6)} for c in confidences]
    else:
        if not isinstance(label, str):
            raise FormatError("a segmentation label is encoded by its mask URI")
        value = label
        metadata["internal-color-map"] = color_map(labels)
    return {label_key(task_type, attr): value, metadata_key(task_type, attr): metadata}


def encode_failure(
    task_type: TaskType, attr: str, reason: str, *, job_name: str,
    creation_date: str | None = None,
) -> dict[str, Any]:
    """Metadata of an object that could not be labeled: no label, a `failure-reason`."""
    task_type = TaskType(task_type)
    return {metadata_key(task_type, attr): {
        "failure-reason": reason,
        "creation-date": creation_date or now_iso(),
        "type": TYPE_NAMES[task_type],
        "job-name": f"labeling-job/{job_name}",
    }}


def has_label(task_type: TaskType, attr: str, record: Mapping[str, Any]) -> bool:
    return label_key(task_type, attr) in record


def decode_label(
    task_type: TaskType, attr: str, record: Mapping[str, Any], *, base: str | None = None
) -> Label:
    """Reads the label of a record; for segmentation reads the PNG mask (a relative mask URI
    is resolved against folder `base`). Raises FormatError when there is none or it is bad."""
    task_type = TaskType(task_type)
    key = label_key(task_type, attr)
    if key not in record:
        raise FormatError(f"record has no {key!r}")
    value = record[key]
    meta = record.get(metadata_key(task_type, attr)) or {}
    if task_type.is_classification:
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise FormatError(f"{key} must be an integer class id, got {value!r}")
        return int(value)
    if task_type is TaskType.OBJECT_DETECTION:
        try:
            size = value["image_size"][0]
            rows = [
                [a["class_id"], a["left"], a["top"], a["width"], a["height"]]
                for a in value.get("annotations", [])
            ]
            return Boxes(int(size["width"]), int(size["height"]), int(size.get("depth", 3)),
                         np.asarray(rows, dtype=np.float32).reshape(-1, 5))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise FormatError(f"{key} is not a bounding-box label: {exc}") from exc
    if not isinstance(value, str):
        raise FormatError(f"{key} must be the URI of a PNG mask")
    colors = meta.get("internal-color-map")
    if not isinstance(colors, dict):
        raise FormatError(f"{metadata_key(task_type, attr)} has no internal-color-map")
    return read_mask_png(storage.resolve(value, base), colors)


def decode_metadata(task_type: TaskType, attr: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record.get(metadata_key(task_type, attr)) or {})


def class_index_from_metadata(
    labels: Sequence[str], task_type: TaskType, attr: str, record: Mapping[str, Any]
) -> int | None:
    """The label index by `class-name` when present (robust to another label order)."""
    name = decode_metadata(task_type, attr, record).get("class-name")
    return labels.index(name) if name in labels else None


class GroundTruth:
    """A ground-truth manifest keyed by source-ref / source; labels decoded on demand.

    Only the simulated workforce and the evaluator may use it.
    """

    def __init__(self, uri: str, task_type: TaskType, attr: str) -> None:
        self.uri = uri
        self.task_type = TaskType(task_type)
        self.attr = attr
        self.base = storage.parent(uri)
        self.records: dict[str, dict[str, Any]] = {}
        for obj in read_manifest(uri):
            if obj.key is not None and not obj.failed:
                self.records[obj.key] = obj.record
        self._cache: dict[str, Label] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.records and has_label(self.task_type, self.attr, self.records[key])

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> Label:
        """The true label; raises KeyError when the key has none."""
        if key not in self:
            raise KeyError(key)
        if key not in self._cache:
            self._cache[key] = decode_label(self.task_type, self.attr, self.records[key],
                                            base=self.base)
        return self._cache[key]
