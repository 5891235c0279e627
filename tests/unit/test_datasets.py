import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.datasets import prepare as prep
from labelpilot.datasets import sources
from labelpilot.datasets.synthetic import paste_digits
from labelpilot.engine import formats


def fake_digits(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    digits = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        top, left = rng.integers(3, 10, 2)
        digits[i, top : top + 12, left : left + 8] = rng.integers(1, 256, (12, 8))
    return digits, np.arange(n) % 10


def test_pasted_boxes_and_masks_are_exact():
    digits, labels = fake_digits()
    canvases = paste_digits(digits, labels, 30, seed=1, canvas=64, max_digits=3)
    again = paste_digits(digits, labels, 30, seed=1, canvas=64, max_digits=3)
    for canvas, twin in zip(canvases, again, strict=True):
        np.testing.assert_array_equal(canvas.image, twin.image)
        assert 1 <= len(canvas.boxes) <= 3
        covered = np.zeros_like(canvas.mask, dtype=bool)
        for (cls, left, top, width, height), source in zip(
            canvas.boxes, canvas.sources, strict=True
        ):
            assert cls == labels[source]
            x0, t, w, h = int(left), int(top), int(width), int(height)
            patch = canvas.image[t : t + h, x0 : x0 + w]
            # tight box: ink on every border row and column
            assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
            assert not covered[t : t + h, x0 : x0 + w].any(), "boxes overlap"
            covered[t : t + h, x0 : x0 + w] = True
            expected = np.where(patch >= 128, cls + 1, 0)
            np.testing.assert_array_equal(canvas.mask[t : t + h, x0 : x0 + w], expected)
        assert not canvas.image[~covered].any() and not canvas.mask[~covered].any()


def test_email_text_keeps_subject_and_body():
    raw = (
        "From: a@b.c\nSubject: Cheap pills\nContent-Type: text/html\n\n"
        "<html><b>Buy</b> now &amp; save</html>"
    )
    text = prep.email_text(raw)
    assert text.startswith("Subject: Cheap pills\n\n")
    assert "Buy" in text and "& save" in text and "From:" not in text


@pytest.mark.parametrize("name", ["mnist", "digits", "mnist-boxes", "mnist-masks"])
def test_prepare_image_datasets(name, tmp_path):
    summary = prep.prepare(name, tmp_path / name, limit=12, seed=3)
    out = tmp_path / name
    spec = prep.DATASETS[name]
    assert summary["count"] == 12
    assert (out / "labels.txt").read_text().splitlines() == spec.labels
    objects = formats.read_manifest(str(out / "input.manifest"))
    assert len(objects) == 12 and not any(o.failed for o in objects)
    assert all(Path(o.source_ref).is_absolute() and Path(o.source_ref).exists() for o in objects)
    truth = formats.GroundTruth(str(out / "ground-truth.manifest"), spec.task_type, "label")
    assert len(truth) == 12
    if name.startswith("mnist-"):
        kind = "boxes" if name == "mnist-boxes" else "masks"
        images, labels = sources.mnist()
        canvas_size = 96 if kind == "boxes" else 64
        expected = paste_digits(
            images, labels, 12, seed=3, canvas=canvas_size, max_digits=3 if kind == "boxes" else 2
        )
    for i, obj in enumerate(objects):
        image = np.asarray(Image.open(obj.source_ref))
        label = truth.get(obj.key)
        if name == "mnist":
            index = int(Path(obj.source_ref).stem.split("-")[1])
            images, labels = sources.mnist()
            np.testing.assert_array_equal(image, images[index])
            assert label == labels[index]
        elif name == "digits":
            assert image.shape == (28, 28) and 0 <= label <= 9
        elif name == "mnist-boxes":
            np.testing.assert_array_equal(image, expected[i].image)
            assert label == formats.Boxes(96, 96, 1, expected[i].boxes)
        else:
            np.testing.assert_array_equal(image, expected[i].image)
            np.testing.assert_array_equal(label, expected[i].mask)


def test_prepare_is_idempotent(tmp_path):
    prep.prepare("mnist-masks", tmp_path / "a", limit=5)
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir() if p.is_file()}
    prep.prepare("mnist-masks", tmp_path / "a", limit=5)
    second = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir() if p.is_file()}
    assert first == second
    assert len(list((tmp_path / "a" / "objects").iterdir())) == 5


def test_prepare_spamassassin(tmp_path):
    prep.prepare("spamassassin", tmp_path, limit=40)
    rows = [
        json.loads(line) for line in (tmp_path / "ground-truth.manifest").read_text().splitlines()
    ]
    assert len(rows) == 40
    assert all(isinstance(r["source"], str) and r["source"].startswith("Subject:") for r in rows)
    assert {r["label-metadata"]["class-name"] for r in rows} == {"ham", "spam"}
    truth = formats.GroundTruth(
        str(tmp_path / "ground-truth.manifest"), TaskType.TEXT_CLASSIFICATION, "label"
    )
    assert all(truth.get(r["source"]) == r["label"] for r in rows)
    assert len(sources.spam_assassin()) == 6046


def test_cli_is_registered():
    from labelpilot.cli import build_parser

    args = build_parser().parse_args(
        ["datasets", "prepare", "digits", "--out", "x", "--limit", "3"]
    )
    assert (args.name, args.out, args.limit) == ("digits", "x", 3)


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError):
        prep.prepare("imagenet", tmp_path)
