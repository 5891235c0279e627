"""Objects are read within bounds of bytes and decoded pixels (issue 12, finding 2)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from input_fixtures import config, image_set, write_lines
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace
from labelpilot.ml import ObjectAccess, ObjectReadError, load_input
from labelpilot.ml.inputs import ObjectLimits
from labelpilot.worker.cli import run_step


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _huge_png(path: Path, side: int) -> None:
    """A valid grayscale PNG of side x side black pixels, compressed to a few hundred KB."""
    packer = zlib.compressobj(9)
    row = bytes(side + 1)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def _failed(tmp_path: Path, extra: list[str], **changes) -> dict[str, str]:
    data = image_set(tmp_path / "data", 40)
    manifest = write_lines(tmp_path / "data" / "input.manifest", [*data["lines"], *extra])
    cfg = config(manifest, tmp_path / "job", data["truth"], **changes)
    run_step("prepare", cfg)
    return storage.read_json(Workspace(cfg.output_uri).prepare_plan)["failed"]


def test_an_image_that_decodes_to_144_megapixels_is_refused(tmp_path):
    path = tmp_path / "data" / "bomb.png"
    path.parent.mkdir()
    _huge_png(path, 12000)
    assert path.stat().st_size < 1_000_000
    failed = _failed(tmp_path, [json.dumps({"source-ref": str(path)})])
    assert failed["40"] == (
        f"ObjectTooLarge: {path}: 12000x12000 pixels, more than the 40,000,000-pixel limit"
    )


def test_an_image_over_50_mb_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "data" / "big.png"
    path.parent.mkdir()
    with open(path, "wb") as handle:  # sparse: nothing is written, the size says 60 MB
        handle.truncate(60_000_000)
    failed = _failed(tmp_path, [json.dumps({"source-ref": str(path)})])
    assert failed["40"] == (
        f"ObjectTooLarge: {path}: more than the 50,000,000-byte limit for images"
    )


def test_a_device_is_not_read(tmp_path):
    failed = _failed(
        tmp_path,
        [json.dumps({"source-ref": "/dev/zero"})],
        data_roots=[str(tmp_path / "data"), "/dev"],
    )
    assert failed["40"] == "UnreadableObject: /dev/zero: not a regular file"


def test_limits_are_configurable(tmp_path):
    path = tmp_path / "data" / "wide.png"
    path.parent.mkdir()
    Image.fromarray(np.zeros((10, 200), np.uint8)).save(path)
    failed = _failed(tmp_path, [json.dumps({"source-ref": str(path)})], max_image_pixels=1000)
    assert failed["40"].startswith(f"ObjectTooLarge: {path}: 200x10 pixels")
    assert len(failed) == 1  # the 6x6 images pass


def test_text_over_its_limit_is_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * 1_000_001)
    small = tmp_path / "small.txt"
    small.write_text("x" * 1_000_000)
    access = ObjectAccess(limits=ObjectLimits())
    assert (
        len(load_input(TaskType.TEXT_CLASSIFICATION, {"source-ref": str(small)}, access=access))
        == 1_000_000
    )
    with pytest.raises(ObjectReadError) as error:
        load_input(TaskType.TEXT_CLASSIFICATION, {"source-ref": str(big)}, access=access)
    assert error.value.failure == (
        f"ObjectTooLarge: {big}: more than the 1,000,000-byte limit for text"
    )
    with pytest.raises(ObjectReadError) as error:
        load_input(
            TaskType.TEXT_CLASSIFICATION,
            {"source": "é" * 6},
            index=3,
            access=ObjectAccess(limits=ObjectLimits(text_bytes=11)),
        )
    assert error.value.kind == "ObjectTooLarge"


def test_a_text_that_is_not_utf8_is_one_failed_object(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ObjectReadError) as error:
        load_input(TaskType.TEXT_CLASSIFICATION, {"source-ref": "latin1.txt"}, str(tmp_path))
    assert error.value.failure == "UnreadableObject: latin1.txt: not UTF-8 text (byte 3)"
