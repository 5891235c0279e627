"""Label category files (Ground Truth's LabelCategoryConfigS3Uri) in place of inline labels:
parsed with errors naming the file and the field, read only under the data roots, and the
labels recorded by prepare for the later steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_fixtures import FAST_MODEL, config_for, digits

from labelpilot import cli
from labelpilot.api.run_config import MAX_LABELS, TaskType
from labelpilot.api.steps import Step, StepFailed
from labelpilot.engine import storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.label_categories import (
    MAX_BYTES,
    LabelCategoryError,
    parse,
    read,
)
from labelpilot.engine.workspace import Workspace
from labelpilot.worker import label_categories

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CLASSIFY = TaskType.IMAGE_CLASSIFICATION


def document(labels: list[str], **extra: object) -> bytes:
    body = {"document-version": "2018-11-28", "labels": [{"label": x} for x in labels], **extra}
    return json.dumps(body).encode()


def test_a_ground_truth_file_gives_its_labels_in_order():
    data = document(["dog", "cat"], instructions={"shortInstruction": "<p>pick one</p>"})
    assert parse(data, "labels.json", CLASSIFY) == ["dog", "cat"]
    # the version may be left out
    assert parse(b'{"labels": [{"label": "dog"}]}', "l.json", CLASSIFY) == ["dog"]
    fifty = [f"c{i}" for i in range(50)]
    assert parse(document(fifty), "l.json", TaskType.IMAGE_CLASSIFICATION_MULTILABEL) == fifty


@pytest.mark.parametrize(
    ("data", "task_type", "says"),
    [
        (b'{"labels": [{"label": "dog"},', CLASSIFY, "not JSON (Expecting"),
        (b"\xff\xfe", CLASSIFY, "not UTF-8"),
        (b'["dog"]', CLASSIFY, 'a JSON object with a "labels" list'),
        (b'{"labels": "dog"}', CLASSIFY, "labels: must be a list"),
        (b'{"labels": []}', CLASSIFY, "labels: 0 labels; image-classification takes 1 to 256"),
        (document(["dog", "cat", "dog"]), CLASSIFY, "labels[2].label: duplicate 'dog'"),
        (document(["dog", " "]), CLASSIFY, "labels[1].label: must not be empty"),
        (document(["x" * 257]), CLASSIFY, "labels[0].label: longer than 256"),
        (
            b'{"labels": [{"name": "dog"}]}',
            CLASSIFY,
            'labels[0]: must be an object with a string "label"',
        ),
        (b'{"labels": [{"label": 3}]}', CLASSIFY, "labels[0]: must be an object"),
        (document([f"c{i}" for i in range(MAX_LABELS + 1)]), CLASSIFY, "257 labels"),
        (
            document([f"c{i}" for i in range(256)]),
            TaskType.SEMANTIC_SEGMENTATION,
            "256 labels; semantic-segmentation takes 1 to 255",
        ),
        (
            document([f"c{i}" for i in range(51)]),
            TaskType.TEXT_CLASSIFICATION_MULTILABEL,
            "51 labels; text-classification-multilabel takes 1 to 50",
        ),
        (
            document(["dog"], **{"document-version": "2020-01-01"}),
            CLASSIFY,
            "document-version: '2020-01-01' is not '2018-11-28'",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_field(data, task_type, says):
    with pytest.raises(LabelCategoryError) as raised:
        parse(data, "/data/jobs/labels.json", task_type)
    assert str(raised.value).startswith("label category file /data/jobs/labels.json: ")
    assert says in str(raised.value)


def test_the_file_is_read_only_under_the_data_roots_and_within_the_size_limit(tmp_path):
    roots = DataRoots([str(tmp_path / "data")])
    inside = tmp_path / "data" / "labels.json"
    inside.parent.mkdir()
    inside.write_bytes(document(["dog", "cat"]))
    assert read(str(inside), roots, CLASSIFY) == ["dog", "cat"]
    assert read(f"file://{inside}", roots, CLASSIFY) == ["dog", "cat"]

    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(document(["dog"]))
    escape = tmp_path / "data" / "link.json"
    escape.symlink_to(outside)
    for uri in (str(outside), str(escape), str(tmp_path / "data" / ".." / "elsewhere.json")):
        with pytest.raises(LabelCategoryError, match="not under the data roots"):
            read(uri, roots, CLASSIFY)
    with pytest.raises(LabelCategoryError, match="cannot read: FileNotFoundError"):
        read(str(tmp_path / "data" / "missing.json"), roots, CLASSIFY)
    huge = tmp_path / "data" / "huge.json"
    huge.write_bytes(b" " * (MAX_BYTES + 1))
    with pytest.raises(LabelCategoryError, match="more than the 1,000,000-byte limit"):
        read(str(huge), roots, CLASSIFY)


def test_prepare_fails_the_job_on_a_bad_file_and_later_steps_need_its_plan(tmp_path):
    data = digits(tmp_path / "digits", 60)
    bad = Path(data["inputManifest"]).parent / "labels.json"
    bad.write_bytes(document(["dog", "dog"]))
    config = config_for(data, tmp_path / "job", labels=[], label_category_config_uri=str(bad))
    with pytest.raises(StepFailed) as raised:
        label_categories.resolve(Step.PREPARE, config)
    assert raised.value.reason == "InvalidLabelCategoryConfig"
    assert "labels[1].label: duplicate 'dog'" in raised.value.message
    with pytest.raises(RuntimeError, match="prepare has not run"):
        label_categories.resolve(Step.TRAIN, config)
    inline = config_for(data, tmp_path / "job")
    assert label_categories.resolve(Step.PREPARE, inline) is inline


def test_prepare_refuses_an_interface_that_cannot_take_the_files_labels(tmp_path):
    data = digits(tmp_path / "digits", 60)
    category_file = Path(data["inputManifest"]).parent / "categories.json"
    category_file.write_bytes(document(NAMES))
    choices = "".join(f'<Choice value="{name}"/>' for name in NAMES[:9])  # no "nine"
    ui = (
        f'<View><Image name="i" value="$image"/><Choices name="c" toName="i">{choices}'
        "</Choices></View>"
    )
    studio = {"url": "http://ls:8080", "project_title": "digits", "label_config": ui}
    config = config_for(
        data,
        tmp_path / "job",
        labels=[],
        label_category_config_uri=str(category_file),
        workforce={"label_studio": studio},
    )
    with pytest.raises(StepFailed) as raised:
        label_categories.resolve(Step.PREPARE, config)
    assert raised.value.reason == "UiConfigIncompatible"
    assert "humanTaskConfig.uiConfig cannot take the labels of" in raised.value.message
    assert "nine" in raised.value.message
    fitting = ui.replace("</Choices>", '<Choice value="nine"/></Choices>')
    config.workforce.label_studio.label_config = fitting
    assert label_categories.resolve(Step.PREPARE, config).labels == NAMES


def test_labelpilot_run_takes_its_labels_from_a_category_file(tmp_path, capsys):
    data = digits(tmp_path / "digits", 400)
    category_file = Path(data["inputManifest"]).parent / "categories.json"
    # the digits in another order than their ids: the ground truth is read by class name
    names = [str(d) for d in range(9, -1, -1)]
    category_file.write_bytes(document(names))
    out = tmp_path / "job"
    code = cli.main(
        [
            "run",
            "--task-type",
            "image-classification",
            "--input-manifest",
            data["inputManifest"],
            "--label-category-config",
            str(category_file),
            "--label-attribute-name",
            "label",
            "--output",
            str(out),
            "--ground-truth",
            data["groundTruthManifest"],
            "--allow-small-dataset",
            "--max-concurrent-task-count",
            "200",
            "--max-iterations",
            "2",
            "--model-options",
            json.dumps(FAST_MODEL),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # prepare recorded the file's labels; the file changing later changes nothing
    ws = Workspace(str(out))
    assert storage.read_json(ws.prepare_plan)["labels"] == names
    category_file.write_bytes(document(["dog"]))
    config = config_for(data, out, labels=[], label_category_config_uri=str(category_file))
    assert label_categories.resolve(Step.EXPORT, config).labels == names
    output = [json.loads(x) for x in Path(ws.output_manifest).read_text().splitlines()]
    labeled = [r for r in output if "label" in r]
    assert labeled
    for row in labeled:
        assert row["label-metadata"]["class-name"] == names[row["label"]]
    thresholds = json.loads(Path(ws.thresholds(0)).read_text())
    assert thresholds["search"]["labels"] == names


def _run_flags(data: dict, out: Path, *labels: str) -> list[str]:
    return [
        "run",
        "--task-type",
        "image-classification",
        "--input-manifest",
        data["inputManifest"],
        *labels,
        "--label-attribute-name",
        "label",
        "--output",
        str(out),
        "--ground-truth",
        data["groundTruthManifest"],
        "--allow-small-dataset",
        "--quiet",
    ]


def test_labelpilot_run_says_what_is_wrong_with_the_category_file(tmp_path, capsys):
    data = digits(tmp_path / "digits", 40)
    outside = tmp_path / "categories.json"  # not under the manifest's folder
    outside.write_bytes(document(NAMES))
    code = cli.main(_run_flags(data, tmp_path / "job", "--label-category-config", str(outside)))
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith(
        f"labelpilot run: InvalidLabelCategoryConfig: label category file {outside}: "
        "not under the data roots"
    ), err
    assert err.count("\n") == 1

    with pytest.raises(SystemExit) as raised:
        cli.main(
            _run_flags(
                data,
                tmp_path / "job",
                "--label-category-config",
                str(outside),
                "--labels-file",
                data["labelsFile"],
            )
        )
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
