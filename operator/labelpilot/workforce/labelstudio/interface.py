"""What people see in Label Studio: LabelPilot's labeling config of a task type and its
labels (when the job gives none of its own), and the instructions.

LabelPilot's control and object names are `label` on `image` or `text`; a job's own config
names its own (labelpilot.api.ui_config.Binding). Masks are drawn as polygons. A
multi-label task's Choices take several classes or none (an empty answer: no class applies).
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
    return TEXT if TaskType(task_type).is_text else IMAGE


def answers_by_choices(task_type: TaskType) -> bool:
    """Whether people answer by choosing classes (single- or multi-label)."""
    task_type = TaskType(task_type)
    return task_type.is_classification or task_type.is_multilabel


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
    if answers_by_choices(task_type):
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
    if answers_by_choices(task_type):
        options = "".join(f"<Choice value={quoteattr(label)}/>" for label in labels)
        how = (
            'choice="multiple"'
            if task_type.is_multilabel
            else 'choice="single-radio" required="true"'
        )
        control = (
            f'<Choices name="{CONTROL}" toName="{name}" {how} showInline="true">{options}</Choices>'
        )
    else:
        tag = "RectangleLabels" if task_type is TaskType.OBJECT_DETECTION else "PolygonLabels"
        options = "".join(f"<Label value={quoteattr(label)}/>" for label in labels)
        control = f'<{tag} name="{CONTROL}" toName="{name}">{options}</{tag}>'
    return f"<View>{shown}{control}</View>"
