"""What report.json tells a buyer of labeling first: human answers saved, the human labels
spent on fresh validation samples, and per class what the machine labeled and how well its
labels did on the validation set."""

from __future__ import annotations

from typing import Any

from labelpilot.api.run_config import RunConfig, TaskType, ThresholdMode
from labelpilot.engine import bounds
from labelpilot.engine.labels import HUMAN, LabelState


def human_labels_saved(state: LabelState, workers_per_object: int) -> dict[str, int]:
    """Human answers spent against labeling every object (that could be read) by hand.
    What Ground Truth's rule would have machine-labeled is per search, in the iteration
    history (`groundTruthRule`): summed over iterations it would count objects twice."""
    objects = state.size - len(state.failed)
    spent = state.human_sent * workers_per_object
    return {
        "humanAnswers": spent,
        "allByHandAnswers": objects * workers_per_object,
        "vsAllByHand": objects * workers_per_object - spent,
    }


def fresh_validation_labels(fresh: dict[int, list[int]], state: LabelState) -> dict[str, int]:
    """The fresh policy's validation samples (labelpilot.engine.fresh_validation) that
    human steps sent to people (`fresh`: per iteration): objects, and those that came back
    labeled. They are part of the human figures (humanObjectsSent, labelCounters'
    humanLabeled, humanLabelsSaved), not besides them."""
    samples = [j for sample in fresh.values() for j in sample]
    labeled = sum(1 for j in samples if state.labeled.get(j, {}).get("source") == HUMAN)
    return {"objects": len(samples), "humanLabeled": labeled}


def per_class(
    cfg: RunConfig, state: LabelState, iterations: list[dict[str, Any]]
) -> dict[str, dict[str, Any]] | None:
    """Per label: machine and human labels (objects; boxes for detection); for
    classification also the machine labels' accuracy on the validation objects the
    thresholds accepted, with its Clopper-Pearson lower bound at the job's confidence
    level (a per-class estimate: the job's guarantee is on all machine labels together;
    guaranteed mode sums the iterations, whose accepted validation objects retire).
    None for segmentation (a mask holds many classes; read them per mask)."""
    if cfg.task_type is TaskType.SEMANTIC_SEGMENTATION:
        return None
    out: dict[str, dict[str, Any]] = {name: {"machine": 0, "human": 0} for name in cfg.labels}
    for row in state.labeled.values():
        who = "human" if row["source"] == HUMAN else "machine"
        if cfg.task_type.is_classification:
            out[cfg.labels[int(row["label"])]][who] += 1
        elif cfg.task_type.is_multilabel:
            for c in row["label"]:
                out[cfg.labels[int(c)]][who] += 1
        else:
            for box in row["label"]["boxes"]:
                out[cfg.labels[int(box[0])]][who] += 1
    if not cfg.task_type.measured_by_accuracy:
        return out
    delta = 1.0 - cfg.confidence_level
    validation_by_class = [
        e["threshold"]["validationAcceptedByClass"]
        for e in iterations
        if e.get("threshold", {}).get("validationAcceptedByClass")
    ]
    if ThresholdMode(cfg.threshold_mode) is not ThresholdMode.GUARANTEED:
        # nothing retires: every iteration re-counts the same validation objects
        validation_by_class = validation_by_class[-1:]
    for name, entry in out.items():
        accepted = sum(v.get(name, [0, 0])[0] for v in validation_by_class)
        correct = sum(v.get(name, [0, 0])[1] for v in validation_by_class)
        entry["validationAccepted"] = accepted
        if accepted:
            entry["validationAccuracy"] = round(correct / accepted, 6)
            upper = bounds.clopper_pearson_upper(accepted - correct, accepted, delta)
            entry["accuracyLowerBound"] = round(1.0 - upper, 6)
    return out
