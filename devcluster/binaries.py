"""Locating (and if need be building) the control-plane binaries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BIN_ENV = "LABELPILOT_BIN_DIR"
REQUIRED = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def build_script() -> Path:
    return repo_root() / "hack" / "build-binaries.sh"


class BinariesMissing(RuntimeError):
    pass


def bin_dir(build: bool = False) -> Path:
    """The folder holding the binaries: $LABELPILOT_BIN_DIR, else the build script's cache."""
    if os.environ.get(BIN_ENV):
        directory = Path(os.environ[BIN_ENV])
    else:
        script = build_script()
        if not script.exists():
            raise BinariesMissing(f"set {BIN_ENV}: no build script at {script}")
        if build:
            subprocess.run(["bash", str(script)], check=True)
        out = subprocess.run(
            ["bash", str(script), "--print-dir"], check=True, capture_output=True, text=True
        )
        directory = Path(out.stdout.strip())
    missing = [b for b in REQUIRED if not (directory / b).is_file()]
    if missing:
        raise BinariesMissing(
            f"missing {', '.join(missing)} in {directory}: run `make setup` "
            f"(or hack/build-binaries.sh)"
        )
    return directory
