"""Bounded reads of objects in a real S3 server: one ranged request, never more than the
limit plus one byte, an empty object read as empty, a missing one an OSError."""

from __future__ import annotations

import pytest

from labelpilot.engine.bounded_read import TOO_LARGE, Refused, read_bounded
from tests.s3.seaweedfs import S3Server, bucket_ready

BUCKET = "bounded"


@pytest.fixture(scope="module")
def bucket(s3_server: S3Server) -> None:
    bucket_ready(s3_server, BUCKET)
    fs = s3_server.filesystem()
    fs.pipe_file(f"{BUCKET}/empty", b"")
    fs.pipe_file(f"{BUCKET}/ten", b"0123456789")


@pytest.fixture()
def objects(s3_server: S3Server, bucket: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("objects")
def test_objects_within_the_limit_are_read_whole() -> None:
    assert read_bounded(f"s3://{BUCKET}/ten", 10) == b"0123456789"
    assert read_bounded(f"s3://{BUCKET}/ten", 1000) == b"0123456789"
    assert read_bounded(f"s3://{BUCKET}/empty", 10) == b""


@pytest.mark.usefixtures("objects")
def test_an_object_over_the_limit_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        read_bounded(f"s3://{BUCKET}/ten", 9, "an image")
    assert refused.value.kind == TOO_LARGE
    assert refused.value.reason == "more than the 9-byte limit for an image"


@pytest.mark.usefixtures("objects")
def test_a_missing_object_is_an_os_error() -> None:
    with pytest.raises(FileNotFoundError):
        read_bounded(f"s3://{BUCKET}/missing", 10)
