"""`labelpilot export`: output manifests read back by each format's own reader
(pycocotools for COCO; globox, and xml.etree / the text files denormalized, for Pascal VOC
and YOLO; Hugging Face `datasets` for the JSON Lines: test_exports_multilabel.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pydantic import ValidationError

from labelpilot import cli
from labelpilot.api.run_config import ExportFormat, RunConfig, TaskType
from labelpilot.engine import formats
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.exports import jsonl, run, source, voc, yolo
from labelpilot.engine.exports.coco import rle_counts, rle_string
from labelpilot.engine.formats import LabelMeta
from labelpilot.engine.workspace import Workspace

LABELS = ["dog", "cat", "bone"]
META = LabelMeta(0.9, False, "pets")
DETECTION = TaskType.OBJECT_DETECTION
# Ground Truth's own output lines: float coordinates, the class-map naming the classes.
BOXES = {
    "s3://pets/a/1.jpg": (500, 400, [(0, 111.5, 134, 61, 128), (2, 300, 20.25, 50, 40)]),
    "s3://pets/a/2.jpg": (640, 480, [(1, 0, 0, 640, 480)]),
    "s3://pets/b/3.jpg": (100, 80, []),  # labeled: no objects in it
    "s3://pets/b/4.jpg": (100, 80, [(1, 90, 70, 20, 20)]),  # past the image's corner
}


def gt_box_line(ref: str, width: int, height: int, boxes: list[tuple]) -> dict[str, Any]:
    return {
        "source-ref": ref,
        "bb": {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 0.8} for _ in boxes],
            "class-map": {str(i): name for i, name in enumerate(LABELS)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-11-30T10:00:00.000000",
            "job-name": "labeling-job/pets",
        },
    }


def detection_lines() -> list[Any]:
    lines: list[Any] = [gt_box_line(ref, *size) for ref, size in BOXES.items()]
    failed = {"source-ref": "s3://pets/b/5.jpg"}
    failed.update(formats.encode_failure(DETECTION, "bb", "ObjectReadError: gone", job_name="x"))
    lines += [failed, {"source-ref": "s3://pets/b/6.jpg"}, "not json"]
    return lines


def job_folder(root: Path, task_type: TaskType, attr: str, lines: list[Any]) -> Path:
    """A finished job's output folder as the export step leaves it."""
    ws = Workspace(str(root))
    Path(ws.output_manifest).parent.mkdir(parents=True)
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    Path(ws.output_manifest).write_text("\n".join(text) + "\n")
    report = {"taskType": task_type.value, "labelAttributeName": attr, "labels": LABELS}
    Path(ws.report).write_text(json.dumps(report))
    return root


