"""Secret-looking values are masked before text reaches a LabelingJob's status or Events."""

from __future__ import annotations

import pytest

from labelpilot.controller.redact import MASK, safe_text


@pytest.mark.parametrize(
    "text, kept",
    [
        ("PGPASSWORD=hunter2 psql", "PGPASSWORD=[redacted] psql"),
        ("export AWS_SECRET_ACCESS_KEY=hunter2/x+y", "AWS_SECRET_ACCESS_KEY=[redacted]"),
        ("Authorization: Bearer hunter2.abc", "Authorization: [redacted]"),
        ("-H 'authorization: Basic aHVudGVyMg=='", "authorization: [redacted]"),
        ("bearer hunter2hunter2", "bearer [redacted]"),
        ("postgresql://app:hunter2@db:5432/x", "postgresql://app:[redacted]@db:5432/x"),
        ('{"apiToken": "hunter2 x", "user": "u"}', '"apiToken": [redacted], "user": "u"'),
        ("--password hunter2 --user bob", "--password [redacted] --user bob"),
        ("https://s3/x?X-Amz-Signature=hunter2&b=1", "X-Amz-Signature=[redacted]&b=1"),
        ("token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2ln", "token: [redacted]"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2ln", f"jwt {MASK}"),
        ("key ghp_hunter2hunter2hunter2hunter2", f"key {MASK}"),
    ],
)
def test_secrets_are_masked(text, kept):
    safe = safe_text(text)
    assert kept in safe
    assert "hunter2" not in safe and "aHVudGVyMg" not in safe and "eyJzdWIi" not in safe


@pytest.mark.parametrize(
    "text",
    [
        "14.0% of the 100 objects failed (limit 10%)",
        "all 3 checks passed: ok",
        "s3://bucket/key=images/1.png not found",
        "written by author=ann",
        "https://host:8080/a@b",
    ],
)
def test_ordinary_text_is_kept(text):
    assert safe_text(text) == text


def test_text_is_flattened_and_bounded():
    assert safe_text("a\n  b\tc") == "a b c"
    bounded = safe_text("x" * 2000, limit=100)
    assert len(bounded) == 100 and bounded.endswith("…")
