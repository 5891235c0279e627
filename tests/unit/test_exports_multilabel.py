"""Multi-label exports: JSON Lines rows naming each object's classes, and the labels a
Ground Truth multi-label manifest names in its class-maps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.engine.exports import jsonl, source
from labelpilot.engine.exports.common import Item, Left

LABELS = ["dog", "cat", "bone"]
IMAGES = TaskType.IMAGE_CLASSIFICATION_MULTILABEL
TEXTS = TaskType.TEXT_CLASSIFICATION_MULTILABEL


def gt_line(ref: str, classes: list[int], names: dict[int, str]) -> dict[str, Any]:
    """A Ground Truth multi-label output line."""
    return {
        "source-ref": ref,
        "pets": classes,
        "pets-metadata": {
            "class-map": {str(c): names[c] for c in classes},
            "confidence-map": {str(c): 0.9 for c in classes},
            "type": "groundtruth/image-classification-multilabel",
            "human-annotated": "yes",
            "creation-date": "2026-11-30T10:00:00.000000",
            "job-name": "labeling-job/pets",
        },
    }


def test_multilabel_rows_name_the_classes_and_features_are_a_sequence(tmp_path):
    items = [
        Item(0, "s3://pets/0.jpg", None, [2, 0]),
        Item(1, "s3://pets/1.jpg", None, []),
        Item(2, "s3://pets/2.jpg", None, [1]),
    ]
    left: list[Left] = []
    texts = jsonl.TextFiles(str(tmp_path))
    files = jsonl.write(str(tmp_path / "hf"), items, IMAGES, LABELS, texts, left)
    assert [f.rsplit("/", 1)[-1] for f in files] == [jsonl.DATA, jsonl.FEATURES]
    rows = [json.loads(x) for x in (tmp_path / "hf" / jsonl.DATA).read_text().splitlines()]
    assert rows == [
        {"image": "s3://pets/0.jpg", "labels": ["dog", "bone"]},
        {"image": "s3://pets/1.jpg", "labels": []},
        {"image": "s3://pets/2.jpg", "labels": ["cat"]},
    ]
    assert not left
    assert json.loads((tmp_path / "hf" / jsonl.FEATURES).read_text()) == {
        "image": {"dtype": "string", "_type": "Value"},
        "labels": {
            "feature": {"names": LABELS, "_type": "ClassLabel"},
            "length": -1,
            "_type": "Sequence",
        },
    }


def test_multilabel_text_rows_hold_the_text(tmp_path):
    (tmp_path / "a.txt").write_text("a dog with a bone")
    items = [
        Item(0, None, "a cat", [1]),
        Item(1, "a.txt", None, [0, 2]),
        Item(2, "b.txt", None, []),
    ]
    left: list[Left] = []
    rows = list(jsonl.rows(items, TEXTS, LABELS, jsonl.TextFiles(str(tmp_path)), left))
    assert rows == [
        {"text": "a cat", "labels": ["cat"]},
        {"text": "a dog with a bone", "labels": ["dog", "bone"]},
    ]
    (gone,) = left
    assert gone.index == 2 and "cannot be read" in gone.detail


@pytest.mark.parametrize("task_type", [TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION])
def test_single_label_rows_keep_the_class_id(tmp_path, task_type):
    item = Item(0, "s3://pets/0.jpg", "a dog", 2)
    (row,) = jsonl.rows([item], task_type, LABELS, jsonl.TextFiles(str(tmp_path)), [])
    assert row[jsonl.column(task_type)] in ("s3://pets/0.jpg", "a dog") and row["label"] == 2


def test_a_multilabel_manifest_names_its_labels_in_its_class_maps(tmp_path):
    names = dict(enumerate(LABELS))
    lines = [
        gt_line("s3://pets/0.jpg", [0, 2], names),
        gt_line("s3://pets/1.jpg", [], names),
        gt_line("s3://pets/2.jpg", [1], names),
    ]
    manifest = tmp_path / "output.manifest"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    src = source.open_source(manifest=str(manifest), task_type=IMAGES.value, attribute="pets")
    assert src.job.labels == tuple(LABELS)
    other = gt_line("s3://pets/3.jpg", [1], {1: "wolf"})
    manifest.write_text(manifest.read_text() + json.dumps(other) + "\n")
    with pytest.raises(source.ExportError, match="class id 1 is 'cat' on line 3 but 'wolf'"):
        source.open_source(manifest=str(manifest), task_type=IMAGES.value, attribute="pets")


def test_a_ground_truth_multilabel_manifest_exports_as_jsonl(tmp_path, capsys):
    from labelpilot import cli

    names = dict(enumerate(LABELS))
    lines = [
        gt_line("s3://pets/0.jpg", [0, 2], names),
        gt_line("s3://pets/1.jpg", [], names),
        gt_line("s3://pets/2.jpg", [1], names),
        {"source-ref": "s3://pets/3.jpg"},
    ]
    manifest = tmp_path / "output.manifest"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "hf"
    code = cli.main(
        [
            "export",
            "--manifest",
            str(manifest),
            "--task-type",
            IMAGES.value,
            "--attribute",
            "pets",
            "--format",
            "jsonl",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "exported 3 of 4 objects" in printed.out and "1 unlabeled" in printed.out
    rows = [json.loads(x) for x in (out / jsonl.DATA).read_text().splitlines()]
    assert rows == [
        {"image": "s3://pets/0.jpg", "labels": ["dog", "bone"]},
        {"image": "s3://pets/1.jpg", "labels": []},
        {"image": "s3://pets/2.jpg", "labels": ["cat"]},
    ]
    features = json.loads((out / jsonl.FEATURES).read_text())
    assert features["labels"]["feature"]["names"] == LABELS


@pytest.mark.parametrize(
    "task_type, labels",
    [
        (IMAGES, [[0, 2], [], [1]]),
        (TEXTS, [[1], [0, 1, 2], []]),
        (TaskType.IMAGE_CLASSIFICATION, [2, 0, 1]),
        (TaskType.TEXT_CLASSIFICATION, [1, 1, 0]),
    ],
)
def test_the_datasets_json_loader_reads_the_export_with_its_features(
    tmp_path, monkeypatch, task_type, labels
):
    """Hugging Face `datasets` itself reads data.jsonl with features.json: class names
    become the ClassLabel ids of the job's labels."""
    import datasets

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    texts = ["a dog", "a cat and a bone", "nothing"]
    items = [
        Item(i, f"s3://pets/{i}.jpg" if not task_type.is_text else None, texts[i], label)
        for i, label in enumerate(labels)
    ]
    left: list[Left] = []
    jsonl.write(
        str(tmp_path / "hf"), items, task_type, LABELS, jsonl.TextFiles(str(tmp_path)), left
    )
    spec = json.loads((tmp_path / "hf" / jsonl.FEATURES).read_text())
    loaded = datasets.load_dataset(
        "json",
        data_files=str(tmp_path / "hf" / jsonl.DATA),
        features=datasets.Features.from_dict(spec),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded.num_rows == 3 and not left
    column = jsonl.label_column(task_type)
    assert loaded[column] == labels
    names = loaded.features[column]
    if task_type.is_multilabel:
        assert names.feature.names == LABELS
    else:
        assert names.names == LABELS
    assert loaded[jsonl.column(task_type)][1] == (
        texts[1] if task_type.is_text else "s3://pets/1.jpg"
    )
