"""A prepared data set copied into a bucket, its manifests naming the objects there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelpilot.datasets.prepare import prepare
from tests.s3.seaweedfs import S3Server

LABELS = [str(d) for d in range(10)]


def digits_in_bucket(server: S3Server, local: Path, prefix: str, count: int) -> dict[str, Any]:
    """`count` digits prepared under `local`, uploaded under `prefix` (s3://bucket/...):
    the objects, `input.manifest` and `ground-truth.manifest`, every source-ref
    rewritten to the object's URI. Returns the URIs and the expected source-refs."""
    prepare("digits", local, limit=count, seed=1)
    fs = server.filesystem()
    folder = str(local)
    fs.put(str(local / "objects"), f"{prefix}/objects", recursive=True)
    for name in ("input.manifest", "ground-truth.manifest"):
        text = (local / name).read_text().replace(f'"{folder}/', f'"{prefix}/')
        fs.pipe_file(f"{prefix}/{name}", text.encode())
    refs = [
        json.loads(line)["source-ref"]
        for line in fs.cat_file(f"{prefix}/input.manifest").decode().splitlines()
    ]
    return {
        "manifest": f"{prefix}/input.manifest",
        "truth": f"{prefix}/ground-truth.manifest",
        "refs": refs,
    }
