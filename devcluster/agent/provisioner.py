"""Dynamic provisioning of PersistentVolumes on host folders, for the dev cluster's class."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from kubernetes.client.rest import ApiException

from devcluster.agent.kube import Kube, Obj

log = logging.getLogger("labelpilot.node-agent")
STORAGE_CLASS = "labelpilot-local"
PROVISIONER = "labelpilot.dev/host-folder"
POLL_SECONDS = 1.0


def ensure_storage_class(kube: Kube) -> None:
    if kube.read(kube.storage.read_storage_class, STORAGE_CLASS) is not None:
        return
    kube.storage.create_storage_class(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
    )


def volume_for(claim: Obj, folder: Path) -> Obj:
    meta, spec = claim["metadata"], claim["spec"]
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(folder), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def provision_once(kube: Kube, root: Path) -> None:
    claims = kube.list(kube.core.list_persistent_volume_claim_for_all_namespaces)["items"]
    for claim in claims:
        spec = claim["spec"]
        if spec.get("volumeName") or spec.get("storageClassName") != STORAGE_CLASS:
            continue
        meta = claim["metadata"]
        folder = root / meta["namespace"] / f"{meta['name']}-{meta['uid'][:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)
        try:
            kube.core.create_persistent_volume(volume_for(claim, folder))
            log.info("provisioned %s for %s/%s", folder, meta["namespace"], meta["name"])
        except ApiException as error:
            if error.status != 409:
                raise
    for volume in kube.list(kube.core.list_persistent_volume)["items"]:
        annotations = volume["metadata"].get("annotations") or {}
        released = (volume.get("status") or {}).get("phase") == "Released"
        if released and annotations.get("pv.kubernetes.io/provisioned-by") == PROVISIONER:
            kube.core.delete_persistent_volume(volume["metadata"]["name"])
            shutil.rmtree(volume["spec"]["hostPath"]["path"], ignore_errors=True)
