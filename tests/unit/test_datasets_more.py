"""The data sets beyond MNIST and SpamAssassin, converted from tiny fake packages in a
private cache (no network), and the real packages' sizes where `make setup` cached them."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from labelpilot.datasets import glyphs, passages, sources
from labelpilot.datasets import prepare as prep
from labelpilot.engine import formats

LOADERS = (sources.fashion_mnist, sources.sotu, sources.first_names)
SPEECH = (
    "Mr. Speaker, Members of the Congress: the state of the Union is strong. [Applause] "
    "We will build roads, schools and bridges across this land of ours! Do we doubt it? "
    "No. Our people work hard, and their work deserves a fair wage and a decent home. "
    "Let us begin now, tonight, together with every member of this Congress here."
)


def _package(root: Path, package: sources.NpmPackage) -> Path:
    folder = root / package.key / "package"
    folder.mkdir(parents=True)
    (root / package.key / ".complete").write_text("fake\n")
    return folder


def _json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def fake_cache(tmp_path, monkeypatch):
    """A cache holding tiny look-alikes of the packages; returns the fake Fashion-MNIST."""
    root = tmp_path / "cache"
    monkeypatch.setenv(sources.CACHE_ENV, str(root))
    for loader in LOADERS:
        loader.cache_clear()
    rng = np.random.default_rng(7)
    clothes = rng.integers(0, 256, (10, 3, 28, 28)).astype(np.uint8)
    fashion = _package(root, sources.FASHION_MNIST) / "src" / "clothes"
    for cls in range(10):
        _json(fashion / f"{cls}.json", {"data": [*clothes[cls].reshape(3, -1).tolist(), []]})
    sotu = _package(root, sources.SOTU) / "data"
    for year, name, party in [
        (1850, "Millard Fillmore", "Whig"),
        (1950, "Harry S. Truman", "Democratic"),
        (1954, "Dwight D. Eisenhower", "Republican"),
        (1958, "Somebody Else", "Whig"),
        (1960, "Dwight D. Eisenhower", "Republican"),
    ]:
        record = {"year": year, "name": name, "party": party, "text": f"{SPEECH} So said {name}."}
        _json(sotu / f"{year}_{name.lower().replace(' ', '_')}.json", record)
    _json(_package(root, sources.FEMALE_NAMES) / "data" / "names.json", ["Ann", "Jo", "Mary"])
    _json(_package(root, sources.MALE_NAMES) / "data" / "names.json", ["Jo", "John"])
    font = _package(root, sources.FONT_AWESOME)
    (font / "webfonts").mkdir()
    (font / "webfonts" / "fa-solid-900.ttf").write_bytes(ImageFont.load_default(10).font_bytes)
    letters = {name: {"unicode": f"{ord('A') + i:x}"} for i, name in enumerate(prep.ICONS)}
    _json(font / "metadata" / "icon-families.json", letters)
    yield clothes
    for loader in LOADERS:
        loader.cache_clear()


def _truth(out: Path, name: str) -> tuple[list[formats.DataObject], formats.GroundTruth]:
    spec = prep.DATASETS[name]
    assert (out / "labels.txt").read_text().splitlines() == spec.labels
    objects = formats.read_manifest(str(out / "input.manifest"))
    truth = formats.GroundTruth(str(out / "ground-truth.manifest"), spec.task_type, "label")
    return objects, truth


def test_fashion_mnist_keeps_pixels_and_classes(fake_cache, tmp_path):
    images, labels = sources.fashion_mnist()
    assert images.shape == (30, 28, 28) and list(np.bincount(labels)) == [3] * 10
    summary = prep.prepare("fashion-mnist", tmp_path / "f", limit=12, seed=1)
    objects, truth = _truth(tmp_path / "f", "fashion-mnist")
    assert summary["count"] == len(objects) == len(truth) == 12
    for obj in objects:
        index = int(Path(obj.source_ref).stem.split("-")[1])
        cls, row = divmod(index, 3)
        np.testing.assert_array_equal(np.asarray(Image.open(obj.source_ref)), fake_cache[cls, row])
        assert truth.get(obj.key) == cls


@pytest.mark.parametrize("kind", ["boxes", "masks"])
def test_fashion_canvases_hold_fashion_items(fake_cache, tmp_path, kind):
    name = f"fashion-{kind}"
    prep.prepare(name, tmp_path / name, limit=6, seed=2)
    objects, truth = _truth(tmp_path / name, name)
    assert len(objects) == 6
    for obj in objects:
        image = np.asarray(Image.open(obj.source_ref))
        label = truth.get(obj.key)
        if kind == "boxes":
            assert image.shape == (96, 96) and 1 <= len(label.boxes) <= 3
            for _cls, left, top, width, height in label.boxes:
                assert image[int(top) : int(top + height), int(left) : int(left + width)].any()
        else:
            assert image.shape == (64, 64) and label.shape == (64, 64)
            assert label.any() and set(np.unique(label)) <= set(range(11))
            assert (image[label > 0] >= 64).all()


def test_icons_balanced_and_varied(fake_cache, tmp_path):
    prep.prepare("icons", tmp_path / "i", limit=24, seed=0)
    objects, truth = _truth(tmp_path / "i", "icons")
    labels = [truth.get(obj.key) for obj in objects]
    assert sorted(labels) == sorted(list(range(12)) * 2)
    pictures = [np.asarray(Image.open(obj.source_ref)) for obj in objects]
    assert all(p.shape == (28, 28) and p.max() > 100 for p in pictures)
    first, second = (p for p, label in zip(pictures, labels, strict=True) if label == 0)
    assert not np.array_equal(first, second)


def test_sotu_party_passages(fake_cache, tmp_path):
    prep.prepare("sotu-party", tmp_path / "s")
    objects, truth = _truth(tmp_path / "s", "sotu-party")
    rows = prep.sotu_passages()
    # 1960 repeats 1954 word for word: the ground truth is keyed by text, one is kept
    assert [key.split("-")[1] for key, _, _ in rows] == ["1950", "1954"]
    assert rows[0][0] == "sotu-1950-harry-s-truman-000"
    assert [obj.source for obj in objects] == [text for _, text, _ in rows]
    assert [truth.get(obj.source) for obj in objects] == [0, 1]
    assert "[Applause]" not in rows[0][1] and rows[0][1].startswith("Mr. Speaker")


def test_first_names_leave_out_shared_names(fake_cache, tmp_path):
    prep.prepare("first-names", tmp_path / "n")
    objects, truth = _truth(tmp_path / "n", "first-names")
    assert {obj.source: truth.get(obj.source) for obj in objects} == {
        "Ann": 0,
        "John": 1,
        "Mary": 0,
    }


def test_passages_join_sentences_up_to_the_word_count():
    text = "One two three. Four five six! [Laughter] Seven eight? Nine ten eleven twelve. End."
    assert passages.sentences(text) == [
        "One two three.",
        "Four five six!",
        "Seven eight?",
        "Nine ten eleven twelve.",
        "End.",
    ]
    assert passages.passages(text, min_words=5, keep_words=2) == [
        "One two three. Four five six!",
        "Seven eight? Nine ten eleven twelve.",
    ]
    assert passages.passages(text, min_words=5, keep_words=1)[-1] == "End."


def test_icon_images_are_deterministic_per_seed():
    font = ImageFont.load_default(40)
    images, labels = glyphs.icon_images(font, ["A", "B", "C"], 9, seed=4, size=20)
    again, labels_again = glyphs.icon_images(font, ["A", "B", "C"], 9, seed=4, size=20)
    other, _ = glyphs.icon_images(font, ["A", "B", "C"], 9, seed=5, size=20)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert images.shape == (9, 20, 20) and list(np.bincount(labels)) == [3, 3, 3]
    assert not np.array_equal(images, other)
    with pytest.raises(ValueError):
        glyphs.draw(font, " ")


def test_real_packages_sizes():
    """The packages `make setup` fetched (labelpilot datasets fetch) hold what we expect."""
    images, labels = sources.fashion_mnist()
    assert images.shape == (70_000, 28, 28) and list(np.bincount(labels)) == [7000] * 10
    assert len(prep.sotu_passages()) == prep.DATASETS["sotu-party"].default_count
    assert len(prep.gendered_names()) == prep.DATASETS["first-names"].default_count
    path, codes = sources.font_awesome()
    assert path.exists() and all(name in codes for name in prep.ICONS)
