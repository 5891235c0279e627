"""The job workspace under the output location, named like Ground Truth's.

binding.json                              the job and the input manifest the workspace
                                          belongs to (worker.workspace_binding);
                                          written first, checked by every step
manifests/intermediate/prepare.json       the split: failed objects, validation, batch 0,
                                          pre-labeled objects; the labels
                                          (worker.label_categories)
manifests/intermediate/pre-labels.jsonl   a chained job's existing labels it trusts as
                                          training data (pre-label-masks/ beside it)
manifests/intermediate/decoded-images.npz the images prepare decoded, for train and infer
                                          (labelpilot.engine.decoded_images)
annotations/iteration-NNNN/               human request (batch id), response, masks
training/iteration-NNNN/summary.json      what was trained on, metrics
models/iteration-NNNN/, models/final/     model folders
inference/iteration-NNNN/shard-I-of-K.npz predictions per shard
activelearning/iteration-NNNN/            thresholds.json (written last: the step's
                                          commit mark), machine-labels.jsonl,
                                          selection.json (the next human batch), masks/
manifests/output/output.manifest          the augmented output manifest (the step
                                          contract's OUTPUT_MANIFEST)
exports/<format>/                         the labels in spec.output.exportFormats'
                                          formats (labelpilot.engine.exports)
report.json                               the job (task type, label attribute, labels),
                                          counters, history, thresholds, timings
"""

from __future__ import annotations

import re

from labelpilot.api.steps import OUTPUT_MANIFEST
from labelpilot.engine import storage

_ITERATION = re.compile(r"^iteration-(\d{4,})$")


class Workspace:
    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"

    def path(self, *parts: str) -> str:
        return storage.join(self.root, *parts)

    @staticmethod
    def _it(i: int) -> str:
        return f"iteration-{i:04d}"

    @property
    def binding(self) -> str:
        return self.path("binding.json")

    @property
    def prepare_plan(self) -> str:
        return self.path("manifests", "intermediate", "prepare.json")

    @property
    def pre_labels(self) -> str:
        return self.path("manifests", "intermediate", "pre-labels.jsonl")

    @property
    def decoded_images(self) -> str:
        return self.path("manifests", "intermediate", "decoded-images.npz")

    def pre_label_mask(self, index: int) -> str:
        return self.path("manifests", "intermediate", "pre-label-masks", f"{index:08d}.png")

    def annotations(self, i: int) -> str:
        return self.path("annotations", self._it(i))

    def human_request(self, i: int) -> str:
        return storage.join(self.annotations(i), "request.json")

    def human_response(self, i: int) -> str:
        return storage.join(self.annotations(i), "response.jsonl")

    def human_summary(self, i: int) -> str:
        return storage.join(self.annotations(i), "summary.json")

    def human_mask(self, i: int, index: int) -> str:
        return storage.join(self.annotations(i), "masks", f"{index:08d}.png")

    def training_summary(self, i: int) -> str:
        return self.path("training", self._it(i), "summary.json")

    def model(self, i: int) -> str:
        return self.path("models", self._it(i))

    @property
    def final_model(self) -> str:
        return self.path("models", "final")

    def inference(self, i: int) -> str:
        return self.path("inference", self._it(i))

    def inference_shard(self, i: int, shard: int, count: int) -> str:
        return storage.join(self.inference(i), f"shard-{shard:04d}-of-{count:04d}.npz")

    def activelearning(self, i: int) -> str:
        return self.path("activelearning", self._it(i))

    def thresholds(self, i: int) -> str:
        return storage.join(self.activelearning(i), "thresholds.json")

    def machine_labels(self, i: int) -> str:
        return storage.join(self.activelearning(i), "machine-labels.jsonl")

    def selection(self, i: int) -> str:
        return storage.join(self.activelearning(i), "selection.json")

    def machine_mask(self, i: int, index: int) -> str:
        return storage.join(self.activelearning(i), "masks", f"{index:08d}.png")

    @property
    def output_manifest(self) -> str:
        return self.path(*OUTPUT_MANIFEST.split("/"))

    def export(self, fmt: str) -> str:
        return self.path("exports", fmt)

    @property
    def report(self) -> str:
        return self.path("report.json")

    @property
    def evaluation(self) -> str:
        return self.path("evaluation.json")

    def iterations(self) -> list[int]:
        """Iterations that have any annotations or active-learning files, in order."""
        found: set[int] = set()
        for folder in ("annotations", "activelearning"):
            for name in storage.listdir(self.path(folder)):
                match = _ITERATION.match(name)
                if match:
                    found.add(int(match.group(1)))
        return sorted(found)
