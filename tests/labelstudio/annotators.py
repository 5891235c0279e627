"""People, scripted: they read tasks and submit annotations through Label Studio's HTTP API
as its UI does (POST /api/tasks/<id>/annotations/ with the result, lead time and whether
the task was skipped). Results are built here from the ground truth, independently of
LabelPilot's own conversion code."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import GroundTruth
from tests.labelstudio.server import LabelStudio

TO = {TaskType.TEXT_CLASSIFICATION: "text"}


def tasks(ls: LabelStudio, project: int) -> list[dict[str, Any]]:
    body = ls.call(
        "GET", "/api/tasks", params={"project": project, "page_size": 1000, "fields": "all"}
    )
    return list(body["tasks"])  # type: ignore[index]


def project_by_title(ls: LabelStudio, title: str) -> dict[str, Any]:
    body = ls.call("GET", "/api/projects/", params={"page_size": 1000})
    found = [p for p in body["results"] if p["title"] == title]  # type: ignore[index]
    assert len(found) == 1, f"{len(found)} projects titled {title}"
    return found[0]


def create_user(ls: LabelStudio, name: str) -> int:
    body = ls.call(
        "POST",
        "/api/users/",
        json={"email": f"{name}@labelpilot.test", "username": name, "password": "annotator-pw-1"},
    )
    return int(body["id"])  # type: ignore[index]


def submit(
    ls: LabelStudio,
    task_id: int,
    result: list[dict[str, Any]],
    *,
    user: int | None = None,
    lead_time: float = 4.0,
    cancelled: bool = False,
) -> None:
    body: dict[str, Any] = {"result": result, "lead_time": lead_time, "was_cancelled": cancelled}
    if user is not None:
        body["completed_by"] = user
    ls.call("POST", f"/api/tasks/{task_id}/annotations/", json=body)


def truth_result(task_type: TaskType, truth: Any, labels: list[str]) -> list[dict[str, Any]]:
    """What a careful person draws: the right class; the true boxes; a polygon around each
    class's pixels (its bounding rectangle)."""
    to = TO.get(task_type, "image")
    if task_type.is_classification:
        return [
            {
                "from_name": "label",
                "to_name": to,
                "type": "choices",
                "value": {"choices": [labels[int(truth)]]},
            }
        ]
    if task_type is TaskType.OBJECT_DETECTION:
        w, h = truth.width, truth.height
        return [
            {
                "from_name": "label",
                "to_name": to,
                "type": "rectanglelabels",
                "original_width": w,
                "original_height": h,
                "value": {
                    "x": 100 * float(b[1]) / w,
                    "y": 100 * float(b[2]) / h,
                    "width": 100 * float(b[3]) / w,
                    "height": 100 * float(b[4]) / h,
                    "rotation": 0,
                    "rectanglelabels": [labels[int(b[0])]],
                },
            }
            for b in truth.boxes
        ]
    h, w = truth.shape
    out = []
    for cls, (x0, y0, x1, y1) in class_rectangles(truth):
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        out.append(
            {
                "from_name": "label",
                "to_name": to,
                "type": "polygonlabels",
                "original_width": w,
                "original_height": h,
                "value": {
                    "points": [[100 * x / w, 100 * y / h] for x, y in corners],
                    "closed": True,
                    "polygonlabels": [labels[cls - 1]],
                },
            }
        )
    return out


def class_rectangles(mask: np.ndarray) -> list[tuple[int, tuple[int, int, int, int]]]:
    """Per class present, its pixels' bounding rectangle in pixel-corner coordinates."""
    out = []
    for cls in sorted(set(np.unique(mask).tolist()) - {0}):
        ys, xs = np.nonzero(mask == cls)
        out.append((int(cls), (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)))
    return out


def painted(mask: np.ndarray) -> np.ndarray:
    """The mask that `truth_result`'s rectangles paint, later classes over earlier ones."""
    out = np.zeros_like(mask)
    for cls, (x0, y0, x1, y1) in class_rectangles(mask):
        out[y0:y1, x0:x1] = cls
    return out


def truth_of(truth: GroundTruth, key: str) -> Any:
    return truth.get(key)
