"""Shared training pieces: the holdout split, the optimiser schedule, temperature scaling."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labelpilot.engine import progress
from labelpilot.ml.base import Runtime, batches

T_MIN, T_MAX = 0.5, 20.0
MIN_CALIBRATION = 20  # fewer holdout objects than this: no temperature scaling (T = 1)
# Fewer training labels than this: no held-out calibration by default (image and text
# classifiers); the measurements are in docs/ml.md, "Every label to the model".
CALIBRATE_FROM = 2000


def calibration_fraction(
    n_labels: int, options: dict, *, default: float = 0.1, from_labels: int = CALIBRATE_FROM
) -> float:
    """The share of the training labels held out to fit the temperature.

    `options["calibration_fraction"]` when given; else `default` once there are at least
    `from_labels` labels, and 0 (no holdout, T = 1) below that: with few labels every one
    is worth more to the model than to its calibration (see docs/ml.md).
    """
    if "calibration_fraction" in options:
        return float(options["calibration_fraction"])
    return default if n_labels >= from_labels else 0.0


def holdout_split(
    n: int, fraction: float, rng: np.random.Generator, targets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, calibration). Stratified by class when targets are given.

    Returns an empty calibration set when it would hold fewer than MIN_CALIBRATION objects.
    """
    count = min(round(n * fraction), 1000)
    if count < MIN_CALIBRATION or n - count < 2:
        return np.arange(n), np.arange(0)
    if targets is None:
        order = rng.permutation(n)
        return np.sort(order[count:]), np.sort(order[:count])
    calibration: list[int] = []
    for cls in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == cls))
        take = round(len(members) * count / n)
        if len(members) - take >= 1:
            calibration.extend(members[:take].tolist())
    held = np.zeros(n, dtype=bool)
    held[calibration] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def default_epochs(
    n_train: int, options: dict, budget: int = 25_000, lo: int = 4, hi: int = 40
) -> int:
    """Epochs so that a fit sees about `budget` samples: many epochs for few labels."""
    if "epochs" in options:
        return int(options["epochs"])
    budget = int(options.get("sample_budget", budget))
    return int(min(hi, max(lo, math.ceil(budget / max(1, n_train)))))


class Joint:
    """Several optimizers (or schedulers) stepped as one."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            part.step()


def make_optimizer(
    params, lr: float, weight_decay: float, total_steps: int, sparse_params=()
) -> tuple[Any, Any]:
    """AdamW with a one-cycle schedule; `sparse_params` (sparse-gradient embeddings) get
    SparseAdam on the same schedule, so a step touches only the rows a batch used."""
    sparse = list(sparse_params)
    sparse_ids = {id(p) for p in sparse}
    dense = [p for p in params if id(p) not in sparse_ids]
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay)
    ]
    if sparse:
        optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
    schedulers = [
        torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=lr,
            total_steps=max(1, total_steps),
            pct_start=0.15,
            anneal_strategy="cos",
            cycle_momentum=False,
        )
        for optimizer in optimizers
    ]
    if len(optimizers) == 1:
        return optimizers[0], schedulers[0]
    return Joint(optimizers), Joint(schedulers)


def classification_targets(
    targets: Any, n_inputs: int, num_classes: int, multilabel: bool
) -> np.ndarray:
    """Checked targets: label indices (N,), or for multi-label an (N, C) 0/1 matrix."""
    if multilabel:
        y = np.asarray(targets, dtype=np.float32).reshape(len(targets), -1)
        if y.shape[1] != num_classes or not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"multi-label targets must be (N, {num_classes}) 0/1 rows")
    else:
        y = np.asarray(targets, dtype=np.int64)
    if n_inputs != len(y) or len(y) == 0:
        raise ValueError("fit needs as many targets as inputs, and at least one")
    if not multilabel and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError("classification targets must be label indices")
    return y


def classification_loss(logits: torch.Tensor, y: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Cross-entropy over the classes, or for multi-label one binary cross-entropy per label."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, y.float())
    return F.cross_entropy(logits, y)


def probabilities(logits: torch.Tensor, multilabel: bool) -> np.ndarray:
    """Softmax over the classes, or for multi-label each label's own sigmoid."""
    out = torch.sigmoid(logits) if multilabel else torch.softmax(logits, 1)
    return out.numpy().astype(np.float32)


