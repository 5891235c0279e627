"""Malformed lines are failed objects that count, one bad byte fails one object
(issue 12, findings 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from input_fixtures import config, image_set, write_lines

from labelpilot.api.step_summary import StepSummary
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def _prepare(tmp_path: Path, valid: int, bad: list[str]) -> StepSummary:
    data = image_set(tmp_path / "data", valid)
    manifest = write_lines(tmp_path / "data" / "input.manifest", [*data["lines"], *bad])
    return run_step("prepare", config(manifest, tmp_path / "job", data["truth"]))


def test_malformed_lines_count_in_the_10_percent_rule(tmp_path):
    missing = json.dumps({"source-ref": "missing.png"})
    summary = _prepare(tmp_path / "ten", 90, ['{"other": 1}'] * 5 + [missing] * 5)
    assert summary.label_counters.failed_non_retryable_error == 10
    assert summary.failed_reasons == {"MalformedLine": 5, "UnreadableObject": 5}
    for malformed in (30, 95):
        folder = tmp_path / str(malformed)
        with pytest.raises(StepFailed) as error:
            _prepare(folder, 100 - malformed, ["{not json"] * malformed)
        assert error.value.reason == "TooManyFailedObjects"
        assert error.value.message.startswith(
            f"{malformed} of the 100 objects of the input manifest failed (more than 10%); "
            "first reason: MalformedLine: not valid JSON"
        )
        assert not storage.exists(Workspace(str(folder / "job")).prepare_plan)


def test_a_line_that_is_not_utf8_is_one_failed_object(tmp_path):
    data = image_set(tmp_path / "data", 30)
    lines = [line.encode() for line in data["lines"]]
    lines[4] = b'{"source-ref": "caf\xe9.png"}'
    manifest = tmp_path / "data" / "input.manifest"
    manifest.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    cfg = config(manifest, tmp_path / "job", data["truth"])
    summary = run_step("prepare", cfg)
    assert summary.status == "Succeeded"
    failed = storage.read_json(Workspace(cfg.output_uri).prepare_plan)["failed"]
    assert failed == {"4": "MalformedLine: not UTF-8 text (byte 0xe9 at column 20)"}
    objects = formats.read_manifest(str(manifest))
    assert (
        len(objects) == 30 and objects[0].source_ref == json.loads(data["lines"][0])["source-ref"]
    )
