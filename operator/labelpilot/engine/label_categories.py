"""Ground Truth's label category configuration file (its LabelCategoryConfigS3Uri):
`{"document-version": "2018-11-28", "labels": [{"label": "dog"}, {"label": "cat"}]}`.

The class ids are the labels' positions, as for an inline `labels` list. Other keys Ground
Truth's files may hold (instructions, attributes) are ignored. The file is read like an
object: only under the job's data roots, and at most MAX_BYTES of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from labelpilot.api.data_roots import OutsideDataRoots
from labelpilot.api.run_config import MAX_LABEL_LENGTH, TaskType, label_limit
from labelpilot.engine import reasons
from labelpilot.engine.bounded_read import Refused, read_bounded
from labelpilot.engine.confinement import DataRoots

DOCUMENT_VERSION = "2018-11-28"
MAX_BYTES = 1_000_000


class LabelCategoryError(ValueError):
    """A label category file that cannot be read or is not one; the message names the
    file and the field."""


def parse(data: bytes, source: str, task_type: TaskType) -> list[str]:
    """The labels of a label category file's bytes; `source` names the file in errors."""
    where = reasons.shorten(source)

    def fail(message: str) -> LabelCategoryError:
        return LabelCategoryError(reasons.clean(f"label category file {where}: {message}"))

    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise fail(f"not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise fail(f"not JSON ({error.msg} at line {error.lineno} column {error.colno})") from error
    if not isinstance(document, dict):
        raise fail('must be a JSON object with a "labels" list')
    version = document.get("document-version", DOCUMENT_VERSION)
    if version != DOCUMENT_VERSION:
        raise fail(f"document-version: {str(version)[:40]!r} is not {DOCUMENT_VERSION!r}")
    entries = document.get("labels")
    if not isinstance(entries, list):
        raise fail('labels: must be a list of {"label": NAME} objects')
    limit = label_limit(task_type)
    if not 1 <= len(entries) <= limit:
        raise fail(f"labels: {len(entries)} labels; {task_type} takes 1 to {limit}")
    return _names(entries, fail)


def _names(entries: list[Any], fail: Callable[[str], LabelCategoryError]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        name = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise fail(f'labels[{i}]: must be an object with a string "label"')
        if not name.strip():
            raise fail(f"labels[{i}].label: must not be empty")
        if len(name) > MAX_LABEL_LENGTH:
            raise fail(f"labels[{i}].label: longer than {MAX_LABEL_LENGTH} characters")
        if name in seen:
            raise fail(f"labels[{i}].label: duplicate {reasons.shorten(name, 60)!r}")
        seen.add(name)
        names.append(name)
    return names


def read(uri: str, roots: DataRoots, task_type: TaskType) -> list[str]:
    """The labels of the label category file at `uri`, read under `roots`."""
    where = reasons.shorten(uri)
    try:
        target = roots.confine(uri)
        data = read_bounded(target, MAX_BYTES, "a label category file")
    except OutsideDataRoots as error:
        raise LabelCategoryError(f"label category file {where}: {error}") from error
    except Refused as error:
        raise LabelCategoryError(f"label category file {where}: {error.reason}") from error
    except (OSError, ValueError) as error:
        raise LabelCategoryError(
            f"label category file {where}: cannot read: {reasons.describe(error)}"
        ) from error
    return parse(data, uri, task_type)
