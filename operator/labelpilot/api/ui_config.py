"""A Label Studio labeling config (XML) as the interface of a job's human tasks, and
whether it can take the job's tasks.

A config fits a job when it has exactly one control of the tag the task type's answers
are read from (Choices for classification, RectangleLabels for boxes, PolygonLabels for
masks) on an object tag showing the data field LabelPilot sends (`$image` or `$text`),
listing exactly the job's labels (by `alias`, else `value`: what Label Studio writes into
results). Choices take several classes (choice="multiple") for a multi-label task, and
only then. Its other tags (headers, extra controls) are the user's: their answers are not
read. The names of the control and the object are taken from the config (`Binding`).

Parsing refuses a DOCTYPE, so no entity can be declared, expanded or fetched, and configs
over MAX_CHARS characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree
from xml.parsers import expat

from labelpilot.api.run_config import TaskType

# The longest config a job may give (and a project's LabelPilot reads).
MAX_CHARS = 65536
# The task data fields LabelPilot sends: an image's URL, or the text.
IMAGE_FIELD = "image"
TEXT_FIELD = "text"
# What a message lists of a long label list.
_SHOWN = 5


class UiConfigError(ValueError):
    """A labeling config that cannot be read, or that cannot take the job's tasks."""


@dataclass(frozen=True)
class Needs:
    """What a task type's config must hold."""

    control: str  # the control tag whose results LabelPilot reads
    option: str  # the tag of that control's labels
    shown: str  # the object tag
    field: str  # the task data field the object shows


@dataclass(frozen=True)
class Binding:
    """Where a config's answers are: `from_name` and `to_name` of the result items."""

    control: str
    object: str


def needs(task_type: TaskType) -> Needs:
    task_type = TaskType(task_type)
    if task_type.is_text:
        return Needs("Choices", "Choice", "Text", TEXT_FIELD)
    if task_type.is_classification or task_type.is_multilabel:
        return Needs("Choices", "Choice", "Image", IMAGE_FIELD)
    if task_type is TaskType.OBJECT_DETECTION:
        return Needs("RectangleLabels", "Label", "Image", IMAGE_FIELD)
    return Needs("PolygonLabels", "Label", "Image", IMAGE_FIELD)


def _refuse_doctype(config: str) -> None:
    def refuse(*_: object) -> None:
        raise UiConfigError("a DOCTYPE or entity declaration is not allowed")

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = refuse
    scanner.EntityDeclHandler = refuse
    scanner.Parse(config.encode(), True)


def parse(config: str) -> ElementTree.Element:
    """The config's root `<View>`; raises UiConfigError for anything else."""
    if len(config) > MAX_CHARS:
        raise UiConfigError(f"it is {len(config)} characters long, at most {MAX_CHARS} are read")
    try:
        _refuse_doctype(config)
        root = ElementTree.fromstring(config)
    except (expat.ExpatError, ElementTree.ParseError) as exc:
        raise UiConfigError(f"it is not well-formed XML ({exc})") from exc
    if root.tag != "View":
        raise UiConfigError(f"its root tag is <{root.tag}>, a labeling config's is <View>")
    return root


def _described(element: ElementTree.Element) -> str:
    attributes = "".join(
        f' {k}="{element.get(k)}"' for k in ("name", "value", "toName") if element.get(k)
    )
    return f"<{element.tag}{attributes}>"


def _listed(names: list[str] | set[str]) -> str:
    names = sorted(names) if isinstance(names, set) else names
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(repr(n) for n in names[:_SHOWN]) + more


def _choice_problem(control: ElementTree.Element, task_type: TaskType) -> str | None:
    """Why a Choices control takes too many or too few classes for the task, or None."""
    several = control.get("choice") == "multiple"
    if task_type.is_classification and several:
        return 'lets a person choose several classes; the job takes one (drop choice="multiple")'
    if task_type.is_multilabel and not several:
        return 'lets a person choose one class; the job takes several (add choice="multiple")'
    return None


def _labels_problem(
    control: ElementTree.Element, want: Needs, task_type: TaskType, labels: list[str]
) -> str | None:
    """Why `control` does not list exactly the job's labels (or takes several), or None."""
    named = _described(control)
    if (control.get("value") or "").startswith("$"):
        return f"{named} takes its options from the task data; list the job's labels instead"
    problem = _choice_problem(control, TaskType(task_type))
    if problem:
        return f"{named} {problem}"
    given = [str(o.get("alias") or o.get("value") or "") for o in control.iter(want.option)]
    twice = {name for name in given if given.count(name) > 1}
    if twice:
        return f"{named} lists {_listed(twice)} more than once"
    missing, extra = set(labels) - set(given), set(given) - set(labels)
    parts = []
    if missing:
        parts.append(f"lacks the job's labels {_listed(missing)}")
    if extra:
        parts.append(f"lists {_listed(extra)}, which are not the job's labels")
    return f"{named} " + " and ".join(parts) if parts else None


def bind(config: str, task_type: TaskType, labels: list[str]) -> Binding:
    """Where the answers to the job's tasks are in results of `config`; raises
    UiConfigError saying what the config lacks."""
    root = parse(config)
    want = needs(task_type)
    objects = [e for e in root.iter(want.shown) if e.get("name")]
    shown = {str(e.get("name")) for e in objects if e.get("value") == f"${want.field}"}
    if not shown:
        others = "; it has " + ", ".join(_described(e) for e in objects) if objects else ""
        raise UiConfigError(
            f'no <{want.shown} name="..." value="${want.field}"/> shows the task data '
            f"LabelPilot sends (the field {want.field!r}){others}"
        )
    controls = [
        e
        for e in root.iter(want.control)
        if e.get("name") and shown & {n.strip() for n in str(e.get("toName") or "").split(",")}
    ]
    if not controls:
        found = [
            _described(e)
            for e in root.iter()
            if e.get("toName") and e.tag != want.control and e.tag.endswith(("Labels", "Choices"))
        ]
        hint = f"; it has {', '.join(found)}" if found else ""
        raise UiConfigError(
            f"no <{want.control}> control labels {' or '.join(sorted(shown))} "
            f"({TaskType(task_type).value} answers are read from {want.control}){hint}"
        )
    problems = {id(c): _labels_problem(c, want, task_type, labels) for c in controls}
    fitting = [c for c in controls if problems[id(c)] is None]
    if len(fitting) > 1:
        raise UiConfigError(
            f"{len(fitting)} <{want.control}> controls list the job's labels "
            f"({', '.join(_described(c) for c in fitting)}); LabelPilot reads one"
        )
    if not fitting:
        raise UiConfigError("; ".join(str(problems[id(c)]) for c in controls))
    control = fitting[0]
    targets = [n.strip() for n in str(control.get("toName")).split(",")]
    return Binding(str(control.get("name")), next(n for n in targets if n in shown))
