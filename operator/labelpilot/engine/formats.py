"""Ground Truth's formats: the input manifest, and label encoding in the augmented manifest.

Reading, the class names a record carries (`class-name`, `class-map`, the colour map's
`class-name`s) decide its classes in the job's labels; writing follows Ground Truth's
per-task metadata (README, "Manifests").

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
import functools
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from labelpilot.api.data_roots import OutsideDataRoots
from labelpilot.api.run_config import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, TaskType
from labelpilot.engine import labelfields, reasons, storage
from labelpilot.engine.bounded_read import Refused, read_bounded
from labelpilot.engine.confinement import DataRoots, default_roots

SOURCE_REF = "source-ref"
SOURCE = "source"
BACKGROUND = "BACKGROUND"
BACKGROUND_HEX = "#ffffff"
# matplotlib's tab10, as Ground Truth's console uses; more classes get generated hues.
_PALETTE = (
    "#2ca02c",
    "#1f77b4",
    "#ff7f0e",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

TYPE_NAMES = {
    TaskType.IMAGE_CLASSIFICATION: "groundtruth/image-classification",
    TaskType.TEXT_CLASSIFICATION: "groundtruth/text-classification",
    TaskType.OBJECT_DETECTION: "groundtruth/object-detection",
    TaskType.SEMANTIC_SEGMENTATION: "groundtruth/semantic-segmentation",
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: "groundtruth/image-classification-multilabel",
    TaskType.TEXT_CLASSIFICATION_MULTILABEL: "groundtruth/text-classification-multilabel",
}


class FormatError(ValueError):
    """A record that does not hold a valid label of the expected type."""


# ---------------------------------------------------------------- input manifest


@dataclass(frozen=True, slots=True)
class DataObject:
    """One line of the input manifest. `index` is its 0-based line number among non-blank
    lines; it identifies the object everywhere in the workspace."""

    index: int
    record: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # The line as read: an object this job does not label goes to the output manifest as
    # it came (a chained job's earlier labels keep their bytes).
    line: str | None = field(default=None, compare=False, repr=False)

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


_JSON_SPACE = " \t\r\n"  # the only white space JSON allows around a value


def _malformed(index: int, why: str) -> DataObject:
    return DataObject(index, {}, reasons.clean(f"MalformedLine: {why}"))


def parse_manifest_line(index: int, line: str) -> DataObject:
    """Parses one JSON line; anything wrong becomes a failed object with the reason."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return _malformed(index, f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return _malformed(index, "JSON nested too deeply")
    if not isinstance(record, dict):
        return _malformed(index, f"expected a JSON object, got {type(record).__name__}")
    try:
        storage.dumps(record).encode("utf-8")
    except UnicodeEncodeError:
        return _malformed(index, "holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
    except RecursionError:
        return _malformed(index, "JSON nested too deeply")
    if SOURCE_REF in record:
        if not isinstance(record[SOURCE_REF], str) or not record[SOURCE_REF].strip():
            return DataObject(
                index, record, "MalformedLine: 'source-ref' must be a non-empty string"
            )
        return DataObject(index, record, line=line.strip(_JSON_SPACE))
    if SOURCE in record:
        if not isinstance(record[SOURCE], str):
            return DataObject(index, record, "MalformedLine: 'source' must be a string")
        return DataObject(index, record, line=line.strip(_JSON_SPACE))
    return DataObject(index, record, "MalformedLine: neither 'source-ref' nor 'source' is set")


def parse_manifest(lines: Iterable[str]) -> list[DataObject]:
    """Parses JSON Lines; blank lines are skipped and take no index."""
    objects: list[DataObject] = []
    for line in lines:
        if line.strip():
            objects.append(parse_manifest_line(len(objects), line))
    return objects


def parse_manifest_bytes(data: bytes) -> list[DataObject]:
    """Parses JSON Lines bytes (a leading UTF-8 BOM is dropped). Only newline ends a line,
    as in storage.json_lines; a line that is not UTF-8 is a failed object, the others go
    on."""
    return list(parse_raw_lines(data.split(b"\n")))


def parse_raw_lines(raw_lines: Iterable[bytes]) -> Iterator[DataObject]:
    """parse_manifest_bytes a line at a time: `raw_lines` split at newlines (each with or
    without its newline), the first one the file's start."""
    index = 0
    for number, raw in enumerate(raw_lines):
        if number == 0:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            line = raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _malformed(
                index, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            )
            index += 1
            continue
        if line.strip():
            yield parse_manifest_line(index, line)
            index += 1


def iter_manifest(uri: str) -> Iterator[DataObject]:
    """The input manifest's objects as its lines are read (read_manifest's, one by one).
    Raises OSError/FileNotFoundError when it cannot be read."""
    return parse_raw_lines(storage.iter_lines(uri))


def read_manifest(uri: str) -> list[DataObject]:
    """Reads an input manifest. Raises OSError/FileNotFoundError when it cannot be read."""
    return list(iter_manifest(uri))


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


Label = int | list[int] | Boxes | np.ndarray


@dataclass(frozen=True)
class LabelMeta:
    """The `<attr>-metadata` fields shared by every task type."""

    confidence: float
    human_annotated: bool
    job_name: str
    creation_date: str | None = None
    box_confidences: Sequence[float] | None = None  # detection: one per box
    # segmentation: by mask id (0 the background); a class without one gets `confidence`;
    # multi-label: by class id, for the classes of the label (`confidence-map`)
    class_confidences: Mapping[int, float] | None = None


def label_key(task_type: TaskType, attr: str) -> str:
    """The key holding the label: `attr`, or for segmentation `attr` ending in '-ref'."""
    if TaskType(task_type) is TaskType.SEMANTIC_SEGMENTATION and not attr.endswith("-ref"):
        return f"{attr}-ref"
    return attr


def metadata_key(task_type: TaskType, attr: str) -> str:
    return f"{label_key(task_type, attr)}-metadata"


def now_iso() -> str:
    """Now, as Ground Truth's `creation-date`: UTC, microseconds, no zone suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def iso_utc(text: Any) -> str | None:
    """An ISO 8601 time another system reports (a zone, or none: UTC) in now_iso's form;
    None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


# ---------------------------------------------------------------- colour maps and masks


# The golden-ratio hues give 1,722 distinct colours after the palette's 10, the last at
# step 4,510; past them, every other 24-bit colour in a fixed scrambled order.
_HUE_STEPS = 4608
_COLOR_COUNT = (1 << 24) - 1  # every colour but the background's white


@functools.cache
def _hue_colors() -> tuple[str, ...]:
    colors = list(_PALETTE)
    seen = set(colors)
    for i in range(_HUE_STEPS):
        hue = (i * 0.618033988749895) % 1.0
        light = 0.35 + 0.25 * ((i // 7) % 2)
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        candidate = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        if candidate not in seen and candidate != BACKGROUND_HEX:
            seen.add(candidate)
            colors.append(candidate)
    return tuple(colors)


def class_colors(n: int) -> list[str]:
    """`n` distinct hex colours, none of them the background's white; the first `k` are
    the same for every `n` >= `k`. Raises ValueError past the 2**24 - 1 there are."""
    if not 0 <= n <= _COLOR_COUNT:
        raise ValueError(f"{n} classes: there are colours for 0 to {_COLOR_COUNT}")
    colors = list(_hue_colors()[:n])
    seen = set(colors)
    j = 0
    while len(colors) < n:  # at most 2**24 steps: j * odd is a permutation of 24-bit values
        candidate = f"#{(j * 0x9E3779) & 0xFFFFFF:06x}"
        if candidate not in seen and candidate != BACKGROUND_HEX:
            seen.add(candidate)
            colors.append(candidate)
        j += 1
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


def mask_from_png_bytes(
    data: bytes, colors: Mapping[str, Mapping[str, str]], *, max_pixels: int | None = None
) -> np.ndarray:
    """Decodes a mask PNG by its colours (RGB or palette); grayscale PNGs hold ids directly.
    Pixels of a colour not in the map become background. Raises FormatError for what is
    not an image, or one of more than `max_pixels`."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise FormatError(
                    f"the mask has {width}x{height} pixels, more than the "
                    f"{max_pixels:,}-pixel limit"
                )
            if image.mode in ("L", "I", "I;16"):
                ids = np.asarray(image)
                if int(ids.max(initial=0)) >= labelfields.MAX_MASK_CLASSES:
                    raise FormatError(f"the mask holds class id {int(ids.max())}, more than a byte")
                return ids.astype(np.uint8)
            rgb = np.asarray(image.convert("RGB")).astype(np.int32)
    except FormatError:
        raise
    except Exception as exc:  # PIL raises many types for corrupt files
        raise FormatError(f"not a decodable mask: {reasons.describe(exc)}") from exc
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


def _read_truth_mask(
    uri: str, colors: Mapping[str, Mapping[str, str]], roots: DataRoots | None
) -> np.ndarray:
    """A mask named by a record: confined to `roots`, bounded like an image object."""
    try:
        target = uri if roots is None else roots.confine(uri)
        data = read_bounded(target, DEFAULT_MAX_IMAGE_BYTES, "a mask")
    except OutsideDataRoots as exc:
        raise FormatError(f"mask {reasons.shorten(uri)}: {exc}") from exc
    except Refused as exc:
        raise FormatError(f"mask {reasons.shorten(uri)}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise FormatError(
            f"mask {reasons.shorten(uri)}: cannot read: {reasons.describe(exc)}"
        ) from exc
    return mask_from_png_bytes(data, colors, max_pixels=DEFAULT_MAX_IMAGE_PIXELS)


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
    elif task_type.is_multilabel:
        value = _multilabel_value(label, labels)
        del metadata["confidence"]  # Ground Truth has one per class, in `confidence-map`
        by_class = meta.class_confidences or {}
        metadata["class-map"] = {str(c): labels[c] for c in value}
        metadata["confidence-map"] = {
            str(c): round(float(by_class.get(c, meta.confidence)), 6) for c in value
        }
    elif task_type is TaskType.OBJECT_DETECTION:
        if not isinstance(label, Boxes):
            raise FormatError("an object-detection label must be Boxes")
        value = _boxes_value(label, labels)
        confidences = (
            list(meta.box_confidences)
            if meta.box_confidences is not None
            else [float(meta.confidence)] * len(label.boxes)
        )
        if len(confidences) != len(label.boxes):
            raise FormatError("one box confidence per box is needed")
        del metadata["confidence"]  # Ground Truth has one per box, in `objects`
        metadata["objects"] = [{"confidence": round(float(c), 6)} for c in confidences]
        metadata["class-map"] = {
            str(c): labels[c] for c in sorted({int(a["class_id"]) for a in value["annotations"]})
        }
    else:
        if not isinstance(label, str):
            raise FormatError("a segmentation label is encoded by its mask URI")
        value = label
        metadata["internal-color-map"] = _confident_color_map(labels, meta)
    return {label_key(task_type, attr): value, metadata_key(task_type, attr): metadata}


def _multilabel_value(label: object, labels: Sequence[str]) -> list[int]:
    """A multi-label label as Ground Truth writes it: its class ids, ascending."""
    if not isinstance(label, list | tuple | set | frozenset):
        raise FormatError("a multi-label label must be a list of class ids")
    value = sorted({int(c) for c in label})
    outside = [c for c in value if not 0 <= c < len(labels)]
    if outside:
        raise FormatError(f"class id {outside[0]} outside the {len(labels)} labels")
    return value


def _coordinate(value: float) -> int | float:
    """A box coordinate as Ground Truth writes it: an integer, or a float where it has a
    fraction (to a thousandth of a pixel)."""
    rounded = round(float(value), 3)
    return int(rounded) if rounded.is_integer() else rounded


def _boxes_value(label: Boxes, labels: Sequence[str]) -> dict[str, Any]:
    annotations = []
    for c, x, y, w, h in label.boxes.tolist():
        if not 0 <= int(c) < len(labels):
            raise FormatError(f"box class id {int(c)} outside the {len(labels)} labels")
        annotations.append(
            {
                "class_id": int(c),
                "left": _coordinate(x),
                "top": _coordinate(y),
                "width": _coordinate(w),
                "height": _coordinate(h),
            }
        )
    size = {"width": int(label.width), "height": int(label.height), "depth": int(label.depth)}
    return {"image_size": [size], "annotations": annotations}


def _confident_color_map(labels: Sequence[str], meta: LabelMeta) -> dict[str, dict[str, Any]]:
    """The job's colour map with each class's `confidence`, as Ground Truth writes it."""
    by_class = meta.class_confidences or {}
    out: dict[str, dict[str, Any]] = {}
    for key, entry in color_map(labels).items():
        confidence = by_class.get(int(key), meta.confidence)
        out[key] = {**entry, "confidence": round(float(confidence), 6)}
    return out


def encode_failure(
    task_type: TaskType,
    attr: str,
    reason: str,
    *,
    job_name: str,
    creation_date: str | None = None,
) -> dict[str, Any]:
    """Metadata of an object that could not be labeled: no label, a `failure-reason` (one
    line, bounded: labelpilot.engine.reasons)."""
    task_type = TaskType(task_type)
    return {
        metadata_key(task_type, attr): {
            "failure-reason": reasons.clean(reason),
            "creation-date": creation_date or now_iso(),
            "type": TYPE_NAMES[task_type],
            "job-name": f"labeling-job/{job_name}",
        }
    }


def has_label(task_type: TaskType, attr: str, record: Mapping[str, Any]) -> bool:
    return label_key(task_type, attr) in record


def carries_label(task_type: TaskType, attr: str, record: Mapping[str, Any]) -> bool:
    """Whether an input line was labeled before (a chained job's input): it holds both the
    label attribute and its metadata, as Ground Truth's output manifest writes them."""
    return label_key(task_type, attr) in record and metadata_key(task_type, attr) in record


def decode_label(
    task_type: TaskType,
    attr: str,
    record: Mapping[str, Any],
    *,
    base: str | None = None,
    labels: Sequence[str] | None = None,
    roots: DataRoots | None = None,
) -> Label:
    """Reads the label of a record; for segmentation reads the PNG mask (a relative mask URI
    is resolved against folder `base`; with `roots`, only a mask under them is read).

    With `labels`, the record's class names decide its classes (`class-name`, `class-map`,
    the colour map's `class-name`s: a name not among `labels` is an error), and a class id
    the record does not name must index `labels`. A multi-label value is refused: the task
    types are single-label. Raises FormatError, naming the field, when there is no label or
    it is bad."""
    task_type = TaskType(task_type)
    key = label_key(task_type, attr)
    if key not in record:
        raise FormatError(f"record has no {key!r}")
    try:
        return _decode(task_type, key, record, attr, labels, base, roots)
    except labelfields.LabelFieldError as exc:
        raise FormatError(str(exc)) from exc


def _metadata(record: Mapping[str, Any], meta_key: str) -> Mapping[str, Any]:
    """The record's metadata; {} when it has none."""
    if meta_key not in record:
        return {}
    return labelfields.mapping(record[meta_key], meta_key)


def _refuse_multilabel(key: str, value: Any, meta_key: str, meta: Mapping[str, Any]) -> None:
    kind = meta.get("type")
    if isinstance(value, list) or (isinstance(kind, str) and kind.endswith("-multilabel")):
        what = f"{meta_key}.type is {kind!r}" if isinstance(kind, str) else "a list of classes"
        raise FormatError(
            f"{key} is a multi-label value ({what}): this job's task type is single-label"
        )


def _decode(
    task_type: TaskType,
    key: str,
    record: Mapping[str, Any],
    attr: str,
    labels: Sequence[str] | None,
    base: str | None,
    roots: DataRoots | None,
) -> Label:
    value = record[key]
    n_labels = None if labels is None else len(labels)
    meta_key = metadata_key(task_type, attr)
    if task_type.is_multilabel:
        return _decode_multilabel(value, key, _metadata(record, meta_key), meta_key, labels)
    if task_type.is_classification:
        meta = _metadata(record, meta_key)
        _refuse_multilabel(key, value, meta_key, meta)
        if labels is None or "class-name" not in meta:
            return labelfields.class_id(value, key, n_labels)
        labelfields.class_id(value, key, None)
        field = f"{meta_key}.class-name"
        return labelfields.class_of_name(
            labelfields.class_name(meta["class-name"], field), labels, field
        )
    if task_type is TaskType.OBJECT_DETECTION:
        box = labelfields.mapping(value, key)
        if "image_size" not in box:
            raise FormatError(f"{key} has no 'image_size'")
        width, height, depth = labelfields.image_size(box["image_size"], f"{key}.image_size")
        meta = _metadata(record, meta_key)
        named = labels is not None and "class-map" in meta
        field = f"{key}.annotations"
        rows = labelfields.box_rows(box.get("annotations", []), field, None if named else n_labels)
        if named:
            assert labels is not None
            rows[:, 0] = _classes_by_name(rows[:, 0], field, meta, meta_key, labels)
        return Boxes(width, height, depth, rows)
    if not isinstance(value, str) or not value:
        raise FormatError(f"{key} must be the URI of a PNG mask")
    meta = _metadata(record, meta_key)
    if "internal-color-map" not in meta:
        raise FormatError(f"{meta_key} has no internal-color-map")
    field = f"{meta_key}.internal-color-map"
    colors = labelfields.color_map(meta["internal-color-map"], field)
    mask = _read_truth_mask(storage.resolve(value, base), colors, roots)
    if labels is not None:
        mask = _mask_by_name(mask, colors, labels, field)
    top = int(mask.max(initial=0))
    if n_labels is not None and top > n_labels:
        raise FormatError(
            f"{key}: the mask holds class id {top}, outside the {n_labels} "
            f"labels (1 to {n_labels}, 0 the background)"
        )
    return mask


def _classes_by_name(
    ids: np.ndarray, field: str, meta: Mapping[str, Any], meta_key: str, labels: Sequence[str]
) -> np.ndarray:
    """Boxes' class ids as the job's label indices, by the names of the record's class-map."""
    map_field = f"{meta_key}.class-map"
    names = labelfields.class_map(meta["class-map"], map_field)
    return np.asarray(
        [
            labelfields.named_class(int(c), f"{field}[{i}].class_id", names, labels, map_field)
            for i, c in enumerate(ids)
        ],
        dtype=ids.dtype,
    )


def _mask_by_name(
    mask: np.ndarray, colors: Mapping[str, Mapping[str, str]], labels: Sequence[str], field: str
) -> np.ndarray:
    """A mask's ids as the job's (0 the background, c + 1 labels[c]), by the colour map's
    class names; an id whose entry has no name keeps its value. A name not among `labels`
    is an error when the mask has pixels of it."""
    table = np.arange(labelfields.MAX_MASK_CLASSES, dtype=np.int32)
    unknown: dict[int, str] = {}
    for key, entry in colors.items():
        name = entry.get("class-name")
        if name is None:
            continue
        if name == BACKGROUND:
            table[int(key)] = 0
        elif name in labels:
            table[int(key)] = list(labels).index(name) + 1
        else:
            unknown[int(key)] = name
            table[int(key)] = -1
    out = table[mask]
    if unknown:
        present = sorted(k for k in unknown if (mask == k).any())
        if present:
            k = present[0]
            raise FormatError(
                f"{field}[{str(k)!r}].class-name is {unknown[k]!r}, not one of the job's "
                f"{len(labels)} labels, and the mask has pixels of it"
            )
    return out.astype(np.uint8)


def _decode_multilabel(
    value: Any,
    key: str,
    meta: Mapping[str, Any],
    meta_key: str,
    labels: Sequence[str] | None,
) -> list[int]:
    """A multi-label value (`[5, 1]`) as the job's label indices, ascending: with `labels`,
    named by the metadata's class-map when it has one; else each id must index `labels`."""
    kind = meta.get("type")
    if isinstance(kind, str) and not kind.endswith("-multilabel"):
        raise FormatError(
            f"{meta_key}.type is {kind!r}, a single-label type: this job's task type is multi-label"
        )
    if labels is not None and "class-map" in meta:
        map_field = f"{meta_key}.class-map"
        names = labelfields.class_map(meta["class-map"], map_field)
        return sorted(labelfields.multilabel(value, key, names, labels, map_field))
    n_labels = None if labels is None else len(labels)
    items = labelfields.listed(value, key)
    return sorted({labelfields.class_id(c, f"{key}[{i}]", n_labels) for i, c in enumerate(items)})


def decode_metadata(task_type: TaskType, attr: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record.get(metadata_key(task_type, attr)) or {})


class GroundTruthError(FormatError):
    """The ground-truth manifest cannot be read, or holds a bad label for an object; the
    message names the manifest, the object and the field."""


class GroundTruth:
    """A ground-truth manifest keyed by source-ref / source; labels decoded on demand.

    With `labels`, a true label must index them. Masks are read only under `roots`
    (default: the manifest's folder, or its bucket). Only the simulated workforce and the
    evaluator may use it.
    """

    def __init__(
        self,
        uri: str,
        task_type: TaskType,
        attr: str,
        *,
        labels: Sequence[str] | None = None,
        roots: Sequence[str] | None = None,
    ) -> None:
        self.uri = uri
        self.task_type = TaskType(task_type)
        self.attr = attr
        self.labels = None if labels is None else list(labels)
        self.base = storage.parent(uri)
        self.roots = DataRoots(default_roots(uri) if roots is None else roots)
        # The lines as read, each parsed when its label is asked for and not kept: a parsed
        # record takes several times the memory of its line, and the evaluator asks for
        # every labeled object's.
        self._lines: dict[str, str] = {}
        try:
            for obj in iter_manifest(uri):
                if obj.key is not None and obj.line is not None:
                    self._lines[obj.key] = obj.line
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            raise GroundTruthError(
                f"ground-truth manifest {reasons.shorten(uri)}: cannot "
                f"read: {reasons.describe(exc)}"
            ) from exc

    def __len__(self) -> int:
        return len(self._lines)

    def get(self, key: str) -> Label | None:
        """The true label, None when the key has none; raises GroundTruthError when it is
        bad. Parses the key's line once."""
        record = self.record(key)
        return None if record is None else self.decode(key, record)

    def record(self, key: str) -> dict[str, Any] | None:
        """The key's line parsed, None when there is none or it holds no label."""
        line = self._lines.get(key)
        if line is None:
            return None
        record: dict[str, Any] = json.loads(line)
        return record if has_label(self.task_type, self.attr, record) else None

    def decode(self, key: str, record: dict[str, Any]) -> Label:
        """The true label in `record`, the key's line as `record(key)` parsed it; raises
        GroundTruthError when it is bad."""
        try:
            return decode_label(
                self.task_type,
                self.attr,
                record,
                base=self.base,
                labels=self.labels,
                roots=self.roots,
            )
        except FormatError as exc:
            raise GroundTruthError(
                f"ground-truth manifest {reasons.shorten(self.uri)}, object "
                f"{reasons.shorten(key)!r}: {exc}"
            ) from exc
