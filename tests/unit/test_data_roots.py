"""Manifest lines may name objects only under the job's data roots (issue 12, finding 1)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from input_fixtures import config, image_set, write_lines
from PIL import Image

from labelpilot.api.data_roots import OutsideDataRoots
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import StepFailed
from labelpilot.controller.run_config_from_spec import to_run_config
from labelpilot.engine import storage
from labelpilot.engine.confinement import DataRoots, default_roots
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def server() -> Iterator[dict]:
    """An http server on 127.0.0.1 that serves a PNG and counts the requests it gets."""
    seen: list[str] = []
    body = _png()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}", "seen": seen}
    httpd.shutdown()
    httpd.server_close()


def _prepare(cfg) -> dict:
    run_step("prepare", cfg)
    return storage.read_json(Workspace(cfg.output_uri).prepare_plan)


def test_text_refs_to_the_pods_own_files_are_failed_objects(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.txt").write_text("password")
    (data / "escape").symlink_to(tmp_path / "secret.txt")
    texts = [json.dumps({"source": f"text {i}"}) for i in range(40)]
    bad = ["/proc/self/environ", "/etc/hostname", "../secret.txt", "escape"]
    manifest = write_lines(
        data / "input.manifest", texts + [json.dumps({"source-ref": ref}) for ref in bad]
    )
    cfg = config(
        manifest, tmp_path / "job", tmp_path / "truth.manifest", task_type="text-classification"
    )
    failed = _prepare(cfg)["failed"]
    assert sorted(failed) == ["40", "41", "42", "43"]
    for index, ref in zip(range(40, 44), bad, strict=True):
        assert failed[str(index)].startswith(f"ObjectOutsideDataRoots: {ref}: "), failed


def test_an_internal_url_is_never_fetched(tmp_path, server):
    data = image_set(tmp_path / "data", 40)
    url = f"{server['url']}/latest/meta-data.png"
    manifest = write_lines(
        tmp_path / "data" / "input.manifest", [*data["lines"], json.dumps({"source-ref": url})]
    )
    failed = _prepare(config(manifest, tmp_path / "job", data["truth"]))["failed"]
    assert failed == {
        "40": f"ObjectOutsideDataRoots: {url}: not under the data roots "
        f"{(tmp_path / 'data').resolve()}"
    }
    assert server["seen"] == []


def test_an_http_root_listed_explicitly_is_read(tmp_path, server):
    data = image_set(tmp_path / "data", 40)
    url = f"{server['url']}/images/0.png"
    manifest = write_lines(
        tmp_path / "data" / "input.manifest", [*data["lines"], json.dumps({"source-ref": url})]
    )
    cfg = config(
        manifest,
        tmp_path / "job",
        data["truth"],
        data_roots=[str(tmp_path / "data"), f"{server['url']}/images/"],
    )
    assert _prepare(cfg)["failed"] == {}
    assert "/images/0.png" in server["seen"]


def test_objects_elsewhere_need_a_data_root(tmp_path):
    data = image_set(tmp_path / "images", 20)
    (tmp_path / "manifests").mkdir()
    manifest = write_lines(tmp_path / "manifests" / "input.manifest", data["lines"])
    refused = config(manifest, tmp_path / "job-a", data["truth"])
    with pytest.raises(StepFailed) as error:
        run_step("prepare", refused)
    assert error.value.reason == "TooManyFailedObjects"
    assert "ObjectOutsideDataRoots" in error.value.message
    allowed = config(
        manifest, tmp_path / "job-b", data["truth"], data_roots=[str(tmp_path / "images")]
    )
    assert _prepare(allowed)["failed"] == {}


@pytest.mark.parametrize(
    ("ref", "inside"),
    [
        ("s3://bucket/a/b.png", True),
        ("s3://bucket/a/../../other/b.png", False),
        ("s3://bucket/a/%2e%2e/b.png", False),
        ("s3://bucket2/b.png", False),
        ("s3://bucket.evil/b.png", False),
        ("s3://bucket/b.png::http://127.0.0.1/", False),
        ("gs://bucket/b.png", False),
        ("https://cdn.example/images/a.png?v=1", True),
        ("https://cdn.example/imagesX/a.png", False),
        ("https://cdn.example@127.0.0.1/images/a.png", False),
        ("https://cdn.example:8443/images/a.png", False),
        ("http://cdn.example/images/a.png", False),
        ("file://host/etc/passwd", False),
    ],
)
def test_remote_references_match_a_root_exactly(ref, inside):
    roots = DataRoots(["s3://bucket/", "https://cdn.example/images"])
    if inside:
        assert roots.confine(ref) == ref
    else:
        with pytest.raises(OutsideDataRoots):
            roots.confine(ref)


def test_default_roots_are_the_manifests_folder_or_bucket(tmp_path):
    assert default_roots(str(tmp_path / "in.manifest")) == [str(tmp_path)]
    assert default_roots(f"file://{tmp_path}/in.manifest") == [str(tmp_path)]
    assert default_roots("s3://data-bucket/jobs/in.manifest") == ["s3://data-bucket/"]
    assert default_roots("https://example.com/in.manifest") == []


def test_bad_roots_are_refused_by_the_config(tmp_path):
    with pytest.raises(ValueError, match="data root 'images' must be an absolute path"):
        config(tmp_path / "m", tmp_path / "o", tmp_path / "t", data_roots=["images"])
    with pytest.raises(ValueError, match=r"data root 's3://b/\.\./c'"):
        config(tmp_path / "m", tmp_path / "o", tmp_path / "t", data_roots=["s3://b/../c"])


def test_the_operator_confines_a_job_to_its_claim_or_bucket(spec_dict):
    claim = LabelingJobSpec.from_k8s(spec_dict())
    assert to_run_config("j", "ns", claim).data_roots == ["/data"]
    bucket = LabelingJobSpec.from_k8s(
        spec_dict(
            {
                "input": {"manifestUri": "s3://team-data/jobs/in.manifest"},
                "output": {"uri": "s3://team-data/out"},
                "storage": {"volumeClaimName": None, "credentialsSecretName": "s3"},
            }
        )
    )
    assert to_run_config("j", "ns", bucket).data_roots == ["s3://team-data/"]


def test_a_symlinked_root_still_confines(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.png").write_bytes(_png())
    (tmp_path / "link").symlink_to(real)
    roots = DataRoots([str(tmp_path / "link")])
    assert roots.confine(str(tmp_path / "link" / "a.png")) == str(real / "a.png")
    with pytest.raises(OutsideDataRoots):
        roots.confine(str(tmp_path / "link" / ".." / "real2" / "a.png"))
    assert Path(roots.confine(f"file://{real}/a.png")).read_bytes() == _png()
