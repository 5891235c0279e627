"""kopf handlers for LabelingJob: thin glue around `labelpilot.controller.reconciler`.

Importing `labelpilot.controller` registers them. Run with `labelpilot operator` or
`kopf run -m labelpilot.controller`; the settings come from LABELPILOT_OPERATOR_* environment
variables (`labelpilot.controller.settings`), which `labelpilot operator` sets from its
flags. They are read when kopf starts, not on import.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, cast

import kopf
from kubernetes import client, config

from labelpilot.api.crd import GROUP, PLURAL, VERSION
from labelpilot.api.job_labels import LABEL_STEP
from labelpilot.api.status import Phase
from labelpilot.controller import prometheus_metrics
from labelpilot.controller.child_job_cache import ChildJobs
from labelpilot.controller.planner import Event
from labelpilot.controller.reconciler import Apis, Reconciler, decisive, owner_of
from labelpilot.controller.resync import Resync
from labelpilot.controller.settings import OperatorSettings
from labelpilot.controller.workqueue import WorkQueue

_state: dict[str, Any] = {}
ENDED_PHASES = (Phase.COMPLETED, Phase.FAILED, Phase.STOPPED)


def operator_settings() -> OperatorSettings:
    """The settings, read from the environment the first time they are needed."""
    if "settings" not in _state:
        _state["settings"] = OperatorSettings.from_env()
    return cast(OperatorSettings, _state["settings"])


def _api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    # one connection per reconcile thread, so none waits for a free one
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize,
                                                operator_settings().workers)
    return client.ApiClient(configuration)


def _post_event(body: dict[str, Any], event: Event) -> None:
    kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def reconciler() -> Reconciler:
    if "reconciler" not in _state:
        _state["reconciler"] = Reconciler(
            Apis.from_client(_api_client()), operator_settings().job, _post_event,
            ChildJobs(relist_seconds=operator_settings().relist_seconds))
    return cast(Reconciler, _state["reconciler"])


def _reconcile(key: Hashable) -> None:
    namespace, name = cast(tuple[str, str], key)
    reconciler().reconcile(namespace, name)


def queue() -> WorkQueue:
    """Reconciles run on this queue's threads: handlers only queue them, so kopf's own
    processing of events (many per step Job) never waits behind a slow reconcile."""
    if "queue" not in _state:
        _state["queue"] = WorkQueue(_reconcile, workers=operator_settings().workers)
    return cast(WorkQueue, _state["queue"])


def resync() -> Resync:
    if "resync" not in _state:
        _state["resync"] = Resync(lambda key: queue().add(key, urgent=False),
                                  operator_settings().resync_seconds)
    return cast(Resync, _state["resync"])


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any) -> None:
    # Keep kopf's bookkeeping in annotations: the CRD's status schema is ours alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kopf.labelpilot.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.labelpilot.dev", key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    try:
        own = operator_settings()
    except (OSError, ValueError) as error:  # a bad file or value: stop, do not retry
        raise kopf.PermanentError(f"operator settings: {error}") from error
    settings.scanning.disabled = not own.scanning
    if own.metrics_port:
        prometheus_metrics.serve(own.metrics_port)
        logger.info("metrics on :%d/metrics", own.metrics_port)
    reconciler()
    queue()
    resync().start()


@kopf.on.cleanup()
def stop_queue(**_: Any) -> None:
    resync().stop()
    queue().stop()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def labeling_job_changed(name: str, namespace: str, **_: Any) -> None:
    queue().add((namespace, name))


@kopf.on.event(GROUP, VERSION, PLURAL)
async def labeling_job_seen(name: str, namespace: str, type: str | None,
                            status: dict[str, Any], **_: Any) -> None:
    active = type != "DELETED" and status.get("phase") not in ENDED_PHASES
    resync().track((namespace, name), active)
    if type == "DELETED":
        reconciler().forget(namespace, name)
        # A reconcile under way may record its metrics once more; the next finds it gone.
        queue().add((namespace, name))


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_STEP: kopf.PRESENT})
async def step_job_event(body: kopf.Body, namespace: str, type: str | None,
                         **_: Any) -> None:
    job = dict(body)
    owner = owner_of(job)
    if not owner:
        return
    children = reconciler().children
    if children is not None:
        children.seen((namespace, owner), job, deleted=type == "DELETED")
    if decisive(type, job):
        reconciler().ending_seen(namespace, owner, str(body["metadata"]["name"]))
        queue().add((namespace, owner))