def export(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["export", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def not_exported(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "not-exported.jsonl").read_text().splitlines()]


def test_coco_boxes_load_in_pycocotools_with_every_box(tmp_path, capsys):
    job = job_folder(tmp_path / "job", DETECTION, "bb", detection_lines())
    out = tmp_path / "coco"
    code, printed, err = export(capsys, str(job), "--format", "coco", "--out", str(out))
    assert code == 0, err
    assert "exported 4 of 7 objects" in printed
    assert "1 failed, 1 unlabeled, 1 invalid, 0 not-writable" in printed
    coco = COCO(str(out / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == LABELS
    assert coco.getCatIds(catNms=["dog"]) == [1]
    images = {img["file_name"]: img for img in coco.loadImgs(coco.getImgIds())}
    assert set(images) == set(BOXES)
    for ref, (width, height, boxes) in BOXES.items():
        image = images[ref]
        assert (image["width"], image["height"]) == (width, height)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert [(a["category_id"] - 1, *a["bbox"]) for a in anns] == [tuple(b) for b in boxes]
        assert [a["area"] for a in anns] == [w * h for _, _, _, w, h in boxes]
    left = not_exported(out)
    assert [(e["line"], e["reason"]) for e in left] == [
        (5, "failed"),
        (6, "unlabeled"),
        (7, "invalid"),
    ]
    assert left[0]["key"] == "s3://pets/b/5.jpg" and "gone" in left[0]["detail"]


def segmentation_job(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    masks = {}
    lines: list[Any] = []
    cmap = formats.color_map(LABELS)
    for i, shape in enumerate([(30, 40), (17, 9), (8, 8)]):
        mask = rng.integers(0, len(LABELS) + 1, size=shape).astype(np.uint8)
        if i == 1:
            mask[:] = 0
            mask[3:9, 2:5] = 2  # one region of one class
        if i == 2:
            mask[:] = 0  # background only: an image with no annotation
        masks[f"file:///data/{i}.png"] = mask
        mask_dir = root / "annotations" / "iteration-0000" / "masks"
        mask_dir.mkdir(parents=True, exist_ok=True)
        formats.write_mask_png(str(mask_dir / f"{i}.png"), mask, cmap)
        uri = str(mask_dir / f"{i}.png")
        label = formats.encode_label(
            TaskType.SEMANTIC_SEGMENTATION, "seg", uri, META, labels=LABELS
        )
        lines.append({"source-ref": f"file:///data/{i}.png", **label})
    return job_folder(root, TaskType.SEMANTIC_SEGMENTATION, "seg", lines), masks


def test_coco_masks_decode_back_to_the_job_masks(tmp_path, capsys):
    job, masks = segmentation_job(tmp_path / "job")
    out = tmp_path / "coco"
    code, printed, err = export(capsys, str(job), "--format", "coco", "--out", str(out))
    assert code == 0, err
    assert "exported 3 of 3 objects" in printed
    coco = COCO(str(out / "annotations.json"))
    for image in coco.loadImgs(coco.getImgIds()):
        expected = masks[image["file_name"]]
        assert (image["height"], image["width"]) == expected.shape
        decoded = np.zeros(expected.shape, dtype=np.uint8)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert sorted(a["category_id"] for a in anns) == sorted(set(np.unique(expected)) - {0})
        for ann in anns:
            region = coco.annToMask(ann).astype(bool)
            assert not decoded[region].any()  # one annotation per pixel
            decoded[region] = ann["category_id"]
            assert ann["area"] == int(region.sum())
            assert mask_utils.toBbox(ann["segmentation"]).tolist() == ann["bbox"]
        np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (64, 3), (40, 50)])
@pytest.mark.parametrize("fill", ["random", "zeros", "ones", "stripes"])
def test_rle_text_is_pycocotools_encoding(shape, fill):
    rng = np.random.default_rng(sum(shape))
    region = {
        "random": rng.random(shape) < 0.3,
        "zeros": np.zeros(shape, dtype=bool),
        "ones": np.ones(shape, dtype=bool),
        "stripes": np.indices(shape)[1] % 2 == 1,
    }[fill]
    expected = mask_utils.encode(np.asfortranarray(region.astype(np.uint8)))
    assert rle_string(rle_counts(region)) == expected["counts"].decode("ascii")


def test_yolo_lines_denormalize_to_the_boxes_clipped_to_the_image(tmp_path, capsys):
    job = job_folder(tmp_path / "job", DETECTION, "bb", detection_lines())
    out = tmp_path / "yolo"
    code, printed, err = export(capsys, str(job), "--format", "yolo", "--out", str(out))
    assert code == 0, err
    assert "exported 4 of 7 objects" in printed
    assert (out / "classes.txt").read_text().splitlines() == LABELS
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data == {"nc": 3, "names": {0: "dog", 1: "cat", 2: "bone"}}
    assert (out / "images.txt").read_text().splitlines() == list(BOXES)
    for ref, (width, height, boxes) in BOXES.items():
        stem = ref.rsplit("/", 1)[-1].removesuffix(".jpg")
        rows = [line.split() for line in (out / "labels" / f"{stem}.txt").read_text().splitlines()]
        got = []
        for c, cx, cy, w, h in rows:
            cx, cy, w, h = (
                float(cx) * width,
                float(cy) * height,
                float(w) * width,
                float(h) * height,
            )
            got.append((int(c), cx - w / 2, cy - h / 2, w, h))
        clipped = []
        for c, x, y, w, h in boxes:
            x1, y1 = min(x + w, width), min(y + h, height)
            clipped.append((c, x, y, x1 - x, y1 - y))
        assert len(got) == len(clipped)
        for g, e in zip(got, clipped, strict=True):
            assert g[0] == e[0]
            np.testing.assert_allclose(g[1:], e[1:], atol=1e-3 * max(width, height))
    # the box past the corner of 4.jpg keeps only its part inside the image
    assert (out / "labels" / "4.txt").read_text() == "1 0.950000 0.937500 0.100000 0.125000\n"


def test_voc_xml_holds_every_box_in_pixels_clipped_to_the_image(tmp_path, capsys):
    job = job_folder(tmp_path / "job", DETECTION, "bb", detection_lines())
    out = tmp_path / "voc"
    code, _, err = export(capsys, str(job), "--format", "voc", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.glob("*.xml")) == ["1.xml", "2.xml", "3.xml", "4.xml"]
    for ref, (width, height, boxes) in BOXES.items():
        root = ET.parse(out / f"{ref.rsplit('/', 1)[-1].removesuffix('.jpg')}.xml").getroot()
        assert root.findtext("path") == ref
        assert root.findtext("filename") == ref.rsplit("/", 1)[-1]
        size = root.find("size")
        assert size is not None
        assert (int(size.findtext("width")), int(size.findtext("height"))) == (width, height)
        got = [
            (
                obj.findtext("name"),
                *(float(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")),
                obj.findtext("truncated"),
            )
            for obj in root.findall("object")
        ]
        expected = [
            (LABELS[c], *corners, "1" if tuple(corners) != (x, y, x + w, y + h) else "0")
            for (c, *corners), (_, x, y, w, h) in zip(
                _clipped(width, height, boxes), boxes, strict=True
            )
        ]
        assert got == expected
    # the box past the corner of 4.jpg keeps only its part inside the image
    assert _clipped(100, 80, BOXES["s3://pets/b/4.jpg"][2]) == [(1, 90, 70, 100, 80)]


# boxes of a 100x80 image with no area inside it
NO_AREA_INSIDE = [
    (0, -30, 10, 20, 20),  # left of the image
    (1, 40, 80, 10, 10),  # below it, touching its edge
    (2, 50, 20, 0, 10),  # no width
]


def test_voc_leaves_out_a_box_with_no_area_inside_the_image():
    boxes = formats.Boxes(
        100,
        80,
        3,
        np.array(
            [
                *NO_AREA_INSIDE,
                (0, -5.5, -2, 20.25, 10),  # cut by the top left corner
                (1, 10, 10, 5, 5),  # inside
            ]
        ),
    )
    root = ET.fromstring(voc.annotation("s3://pets/c/7.jpg", boxes, LABELS))
    got = [
        (
            obj.findtext("name"),
            [obj.findtext(f"bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")],
            obj.findtext("truncated"),
        )
        for obj in root.findall("object")
    ]
    assert got == [("dog", ["0", "0", "14.75", "8"], "1"), ("cat", ["10", "10", "15", "15"], "0")]


def test_yolo_leaves_out_a_box_with_no_area_inside_the_image():
    boxes = formats.Boxes(
        100,
        80,
        3,
        np.array(
            [
                *NO_AREA_INSIDE,
                (0, -5, -2, 20, 10),  # cut by the top left corner
            ]
        ),
    )
    assert yolo.label_lines(boxes) == "0 0.075000 0.050000 0.150000 0.100000\n"


def _clipped(width: int, height: int, boxes: list) -> list[tuple[int, float, float, float, float]]:
    """The boxes as [class, xmin, ymin, xmax, ymax], clipped to the image."""
    return [(c, x, y, min(x + w, width), min(y + h, height)) for c, x, y, w, h in boxes]


def test_globox_reads_the_yolo_and_voc_exports_back(tmp_path, capsys):
    """A third-party reader of both formats (globox, from PyPI) finds every box."""
    from globox import AnnotationSet

    job = job_folder(tmp_path / "job", DETECTION, "bb", detection_lines())
    images = tmp_path / "images"  # YOLO is relative to each image's size: globox reads it
    images.mkdir()
    for ref, (width, height, _) in BOXES.items():
        Image.new("L", (width, height)).save(images / ref.rsplit("/", 1)[-1])
    for fmt in ("yolo", "voc"):
        code, _, err = export(capsys, str(job), "--format", fmt, "--out", str(tmp_path / fmt))
        assert code == 0, err
    read = {
        "yolo": AnnotationSet.from_yolo_v5(tmp_path / "yolo" / "labels", image_folder=images),
        "voc": AnnotationSet.from_pascal_voc(tmp_path / "voc"),
    }
    for fmt, annotation_set in read.items():
        assert len(annotation_set) == len(BOXES), fmt
        for ref, (width, height, boxes) in BOXES.items():
            found = annotation_set[ref.rsplit("/", 1)[-1]]
            assert found.image_size == (width, height)
            got = sorted(
                (b.label if fmt == "voc" else LABELS[int(b.label)], *b.ltrb) for b in found.boxes
            )
            # both clip the boxes to the image
            expected = sorted((LABELS[c], *rest) for c, *rest in _clipped(width, height, boxes))
            assert [g[0] for g in got] == [e[0] for e in expected], fmt
            tolerance = 1e-3 * max(width, height)
            np.testing.assert_allclose(
                [g[1:] for g in got], [e[1:] for e in expected], atol=tolerance
            )


def test_image_files_named_alike_are_listed_not_overwritten(tmp_path, capsys):
    lines = [
        gt_box_line("s3://pets/x/img.jpg", 10, 10, [(0, 1, 1, 2, 2)]),
        gt_box_line("s3://pets/y/img.jpg", 10, 10, [(1, 3, 3, 2, 2)]),
    ]
    job = job_folder(tmp_path / "job", DETECTION, "bb", lines)
    out = tmp_path / "yolo"
    code, printed, err = export(capsys, str(job), "--format", "yolo", "--out", str(out))
    assert code == 0, err
    assert "exported 1 of 2 objects" in printed and "1 not-writable" in printed
    assert (out / "labels" / "img.txt").read_text().startswith("0 ")
    (left,) = not_exported(out)
    assert left["key"] == "s3://pets/y/img.jpg" and left["reason"] == "not-writable"
    assert "taken by line 1 (s3://pets/x/img.jpg)" in left["detail"]


def test_image_classification_jsonl_is_what_the_datasets_json_loader_reads(tmp_path, capsys):
    lines: list[Any] = []
    for i, c in enumerate([2, 0, 1, 0]):
        label = formats.encode_label(TaskType.IMAGE_CLASSIFICATION, "pet", c, META, labels=LABELS)
        lines.append({"source-ref": f"s3://pets/{i}.jpg", **label})
    lines.append({"source-ref": "s3://pets/9.jpg"})
    job = job_folder(tmp_path / "job", TaskType.IMAGE_CLASSIFICATION, "pet", lines)
    out = tmp_path / "hf"
    code, printed, err = export(capsys, str(job), "--format", "jsonl", "--out", str(out))
    assert code == 0, err
    assert "exported 4 of 5 objects" in printed and "1 unlabeled" in printed
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert rows == [{"image": f"s3://pets/{i}.jpg", "label": c} for i, c in enumerate([2, 0, 1, 0])]
    features = json.loads((out / "features.json").read_text())
    assert features == {
        "image": {"dtype": "string", "_type": "Value"},
        "label": {"names": LABELS, "_type": "ClassLabel"},
    }


def test_text_classification_jsonl_holds_the_text(tmp_path, capsys):
    (tmp_path / "review.txt").write_text("fine food\u2028really", encoding="utf-8")
    lines: list[Any] = [
        {
            "source": "a good dog",
            **formats.encode_label(TaskType.TEXT_CLASSIFICATION, "topic", 0, META, labels=LABELS),
        },
        {
            "source-ref": str(tmp_path / "review.txt"),
            **formats.encode_label(TaskType.TEXT_CLASSIFICATION, "topic", 2, META, labels=LABELS),
        },
        {
            "source-ref": str(tmp_path / "gone.txt"),
            **formats.encode_label(TaskType.TEXT_CLASSIFICATION, "topic", 1, META, labels=LABELS),
        },
    ]
    job = job_folder(tmp_path / "job", TaskType.TEXT_CLASSIFICATION, "topic", lines)
    out = tmp_path / "hf"
    code, printed, err = export(capsys, str(job), "--format", "jsonl", "--out", str(out))
    assert code == 0, err
    assert "exported 2 of 3 objects" in printed and "1 invalid" in printed
    text = (out / "data.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.split("\n") if line]
    assert rows == [
        {"label": 0, "text": "a good dog"},
        {"label": 2, "text": "fine food\u2028really"},
    ]
    (left,) = not_exported(out)
    assert left["line"] == 3 and "cannot be read" in left["detail"]
    assert json.loads((out / "features.json").read_text())["text"]["_type"] == "Value"


def test_a_ground_truth_manifest_alone_takes_its_labels_from_its_metadata(tmp_path, capsys):
    manifest = tmp_path / "output.manifest"
    lines = [gt_box_line(ref, *size) for ref, size in BOXES.items()]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "coco"
    args = ["--manifest", str(manifest), "--format", "coco", "--out", str(out)]
    code, _, err = export(capsys, *args)
    assert code == 2 and "give --task-type and --attribute" in err
    code, printed, err = export(
        capsys, *args, "--task-type", "object-detection", "--attribute", "bb"
    )
    assert code == 0, err
    assert "exported 4 of 4 objects" in printed
    coco = COCO(str(out / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == LABELS
    assert len(coco.getAnnIds()) == 4


def test_labels_named_two_ways_are_refused(tmp_path, capsys):
    first = gt_box_line("s3://pets/1.jpg", 10, 10, [(0, 1, 1, 2, 2)])
    second = gt_box_line("s3://pets/2.jpg", 10, 10, [(0, 1, 1, 2, 2)])
    second["bb-metadata"]["class-map"] = {"0": "wolf"}
    manifest = tmp_path / "output.manifest"
    manifest.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    code, _, err = export(
        capsys,
        "--manifest",
        str(manifest),
        "--task-type",
        "object-detection",
        "--attribute",
        "bb",
        "--format",
        "voc",
        "--out",
        str(tmp_path / "voc"),
    )
    assert code == 2
    assert "class id 0 is 'dog' on line 1 but 'wolf' on line 2; give --labels" in err
    code, _, err = export(
        capsys,
        "--manifest",
        str(manifest),
        "--task-type",
        "object-detection",
        "--attribute",
        "bb",
        "--labels",
        "dog",
        "--format",
        "voc",
        "--out",
        str(tmp_path / "voc"),
    )
    assert code == 0, err


def test_what_cannot_be_exported_is_refused_before_anything_is_written(tmp_path, capsys):
    job = job_folder(tmp_path / "job", DETECTION, "bb", detection_lines())
    out = tmp_path / "out"
    code, _, err = export(capsys, str(job), "--format", "jsonl", "--out", str(out))
    assert code == 2
    assert (
        "jsonl holds image-classification and text-classification and "
        "image-classification-multilabel and text-classification-multilabel labels"
    ) in err
    assert "export them as coco or yolo or voc" in err
    assert not out.exists()
    out.mkdir()
    (out / "old.txt").write_text("x")
    code, _, err = export(capsys, str(job), "--format", "voc", "--out", str(out))
    assert code == 2 and "is not empty" in err
    code, _, err = export(capsys, str(tmp_path), "--format", "voc", "--out", str(tmp_path / "o"))
    assert code == 2 and "holds no report.json" in err
    code, _, err = export(capsys, "--format", "voc", "--out", str(tmp_path / "o"))
    assert code == 2 and "give one of the job's output folder (JOB_OUTPUT) and --manifest" in err


def test_masks_are_read_only_under_the_roots_given(tmp_path):
    job, masks = segmentation_job(tmp_path / "job")
    elsewhere = tmp_path / "elsewhere.png"
    formats.write_mask_png(str(elsewhere), next(iter(masks.values())), formats.color_map(LABELS))
    ws = Workspace(str(job))
    lines = Path(ws.output_manifest).read_text().splitlines()
    record = json.loads(lines[0])
    record["seg-ref"] = str(elsewhere)
    Path(ws.output_manifest).write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    src = source.open_source(workspace=str(job))
    outcome = run.export(
        ExportFormat.COCO, src, str(tmp_path / "coco"), roots=DataRoots([str(job)])
    )
    assert outcome.exported == 2
    (left,) = outcome.left
    assert left.index == 0 and left.reason == "invalid"
    assert left.detail.endswith(f"elsewhere.png: not under the data roots {job}")
    assert run.export(ExportFormat.COCO, src, str(tmp_path / "all")).exported == 3


def test_a_job_asks_only_for_export_formats_that_hold_its_labels(tmp_path, capsys):
    config = {
        "job_name": "pets",
        "task_type": "image-classification",
        "label_attribute_name": "pet",
        "labels": LABELS,
        "input_manifest_uri": str(tmp_path / "input.manifest"),
        "output_uri": str(tmp_path / "out"),
        "workforce": {"simulated": {"ground_truth_uri": str(tmp_path / "gt.manifest")}},
    }
    assert RunConfig.model_validate({**config, "export_formats": ["jsonl"]}).export_formats == [
        ExportFormat.JSONL
    ]
    with pytest.raises(
        ValidationError,
        match="yolo holds object-detection labels, not image-classification: export them as jsonl",
    ):
        RunConfig.model_validate({**config, "export_formats": ["yolo"]})
    with pytest.raises(ValidationError, match="jsonl is listed twice"):
        RunConfig.model_validate({**config, "export_formats": ["jsonl", "jsonl"]})


def test_texts_are_read_relative_to_the_input_manifest_and_only_under_the_roots(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a good dog")
    (tmp_path / "secret.txt").write_text("not for export")
    label = formats.encode_label(TaskType.TEXT_CLASSIFICATION, "topic", 0, META, labels=LABELS)
    lines = [{"source-ref": ref, **label} for ref in ("a.txt", str(tmp_path / "secret.txt"))]
    job = job_folder(tmp_path / "job", TaskType.TEXT_CLASSIFICATION, "topic", lines)
    src = source.open_source(workspace=str(job))
    texts = jsonl.TextFiles(str(data), DataRoots([str(data)]), limit=100)
    outcome = run.export(ExportFormat.JSONL, src, str(tmp_path / "hf"), texts=texts)
    rows = (tmp_path / "hf" / "data.jsonl").read_text().splitlines()
    assert [json.loads(row) for row in rows] == [{"text": "a good dog", "label": 0}]
    (left,) = outcome.left
    assert left.index == 1 and "not under the data roots" in left.detail
    short = jsonl.TextFiles(str(data), None, limit=5)
    outcome = run.export(ExportFormat.JSONL, src, str(tmp_path / "short"), texts=short)
    assert [entry.index for entry in outcome.left] == [0, 1]  # over the 5-byte limit
    assert all("more than" in entry.detail for entry in outcome.left)


def test_labelpilot_run_names_its_workspace_absolutely_so_masks_export_from_anywhere(
    tmp_path, monkeypatch
):
    from labelpilot.worker.in_process import build_config

    (tmp_path / "labels.txt").write_text("dog\ncat\n")
    (tmp_path / "truth.manifest").write_text("")
    monkeypatch.chdir(tmp_path)
    args = cli.build_parser().parse_args(
        [
            "run",
            "--task-type",
            "semantic-segmentation",
            "--input-manifest",
            "input.manifest",
            "--labels-file",
            "labels.txt",
            "--label-attribute-name",
            "seg",
            "--output",
            "job",
            "--ground-truth",
            "truth.manifest",
        ]
    )
    config = build_config(args)
    assert config.output_uri == str(tmp_path / "job")
    assert Workspace(config.output_uri).human_mask(0, 3).startswith(str(tmp_path))
