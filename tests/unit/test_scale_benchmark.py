"""The scale benchmark's data sets and its growth figures."""

import pytest
from benchmarks.scale import LABELS, SHAPES, exponent, generate, per_object
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats
from labelpilot.engine.formats import GroundTruth


@pytest.mark.parametrize(
    ("kind", "task", "labels"),
    [
        ("text", TaskType.TEXT_CLASSIFICATION, LABELS),
        ("image", TaskType.IMAGE_CLASSIFICATION, SHAPES),
    ],
)
def test_generate_writes_a_manifest_and_its_ground_truth(tmp_path, kind, task, labels):
    generate(kind, 60, tmp_path, seed=3)
    objects = formats.read_manifest(str(tmp_path / "input.manifest"))
    truth = GroundTruth(str(tmp_path / "ground-truth.manifest"), task, "label", labels=labels)
    assert len(objects) == 60 and not any(o.failed for o in objects)
    classes = [truth.get(o.key) for o in objects if o.key is not None]
    assert len(classes) == 60 and set(classes) == set(range(len(labels)))
    assert (tmp_path / "labels.txt").read_text().split() == labels
    if kind == "image":
        assert objects[0].source_ref is not None
        assert Image.open(objects[0].source_ref).size == (28, 28)


def test_the_text_classes_differ_in_their_words(tmp_path):
    """The signal a model learns: most sentences hold more words of their own topic than of
    the others."""
    from benchmarks.scale import TOPIC_WORDS

    generate("text", 300, tmp_path, seed=1)
    truth = GroundTruth(
        str(tmp_path / "ground-truth.manifest"), TaskType.TEXT_CLASSIFICATION, "label"
    )
    right = 0
    for obj in formats.read_manifest(str(tmp_path / "input.manifest")):
        assert obj.source is not None and obj.key is not None
        words = obj.source.lower().rstrip(".").split()
        counts = [sum(w in TOPIC_WORDS[name].split() for w in words) for name in LABELS]
        right += counts.index(max(counts)) == truth.get(obj.key)
    assert right > 0.8 * 300


def test_generate_is_deterministic_for_a_seed(tmp_path):
    generate("text", 20, tmp_path / "a", seed=5)
    generate("text", 20, tmp_path / "b", seed=5)
    generate("text", 20, tmp_path / "c", seed=6)
    a, b, c = ((tmp_path / x / "input.manifest").read_text() for x in "abc")
    assert a == b != c


def test_growth_figures():
    assert exponent(10_000, 2.0, 100_000, 20.0) == "1.00"
    assert exponent(10_000, 2.0, 100_000, 2.0) == "0.00"
    assert exponent(10_000, 0.0, 100_000, 2.0) == "-"
    assert per_object(10_000, 100.0, 100_000, 100.0 + 90_000 / 2**20) == "1"
