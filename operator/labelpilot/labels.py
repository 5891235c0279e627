"""Labels as the workspace stores them (JSON), and the per-object label state of a job.

A label row is `{"index", "label", "confidence", "iteration", "source", "created"}` or
`{"index", "failure", ...}`; `label` is a class id (classification), `{"width", "height",
"depth", "boxes": [[class, left, top, width, height], ...], "boxConfidences": [...]}`
(boxes) or `{"mask": URI}` (masks). The state of a job is never stored: it is derived from
the files each step writes atomically (human responses and machine labels per iteration),
so a crashed step rerun later can neither duplicate nor lose a label. The first label an
object gets wins; failures are final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelpilot import formats, storage
from labelpilot.config import TaskType
from labelpilot.formats import Boxes
from labelpilot.workspace import Workspace

HUMAN = "human"
MACHINE = "machine"


def label_to_json(task_type: TaskType, label: Any, *, mask_uri: str | None = None,
                  box_confidences: list[float] | None = None) -> Any:
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return int(label)
    if task_type is TaskType.OBJECT_DETECTION:
        out: dict[str, Any] = {
            "width": int(label.width), "height": int(label.height), "depth": int(label.depth),
            "boxes": [[round(float(v), 3) for v in row] for row in label.boxes.tolist()],
        }
        if box_confidences is not None:
            out["boxConfidences"] = [round(float(c), 6) for c in box_confidences]
        return out
    if mask_uri is None:
        raise ValueError("a mask label is stored by the URI of its PNG")
    return {"mask": mask_uri}


def label_from_json(task_type: TaskType, value: Any, labels: list[str]) -> Any:
    """The in-memory label (int, Boxes, HxW uint8 mask)."""
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return int(value)
    if task_type is TaskType.OBJECT_DETECTION:
        return Boxes(value["width"], value["height"], value["depth"],
                     np.asarray(value["boxes"], dtype=np.float32).reshape(-1, 5))
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

    @property
    def human(self) -> dict[int, dict[str, Any]]:
        return {i: r for i, r in self.labeled.items() if r["source"] == HUMAN}

    @property
    def machine(self) -> dict[int, dict[str, Any]]:
        return {i: r for i, r in self.labeled.items() if r["source"] == MACHINE}

    def unlabeled(self) -> list[int]:
        return [i for i in range(self.total) if i not in self.failed and i not in self.labeled]

    def training_indices(self) -> list[int]:
        return sorted(i for i in self.human if i not in self.validation)

    def validation_indices(self) -> list[int]:
        return sorted(i for i in self.human if i in self.validation)

    def counters(self) -> dict[str, int]:
        human = sum(1 for r in self.labeled.values() if r["source"] == HUMAN)
        machine = len(self.labeled) - human
        return {
            "totalLabeled": human + machine, "humanLabeled": human, "machineLabeled": machine,
            "failedNonRetryableError": len(self.failed),
            "unlabeled": self.total - len(self.failed) - human - machine,
        }

    def _add(self, row: dict[str, Any]) -> None:
        index = int(row["index"])
        if index in self.failed or index in self.labeled:
            return
        if "failure" in row:
            self.failed[index] = row["failure"]
            if "created" in row:
                self.failed_created[index] = row["created"]
        else:
            self.labeled[index] = row

    @classmethod
    def load(cls, ws: Workspace, *, human_upto: int | None = None,
             machine_upto: int | None = None) -> LabelState:
        """The state after human steps <= human_upto and threshold steps <= machine_upto
        (None: all that completed). Requires a completed `prepare`."""
        plan = storage.read_json(ws.prepare_plan)
        state = cls(total=int(plan["objects"]), validation=set(plan["validation"]))
        for index, reason in plan["failed"].items():
            state.failed[int(index)] = reason
            if "created" in plan:
                state.failed_created[int(index)] = plan["created"]
        iterations = ws.iterations()
        for i in iterations:
            if (human_upto is None or i <= human_upto) and storage.exists(ws.human_response(i)):
                rows = storage.read_jsonl(ws.human_response(i))
                state.human_sent += len(rows)
                for row in rows:
                    state._add(row)
            if (machine_upto is None or i <= machine_upto) and storage.exists(ws.thresholds(i)):
                for row in storage.read_jsonl(ws.machine_labels(i)):
                    state._add(row)
        return state
