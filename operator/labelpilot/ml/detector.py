"""Object detection: a small CenterNet-style detector trained from scratch.

Images are resized to a square working size S (a multiple of 16). A compact encoder
(strides 2, 4, 8) with one skip connection gives a stride-4 feature map, and four 1x1 heads
predict per cell: a class-agnostic centre heatmap (sigmoid, CenterNet's focal loss), class
logits (softmax, cross-entropy on the cells near each centre), the box size and the
sub-cell offset of the centre. Boxes sit at the heatmap's local maxima (3x3 max-pool);
a box's score is P(centre) x P(class); boxes are mapped back to each image's own pixels.
Factorising "is there an object" from "which class" lets every object teach the centre
head, however rare its class.

Image confidence: the estimated probability that the image's box set is entirely right,
min(score of kept boxes) x prod(1 - score) over the "borderline" peaks that just missed the
score threshold (possible missed objects). With no kept box it is prod(1 - score) over the
borderline peaks (a confident empty image). It ranks images by the box-set quality that
the per-image IoU measures: one doubtful box or one near-miss makes the whole image doubtful.
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
from labelpilot.ml.images import pick_channels, pick_size, to_tensor
from labelpilot.ml.training import default_epochs, make_optimizer

STRIDE = 4
MAX_PEAKS = 32


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CenterNetSmall(nn.Module):
    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(_conv(channels, w, 2), _conv(w, w))  # S/2
        self.down1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))  # S/4
        self.down2 = nn.Sequential(  # S/8, wide receptive field for whole digits
            _conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w), _conv(4 * w, 4 * w, dilation=2)
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(6 * w, 3 * w, 1, bias=False),
            nn.BatchNorm2d(3 * w),
            nn.ReLU(inplace=True),
            _conv(3 * w, 3 * w),
        )
        self.heatmap = nn.Conv2d(3 * w, 1, 1)
        # Classes from the stride-8 features (whole-digit receptive field), upsampled.
        self.classes = nn.Sequential(_conv(4 * w, 4 * w), nn.Conv2d(4 * w, num_classes, 1))
        self.size = nn.Conv2d(3 * w, 2, 1)
        self.offset = nn.Conv2d(3 * w, 2, 1)
        nn.init.constant_(self.heatmap.bias, -2.19)  # prior 0.1, as CenterNet

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = (x - 0.5) / 0.5
        s4 = self.down1(self.stem(x))
        s8 = self.down2(s4)
        up = F.interpolate(s8, size=s4.shape[-2:], mode="nearest")
        f = self.fuse(torch.cat([s4, up], 1))
        emb = torch.flatten(F.adaptive_avg_pool2d(s8, 1), 1)
        classes = F.interpolate(
            self.classes(s8), size=s4.shape[-2:], mode="bilinear", align_corners=False
        )
        return self.heatmap(f), classes, self.size(f), self.offset(f), emb


def _targets(
    boxes: list[np.ndarray], scales: list[tuple[float, float]], grid: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre heatmaps (N,1,G,G), class targets (N,G,G) (-1: none; set on the cells near a
    centre), size and offset targets (N,2,G,G) and a centre mask (N,G,G)."""
    n = len(boxes)
    heat = np.zeros((n, 1, grid, grid), np.float32)
    classes = np.full((n, grid, grid), -1, np.int64)
    best = np.zeros((n, grid, grid), np.float32)
    size = np.zeros((n, 2, grid, grid), np.float32)
    offset = np.zeros((n, 2, grid, grid), np.float32)
    mask = np.zeros((n, grid, grid), np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid]
    for i, (image_boxes, (sx, sy)) in enumerate(zip(boxes, scales, strict=True)):
        for cls, left, top, width, height in np.asarray(image_boxes, np.float32).reshape(-1, 5):
            w, h = width * sx / STRIDE, height * sy / STRIDE
            cx, cy = (left + width / 2) * sx / STRIDE, (top + height / 2) * sy / STRIDE
            ix, iy = min(grid - 1, max(0, int(cx))), min(grid - 1, max(0, int(cy)))
            sigma = max(0.5, (min(w, h) / 2) / 3)
            g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
            heat[i, 0] = np.maximum(heat[i, 0], g)
            heat[i, 0, iy, ix] = 1.0
            near = (g >= 0.3) & (g > best[i])
            classes[i][near] = int(cls)
            best[i][near] = g[near]
            classes[i, iy, ix] = int(cls)
            best[i, iy, ix] = 2.0
            size[i, :, iy, ix] = (w, h)
            offset[i, :, iy, ix] = (cx - ix, cy - iy)
            mask[i, iy, ix] = 1.0
    return (
        torch.from_numpy(heat),
        torch.from_numpy(classes),
        torch.from_numpy(size),
        torch.from_numpy(offset),
        torch.from_numpy(mask),
    )


def _focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss (alpha 2, beta 4)."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    num_pos = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos


