"""Semantic segmentation: a small U-Net trained from scratch.

Classes: mask value 0 is background, value c + 1 is labels[c] (Ground Truth's convention:
its class-map has "0": "BACKGROUND"), so the network has len(labels) + 1 outputs.

Images are resized to a square working size (a multiple of 8), predicted masks are resized
back (nearest) to each image's own size. Pixel probabilities are temperature-scaled on a
held-out part of the training images.

Image confidence: an estimate of the image's mean IoU over foreground classes. For each
class c that is predicted somewhere (or holds at least `min_pixels` of probability mass),
expected intersection / expected union = sum_{pred=c} p_c / (|pred=c| + sum_{pred!=c} p_c),
averaged over those classes; an image with no such class gets the mean background
probability. It measures exactly what the segmentation target measures, with the
uncertain boundary and the doubtful-class pixels counting against it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from labelpilot.ml.base import (
    Model,
    Predictions,
    batches,
    load_matching,
    read_meta,
    read_weights,
    seed_everything,
)
from labelpilot.ml.images import pick_channels, pick_size, resize, to_tensor
from labelpilot.ml.training import default_epochs, fit_temperature, holdout_split, make_optimizer


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNetSmall(nn.Module):
    """Three down-sampling levels, widths w, 2w, 4w, 8w, transposed-conv up-sampling."""

    def __init__(self, channels: int, num_outputs: int, width: int = 8) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2 = _block(channels, w), _block(w, 2 * w)
        self.enc3, self.bottom = _block(2 * w, 4 * w), _block(4 * w, 8 * w)
        self.up3 = nn.ConvTranspose2d(8 * w, 4 * w, 2, stride=2)
        self.dec3 = _block(8 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = _block(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = _block(2 * w, w)
        self.out = nn.Conv2d(w, num_outputs, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - 0.5) / 0.5
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        b = self.bottom(F.max_pool2d(e3, 2))
        d3 = self.dec3(torch.cat([self.up3(b), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.out(d1), torch.flatten(F.adaptive_avg_pool2d(b, 1), 1)


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the foreground classes in the batch: the Dice term
    keeps the thin, rare foreground from drowning in background pixels."""
    ce = F.cross_entropy(logits, target)
    probs = torch.softmax(logits, 1)[:, 1:]
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    if not present.any():
        return ce
    dice = 1 - (2 * inter[present] + 1) / (total[present] + 1)
    return ce + dice.mean()


def expected_iou(probs: np.ndarray, pred: np.ndarray, min_pixels: float) -> float:
    """(C+1, H, W) probabilities and the argmax mask -> the estimated foreground mean IoU."""
    scores = []
    for c in range(1, probs.shape[0]):
        chosen = pred == c
        mass = probs[c].sum()
        if not chosen.any() and mass < min_pixels:
            continue
        inter = probs[c][chosen].sum()
        union = chosen.sum() + probs[c][~chosen].sum()
        scores.append(inter / max(union, 1e-6))
    if not scores:
        return float(probs[0].mean())
    return float(np.mean(scores))


