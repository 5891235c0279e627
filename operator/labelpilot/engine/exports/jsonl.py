"""Hugging Face `datasets` JSON Lines, for classification: `data.jsonl` holds one
`{"image": source-ref, "label": class id}` or `{"text": ..., "label": class id}` a line,
which `datasets.load_dataset("json", data_files=...)` reads; `features.json` is the
`datasets.Features` of those columns (`label` a ClassLabel naming the job's labels), for
`Features.from_dict`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from labelpilot.api.run_config import TaskType
from labelpilot.engine import reasons, storage
from labelpilot.engine.exports.common import INVALID, Item, Left

DATA = "data.jsonl"
FEATURES = "features.json"


def column(task_type: TaskType) -> str:
    return "text" if task_type is TaskType.TEXT_CLASSIFICATION else "image"


def features(task_type: TaskType, labels: Sequence[str]) -> dict[str, Any]:
    """The columns as `datasets.Features.to_dict` writes them."""
    return {
        column(task_type): {"dtype": "string", "_type": "Value"},
        "label": {"names": list(labels), "_type": "ClassLabel"},
    }


def _text(item: Item) -> str:
    """The object's text: inline, else the UTF-8 file its source-ref names."""
    if item.source is not None:
        return item.source
    return storage.read_bytes(str(item.ref)).decode("utf-8")


def rows(items: Iterable[Item], task_type: TaskType, left: list[Left]) -> Iterator[dict[str, Any]]:
    """The data set's rows; a text that cannot be read goes to `left`."""
    name = column(task_type)
    for item in items:
        assert isinstance(item.label, int)
        if task_type is TaskType.TEXT_CLASSIFICATION:
            try:
                value = _text(item)
            except (OSError, UnicodeDecodeError) as error:
                detail = f"its text cannot be read: {reasons.describe(error)}"
                left.append(Left(item.index, item.ref, INVALID, detail))
                continue
        else:
            value = str(item.ref)
        yield {name: value, "label": item.label}


def write(
    out: str, items: Iterable[Item], task_type: TaskType, labels: Sequence[str], left: list[Left]
) -> list[str]:
    """Writes `out`/data.jsonl and `out`/features.json; returns the files written."""
    data = storage.join(out, DATA)
    storage.write_jsonl(data, rows(items, task_type, left))
    spec = storage.join(out, FEATURES)
    storage.write_json(spec, features(task_type, labels), indent=2)
    return [data, spec]
