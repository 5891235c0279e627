"""A container's environment variables, resolved the way kubelet resolves them."""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path

from devcluster.agent.kube import Kube, Obj

PASSTHROUGH = (
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "HF_HUB_OFFLINE",
    "LABELPILOT_CACHE",
    "LABELPILOT_BIN_DIR",
)
_BRACKETED = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class EnvError(RuntimeError):
    pass


def field_value(pod: Obj, path: str) -> str:
    metadata, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP") or "127.0.0.1",
        "status.hostIP": status.get("hostIP") or "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    match = _BRACKETED.match(path)
    if match:
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = metadata.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise EnvError(f"fieldRef {path} is not supported")


def base_environment(pod: Obj, apiserver_port: int) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {key: os.environ[key] for key in PASSTHROUGH if key in os.environ}
    env["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    # Every simulated node shares the host's few cores: one torch thread per container
    # avoids oversubscription (the host's own setting wins).
    env["LABELPILOT_TORCH_THREADS"] = os.environ.get("LABELPILOT_TORCH_THREADS", "1")
    env["HOSTNAME"] = pod["metadata"]["name"]
    env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
    env["KUBERNETES_SERVICE_PORT"] = str(apiserver_port)
    env["KUBERNETES_SERVICE_PORT_HTTPS"] = str(apiserver_port)
    env["KUBERNETES_PORT"] = f"tcp://127.0.0.1:{apiserver_port}"
    return env


class EnvResolver:
    def __init__(self, kube: Kube, pod: Obj) -> None:
        self.kube = kube
        self.pod = pod
        self.namespace = pod["metadata"]["namespace"]
        self._cache: dict[tuple[str, str], Obj | None] = {}

    def _object(self, kind: str, name: str) -> Obj | None:
        key = (kind, name)
        if key not in self._cache:
            method = (
                self.kube.core.read_namespaced_secret
                if kind == "secret"
                else self.kube.core.read_namespaced_config_map
            )
            self._cache[key] = self.kube.read(method, name, self.namespace)
        return self._cache[key]

    def _data(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = self._object(kind, name)
        if obj is None:
            if optional:
                return None
            raise EnvError(f"{kind} {self.namespace}/{name} not found")
        if kind == "secret":
            return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    def _key_ref(self, kind: str, ref: Obj) -> str | None:
        data = self._data(kind, ref["name"], bool(ref.get("optional")))
        if data is None:
            return None
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise EnvError(f"{kind} {self.namespace}/{ref['name']} has no key {ref['key']!r}")
        return data[ref["key"]]

    def container_env(self, container: Obj, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, key in (("configMap", "configMapRef"), ("secret", "secretRef")):
                if key in source:
                    ref = source[key]
                    data = self._data(kind.lower(), ref["name"], bool(ref.get("optional")))
                    env.update({prefix + k: v for k, v in (data or {}).items()})
        for var in container.get("env") or []:
            value = self._value(var, env)
            if value is not None:
                env[var["name"]] = value
        return env

    def _value(self, var: Obj, env: dict[str, str]) -> str | None:
        if "valueFrom" not in var:
            return expand(var.get("value", ""), env)
        source = var["valueFrom"]
        if "fieldRef" in source:
            return field_value(self.pod, source["fieldRef"]["fieldPath"])
        if "secretKeyRef" in source:
            return self._key_ref("secret", source["secretKeyRef"])
        if "configMapKeyRef" in source:
            return self._key_ref("configmap", source["configMapKeyRef"])
        if "resourceFieldRef" in source:
            return self._resource(source["resourceFieldRef"])
        raise EnvError(f"env {var['name']}: unsupported valueFrom {sorted(source)}")

    def _resource(self, ref: Obj) -> str:
        name = ref.get("containerName")
        containers = self.pod["spec"]["containers"]
        container = next((c for c in containers if c["name"] == name), containers[0])
        kind, _, resource = ref["resource"].partition(".")
        return str(((container.get("resources") or {}).get(kind) or {}).get(resource, "0"))


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes a dollar."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, value)
