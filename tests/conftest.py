"""Shared fixtures: the dev cluster is started once per test session, on its own ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_PORT = int(os.environ.get("LABELPILOT_TEST_CLUSTER_PORT", "17443"))


@pytest.fixture(scope="session")
def dev_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from devcluster import cluster
    from devcluster.layout import ClusterLayout

    layout = ClusterLayout(tmp_path_factory.mktemp("dev-cluster"), TEST_PORT)
    cluster.down(layout)
    cluster.up(layout)
    try:
        yield layout
    finally:
        cluster.down(layout)


@pytest.fixture(scope="session")
def kube_api(dev_cluster: object) -> object:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(dev_cluster.admin_kubeconfig))


@pytest.fixture()
def namespace(kube_api: object) -> Iterator[str]:
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Label Studio server on loopback, once per session (tests/labelstudio/server.py)."""
    from tests.labelstudio.server import serve

    yield from serve(tmp_path_factory)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real S3-compatible server (SeaweedFS) on loopback, once per session
    (tests/s3/seaweedfs.py)."""
    from tests.s3.seaweedfs import serve

    with serve(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