def calibrate(logits: torch.Tensor, y: np.ndarray, multilabel: bool) -> tuple[float, float]:
    """(temperature, accuracy) on held-out logits; multi-label accuracy is of whole sets."""
    targets = torch.as_tensor(y)
    temperature = fit_temperature(logits, targets, multilabel)
    if multilabel:
        right = ((logits >= 0) == (targets >= 0.5)).all(dim=1)
    else:
        right = logits.argmax(1) == targets
    return temperature, float(right.float().mean())


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool = False) -> float:
    """The temperature T minimising the NLL of softmax(logits / T) (Guo et al., 2017); for
    multi-label, of every label's sigmoid(logit / T).

    A 1-D problem: a log-spaced grid, then a finer grid around the best point. Robust and
    deterministic, unlike LBFGS on tiny sets. T stays within [T_MIN, T_MAX]: a holdout that
    the model classifies perfectly drives the NLL optimum towards T = 0, which would saturate
    every probability at 1.0 and destroy the ranking that thresholds rely on.
    """
    if len(logits) == 0:
        return 1.0
    logits = logits.float()

    def nll(t: float) -> float:
        return float(classification_loss(logits / t, targets, multilabel))

    grid = np.exp(np.linspace(np.log(T_MIN), np.log(T_MAX), 49))
    best = min(grid, key=nll)
    fine = np.clip(best * np.exp(np.linspace(-0.12, 0.12, 25)), T_MIN, T_MAX)
    return float(min(fine, key=nll))


BatchFn = Callable[[np.ndarray, bool], torch.Tensor]


def train_classifier(
    net: torch.nn.Module,
    runtime: Runtime,
    targets: np.ndarray,
    batch_fn: BatchFn,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
    multilabel: bool = False,
) -> float:
    """Cross-entropy training of `net` (returning (logits, embeddings)); returns the last loss.

    `batch_fn(indices, train)` gives the input batch on the runtime's device. `targets`:
    label indices, or with `multilabel` (N, C) 0/1 rows (binary cross-entropy per label).
    """
    n = len(targets)
    y_all = torch.as_tensor(targets, dtype=torch.float32 if multilabel else torch.long)
    steps_per_epoch = math.ceil(n / batch_size)
    params = [p for p in net.parameters() if p.requires_grad]
    sparse = [
        m.weight
        for m in net.modules()
        if isinstance(m, torch.nn.EmbeddingBag | torch.nn.Embedding) and m.sparse
    ]
    optimizer, scheduler = make_optimizer(
        params, lr, weight_decay, epochs * steps_per_epoch, sparse_params=sparse
    )
    net.train()
    loss_value = float("nan")
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).numpy()
        for idx in batches(n, batch_size, order):
            x = batch_fn(idx, True)
            y = y_all[idx].to(runtime.device)
            with runtime.autocast():
                logits, _ = net(x)
            loss = classification_loss(logits.float(), y, multilabel)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = float(loss.detach())
        progress.report("epochs", epoch + 1, epochs)
    net.eval()
    return loss_value


def predict_logits(
    net: torch.nn.Module, runtime: Runtime, n: int, batch_fn: BatchFn, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, embeddings) for n objects, as CPU float32."""
    net.eval()
    logits, embeddings = [], []
    with torch.no_grad():
        for idx in batches(n, batch_size):
            with runtime.autocast():
                out, emb = net(batch_fn(idx, False))
            logits.append(out.float().cpu())
            embeddings.append(emb.float().cpu())
            progress.report("objects", int(idx[-1]) + 1, n)
    if not logits:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(logits), torch.cat(embeddings)
