"""What every model shares: the Model interface, Predictions, devices, threads, seeds, folders."""

from __future__ import annotations

import json
import os
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from labelpilot.api.run_config import TaskType
from labelpilot.ml.cpus import usable_cpus

FORMAT_VERSION = 1
META_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
THREADS_ENV = "LABELPILOT_TORCH_THREADS"
DEVICE_ENV = "LABELPILOT_DEVICE"


@dataclass
class Predictions:
    """A model's output for N objects.

    classification: `probs` (N, C) float32, rows sum to 1 (temperature-scaled softmax).
    detection: `boxes`, one (k, 6) float32 array per image [class, left, top, width, height,
    score] in the image's own pixels, and `image_confidence` (N,).
    segmentation: `masks`, one HxW uint8 array per image (0 = background, c + 1 = labels[c]),
    `image_confidence` (N,), and `class_confidence` (N, C + 1) where the model gives it: the
    mean probability of each class over the pixels predicted as it (NaN: no such pixel).
    `embeddings` (N, d) float32 where the model has them (for diverse batch selection).
    """

    probs: np.ndarray | None = None
    boxes: list[np.ndarray] | None = None
    masks: list[np.ndarray] | None = None
    image_confidence: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    class_confidence: np.ndarray | None = None

    def __len__(self) -> int:
        for value in (self.probs, self.boxes, self.masks, self.image_confidence):
            if value is not None:
                return len(value)
        return 0

    @property
    def confidence(self) -> np.ndarray:
        """One confidence per object: the max probability, or the image confidence."""
        if self.probs is not None:
            return self.probs.max(axis=1)
        assert self.image_confidence is not None
        return self.image_confidence

    @property
    def labels(self) -> np.ndarray:
        """Classification only: the predicted class index per object."""
        assert self.probs is not None, "labels exist for classification predictions only"
        return self.probs.argmax(axis=1)


NetT = TypeVar("NetT", bound=torch.nn.Module)


@dataclass
class Runtime:
    """Where and how torch runs: device, autocast dtype, threads."""

    device: torch.device
    threads: int
    autocast_dtype: torch.dtype | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Runtime:
        name = (
            options.get("device")
            or os.environ.get(DEVICE_ENV)
            or ("cuda" if torch.cuda.is_available() else "cpu")
        )
        device = torch.device(name)
        threads = int(
            options.get("threads") or os.environ.get(THREADS_ENV) or min(4, usable_cpus())
        )
        dtype = torch.bfloat16 if device.type == "cuda" and options.get("bf16", True) else None
        return cls(device=device, threads=max(1, threads), autocast_dtype=dtype)

    def place(self, net: NetT) -> NetT:
        """`net` on the device with its 4-D weights channels-last, the layout oneDNN and
        cuDNN convolve fastest (BENCHMARKS.md "Side by side with a plain loop": a training
        step of the small CNN, U-Net and CenterNet 20-28% faster on a CPU)."""
        return net.to(self.device).to(memory_format=torch.channels_last)

    def autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Sets torch's CPU thread count for the duration of a fit or predict."""
        previous = torch.get_num_threads()
        if previous != self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)


def seed_everything(seed: int) -> torch.Generator:
    """Seeds python, numpy and torch; returns a CPU generator for shuffles and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def batches(
    n: int, size: int, order: Sequence[int] | np.ndarray | None = None
) -> Iterator[np.ndarray]:
    index = np.arange(n) if order is None else np.asarray(order)
    for start in range(0, n, size):
        yield index[start : start + size]


class Model(ABC):
    """One trainable model for one task type. Subclasses set `architecture`."""

    architecture: str = ""

    def __init__(
        self, task_type: TaskType, labels: list[str], *, seed: int, options: dict | None = None
    ) -> None:
        if not labels:
            raise ValueError("a model needs at least one label")
        self.task_type = TaskType(task_type)
        self.labels = list(labels)
        self.seed = int(seed)
        self.options: dict[str, Any] = dict(options or {})
        self.runtime = Runtime.from_options(self.options)
        # Facts learned from the data at fit time (image size, channels, temperature...).
        self.state: dict[str, Any] = {}

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @abstractmethod
    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        """Trains on (inputs, targets); returns metrics incl. epochs, seconds, device."""

    @abstractmethod
    def predict(self, inputs: list) -> Predictions:
        """Predicts for the inputs, in order."""

    @abstractmethod
    def _build(self) -> torch.nn.Module:
        """A fresh network for `self.state`."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights to save."""
        net = getattr(self, "net", None)
        assert net is not None, "nothing to save: the model is not trained"
        return net.state_dict()

    def _restore(self, weights: dict[str, torch.Tensor]) -> None:
        """Rebuilds the network from `self.state` and loads the weights."""
        self.net = self._build()
        self.net.load_state_dict(weights)
        self.net.eval()

    def save(self, path: str | os.PathLike) -> None:
        """Writes the model folder: weights.pt and model.json, each atomically."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "formatVersion": FORMAT_VERSION,
            "taskType": str(self.task_type),
            "labels": self.labels,
            "architecture": self.architecture,
            "seed": self.seed,
            "options": {k: v for k, v in self.options.items() if k not in ("device", "threads")},
            "state": self.state,
        }
        tmp = folder / (WEIGHTS_FILE + ".tmp")
        torch.save({k: v.detach().cpu() for k, v in self.state_dict().items()}, tmp)
        os.replace(tmp, folder / WEIGHTS_FILE)
        tmp = folder / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
        os.replace(tmp, folder / META_FILE)

    def _metrics(self, started: float, epochs: int, **extra: Any) -> dict:
        return {
            "architecture": self.architecture,
            "epochs": epochs,
            "seconds": round(time.perf_counter() - started, 3),
            "device": str(self.runtime.device),
            "threads": self.runtime.threads,
            **extra,
        }


def read_meta(path: str | os.PathLike) -> dict:
    meta_path = Path(path) / META_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"{path} is not a model folder: {META_FILE} is missing")
    return json.loads(meta_path.read_text())


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    return torch.load(Path(path) / WEIGHTS_FILE, map_location="cpu", weights_only=True)


def load_matching(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> list[str]:
    """Copies the weights whose names and shapes match (a warm start); returns those skipped."""
    own = module.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    module.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))
