"""Whether a project's labeling config can take a job's tasks, and if not, why.

Configs are compared as XML (element, attributes, text; spacing between elements does not
count). Label Studio gives a new project `<View></View>`: an empty config, which a job
may fill with its own.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from labelpilot.workforce.labelstudio.interface import CONTROL, IMAGE, TEXT

Shape = tuple[str, tuple[tuple[str, str], ...], str, tuple[Any, ...]]


def _parse(config: str) -> ElementTree.Element | None:
    try:
        return ElementTree.fromstring(config)
    except ElementTree.ParseError:
        return None


def _shape(element: ElementTree.Element) -> Shape:
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        tuple(_shape(child) for child in element),
    )


def is_empty(config: str | None) -> bool:
    """A project nobody configured yet: no config, or a View with nothing in it."""
    if not (config or "").strip():
        return True
    root = _parse(str(config))
    return root is not None and len(root) == 0 and not (root.text or "").strip()


def same(a: str, b: str) -> bool:
    parsed_a, parsed_b = _parse(a), _parse(b)
    return parsed_a is not None and parsed_b is not None and _shape(parsed_a) == _shape(parsed_b)


def _summary(config: str) -> tuple[str, str, list[str]] | None:
    """LabelPilot's control tag, object tag and labels in a config; None for another's."""
    root = _parse(config)
    if root is None:
        return None
    named = {e.get("name"): e for e in root.iter() if e.get("name")}
    control, shown = named.get(CONTROL), named.get(IMAGE, named.get(TEXT))
    if control is None or shown is None:
        return None
    return control.tag, shown.tag, [str(c.get("value")) for c in control]


def difference(current: str, wanted: str) -> str:
    """What sets the project's config apart from the job's, in words."""
    theirs, ours = _summary(current), _summary(wanted)
    if theirs is None or ours is None:
        return "its labeling config is not one LabelPilot made"
    parts = []
    if theirs[:2] != ours[:2]:
        parts.append(
            f"it labels with {theirs[0]} on {theirs[1]}, the job with {ours[0]} on "
            f"{ours[1]} (another task type)"
        )
    if theirs[2] != ours[2]:
        parts.append(f"its labels are {theirs[2]}, the job's are {ours[2]}")
    return "; ".join(parts) or "its labeling config has other settings than the job's"
