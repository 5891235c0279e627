"""Checks of the label fields of a Ground Truth record, as JSON gives them: any value.

Each check returns the field's value in the engine's terms or raises LabelFieldError naming
the field. A class id is an integer (an integral float, or a decimal string, too, as JSON
writers give), never a bool, and with the job's label count within its labels. Where a
record names its classes (`class-name`, `class-map`, the colour map's `class-name`), the
name decides the class: `class_of_name` maps it to the job's label index.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labelpilot.engine import reasons

_HEX = re.compile(r"#?[0-9a-fA-F]{6}")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_MASK_CLASSES = 256  # a mask pixel is one byte
MAX_CLASS_ID = 1 << 24  # when the labels are not known: ids a float32 holds exactly


class LabelFieldError(ValueError):
    """A label field that does not hold what its task type needs."""


def _show(value: Any) -> str:
    return reasons.shorten(repr(value), 80)


def integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelFieldError(f"{field} must be an integer, got {_show(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise LabelFieldError(f"{field} must be an integer, got {_show(value)}")
    return int(value)


def _decimal(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.isdecimal()


def class_id(value: Any, field: str, n_labels: int | None) -> int:
    """A class id: >= 0, and below `n_labels` when the labels are known. A decimal string
    ("3") is read as its number."""
    cid = int(value) if _decimal(value) else integer(value, field)
    if n_labels is not None and not 0 <= cid < n_labels:
        raise LabelFieldError(
            f"{field} is class id {_show(cid)}, outside the {n_labels} labels (0 to {n_labels - 1})"
        )
    if not 0 <= cid < MAX_CLASS_ID:
        raise LabelFieldError(
            f"{field} is class id {_show(cid)}; class ids are 0 to {MAX_CLASS_ID - 1}"
        )
    return cid


def class_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise LabelFieldError(f"{field} must be a non-empty string, got {_show(value)}")
    return value


def class_of_name(name: str, labels: Sequence[str], field: str) -> int:
    """The job's label index of class `name` (read from `field`)."""
    try:
        return list(labels).index(name)
    except ValueError:
        raise LabelFieldError(
            f"{field} is {_show(name)}, not one of the job's {len(labels)} labels"
        ) from None


def class_map(value: Any, field: str) -> dict[int, str]:
    """A `class-map`: class ids (decimal strings) to class names."""
    out: dict[int, str] = {}
    for key, name in mapping(value, field).items():
        out[class_id(key, f"{field} key {_show(key)}", None)] = class_name(
            name, f"{field}[{key!r}]"
        )
    return out


def named_class(
    cid: int, field: str, names: Mapping[int, str], labels: Sequence[str], map_field: str
) -> int:
    """The job's label index of class id `cid` (read from `field`), by its name in the
    record's class map `names` (read from `map_field`)."""
    if cid not in names:
        raise LabelFieldError(f"{field} is class id {cid}, which {map_field} does not name")
    return class_of_name(names[cid], labels, f"{map_field}[{str(cid)!r}]")


def multilabel(
    value: Any, field: str, names: Mapping[int, str], labels: Sequence[str], map_field: str
) -> set[int]:
    """A multi-label value (a list of class ids, each named by the record's class map
    `names`, read from `map_field`) as a set of the job's label indices."""
    return {
        named_class(
            class_id(item, f"{field}[{i}]", None), f"{field}[{i}]", names, labels, map_field
        )
        for i, item in enumerate(listed(value, field))
    }


def number(value: Any, field: str) -> float:
    """A finite number that fits a float32."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelFieldError(f"{field} must be a number, got {_show(value)}")
    if isinstance(value, int) and abs(value) > _FLOAT32_MAX:
        raise LabelFieldError(f"{field} is out of range")
    if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
        raise LabelFieldError(f"{field} must be a finite number, got {_show(value)}")
    return float(value)


def mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LabelFieldError(f"{field} must be a JSON object, got {_show(value)}")
    return value


def listed(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise LabelFieldError(f"{field} must be a JSON list, got {_show(value)}")
    return value


def image_size(value: Any, field: str) -> tuple[int, int, int]:
    """(width, height, depth) of `image_size[0]`: positive integers, depth 3 by default."""
    sizes = listed(value, field)
    if not sizes:
        raise LabelFieldError(f"{field} is empty")
    size = mapping(sizes[0], f"{field}[0]")
    out = []
    for name, default in (("width", None), ("height", None), ("depth", 3)):
        if name not in size and default is not None:
            out.append(default)
            continue
        if name not in size:
            raise LabelFieldError(f"{field}[0] has no {name!r}")
        n = integer(size[name], f"{field}[0].{name}")
        if n < 1:
            raise LabelFieldError(f"{field}[0].{name} must be positive, got {n}")
        out.append(n)
    return out[0], out[1], out[2]


def box_rows(value: Any, field: str, n_labels: int | None) -> np.ndarray:
    """(k, 5) float32 [class_id, left, top, width, height] of the `annotations` list."""
    rows = []
    for i, item in enumerate(listed(value, field)):
        box = mapping(item, f"{field}[{i}]")
        for name in ("class_id", "left", "top", "width", "height"):
            if name not in box:
                raise LabelFieldError(f"{field}[{i}] has no {name!r}")
        row = [float(class_id(box["class_id"], f"{field}[{i}].class_id", n_labels))]
        row += [
            number(box[name], f"{field}[{i}].{name}") for name in ("left", "top", "width", "height")
        ]
        if row[3] < 0 or row[4] < 0:
            raise LabelFieldError(f"{field}[{i}] has a negative width or height")
        rows.append(row)
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


def color_map(value: Any, field: str) -> dict[str, dict[str, str]]:
    """An `internal-color-map`: class ids "0".."255" to entries with a `#rrggbb` colour,
    and the `class-name` when the entry has one."""
    colors = mapping(value, field)
    out: dict[str, dict[str, str]] = {}
    for key, entry in colors.items():
        if not (
            isinstance(key, str)
            and key.isdecimal()
            and key.isascii()
            and int(key) < MAX_MASK_CLASSES
        ):
            raise LabelFieldError(
                f"{field} key {_show(key)} must be a class id 0 to {MAX_MASK_CLASSES - 1}"
            )
        item = mapping(entry, f"{field}[{key!r}]")
        color = item.get("hex-color")
        if not (isinstance(color, str) and _HEX.fullmatch(color)):
            raise LabelFieldError(f"{field}[{key!r}].hex-color must be #rrggbb, got {_show(color)}")
        out[str(int(key))] = {"hex-color": color}
        if "class-name" in item:
            out[str(int(key))]["class-name"] = class_name(
                item["class-name"], f"{field}[{key!r}].class-name"
            )
    return out
