"""Long speeches cut into passages of whole sentences, for text classification."""

from __future__ import annotations

import re

STAGE_CUE = re.compile(r"\[[^\]]*\]")  # [Applause], [Laughter]: the transcript's, not the speaker's
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")


def sentences(text: str) -> list[str]:
    """The text's sentences, stage cues and extra whitespace removed."""
    clean = re.sub(r"\s+", " ", STAGE_CUE.sub(" ", text)).strip()
    return [s for s in SENTENCE_END.split(clean) if s]


def passages(text: str, min_words: int = 60, keep_words: int = 30) -> list[str]:
    """Consecutive sentences joined until a passage has `min_words` words; a last passage
    under `keep_words` words is dropped."""
    out: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in sentences(text):
        current.append(sentence)
        words += len(sentence.split())
        if words >= min_words:
            out.append(" ".join(current))
            current, words = [], 0
    if current and words >= keep_words:
        out.append(" ".join(current))
    return out
