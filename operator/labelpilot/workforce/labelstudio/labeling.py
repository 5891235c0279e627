"""Whether a project's labeling config is empty, or the one a job asks for (whether another
fits the job: labelpilot.api.ui_config).

Configs are compared as XML (element, attributes, text; spacing between elements does not
count). Label Studio gives a new project `<View></View>`: an empty config, which a job
may fill with its own.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from labelpilot.api.ui_config import UiConfigError, parse

Shape = tuple[str, tuple[tuple[str, str], ...], str, tuple[Any, ...]]


def _parse(config: str) -> ElementTree.Element | None:
    try:
        return parse(config)
    except UiConfigError:
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
