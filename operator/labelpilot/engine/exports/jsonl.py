"""Hugging Face `datasets` JSON Lines, for classification: `data.jsonl` holds one
`{"image": source-ref, "label": class id}` or `{"text": ..., "label": class id}` a line,
which `datasets.load_dataset("json", data_files=...)` reads; `features.json` is the
`datasets.Features` of those columns (`label` a ClassLabel naming the job's labels), for
`Features.from_dict`. A multi-label job's line has `"labels"`: the names of its classes
(in label order, possibly none), a Sequence of that ClassLabel (which casts names to ids)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from labelpilot.api.run_config import DEFAULT_MAX_TEXT_BYTES, TaskType
from labelpilot.engine import reasons, storage
from labelpilot.engine.bounded_read import Refused, read_bounded
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.exports.common import INVALID, Item, Left

DATA = "data.jsonl"
FEATURES = "features.json"


def column(task_type: TaskType) -> str:
    return "text" if task_type.is_text else "image"


def label_column(task_type: TaskType) -> str:
    return "labels" if task_type.is_multilabel else "label"


def features(task_type: TaskType, labels: Sequence[str]) -> dict[str, Any]:
    """The columns as `datasets.Features.to_dict` writes them."""
    classes: dict[str, Any] = {"names": list(labels), "_type": "ClassLabel"}
    if task_type.is_multilabel:
        classes = {"feature": classes, "length": -1, "_type": "Sequence"}
    return {
        column(task_type): {"dtype": "string", "_type": "Value"},
        label_column(task_type): classes,
    }


def label_value(task_type: TaskType, label: Any, labels: Sequence[str]) -> int | list[str]:
    """A row's label: the class id, or the names of a multi-label object's classes."""
    if task_type.is_multilabel:
        return [labels[c] for c in sorted({int(c) for c in label})]
    assert isinstance(label, int)
    return label


@dataclass(frozen=True)
class TextFiles:
    """Where the texts named by a source-ref are read: a relative ref under folder `base`,
    only under `roots` when given, at most `limit` bytes."""

    base: str
    roots: DataRoots | None = None
    limit: int = DEFAULT_MAX_TEXT_BYTES

    def read(self, ref: str) -> str:
        uri = storage.resolve(ref, self.base)
        target = uri if self.roots is None else self.roots.confine(uri)
        return read_bounded(target, self.limit, "a text").decode("utf-8")


def rows(
    items: Iterable[Item],
    task_type: TaskType,
    labels: Sequence[str],
    texts: TextFiles,
    left: list[Left],
) -> Iterator[dict[str, Any]]:
    """The data set's rows; a text that cannot be read goes to `left`."""
    name = column(task_type)
    for item in items:
        if task_type.is_text and item.source is None:
            try:
                value = texts.read(str(item.ref))
            except (OSError, ValueError, Refused) as error:
                detail = f"its text cannot be read: {reasons.describe(error)}"
                left.append(Left(item.index, item.ref, INVALID, detail))
                continue
        elif task_type.is_text:
            value = str(item.source)
        else:
            value = str(item.ref)
        yield {name: value, label_column(task_type): label_value(task_type, item.label, labels)}


def write(
    out: str,
    items: Iterable[Item],
    task_type: TaskType,
    labels: Sequence[str],
    texts: TextFiles,
    left: list[Left],
) -> list[str]:
    """Writes `out`/data.jsonl and `out`/features.json; returns the files written."""
    data = storage.join(out, DATA)
    storage.write_jsonl(data, rows(items, task_type, labels, texts, left))
    spec = storage.join(out, FEATURES)
    storage.write_json(spec, features(task_type, labels), indent=2)
    return [data, spec]
