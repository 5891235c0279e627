"""Labels as the workspace stores them (JSON), and the per-object label state of a job.

A label row is `{"index", "object", "label", "confidence", "iteration", "source",
"created"}` or `{"index", "object", "failure", ...}`; `label` is a class id
(classification), the ascending list of class ids (multi-label), `{"width", "height",
"depth", "boxes": [[class, left, top, width, height], ...], "boxConfidences": [...]}`
(boxes) or `{"mask": URI, "classConfidences": {mask id: confidence}}` (masks; the model's,
when it gave them); a multi-label machine row also has `"classConfidences": {class id:
probability}` for the classes of its label. `created` is when that
object's label was decided (formats.now_iso, UTC): people's answer, or the threshold step
accepting the model's label; the output manifest's `creation-date`. `index` is the
object's line in the input manifest and `object` its identity (`object_id`): a row read
back with the objects at hand must name the object at its index, or the step fails
(ObjectMismatch) instead of putting the label on another object. The state of a job is
never stored: it is derived from the files each step writes atomically (human responses
and machine labels per iteration), so a crashed step rerun later can neither duplicate nor
lose a label. The first label an object gets wins; failures are final.

A chained job's pre-labeled objects (their input line already carries the label attribute)
are none of these: never unlabeled, never labeled by this job (`preLabeled` in the
counters). Their labels become rows (source `pre`) only when the job trusts them as
training data (RunConfig.existing_labels).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.api.status import LabelCounters
from labelpilot.engine import formats, storage
from labelpilot.engine.formats import Boxes, DataObject
from labelpilot.engine.workspace import Workspace

HUMAN = "human"
MACHINE = "machine"
PRE = "pre"  # a label the input manifest carried, trusted as training data
# Row values that every row repeats: kept once in memory, not once per row.
SHARED_VALUES = ("source",)


class ObjectMismatch(ValueError):
    """A stored label row names another object than the input manifest holds at its index."""


def object_id(obj: DataObject) -> str:
    """A short digest of what the object is: its source-ref, else its inline source, else
    its whole record."""
    if obj.source_ref is not None:
        what = f"source-ref\n{obj.source_ref}"
    elif obj.source is not None:
        what = f"source\n{obj.source}"
    else:
        what = f"record\n{storage.dumps(obj.record)}"
    return hashlib.sha256(what.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def check_row(row: Mapping[str, Any], objects: Mapping[int, DataObject], uri: str) -> None:
    """Raises ObjectMismatch unless `row` (read from `uri`) names the object at its index."""
    index = int(row["index"])
    obj = objects.get(index)
    if obj is None:
        raise ObjectMismatch(
            f"{uri}: a label row is for index {index}, but the input "
            f"manifest holds only {len(objects)} objects"
        )
    expected = object_id(obj)
    recorded = row.get("object")
    if recorded is None:
        raise ObjectMismatch(
            f"{uri}: the label row at index {index} does not record which "
            "object it labels (written by an older LabelPilot)"
        )
    if recorded != expected:
        ref = f" ({obj.source_ref[:200]!r})" if obj.source_ref is not None else ""
        raise ObjectMismatch(
            f"{uri}: the label row at index {index} was recorded for object {recorded}, but "
            f"the object at index {index} of the input manifest is {expected}{ref}: the "
            "label is not moved onto another object"
        )


def label_to_json(
    task_type: TaskType,
    label: Any,
    *,
    mask_uri: str | None = None,
    box_confidences: list[float] | None = None,
    class_confidences: Mapping[int, float] | None = None,
) -> Any:
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return int(label)
    if task_type.is_multilabel:
        return sorted({int(c) for c in label})
    if task_type is TaskType.OBJECT_DETECTION:
        out: dict[str, Any] = {
            "width": int(label.width),
            "height": int(label.height),
            "depth": int(label.depth),
            "boxes": [[round(float(v), 3) for v in row] for row in label.boxes.tolist()],
        }
        if box_confidences is not None:
            out["boxConfidences"] = [round(float(c), 6) for c in box_confidences]
        return out
    if mask_uri is None:
        raise ValueError("a mask label is stored by the URI of its PNG")
    mask: dict[str, Any] = {"mask": mask_uri}
    if class_confidences:
        mask["classConfidences"] = {
            str(k): round(float(v), 6) for k, v in sorted(class_confidences.items())
        }
    return mask


def class_confidences_of(value: Any) -> dict[int, float] | None:
    """A stored mask label's confidences by mask id, or a multi-label machine row's by
    class id, when it has them."""
    stored = value.get("classConfidences") if isinstance(value, dict) else None
    return None if stored is None else {int(k): float(v) for k, v in stored.items()}


def label_from_json(task_type: TaskType, value: Any, labels: list[str]) -> Any:
    """The in-memory label (int, list of ints, Boxes, HxW uint8 mask)."""
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return int(value)
    if task_type.is_multilabel:
        return sorted(int(c) for c in value)
    if task_type is TaskType.OBJECT_DETECTION:
        return Boxes(
            value["width"],
            value["height"],
            value["depth"],
            np.asarray(value["boxes"], dtype=np.float32).reshape(-1, 5),
        )
    return formats.read_mask_png(value["mask"], formats.color_map(labels))


@dataclass
class LabelState:
    """Per object: failure reason, or a label row; plus the split made by `prepare`."""

    total: int
    validation: set[int]
    failed: dict[int, str] = field(default_factory=dict)
    labeled: dict[int, dict[str, Any]] = field(default_factory=dict)
    human_sent: int = 0  # objects sent to humans, failed ones included
    failed_created: dict[int, str] = field(default_factory=dict)
    pre_labeled: set[int] = field(default_factory=set)
    trusted: dict[int, dict[str, Any]] = field(default_factory=dict)  # PRE rows

    @property
    def human(self) -> dict[int, dict[str, Any]]:
        return {i: r for i, r in self.labeled.items() if r["source"] == HUMAN}

    @property
    def machine(self) -> dict[int, dict[str, Any]]:
        return {i: r for i, r in self.labeled.items() if r["source"] == MACHINE}

    @property
    def size(self) -> int:
        """The objects this job labels: all but the pre-labeled ones (MaxPercentageLabeled
        is a share of these)."""
        return self.total - len(self.pre_labeled)

    def unlabeled(self) -> list[int]:
        return [
            i
            for i in range(self.total)
            if i not in self.failed and i not in self.labeled and i not in self.pre_labeled
        ]

    def training_indices(self, held_out: set[int] | None = None) -> list[int]:
        """Human labels outside `held_out` (None: the validation set), and the trusted
        existing labels."""
        held_out = self.validation if held_out is None else held_out
        human = (i for i in self.human if i not in held_out)
        return sorted({*human, *self.trusted})

    def machine_training_indices(self, held_out: set[int] | None = None) -> list[int]:
        """Machine labels outside `held_out` (None: the validation set): the pseudo-labels
        a model may train on (labelpilot.engine.pseudo_labels)."""
        held_out = self.validation if held_out is None else held_out
        return sorted(i for i in self.machine if i not in held_out)

    def training_row(self, index: int) -> dict[str, Any]:
        return self.labeled[index] if index in self.labeled else self.trusted[index]

    def validation_indices(self) -> list[int]:
        return sorted(i for i in self.human if i in self.validation)

    def counters(self) -> LabelCounters:
        human = sum(1 for r in self.labeled.values() if r["source"] == HUMAN)
        machine = len(self.labeled) - human
        return LabelCounters(
            total_labeled=human + machine,
            human_labeled=human,
            machine_labeled=machine,
            failed_non_retryable_error=len(self.failed),
            unlabeled=self.total - len(self.failed) - human - machine - len(self.pre_labeled),
            pre_labeled=len(self.pre_labeled),
        )

    def with_rows(self, rows: list[dict[str, Any]]) -> LabelState:
        """The state once `rows` are added too (this one stays as it is)."""
        after = LabelState(
            total=self.total,
            validation=set(self.validation),
            failed=dict(self.failed),
            labeled=dict(self.labeled),
            human_sent=self.human_sent,
            failed_created=dict(self.failed_created),
            pre_labeled=set(self.pre_labeled),
            trusted=dict(self.trusted),
        )
        for row in rows:
            after._add(row)
        return after

    def _add(self, row: dict[str, Any]) -> None:
        index = int(row["index"])
        if index in self.failed or index in self.labeled or index in self.pre_labeled:
            return
        if "failure" in row:
            self.failed[index] = row["failure"]
            if "created" in row:
                self.failed_created[index] = row["created"]
        else:
            self.labeled[index] = row

    @classmethod
    def load(
        cls,
        ws: Workspace,
        *,
        human_upto: int | None = None,
        machine_upto: int | None = None,
        objects: Sequence[DataObject] | None = None,
    ) -> LabelState:
        """The state after human steps <= human_upto and threshold steps <= machine_upto
        (None: all that completed). Requires a completed `prepare`. With the input
        manifest's `objects`, every row read must name the object at its index
        (ObjectMismatch otherwise)."""
        plan = storage.read_json(ws.prepare_plan)
        state = cls(total=int(plan["objects"]), validation=set(plan["validation"]))
        for index, reason in plan["failed"].items():
            state.failed[int(index)] = reason
            if "created" in plan:
                state.failed_created[int(index)] = plan["created"]
        by_index = None if objects is None else {o.index: o for o in objects}

        def read(uri: str) -> list[dict[str, Any]]:
            rows = storage.read_jsonl(uri)
            for row in rows:
                if by_index is not None:
                    check_row(row, by_index, uri)
                for key in SHARED_VALUES:
                    if isinstance(row.get(key), str):
                        row[key] = sys.intern(row[key])
            return rows

        state.pre_labeled = {int(i) for i in plan.get("preLabeled", [])}
        if plan.get("preLabelsTrusted") and storage.exists(ws.pre_labels):
            state.trusted = {int(row["index"]): row for row in read(ws.pre_labels)}

        for i in ws.iterations():
            if (human_upto is None or i <= human_upto) and storage.exists(ws.human_response(i)):
                rows = read(ws.human_response(i))
                state.human_sent += len(rows)
                for row in rows:
                    state._add(row)
            if (machine_upto is None or i <= machine_upto) and storage.exists(ws.thresholds(i)):
                for row in read(ws.machine_labels(i)):
                    state._add(row)
        return state
