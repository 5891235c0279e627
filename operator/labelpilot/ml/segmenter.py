"""Semantic segmentation: a small U-Net trained from scratch.

Classes: mask value 0 is background, value c + 1 is labels[c] (Ground Truth's convention:
its class-map has "0": "BACKGROUND"), so the network has len(labels) + 1 outputs.

Images are resized to a square working size (a multiple of 2^depth), predicted masks are resized
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

from labelpilot.engine import progress
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


def _single(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


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
    """A U-Net with a factorised output: a full-resolution foreground head and a class head
    read from the stride-4 decoder level (smooth, so one digit gets one class), combined as
    log p(background) = log(1 - f), log p(class c) = log f + log softmax(class)_c.

    `depth` down-sampling levels (widths w, 2w, 4w, 8w, 8w...), two convs per encoder level,
    one conv per decoder level after a transposed-conv up-sampling. `forward` returns the
    per-pixel log-probabilities (N, C + 1, H, W), the class logits at stride 4 and an
    embedding.
    """

    def __init__(self, channels: int, num_outputs: int, width: int = 12, depth: int = 4) -> None:
        super().__init__()
        widths = [width * min(2**i, 8) for i in range(depth + 1)]
        self.encoders = nn.ModuleList(
            [_block(cin, cout) for cin, cout in zip([channels, *widths[:-1]], widths, strict=True)]
        )
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)]
        )
        self.decoders = nn.ModuleList([_single(2 * widths[i], widths[i]) for i in range(depth)])
        self.class_level = min(2, depth)
        self.classes = nn.Conv2d(widths[self.class_level], num_outputs - 1, 1)
        self.foreground = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        size = x.shape[-2:]
        x = (x - 0.5) / 0.5
        skips = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        emb = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        class_logits = None
        for i in reversed(range(len(self.decoders))):
            x = self.decoders[i](torch.cat([self.ups[i](x), skips[i]], 1))
            if i == self.class_level:
                class_logits = self.classes(x)
        if class_logits is None:  # depth 0: classes from the input level
            class_logits = self.classes(x)
        fg = self.foreground(x).float()
        classes = F.interpolate(
            class_logits.float(), size=size, mode="bilinear", align_corners=False
        )
        log_probs = torch.cat([F.logsigmoid(-fg), F.logsigmoid(fg) + F.log_softmax(classes, 1)], 1)
        return log_probs, class_logits, emb


def _loss(
    log_probs: torch.Tensor, class_logits: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Per-pixel NLL of the combined distribution, plus the class cross-entropy over the
    foreground pixels only (at the class head's resolution), so that the thin, rare strokes
    are not drowned by background pixels when the digit's class is learned."""
    nll = F.nll_loss(log_probs, target)
    stride = target.shape[-1] // class_logits.shape[-1]
    # the class of some ink pixel in each cell (digits never share a cell in practice)
    coarse = F.max_pool2d(target[:, None].float(), stride)[:, 0].long()
    fg = coarse > 0
    if not fg.any():
        return nll
    cls = F.cross_entropy(class_logits.float().permute(0, 2, 3, 1)[fg], coarse[fg] - 1)
    return nll + cls


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


def class_confidence(probs: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(C+1, H, W) probabilities and the argmax mask -> (C+1,) each class's mean probability
    over the pixels predicted as it; NaN for a class with no such pixel."""
    out = np.full(probs.shape[0], np.nan, np.float32)
    for c in np.unique(pred):
        out[c] = float(probs[c][pred == c].mean())
    return out


class Segmenter(Model):
    """Options: image_size, width (8), depth (4), epochs, batch_size, lr, min_pixels (4),
    calibration_fraction (0.1)."""

    architecture = "segmenter/unet-small"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net: UNetSmall | None = None

    def _build(self) -> UNetSmall:
        net = UNetSmall(
            self.state["channels"],
            self.num_classes + 1,
            int(self.options.get("width", 8)),
            int(self.state.get("depth", 4)),
        )
        return self.runtime.place(net)

    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        started = time.perf_counter()
        if len(inputs) != len(targets) or len(inputs) == 0:
            raise ValueError("fit needs one mask per image, and at least one image")
        with self.runtime.activate():
            generator = seed_everything(self.seed)
            same = bool(init_from) and read_meta(init_from)["architecture"] == self.architecture
            if same:
                self.state = {
                    k: read_meta(init_from)["state"][k] for k in ("size", "channels", "depth")
                }
            else:
                side = self.options.get("image_size")
                depth = int(self.options.get("depth", 4))
                size = [int(side)] * 2 if side else list(pick_size(inputs, 2**depth, 32, 128))
                self.state = {"size": size, "channels": pick_channels(inputs), "depth": depth}
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
            for epoch in range(epochs):
                for idx in batches(n, batch_size, torch.randperm(n, generator=generator).numpy()):
                    rows = train_idx[idx]
                    with self.runtime.autocast():
                        log_probs, class_logits, _ = self.net(x_all[rows].to(device))
                    loss = _loss(log_probs, class_logits, y_all[rows].to(device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    loss_value = float(loss.detach())
                progress.report("epochs", epoch + 1, epochs)
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
        by_class = np.full((len(inputs), self.num_classes + 1), np.nan, np.float32)
        embeddings = []
        with self.runtime.activate(), torch.no_grad():
            for idx in batches(len(inputs), 64):
                chunk = [inputs[i] for i in idx]
                x = to_tensor(chunk, tuple(self.state["size"]), self.state["channels"])
                with self.runtime.autocast():
                    logits, _, emb = self.net(x.to(self.runtime.device))
                embeddings.append(emb.float().cpu())
                progress.report("objects", int(idx[-1]) + 1, len(inputs))
                probs = torch.softmax(logits.float() / temperature, 1).cpu().numpy()
                for j, image in enumerate(chunk):
                    pred = probs[j].argmax(0).astype(np.uint8)
                    confidence[idx[j]] = expected_iou(probs[j], pred, min_pixels)
                    by_class[idx[j]] = class_confidence(probs[j], pred)
                    height, width = np.asarray(image).shape[:2]
                    masks.append(resize(pred, height, width, nearest=True))
        return Predictions(
            masks=masks,
            image_confidence=confidence,
            class_confidence=by_class,
            embeddings=torch.cat(embeddings).numpy()
            if embeddings
            else np.zeros((0, 0), np.float32),
        )
