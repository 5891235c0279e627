"""Failure reasons fit for a manifest and a status: bounded, one line, reproducible.

A reason names the object and says why it failed; it must not grow with the input (a
50 MB path) nor change from run to run (`<_io.BytesIO object at 0x7f...>`).
"""

from __future__ import annotations

import re

MAX_REASON_CHARS = 500
MAX_REF_CHARS = 160
_ADDRESS = re.compile(r"<([^<>]{0,200}?) at 0x[0-9a-fA-F]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def shorten(text: str, limit: int = MAX_REF_CHARS) -> str:
    """`text`, or its start and end around '...' when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    keep = max(limit - 3, 2)
    head = keep - keep // 3
    return f"{text[:head]}...{text[len(text) - keep // 3 :]}"


def clean(reason: str) -> str:
    """One line of at most MAX_REASON_CHARS, without memory addresses."""
    text = shorten(str(reason), 8 * MAX_REASON_CHARS)
    text = _CONTROL.sub(" ", _ADDRESS.sub(r"<\1>", text)).strip()
    return shorten(text, MAX_REASON_CHARS)


def describe(error: BaseException) -> str:
    """`TypeName: message` of an exception; an OSError's message leaves out the path it
    names (the reason names the object already)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return clean(f"{type(error).__name__}: {error}")
