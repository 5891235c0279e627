"""What people see in Label Studio: LabelPilot's labeling config of a task type and its
labels (when the job gives none of its own), and the instructions.

LabelPilot's control and object names are `label` on `image` or `text`; a job's own config
names its own (labelpilot.api.ui_config.Binding). Masks are drawn as polygons.
"""

from __future__ import annotations

import html
from xml.sax.saxutils import quoteattr

from labelpilot.api.run_config import TaskType
from labelpilot.api.ui_config import IMAGE_FIELD, TEXT_FIELD, Binding

CONTROL = "label"
IMAGE = IMAGE_FIELD
TEXT = TEXT_FIELD


def object_name(task_type: TaskType) -> str:
    return TEXT if TaskType(task_type) is TaskType.TEXT_CLASSIFICATION else IMAGE


def default_binding(task_type: TaskType) -> Binding:
    """Where the answers are in results of LabelPilot's own config."""
    return Binding(CONTROL, object_name(task_type))


def instructions(title: str | None, description: str | None) -> str | None:
    """The project's `expert_instruction` (HTML) for a task title and description given as
    plain text; None when neither is given."""
    if not title and not description:
        return None
    parts = [f"<h3>{html.escape(title)}</h3>"] if title else []
    parts += [
        "<p>" + html.escape(paragraph.strip()).replace("\n", "<br/>") + "</p>"
        for paragraph in (description or "").split("\n\n")
        if paragraph.strip()
    ]
    return "".join(parts)


def result_type(task_type: TaskType) -> str:
    """The `type` of a control's result items in Label Studio's JSON."""
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return "choices"
    if task_type is TaskType.OBJECT_DETECTION:
        return "rectanglelabels"
    return "polygonlabels"


def labeling_config(task_type: TaskType, labels: list[str]) -> str:
    task_type = TaskType(task_type)
    name = object_name(task_type)
    if name == TEXT:
        shown = f'<Text name="{TEXT}" value="${TEXT}"/>'
    else:
        shown = f'<Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>'
    if task_type.is_classification:
        options = "".join(f"<Choice value={quoteattr(label)}/>" for label in labels)
        control = (
            f'<Choices name="{CONTROL}" toName="{name}" choice="single-radio" '
            f'required="true" showInline="true">{options}</Choices>'
        )
    else:
        tag = "RectangleLabels" if task_type is TaskType.OBJECT_DETECTION else "PolygonLabels"
        options = "".join(f"<Label value={quoteattr(label)}/>" for label in labels)
        control = f'<{tag} name="{CONTROL}" toName="{name}">{options}</{tag}>'
    return f"<View>{shown}{control}</View>"
