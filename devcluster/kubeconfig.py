"""Kubeconfig files for the dev cluster's client identities."""

from __future__ import annotations

from pathlib import Path

import yaml

from devcluster.layout import ClusterLayout
from devcluster.pki import CLIENTS

CONTEXT = "labelpilot-dev"


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {"name": CONTEXT, "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
        "current-context": CONTEXT,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


def write_all(layout: ClusterLayout) -> None:
    for client in CLIENTS:
        write_kubeconfig(
            layout.kubeconfig(client.file_stem),
            layout.server,
            layout.pki / "ca.crt",
            layout.pki / f"{client.file_stem}.crt",
            layout.pki / f"{client.file_stem}.key",
        )