class Segmenter(Model):
    """Options: image_size, width (8), epochs, batch_size, lr, min_pixels (4),
    calibration_fraction (0.1)."""

    architecture = "segmenter/unet-small"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net: UNetSmall | None = None

    def _build(self) -> UNetSmall:
        net = UNetSmall(
            self.state["channels"], self.num_classes + 1, int(self.options.get("width", 8))
        )
        return net.to(self.runtime.device)

    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        started = time.perf_counter()
        if len(inputs) != len(targets) or len(inputs) == 0:
            raise ValueError("fit needs one mask per image, and at least one image")
        with self.runtime.activate():
            generator = seed_everything(self.seed)
            same = bool(init_from) and read_meta(init_from)["architecture"] == self.architecture
            if same:
                self.state = {k: read_meta(init_from)["state"][k] for k in ("size", "channels")}
            else:
                side = self.options.get("image_size")
                size = [int(side)] * 2 if side else list(pick_size(inputs, 8, 32, 128))
                self.state = {"size": size, "channels": pick_channels(inputs)}
            self.net = self._build()
            if same:
                load_matching(self.net, read_weights(init_from))
            h, w = self.state["size"]
            x_all = to_tensor(inputs, (h, w), self.state["channels"])
            masks = np.stack([resize(np.asarray(m, np.uint8), h, w, nearest=True) for m in targets])
            if masks.max() > self.num_classes:
                raise ValueError(f"mask values must be 0..{self.num_classes} (0 = background)")
            y_all = torch.from_numpy(masks.astype(np.int64))
            rng = np.random.default_rng(self.seed)
            train_idx, cal_idx = holdout_split(
                len(inputs), float(self.options.get("calibration_fraction", 0.1)), rng
            )
            n = len(train_idx)
            batch_size = int(self.options.get("batch_size", 32))
            epochs = default_epochs(n, self.options, budget=10_000, lo=4, hi=80)
            optimizer, scheduler = make_optimizer(
                self.net.parameters(),
                float(self.options.get("lr", 5e-3)),
                1e-4,
                epochs * -(-n // batch_size),
            )
            device = self.runtime.device
            self.net.train()
            loss_value = float("nan")
            for _ in range(epochs):
                for idx in batches(n, batch_size, torch.randperm(n, generator=generator).numpy()):
                    rows = train_idx[idx]
                    with self.runtime.autocast():
                        logits, _ = self.net(x_all[rows].to(device))
                    loss = _loss(logits.float(), y_all[rows].to(device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    loss_value = float(loss.detach())
            self.net.eval()
            temperature = 1.0
            if len(cal_idx):
                logits = self._logits(x_all[cal_idx])
                pixels = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
                labels = y_all[cal_idx].reshape(-1)
                pick = torch.randperm(len(labels), generator=generator)[:200_000]
                temperature = fit_temperature(pixels[pick], labels[pick])
            self.state["temperature"] = temperature
        return self._metrics(
            started,
            epochs,
            trainSize=n,
            calibrationSize=len(cal_idx),
            temperature=round(temperature, 4),
            finalLoss=round(loss_value, 5),
            warmStart=bool(init_from),
        )

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        parts = []
        with torch.no_grad():
            for idx in batches(len(x), 64):
                with self.runtime.autocast():
                    parts.append(self.net(x[idx].to(self.runtime.device))[0].float().cpu())
        return torch.cat(parts) if parts else torch.zeros(0)

    def predict(self, inputs: list) -> Predictions:
        if self.net is None:
            raise RuntimeError("the model is not trained: call fit or load_model first")
        min_pixels = float(self.options.get("min_pixels", 4.0))
        temperature = self.state.get("temperature", 1.0)
        masks: list[np.ndarray] = []
        confidence = np.zeros(len(inputs), np.float32)
        embeddings = []
        with self.runtime.activate(), torch.no_grad():
            for idx in batches(len(inputs), 64):
                chunk = [inputs[i] for i in idx]
                x = to_tensor(chunk, tuple(self.state["size"]), self.state["channels"])
                with self.runtime.autocast():
                    logits, emb = self.net(x.to(self.runtime.device))
                embeddings.append(emb.float().cpu())
                probs = torch.softmax(logits.float() / temperature, 1).cpu().numpy()
                for j, image in enumerate(chunk):
                    pred = probs[j].argmax(0).astype(np.uint8)
                    confidence[idx[j]] = expected_iou(probs[j], pred, min_pixels)
                    height, width = np.asarray(image).shape[:2]
                    masks.append(resize(pred, height, width, nearest=True))
        return Predictions(
            masks=masks,
            image_confidence=confidence,
            embeddings=torch.cat(embeddings).numpy()
            if embeddings
            else np.zeros((0, 0), np.float32),
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        assert self.net is not None, "nothing to save: the model is not trained"
        return self.net.state_dict()

    def _restore(self, weights: dict[str, torch.Tensor]) -> None:
        self.net = self._build()
        self.net.load_state_dict(weights)
        self.net.eval()
