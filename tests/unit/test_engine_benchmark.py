"""The engine benchmark's share of the pool: machine labels of the objects humans did not label."""

import json
from dataclasses import asdict

from benchmarks.engine import (
    CORE,
    DATASETS,
    RunResult,
    cached_run,
    count_failed,
    fmt_pool_share,
    pool_share,
    run_folder,
)

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats

TEXT = TaskType.TEXT_CLASSIFICATION


def result(objects: int, machine: int, human: int, failed: int = 0) -> RunResult:
    return RunResult(
        "spamassassin",
        "guaranteed",
        "seed",
        0,
        objects,
        machine,
        machine / objects,
        0.97,
        human,
        1,
        1.0,
        None,
        0,
        "",
        failed=failed,
    )


def test_pool_share_leaves_out_human_labels_and_failures():
    assert pool_share(result(10000, 9000, 1000)) == 1.0
    assert pool_share(result(10000, 8816, 1000)) == 8816 / 9000
    assert pool_share(result(6048, 4342, 1702, failed=4)) == 1.0
    assert fmt_pool_share(result(6048, 4342, 1702, failed=4)) == "100.0% of 4342, 4 failed"
    assert fmt_pool_share(result(10, 0, 10)) == "n/a"


def test_count_failed_reads_failure_reasons(tmp_path):
    meta = formats.LabelMeta(confidence=0.9, human_annotated=False, job_name="j")
    lines = [
        {"source": "a", **formats.encode_label(TEXT, "label", 1, meta, labels=["x", "y"])},
        {"source": "b"},
        formats.encode_failure(TEXT, "label", "MalformedLine: not valid JSON", job_name="j"),
    ]
    manifest = tmp_path / "output.manifest"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert count_failed(TEXT, "label", manifest) == 1


def test_every_benchmark_data_set_can_be_prepared_with_its_task_type():
    from labelpilot.datasets import cli
    from labelpilot.datasets import prepare as prep

    for name, ds in DATASETS.items():
        assert name in cli.NAMES
        assert str(prep.DATASETS[name].task_type) == ds.task_type
    assert CORE == ("mnist", "spamassassin", "mnist-boxes", "mnist-masks")


def test_kept_results_are_per_seed_when_a_flag_holds_a_dot(tmp_path):
    flags = ("--target-accuracy", "0.85")
    data = tmp_path / "data" / "spamassassin"
    kept = run_folder(tmp_path, "t", data, mode="guaranteed", policy="seed", seed=0, flags=flags)
    kept.parent.mkdir(parents=True)
    (kept.parent / f"{kept.name}.json").write_text(json.dumps(asdict(result(100, 60, 40))))
    common = {"mode": "guaranteed", "policy": "seed", "model_options": {}, "threads": 1}
    args = {**common, "tag": "t", "fresh": False, "cached_only": True, "flags": flags}
    again = cached_run(DATASETS["spamassassin"], data, tmp_path, seed=0, **args)
    assert again is not None and again.machine_labeled == 60
    assert cached_run(DATASETS["spamassassin"], data, tmp_path, seed=1, **args) is None
