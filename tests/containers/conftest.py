"""The images, built once per session from the repository (hack/build-images.sh)."""

from __future__ import annotations

import pytest

from tests.containers.docker import build_images, engine


@pytest.fixture(scope="session")
def docker_host() -> str:
    return engine()


@pytest.fixture(scope="session")
def images(docker_host: str) -> dict[str, str]:
    return build_images(docker_host)
