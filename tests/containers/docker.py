"""The Docker engine and the project's images, as the container tests use them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TAG = os.environ.get("LABELPILOT_TEST_IMAGE_TAG", "test")
UID = "65532"
# What the restricted Pod Security Standard and the chart ask of every LabelPilot container.
RESTRICTED = [
    "--read-only",
    "--tmpfs",
    "/tmp:rw,exec,size=2g",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]


def engine() -> str:
    """The DOCKER_HOST of a running engine (hack/docker-engine.sh starts one if needed)."""
    result = subprocess.run(
        ["bash", str(REPO / "hack/docker-engine.sh")], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def build_images(host: str) -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(REPO / "hack/build-images.sh"), TAG],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "DOCKER_HOST": host},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {name: f"labelpilot/{name}:{TAG}" for name in ("operator", "worker", "worker-gpu")}


def docker(host: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_HOST": host},
    )
