"""`export`: the output manifest (one line per input object), the labels in the job's export
formats, the final model, report.json.

Everything is derived from the workspace's files, so a rerun writes the same bytes.
"""

from __future__ import annotations

import os
from typing import Any

from labelpilot.api.data_roots import is_local
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step, StopReason
from labelpilot.engine import formats, fresh_validation, storage
from labelpilot.engine.confinement import DataRoots, default_roots
from labelpilot.engine.exports import source
from labelpilot.engine.exports.jsonl import TextFiles
from labelpilot.engine.exports.run import export as run_export
from labelpilot.engine.labels import LabelState
from labelpilot.engine.workspace import Workspace
from labelpilot.worker import output_manifest, report_figures, workspace_binding
from labelpilot.worker.common import Context, step


def exports(ctx: Context) -> dict[str, Any]:
    """Writes the labels in the job's export formats (spec.output.exportFormats) under
    exports/<format>/, each folder emptied first; returns report.json's account of them.
    Masks and texts are read only under the job's data roots and the workspace."""
    cfg, ws = ctx.config, ctx.ws
    out: dict[str, Any] = {}
    if not cfg.export_formats:
        return out
    src = source.Source(
        ws.output_manifest,
        formats.read_manifest(ws.output_manifest),
        source.Job(cfg.task_type, cfg.label_attribute_name, tuple(cfg.labels)),
    )
    job_roots = cfg.data_roots or default_roots(cfg.input_manifest_uri)
    workspace = os.path.abspath(storage.local_path(ws.root)) if is_local(ws.root) else ws.root
    roots = DataRoots([*job_roots, workspace])
    texts = TextFiles(storage.parent(cfg.input_manifest_uri), roots, cfg.max_text_bytes)
    for fmt in cfg.export_formats:
        folder = ws.export(fmt.value)
        for path in list(storage.walk_files(folder)):
            storage.remove(storage.join(folder, path))
        outcome = run_export(fmt, src, folder, roots=roots, texts=texts)
        out[fmt.value] = {
            "uri": folder,
            "exported": outcome.exported,
            "notExported": outcome.counts(),
        }
    return out


def fresh_samples(ws: Workspace) -> dict[int, list[int]]:
    """Per iteration whose human step ran, the fresh validation sample it sent (often none)."""
    return {
        i: fresh_validation.sample_for(ws, i)
        for i in ws.iterations()
        if storage.exists(ws.human_summary(i))
    }


def history(ctx: Context, fresh: dict[int, list[int]]) -> list[dict[str, Any]]:
    ws = ctx.ws
    out = []
    for i in ws.iterations():
        entry: dict[str, Any] = {"iteration": i}
        if storage.exists(ws.human_summary(i)):
            h = storage.read_json(ws.human_summary(i))
            entry["human"] = {
                "objects": h["objects"],
                "failed": h["failed"],
                "seconds": h["seconds"],
            }
            if fresh[i]:  # people labeled a fresh validation sample in this batch
                entry["human"]["freshValidation"] = len(fresh[i])
            if "preAnnotated" in h:  # people corrected the model's labels
                entry["human"]["preAnnotated"] = h["preAnnotated"]
                entry["human"]["preAnnotationsEdited"] = h["preAnnotationsEdited"]
        if storage.exists(ws.training_summary(i)):
            t = storage.read_json(ws.training_summary(i))
            m = t.get("metrics", {})
            entry["training"] = {
                "trainSize": t["trainSize"],
                "seconds": t["seconds"],
                "device": m.get("device"),
                "epochs": m.get("epochs"),
            }
        if storage.exists(ws.thresholds(i)):
            th = storage.read_json(ws.thresholds(i))
            s, search = th["summary"], th["search"]
            entry["threshold"] = {
                "labelCounters": s["labelCounters"],
                "accuracyBound": s["accuracyBound"],
                "validationEstimate": search.get("estimate"),
                "machineLabeled": s["machineLabeledThisIteration"],
                "nextHumanBatch": s["humanBatch"],
                "stopReason": s["stopReason"],
                "thresholds": search.get("thresholds"),
                "delta": search.get("delta"),
                "validationAccepted": search.get("validationAccepted"),
                "validationObjects": search.get("validationObjects"),
                "validationRetired": search.get("validationRetired"),
                "groundTruthRule": search.get("groundTruthRule"),
                "validationAcceptedByClass": search.get("validationAcceptedByClass"),
                "seconds": s["seconds"],
            }
        out.append(entry)
    return out


@step
def run(ctx: Context) -> StepSummary:
    cfg, ws = ctx.config, ctx.ws
    workspace_binding.check(ctx)
    objects = ctx.objects()
    state = LabelState.load(ws, objects=objects)
    output_manifest.write(ctx, objects, state)
    exported = exports(ctx)
    trained = [
        i for i in ws.iterations() if storage.exists(storage.join(ws.model(i), "model.json"))
    ]
    final_model = None
    if trained:
        storage.copy_tree(ws.model(trained[-1]), ws.final_model)
        final_model = ws.final_model
    fresh = fresh_samples(ws)
    its = history(ctx, fresh)
    stop = next(
        (
            StopReason(e["threshold"]["stopReason"])
            for e in reversed(its)
            if e.get("threshold", {}).get("stopReason")
        ),
        None,
    )
    counters = state.counters()
    if stop is None and not counters.unlabeled:
        stop = StopReason.ALL_LABELED
    report = {
        "jobName": cfg.job_name,
        "taskType": str(cfg.task_type),
        "labelAttributeName": cfg.label_attribute_name,
        "labels": list(cfg.labels),
        "target": cfg.target,
        "confidenceLevel": cfg.confidence_level,
        "thresholdMode": str(cfg.threshold_mode),
        "validationPolicy": str(ctx.validation_policy()),
        "labelCounters": counters.to_k8s(),
        "objects": state.total,
        "validationSize": len(state.validation),
        "humanObjectsSent": state.human_sent,
        "freshValidation": report_figures.fresh_validation_labels(fresh, state),
        "stopReason": stop,
        "humanLabelsSaved": report_figures.human_labels_saved(
            state, cfg.workforce.workers_per_object
        ),
        "perClass": report_figures.per_class(cfg, state, its),
        "iterations": its,
        "outputManifestUri": ws.output_manifest,
        "finalModelRef": final_model,
        "exports": exported,
        "timings": {
            "human": round(sum(e.get("human", {}).get("seconds", 0) for e in its), 3),
            "training": round(sum(e.get("training", {}).get("seconds", 0) for e in its), 3),
            "threshold": round(sum(e.get("threshold", {}).get("seconds", 0) for e in its), 3),
        },
    }
    storage.write_json(ws.report, report, indent=2)
    return StepSummary(
        step=Step.EXPORT,
        iteration=None,
        status=StepStatus.SUCCEEDED,
        next=None,
        label_counters=counters,
        output_manifest_uri=ws.output_manifest,
        final_model_ref=final_model,
        stop_reason=stop,
        seconds=ctx.seconds(),
    )
