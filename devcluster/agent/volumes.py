"""Turns a pod's volumes into host folders and bind mounts for its containers."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster.agent.environment import field_value
from devcluster.agent.kube import Kube, Obj

TOKEN_SECONDS_DEFAULT = 3607
Files = dict[str, tuple[bytes, int | None]]  # relative path -> (content, mode)


class VolumeError(RuntimeError):
    pass


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    def as_spec(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}


def _write_file(path: Path, data: bytes, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode if mode is not None else 0o644)
    tmp.replace(path)


def _key_files(
    data: dict[str, bytes], items: list[Obj] | None, default_mode: int | None, name: str
) -> Files:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        if item["key"] not in data:
            raise VolumeError(f"{name}: key {item['key']!r} not found")
        files[item["path"]] = (data[item["key"]], item.get("mode", default_mode))
    return files


class VolumeBuilder:
    """Materialises one pod's volumes under its folder on the host."""

    def __init__(self, kube: Kube, pod: Obj, pod_dir: Path) -> None:
        self.kube = kube
        self.pod = pod
        self.namespace = pod["metadata"]["namespace"]
        self.root = pod_dir / "volumes"

    def build(self) -> dict[str, str]:
        """Host path of every volume, by volume name."""
        paths = {}
        for volume in self.pod["spec"].get("volumes") or []:
            paths[volume["name"]] = self._materialise(volume)
        return paths

    def _materialise(self, volume: Obj) -> str:
        name = volume["name"]
        folder = self.root / name
        if "emptyDir" in volume:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)
            return str(folder)
        if "hostPath" in volume:
            return self._host_path(volume["hostPath"])
        if "persistentVolumeClaim" in volume:
            return self._claim(volume["persistentVolumeClaim"]["claimName"])
        if "configMap" in volume:
            source = volume["configMap"]
            self._write_files(folder, self._config_map_files(source, source.get("defaultMode")))
            return str(folder)
        if "secret" in volume:
            source = volume["secret"]
            self._write_files(folder, self._secret_files(source, source.get("defaultMode")))
            return str(folder)
        if "projected" in volume:
            self._write_files(folder, self._projected_files(volume["projected"]))
            return str(folder)
        if "downwardAPI" in volume:
            source = volume["downwardAPI"]
            self._write_files(
                folder, self._downward_files(source["items"], source.get("defaultMode"))
            )
            return str(folder)
        kinds = sorted(k for k in volume if k != "name")
        raise VolumeError(f"volume {name}: unsupported type {kinds}")

    @staticmethod
    def _write_files(folder: Path, files: Files) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for relative, (data, mode) in files.items():
            _write_file(folder / relative, data, mode)

    @staticmethod
    def _host_path(source: Obj) -> str:
        path = source["path"]
        kind = source.get("type", "")
        if kind == "DirectoryOrCreate":
            os.makedirs(path, exist_ok=True)
        elif kind == "FileOrCreate" and not os.path.exists(path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).touch()
        elif kind in ("Directory", "File") and not os.path.exists(path):
            raise VolumeError(f"hostPath {path} does not exist")
        return path

    def _claim(self, claim_name: str) -> str:
        claim = self.kube.read(
            self.kube.core.read_namespaced_persistent_volume_claim, claim_name, self.namespace
        )
        if claim is None:
            raise VolumeError(f"persistentvolumeclaim {self.namespace}/{claim_name} not found")
        volume_name = claim["spec"].get("volumeName")
        if not volume_name:
            raise VolumeError(f"persistentvolumeclaim {self.namespace}/{claim_name} is unbound")
        volume = self.kube.read(self.kube.core.read_persistent_volume, volume_name)
        if volume is None:
            raise VolumeError(f"persistentvolume {volume_name} not found")
        spec = volume["spec"]
        source = spec.get("hostPath") or spec.get("local")
        if source is None:
            raise VolumeError(
                f"persistentvolume {volume_name}: only hostPath or local volumes "
                "can be mounted on a simulated node"
            )
        os.makedirs(source["path"], exist_ok=True)
        return str(source["path"])

    def _config_map_files(self, source: Obj, mode: int | None) -> Files:
        name = source["name"]
        obj = self.kube.read(self.kube.core.read_namespaced_config_map, name, self.namespace)
        if obj is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f"configmap {self.namespace}/{name} not found")
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return _key_files(data, source.get("items"), mode, f"configmap {name}")

    def _secret_files(self, source: Obj, mode: int | None) -> Files:
        name = source.get("secretName") or source["name"]
        obj = self.kube.read(self.kube.core.read_namespaced_secret, name, self.namespace)
        if obj is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f"secret {self.namespace}/{name} not found")
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        return _key_files(data, source.get("items"), mode, f"secret {name}")

    def _downward_files(self, items: list[Obj], mode: int | None) -> Files:
        files = {}
        for item in items:
            if "fieldRef" not in item:
                raise VolumeError(f"downwardAPI {item['path']}: only fieldRef is supported")
            value = field_value(self.pod, item["fieldRef"]["fieldPath"])
            files[item["path"]] = (value.encode(), item.get("mode", mode))
        return files

    def _token(self, source: Obj) -> bytes:
        metadata = self.pod["metadata"]
        account = self.pod["spec"].get("serviceAccountName") or "default"
        body = {
            "spec": {
                "audiences": [source["audience"]] if source.get("audience") else None,
                "expirationSeconds": source.get("expirationSeconds", TOKEN_SECONDS_DEFAULT),
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                },
            }
        }
        response = self.kube.core.create_namespaced_service_account_token(
            account, self.namespace, body
        )
        return str(response.status.token).encode()

    def _projected_files(self, projected: Obj) -> Files:
        mode = projected.get("defaultMode")
        files: Files = {}
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                token = source["serviceAccountToken"]
                files[token["path"]] = (self._token(token), mode)
            elif "configMap" in source:
                files.update(self._config_map_files(source["configMap"], mode))
            elif "secret" in source:
                files.update(self._secret_files(source["secret"], mode))
            elif "downwardAPI" in source:
                files.update(self._downward_files(source["downwardAPI"]["items"], mode))
            else:
                raise VolumeError(f"projected source {sorted(source)} is not supported")
        return files


def container_mounts(container: Obj, volume_paths: dict[str, str]) -> list[Mount]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        name = mount["name"]
        if name not in volume_paths:
            raise VolumeError(f"container {container['name']}: no volume named {name}")
        source = volume_paths[name]
        if mount.get("subPath"):
            source = os.path.join(source, mount["subPath"])
            if not os.path.exists(source):
                os.makedirs(source, exist_ok=True)
        mounts.append(Mount(source, mount["mountPath"], bool(mount.get("readOnly"))))
    return mounts
