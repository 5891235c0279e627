"""A plain, in-memory automated-labeling loop: the yardstick for `labelpilot run`'s speed.

Ground Truth's documented loop with nothing else: decode every image once, humans (the
ground truth) label a random first batch (half validation, half training), then each
iteration trains a small CNN on the training labels, predicts the validation set and the
pool, machine-labels the pool objects above a threshold whose Clopper-Pearson lower bound
on the validation set meets the target (delta halved each iteration, so the iterations
together spend at most delta), and sends the next batch of unlabeled objects to humans,
until every object is labeled. No workspace, no files between steps, no calibration, no
augmentation, no failed-object checks, no active learning.

`run(dataset_folder, threads=...)` returns wall time, machine-labeled count and accuracy.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from scipy.stats import beta

BATCH = 1000
EPOCHS = 10


@dataclass(frozen=True)
class Outcome:
    seconds: float
    objects: int
    machine_labeled: int
    machine_right: int
    human_labeled: int
    iterations: int

    @property
    def accuracy(self) -> float:
        return self.machine_right / self.machine_labeled if self.machine_labeled else 1.0


def _truth(path: Path, attribute: str, labels: list[str]) -> dict[str, int]:
    truth = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        value = record[attribute]
        truth[record["source-ref"]] = value if isinstance(value, int) else labels.index(value)
    return truth


def _decode(refs: list[str]) -> torch.Tensor:
    """Every image once, as (N, 1, H, W) floats in [0, 1] (grayscale, the first's size)."""
    first = Image.open(refs[0])
    size = first.size
    out = np.empty((len(refs), size[1], size[0]), dtype=np.uint8)
    for i, ref in enumerate(refs):
        with Image.open(ref) as image:
            out[i] = np.asarray(image.convert("L").resize(size))
    return torch.from_numpy(out).unsqueeze(1).float().div_(255.0)


def _network(classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.LazyLinear(128),
        nn.ReLU(),
        nn.Linear(128, classes),
    )


def epochs_for(n: int, sample_budget: int | None) -> int:
    """EPOCHS, or with a sample budget as many epochs as it pays for, from 4 to 40 (the
    schedule `labelpilot run` uses), so that both loops train on as many samples."""
    if sample_budget is None:
        return EPOCHS
    return min(40, max(4, math.ceil(sample_budget / n)))


def _train(x: torch.Tensor, y: torch.Tensor, classes: int, seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    net = _network(classes)
    net(x[:1])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


def _predict(net: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        probs = torch.cat([net(part).softmax(1) for part in x.split(1024)])
    confidence, label = probs.max(1)
    return confidence.numpy(), label.numpy()


def _threshold(confidence: np.ndarray, right: np.ndarray, target: float, delta: float) -> float:
    """The lowest validation confidence whose accepted set's Clopper-Pearson lower bound
    reaches the target: a fixed-sequence test walking down from the most confident, from
    the fewest objects that could pass with no error, stopping at its first failure;
    infinity when none passes."""
    order = np.argsort(-confidence)
    hits = np.cumsum(right[order])
    best = np.inf
    first = math.ceil(math.log(delta) / math.log(target))
    for n in range(first, len(order) + 1):
        k = int(hits[n - 1])
        if k == 0 or beta.ppf(delta, k, n - k + 1) < target:
            break
        best = float(confidence[order[n - 1]])
    return best


def run(
    folder: Path,
    *,
    threads: int,
    sample_budget: int | None = None,
    target: float = 0.95,
    delta: float = 0.05,
    seed: int = 0,
) -> Outcome:
    torch.set_num_threads(threads)
    info = json.loads((folder / "dataset.json").read_text())
    started = time.perf_counter()
    labels = info["labels"]
    lines = Path(info["inputManifest"]).read_text().splitlines()
    refs = [json.loads(line)["source-ref"] for line in lines]
    truth_of = _truth(Path(info["groundTruthManifest"]), info["labelAttributeName"], labels)
    truth = torch.tensor([truth_of[ref] for ref in refs])
    x = _decode(refs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(refs))
    validation = order[: BATCH // 2]
    training = list(order[BATCH // 2 : BATCH])
    pool = order[BATCH:]
    machine = right = iterations = 0
    while len(pool):
        epochs = epochs_for(len(training), sample_budget)
        net = _train(x[training], truth[training], len(labels), seed + iterations, epochs)
        val_conf, val_label = _predict(net, x[validation])
        val_right = val_label == truth[validation].numpy()
        cut = _threshold(val_conf, val_right, target, delta / 2 ** (iterations + 1))
        conf, label = _predict(net, x[pool])
        accepted = conf >= cut
        machine += int(accepted.sum())
        right += int((label[accepted] == truth[pool[accepted]].numpy()).sum())
        pool = rng.permutation(pool[~accepted])
        training += list(pool[:BATCH])
        pool = pool[BATCH:]
        iterations += 1
    return Outcome(
        seconds=time.perf_counter() - started,
        objects=len(refs),
        machine_labeled=machine,
        machine_right=right,
        human_labeled=len(validation) + len(training),
        iterations=iterations,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    from dataclasses import asdict

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a `labelpilot datasets prepare` folder")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--sample-budget", type=int, help="train on this many samples a fit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    outcome = run(
        args.folder, threads=args.threads, sample_budget=args.sample_budget, seed=args.seed
    )
    print(json.dumps({**asdict(outcome), "accuracy": outcome.accuracy}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