class Detector(Model):
    """Options: image_size, width (16), epochs, batch_size, lr, score_threshold (0.15),
    borderline (0.03: peaks from here up to the threshold lower the image confidence)."""

    architecture = "detector/centernet-small"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net: CenterNetSmall | None = None

    def _build(self) -> CenterNetSmall:
        net = CenterNetSmall(
            self.state["channels"], self.num_classes, int(self.options.get("width", 16))
        )
        return self.runtime.place(net)

    def _scales(self, inputs: list[np.ndarray]) -> list[tuple[float, float]]:
        side = self.state["size"][0]
        return [(side / np.asarray(im).shape[1], side / np.asarray(im).shape[0]) for im in inputs]

    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        started = time.perf_counter()
        if len(inputs) != len(targets) or len(inputs) == 0:
            raise ValueError("fit needs one box array per image, and at least one image")
        boxes = [np.asarray(t, np.float32).reshape(-1, 5) for t in targets]
        for b in boxes:
            if len(b) and (b[:, 0].min() < 0 or b[:, 0].max() >= self.num_classes):
                raise ValueError("box class ids must index the labels")
        with self.runtime.activate():
            generator = seed_everything(self.seed)
            same = bool(init_from) and read_meta(init_from)["architecture"] == self.architecture
            if same:
                self.state = {k: read_meta(init_from)["state"][k] for k in ("size", "channels")}
            else:
                side = self.options.get("image_size")
                size = [int(side)] * 2 if side else list(pick_size(inputs, 16, 32, 160))
                self.state = {"size": size, "channels": pick_channels(inputs)}
            self.net = self._build()
            if same:
                load_matching(self.net, read_weights(init_from))
            x_all = to_tensor(inputs, tuple(self.state["size"]), self.state["channels"])
            grid = self.state["size"][0] // STRIDE
            heat, cls_t, size_t, offset_t, mask = _targets(boxes, self._scales(inputs), grid)
            n = len(inputs)
            batch_size = int(self.options.get("batch_size", 32))
            epochs = default_epochs(n, self.options, budget=12_000, lo=4, hi=80)
            steps = epochs * -(-n // batch_size)
            optimizer, scheduler = make_optimizer(
                self.net.parameters(), float(self.options.get("lr", 4e-3)), 1e-4, steps
            )
            device = self.runtime.device
            self.net.train()
            loss_value = float("nan")
            for epoch in range(epochs):
                for idx in batches(n, batch_size, torch.randperm(n, generator=generator).numpy()):
                    with self.runtime.autocast():
                        hm, cl, sz, off, _ = self.net(x_all[idx].to(device))
                    m = mask[idx].to(device).unsqueeze(1)
                    num = m.sum().clamp(min=1.0)
                    targets = cls_t[idx].to(device)
                    class_loss = (
                        F.cross_entropy(cl.float(), targets, ignore_index=-1)
                        if bool((targets >= 0).any())
                        else cl.sum() * 0.0
                    )
                    loss = (
                        _focal_loss(hm.float(), heat[idx].to(device))
                        + class_loss
                        + 0.4 * (torch.abs(sz.float() - size_t[idx].to(device)) * m).sum() / num
                        + (torch.abs(off.float() - offset_t[idx].to(device)) * m).sum() / num
                    )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    loss_value = float(loss.detach())
                progress.report("epochs", epoch + 1, epochs)
            self.net.eval()
        return self._metrics(
            started, epochs, trainSize=n, finalLoss=round(loss_value, 5), warmStart=bool(init_from)
        )

    def predict(self, inputs: list) -> Predictions:
        if self.net is None:
            raise RuntimeError("the model is not trained: call fit or load_model first")
        threshold = float(self.options.get("score_threshold", 0.15))
        borderline = float(self.options.get("borderline", 0.03))
        all_boxes: list[np.ndarray] = []
        confidence = np.zeros(len(inputs), np.float32)
        embeddings = []
        with self.runtime.activate(), torch.no_grad():
            for idx in batches(len(inputs), 128):
                chunk = [inputs[i] for i in idx]
                x = to_tensor(chunk, tuple(self.state["size"]), self.state["channels"])
                with self.runtime.autocast():
                    hm, cl, sz, off, emb = self.net(x.to(self.runtime.device))
                embeddings.append(emb.float().cpu())
                progress.report("objects", int(idx[-1]) + 1, len(inputs))
                heat = torch.sigmoid(hm.float())
                class_probs, class_ids = torch.softmax(cl.float(), 1).max(1)
                # score = P(object centre here) x P(its class)
                score_map = heat[:, 0] * class_probs
                peaks = score_map * (F.max_pool2d(heat, 3, 1, 1)[:, 0] == heat[:, 0])
                n, g, _ = score_map.shape
                k = min(MAX_PEAKS, g * g)
                scores, flat = peaks.reshape(n, -1).topk(k)
                scores, flat = scores.cpu().numpy(), flat.cpu().numpy()
                class_ids = class_ids.reshape(n, -1).cpu().numpy()
                sz, off = sz.float().cpu().numpy(), off.float().cpu().numpy()
                for j, (sx, sy) in enumerate(self._scales(chunk)):
                    cls, cell = class_ids[j][flat[j]], flat[j]
                    iy, ix = cell // g, cell % g
                    keep = scores[j] >= threshold
                    near = (scores[j] >= borderline) & ~keep
                    out = []
                    for cl, y0, x0, s in zip(
                        cls[keep], iy[keep], ix[keep], scores[j][keep], strict=True
                    ):
                        w, h = np.maximum(sz[j, :, y0, x0], 0.0) * STRIDE
                        cx = (x0 + off[j, 0, y0, x0]) * STRIDE
                        cy = (y0 + off[j, 1, y0, x0]) * STRIDE
                        out.append([cl, (cx - w / 2) / sx, (cy - h / 2) / sy, w / sx, h / sy, s])
                    all_boxes.append(np.asarray(out, np.float32).reshape(-1, 6))
                    miss = float(np.prod(1.0 - scores[j][near]))
                    kept = float(scores[j][keep].min()) if keep.any() else 1.0
                    confidence[idx[j]] = kept * miss
        return Predictions(
            boxes=all_boxes,
            image_confidence=confidence,
            embeddings=torch.cat(embeddings).numpy()
            if embeddings
            else np.zeros((0, 0), np.float32),
        )
