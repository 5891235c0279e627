"""Free text made fit for a LabelingJob's status and Events: secrets masked, length bounded.

Whoever may read a LabelingJob sees its conditions and Events; far fewer may read its pods'
logs. Text that a step or the API server wrote passes through `safe_text` before it goes
there, so a printed `PGPASSWORD=...`, an `Authorization:` header or a URL's password stays
in the logs.
"""

from __future__ import annotations

import re

MASK = "[redacted]"
TEXT_MAX = 500

_SECRET_WORD = (
    r"pass(?!ed|ing|es\b)(?:word|wd|phrase)?|pwd|secret|token(?!i[sz])"
    r"|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth(?!or)|session"
    r"|cookie|signature"
)
_NAME = rf"[A-Za-z0-9_.-]*(?:{_SECRET_WORD})[A-Za-z0-9_.-]*"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / Proxy-Authorization: Basic abc
    (
        re.compile(
            r"\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?[^\s\"',;]+",
            re.I,
        ),
        rf"\1{MASK}",
    ),
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I), rf"\1 {MASK}"),
    # scheme://user:password@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^/\s@]+@", re.I), rf"\1:{MASK}@"),
    # PGPASSWORD=x, "apiToken": "x", token: x, ?sig=x
    (
        re.compile(rf"({_NAME}[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',;&}}]+)", re.I),
        rf"\1{MASK}",
    ),
    # --password x (a flag and its value)
    (re.compile(rf"((?:^|\s)--?{_NAME}\s+)(?!-)\S+", re.I), rf"\1{MASK}"),
    # well-known token shapes: JWTs, cloud and forge keys
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\b(?:gh[pousr]_|github_pat_|glpat-|xox[abprs]-|sk-)[A-Za-z0-9_-]{16,}"), MASK),
)


def redact(text: str) -> str:
    """`text` with secret-looking values replaced by [redacted]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def safe_text(text: str, limit: int = TEXT_MAX) -> str:
    """`text` redacted, on one line, and cut to `limit` characters."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
