"""Fixtures for operator tests: the CRD, a running operator, data on a PersistentVolume."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster.kubeutil import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "labelpilot.dev_labelingjobs.yaml"
POLICY = Path(__file__).with_name("operator-policy.yaml")
GROUP, VERSION, PLURAL = "labelpilot.dev", "v1alpha1", "labelingjobs"


class OperatorProcess:
    """`labelpilot operator` as a child process, which a test may kill and start again."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        # Its Prometheus metrics, on 127.0.0.1 (tests/cluster/test_dashboards.py scrapes them)
        self.metrics_port = free_port()

    def start(self) -> None:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), PYTHONUNBUFFERED="1")
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            # Only the tests' own namespaces (see tests/conftest.py): an operator installed
            # in-cluster by another test module owns the rest.
            [
                sys.executable,
                "-m",
                "labelpilot.cli",
                "operator",
                "-n",
                "t-*",
                "--metrics-port",
                str(self.metrics_port),
                "--liveness",
                "",
                "--resync-seconds",
                "5",
                "--policy",
                str(POLICY),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
        handle.close()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def crd_installed(kube_api: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(kube_api)
    body = yaml.safe_load(CRD.read_text())
    try:
        extensions.create_custom_resource_definition(body)
    except client.ApiException as error:
        if error.status != 409:
            raise

    def established() -> bool:
        crd = extensions.read_custom_resource_definition(body["metadata"]["name"])
        return any(
            c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
        )

    wait_for(established, what="the CRD to be established")


@pytest.fixture(scope="session")
def operator(
    dev_cluster: Any, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    process = OperatorProcess(dev_cluster.admin_kubeconfig, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class DataVolume:
    """A host folder that step Jobs see at the same absolute path, through a PV and PVC."""

    claim: str
    path: Path


def bind_host_folder(core: client.CoreV1Api, namespace: str, path: Path) -> DataVolume:
    name = f"data-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": str(path), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": "data"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": name,
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )
    wait_for(
        lambda: (
            core.read_namespaced_persistent_volume_claim("data", namespace).status.phase == "Bound"
        ),
        what="the data claim to bind",
    )
    return DataVolume("data", path)


def labeling_job(
    name: str, data: Path, volume: DataVolume, class_names: list[str], **overrides: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "taskType": "ImageClassification",
        "labelAttributeName": "label",
        "labels": class_names,
        "input": {"manifestUri": f"file://{data}/input.manifest"},
        "output": {"uri": f"file://{volume.path}/output/{name}"},
        "storage": {"volumeClaimName": volume.claim, "mountPath": str(volume.path)},
        "autoLabeling": {"allowSmallDataset": True, "algorithm": {"options": {"epochs": "3"}}},
        "humanTaskConfig": {
            "maxConcurrentTaskCount": 100,
            "workforce": {
                "simulated": {"groundTruthManifestUri": f"file://{data}/ground-truth.manifest"}
            },
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LabelingJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def wait_phase(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    phases: tuple[str, ...],
    timeout: float = 600,
) -> dict[str, Any]:
    def phase() -> dict[str, Any] | None:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return obj if (obj.get("status") or {}).get("phase") in phases else None

    started = time.monotonic()
    result = wait_for(phase, timeout, interval=1.0, what=f"{name} to reach {phases}")
    result.setdefault("_waited", time.monotonic() - started)
    return result
