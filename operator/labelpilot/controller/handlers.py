"""kopf handlers for LabelingJob: thin glue around `labelpilot.controller.reconciler`.

Importing `labelpilot.controller` registers them. Run with `labelpilot operator`, which
hands its settings to kopf in the memo (`memo_of`), or `kopf run -m labelpilot.controller`,
whose settings come from LABELPILOT_OPERATOR_* environment variables
(`labelpilot.controller.settings`). At startup the handlers build the Operator, the
reconciler and its queues, from those settings and keep it in the memo: nothing is read
or built on import.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
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

ENDED_PHASES = (Phase.COMPLETED, Phase.FAILED, Phase.STOPPED)
SETTINGS, OPERATOR = "settings", "operator"  # the memo's keys


@dataclass
class Operator:
    """What the handlers share: the settings, the reconciler and the queues that feed it.
    Reconciles run on the queue's threads: handlers only queue them, so kopf's own
    processing of events (many per step Job) never waits behind a slow reconcile."""

    settings: OperatorSettings
    reconciler: Reconciler
    queue: WorkQueue
    resync: Resync

    @classmethod
    def start(cls, settings: OperatorSettings, reconciler: Reconciler | None = None) -> Operator:
        """The operator of `settings`, its resyncs running (a reconciler talking to the
        cluster of the kubeconfig, or in-cluster, unless one is given)."""
        reconciler = reconciler or Reconciler(
            Apis.from_client(_api_client(settings.workers)),
            settings.job,
            _post_event,
            ChildJobs(relist_seconds=settings.relist_seconds),
        )

        def reconcile(key: Hashable) -> None:
            namespace, name = cast(tuple[str, str], key)
            reconciler.reconcile(namespace, name)

        queue = WorkQueue(reconcile, workers=settings.workers)
        resync = Resync(lambda key: queue.add(key, urgent=False), settings.resync_seconds)
        resync.start()
        return cls(settings, reconciler, queue, resync)

    def stop(self) -> None:
        self.resync.stop()
        self.queue.stop()


def memo_of(settings: OperatorSettings) -> kopf.Memo:
    """The memo `kopf.run` hands the handlers: the operator's settings."""
    return kopf.Memo({SETTINGS: settings})


def operator(memo: kopf.Memo) -> Operator:
    """The Operator the startup handler kept in the memo."""
    return cast(Operator, memo[OPERATOR])


def key(namespace: str | None, name: str) -> tuple[str, str]:
    """A LabelingJob's key in the queues. LabelingJobs and Jobs are namespaced: kopf names
    a namespace for every event of theirs."""
    if namespace is None:
        raise kopf.PermanentError(f"{name} has no namespace")
    return namespace, name


def _api_client(workers: int) -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    # one connection per reconcile thread, so none waits for a free one
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize, workers)
    return client.ApiClient(configuration)


def _post_event(body: dict[str, Any], event: Event) -> None:
    raw = cast(kopf.RawBody, body)  # the LabelingJob as the API server sent it
    kopf.event(kopf.Body(raw), type=event.type, reason=event.reason, message=event.message)


@kopf.on.startup()
def configure(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    # Keep kopf's bookkeeping in annotations: the CRD's status schema is ours alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kopf.labelpilot.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.labelpilot.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    try:
        own = memo.get(SETTINGS) or OperatorSettings.from_env()
    except (OSError, ValueError) as error:  # a bad file or value: stop, do not retry
        raise kopf.PermanentError(f"operator settings: {error}") from error
    settings.scanning.disabled = not own.scanning
    if own.metrics_port:
        prometheus_metrics.serve(own.metrics_port)
        logger.info("metrics on :%d/metrics", own.metrics_port)
    memo[OPERATOR] = Operator.start(own)


@kopf.on.cleanup()
def stop_queue(memo: kopf.Memo, **_: Any) -> None:
    if OPERATOR in memo:
        operator(memo).stop()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def labeling_job_changed(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    operator(memo).queue.add(key(namespace, name))


@kopf.on.event(GROUP, VERSION, PLURAL)
async def labeling_job_seen(
    name: str,
    namespace: str | None,
    type: str | None,
    status: kopf.Status,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    running, labeling_job = operator(memo), key(namespace, name)
    active = type != "DELETED" and status.get("phase") not in ENDED_PHASES
    running.resync.track(labeling_job, active)
    if type == "DELETED":
        running.reconciler.forget(*labeling_job)
        # A reconcile under way may record its metrics once more; the next finds it gone.
        running.queue.add(labeling_job)


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_STEP: kopf.PRESENT})
async def step_job_event(
    body: kopf.Body, name: str, namespace: str | None, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    job = dict(body)
    owner = owner_of(job)
    if not owner:
        return
    running, labeling_job = operator(memo), key(namespace, owner)
    children = running.reconciler.children
    if children is not None:
        children.seen(labeling_job, job, deleted=type == "DELETED")
    if decisive(type, job):
        running.reconciler.ending_seen(*labeling_job, name)
        running.queue.add(labeling_job)
