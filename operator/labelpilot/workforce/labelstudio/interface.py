"""What people see in Label Studio: the labeling config of a task type and its labels.

Control and object names are fixed (`label` on `image` or `text`), so results and
predictions can be mapped without parsing the config back. Masks are drawn as polygons.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from labelpilot.api.run_config import TaskType

CONTROL = "label"
IMAGE = "image"
TEXT = "text"


def object_name(task_type: TaskType) -> str:
    return TEXT if TaskType(task_type) is TaskType.TEXT_CLASSIFICATION else IMAGE


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
