"""kopf handlers for LabelingJob: thin glue around `labelpilot.reconciler`.

Run with `labelpilot operator` or `kopf run -m labelpilot.controller` (settings then come
from LABELPILOT_OPERATOR_* environment variables, see `labelpilot.operator_settings`).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client, config

from labelpilot import metrics
from labelpilot.api.crd import GROUP, PLURAL, VERSION
from labelpilot.joblabels import LABEL_STEP
from labelpilot.operator_settings import OperatorSettings
from labelpilot.planner import Event
from labelpilot.reconciler import Apis, Reconciler, decisive, owner_of

SETTINGS = OperatorSettings.from_env()
_state: dict[str, Reconciler] = {}


def _api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def _post_event(body: dict[str, Any], event: Event) -> None:
    kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def reconciler() -> Reconciler:
    if "reconciler" not in _state:
        _state["reconciler"] = Reconciler(Apis.from_client(_api_client()), SETTINGS.job,
                                          _post_event)
    return _state["reconciler"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any) -> None:
    # Keep kopf's bookkeeping in annotations: the CRD's status schema is ours alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kopf.labelpilot.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.labelpilot.dev", key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 8
    settings.scanning.disabled = not SETTINGS.scanning
    if SETTINGS.metrics_port:
        metrics.serve(SETTINGS.metrics_port)
        logger.info("metrics on :%d/metrics", SETTINGS.metrics_port)
    reconciler()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def labeling_job_changed(name: str, namespace: str, **_: Any) -> None:
    reconciler().reconcile(namespace, name)


@kopf.timer(GROUP, VERSION, PLURAL, interval=SETTINGS.resync_seconds, sharp=False)
def labeling_job_resync(name: str, namespace: str, status: dict[str, Any], **_: Any) -> None:
    if status.get("phase") not in ("Completed", "Failed", "Stopped"):
        reconciler().reconcile(namespace, name)


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_STEP: kopf.PRESENT})
def step_job_event(body: kopf.Body, namespace: str, type: str | None, **_: Any) -> None:
    job = dict(body)
    owner = owner_of(job)
    if owner and decisive(type, job):
        reconciler().reconcile(namespace, owner)
