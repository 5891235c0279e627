"""Failure reasons are bounded and reproducible (issue 12, finding 7)."""

from __future__ import annotations

import json
import re

from input_fixtures import config, image_set, write_lines

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats, reasons, storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def test_a_huge_path_makes_a_bounded_reason_and_output_line(tmp_path):
    data = image_set(tmp_path / "data", 40)
    long_ref = "x/" * 100_000 + "a.png"
    corrupt = tmp_path / "data" / "corrupt.png"
    corrupt.write_bytes(b"not an image at all")
    manifest = write_lines(
        tmp_path / "data" / "input.manifest",
        [
            *data["lines"],
            json.dumps({"source-ref": long_ref}),
            json.dumps({"source-ref": str(corrupt)}),
        ],
    )
    cfg = config(manifest, tmp_path / "job", data["truth"])
    run_step("prepare", cfg)
    run_step("export", cfg)
    ws = Workspace(cfg.output_uri)
    failed = storage.read_json(ws.prepare_plan)["failed"]
    assert len(failed["40"]) <= reasons.MAX_REASON_CHARS
    assert failed["40"].startswith("UnreadableObject: x/x/x/") and "..." in failed["40"]
    assert failed["41"] == (
        f"UnreadableObject: {corrupt}: not a decodable image: "
        "UnidentifiedImageError: cannot identify image file "
        "<_io.BytesIO object>"
    )
    lines = (tmp_path / "job" / "manifests/output/output.manifest").read_text().splitlines()
    assert len(lines[40]) < len(long_ref) + 1000
    assert json.loads(lines[40])["label-metadata"]["failure-reason"] == failed["40"]


def test_clean_keeps_one_bounded_line_without_addresses():
    text = "boom <Thing object at 0x7f3a2b1c> \n\x00 next" + "y" * 5000
    cleaned = reasons.clean(text)
    assert len(cleaned) == reasons.MAX_REASON_CHARS
    assert cleaned.startswith("boom <Thing object>   next")
    assert not re.search(r"0x[0-9a-f]+|[\x00-\x1f]", cleaned)
    assert cleaned.endswith("y" * 10)


def test_every_failure_written_to_the_manifest_is_bounded():
    record = formats.encode_failure(
        TaskType.IMAGE_CLASSIFICATION, "label", "z" * 10**6, job_name="j"
    )
    assert len(record["label-metadata"]["failure-reason"]) == reasons.MAX_REASON_CHARS
