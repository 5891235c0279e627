"""One reconcile of one LabelingJob: read, plan, act, write status. No kopf here."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from labelpilot.api.config_env import ConfigTooLarge
from labelpilot.api.crd import GROUP, KIND, PLURAL, VERSION
from labelpilot.api.job_labels import LABEL_STEP
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import LabelingJobStatus
from labelpilot.controller import prometheus_metrics
from labelpilot.controller.child_job_cache import ChildJobs
from labelpilot.controller.conditions import Outcome, stalled
from labelpilot.controller.observed import ObservedJob, observed_from
from labelpilot.controller.planner import (
    INVALID_PROFILE,
    JOB_REJECTED,
    CreateJob,
    Decision,
    DeleteJob,
    Event,
    failed,
    plan,
)
from labelpilot.controller.profiles import ProfileError
from labelpilot.controller.redact import safe_text
from labelpilot.controller.step_jobs import JobSettings, build_job, selector

Obj = dict[str, Any]
EventSink = Callable[[Obj, Event], None]
log = logging.getLogger("labelpilot.operator")
FINISHED_MAX = 20_000
# 4xx answers that do not mean "this request can never succeed": 403 and 409 have their own
# handling, the others are the operator's or the moment's problem (a retry may pass).
NOT_THE_SPEC = frozenset({401, 403, 404, 408, 409, 410, 429})


@dataclass
class Apis:
    custom: client.CustomObjectsApi
    batch: client.BatchV1Api
    core: client.CoreV1Api

    @classmethod
    def from_client(cls, api_client: client.ApiClient) -> Apis:
        return cls(
            client.CustomObjectsApi(api_client),
            client.BatchV1Api(api_client),
            client.CoreV1Api(api_client),
        )


def _json(response: Any) -> Obj:
    return cast(Obj, json.loads(response.data))


def status_patch(old: Obj | None, new: Obj) -> Obj:
    """The merge patch that makes `old` status `new`: a field the new status leaves out
    (e.g. failureReason and completionTime once a spec edit retries a failed job) is sent
    as null, since a merge patch keeps what it does not mention."""
    gone = {key: None for key in old or {} if key not in new}
    return {"status": {**gone, **new}}


class Reconciler:
    """At most one reconcile per LabelingJob at a time; safe to call from several threads."""

    def __init__(
        self,
        apis: Apis,
        settings: JobSettings,
        events: EventSink,
        children: ChildJobs | None = None,
    ) -> None:
        self.apis = apis
        self.settings = settings
        self.events = events
        # Without a cache of child Jobs (fed by a watch), every reconcile lists them.
        self.children = children
        # A finished Job's view with its Pods' summary, by (uid, resourceVersion): its Pods
        # are read once, not on every later reconcile.
        self._finished: dict[tuple[str, str], ObservedJob] = {}
        self._guard = threading.Lock()
        self._running: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        # (namespace, LabelingJob) -> its step Jobs whose duration was observed
        self._timed: dict[tuple[str, str], set[str]] = {}
        # (namespace, LabelingJob) -> (step Job, monotonic time its ending was first seen)
        self._endings: dict[tuple[str, str], tuple[str, float]] = {}
        self._ended: dict[tuple[str, str], None] = {}  # step Jobs whose ending was timed
        self.series = prometheus_metrics.JobSeries()

    def ending_seen(self, namespace: str, name: str, job_name: str) -> None:
        """A step Job of `namespace/name` ended: the clock of the decision starts now."""
        with self._guard:
            if (namespace, job_name) not in self._ended:
                self._ended[(namespace, job_name)] = None
                if len(self._ended) > FINISHED_MAX:
                    del self._ended[next(iter(self._ended))]
                self._endings.setdefault((namespace, name), (job_name, time.monotonic()))

    def reconcile(self, namespace: str, name: str) -> Decision | None:
        """Reconciles now, or, if a reconcile of this job is under way, has it run once more.

        Events that arrive while a reconcile runs coalesce into one rerun, so a burst of
        child-Job events costs two reconciles, not one per event.
        """
        key = (namespace, name)
        with self._guard:
            if key in self._running:
                self._again.add(key)
                return None
            self._running.add(key)
        try:
            while True:
                decision = self._timed_reconcile(namespace, name)
                with self._guard:  # checked and released at once, or a request slips by
                    if key not in self._again:
                        self._running.discard(key)
                        return decision
                    self._again.discard(key)
        except BaseException:
            with self._guard:
                self._running.discard(key)
                self._again.discard(key)
            raise

    def _timed_reconcile(self, namespace: str, name: str) -> Decision | None:
        started = time.monotonic()
        try:
            return self._reconcile(namespace, name)
        except Forbidden:
            prometheus_metrics.RECONCILE_ERRORS.labels("Forbidden").inc()
            return None
        except ApiException as error:
            prometheus_metrics.RECONCILE_ERRORS.labels(f"Api{error.status}").inc()
            raise
        finally:
            prometheus_metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)

    def _read(self, namespace: str, name: str) -> Obj | None:
        try:
            return _json(
                self.apis.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _preload_content=False
                )
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def _jobs(self, namespace: str, name: str) -> list[Obj]:
        key = (namespace, name)
        if self.children is not None and not self.children.needs_list(key):
            return self.children.jobs(key)
        listed = _json(
            self.apis.batch.list_namespaced_job(
                namespace, label_selector=selector(name), _preload_content=False
            )
        )
        if self.children is None:
            return list(listed["items"])
        self.children.listed(
            key, listed["items"], (listed.get("metadata") or {}).get("resourceVersion")
        )
        return self.children.jobs(key)

    def observe(self, namespace: str, name: str, uid: str) -> list[ObservedJob]:
        """The LabelingJob's child Jobs (owned by this uid), each with its Pods."""
        jobs = [
            job
            for job in self._jobs(namespace, name)
            if any(o.get("uid") == uid for o in job["metadata"].get("ownerReferences") or [])
        ]
        known = {job["metadata"]["uid"]: self._finished.get(_version_key(job)) for job in jobs}
        pods: list[Obj] = []
        # Only a finished Job's pods are read, and only once.
        if any(decisive(None, job) and known[job["metadata"]["uid"]] is None for job in jobs):
            pods = _json(
                self.apis.core.list_namespaced_pod(
                    namespace, label_selector=selector(name), _preload_content=False
                )
            )["items"]
        observed = []
        for job in jobs:
            job_uid = job["metadata"]["uid"]
            cached = known[job_uid]
            if cached is not None:
                observed.append(cached)
                continue
            mine = [
                p
                for p in pods
                if any(o.get("uid") == job_uid for o in p["metadata"].get("ownerReferences") or [])
            ]
            seen = observed_from(job, mine)
            if decisive(None, job) and mine:
                self._finished[_version_key(job)] = seen
                while len(self._finished) > FINISHED_MAX:
                    del self._finished[next(iter(self._finished))]
            observed.append(seen)
        return observed

    def forget(self, namespace: str, name: str) -> None:
        """The LabelingJob is gone (or going): drop what is kept about it, metrics included."""
        self.series.forget(namespace, name)
        if self.children is not None:
            self.children.forget((namespace, name))
        with self._guard:
            self._endings.pop((namespace, name), None)
            self._timed.pop((namespace, name), None)

    def _reconcile(self, namespace: str, name: str) -> Decision | None:
        body = self._read(namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            self.forget(namespace, name)
            return None
        meta = body["metadata"]
        now = datetime.now(UTC)
        old_status = body.get("status") or None
        status = LabelingJobStatus.from_k8s(old_status) if old_status else None
        try:
            spec = LabelingJobSpec.from_k8s(body.get("spec"))
        except ValidationError as error:
            self._post(body, Event("Warning", "InvalidSpec", str(error)[:1000]))
            prometheus_metrics.RECONCILE_ERRORS.labels("InvalidSpec").inc()
            return None
        decision = None
        try:
            observed = self.observe(namespace, name, meta["uid"])
            decision = plan(spec, status, observed, now, generation=meta.get("generation"))
            for action in decision.actions:
                if isinstance(action, CreateJob):
                    try:
                        job = build_job(
                            name,
                            namespace,
                            meta["uid"],
                            spec,
                            action.step,
                            action.iteration,
                            self.settings,
                            poll=action.poll,
                        )
                    except (ProfileError, ConfigTooLarge) as error:  # a policy refusal too
                        reason = str(getattr(error, "reason", "") or INVALID_PROFILE)
                        decision = failed(
                            spec, status, now, reason, str(error), generation=meta.get("generation")
                        )
                        break
                    try:
                        self._create(namespace, job)
                    except ApiException as error:
                        if not rejects_spec(error):
                            raise
                        prometheus_metrics.RECONCILE_ERRORS.labels(JOB_REJECTED).inc()
                        decision = failed(
                            spec,
                            status,
                            now,
                            JOB_REJECTED,
                            rejected_message(error, job),
                            generation=meta.get("generation"),
                        )
                        break
                elif isinstance(action, DeleteJob):
                    self._delete(namespace, action.name)
        except ApiException as error:
            if error.status != 403:
                raise
            self._stall(body, decision.status if decision else status, error, now)
            raise Forbidden(str(error)) from error
        self._time_steps(namespace, name, observed)
        new_status = decision.status_body()
        if new_status != old_status:
            self.apis.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, status_patch(old_status, new_status)
            )
        self.series.record(namespace, name, new_status, observed)
        for event in decision.events:
            self._post(body, event)
        return decision

    def _stall(
        self, body: Obj, status: LabelingJobStatus | None, error: ApiException, now: datetime
    ) -> None:
        """The API refused one of the operator's requests: say so in status and an Event,
        so that the job does not look like it is still making progress."""
        outcome = Outcome("Forbidden", forbidden_message(error, body["metadata"]["namespace"]))
        log.warning(
            "%s/%s: %s", body["metadata"]["namespace"], body["metadata"]["name"], outcome.message
        )
        self._post(body, Event("Warning", outcome.reason, outcome.message))
        current = (status or LabelingJobStatus()).model_copy(deep=True)
        generation = body["metadata"].get("generation")
        current.conditions = stalled(
            current.conditions, outcome, now.replace(microsecond=0), generation
        )
        new_status = current.to_k8s()
        if new_status == (body.get("status") or None):
            return
        try:
            self.apis.custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                body["metadata"]["namespace"],
                PLURAL,
                body["metadata"]["name"],
                {"status": new_status},
            )
        except ApiException:  # status writes may be what is forbidden; the Event remains
            log.exception("could not write the Forbidden condition")

    def _create(self, namespace: str, job: Obj) -> None:
        owner = owner_of(job)
        try:
            response = self.apis.batch.create_namespaced_job(namespace, job, _preload_content=False)  # type: ignore[arg-type]  # a dict is sent as it is
            if self.children is not None and owner:
                # The next reconcile must see it even before the watch delivers it.
                self.children.seen((namespace, owner), _json(response))
        except ApiException as error:
            if error.status != 409:  # already there: an earlier reconcile made it
                raise
            return
        prometheus_metrics.JOBS_CREATED.labels(job["metadata"]["labels"][LABEL_STEP]).inc()
        created = time.monotonic()
        with self._guard:
            ending = self._endings.pop((namespace, owner), None) if owner else None
        if ending is None:
            log.info("created job %s/%s", namespace, job["metadata"]["name"])
            return
        ended, seen = ending
        prometheus_metrics.DECISION_SECONDS.observe(created - seen)
        log.info(
            "created job %s/%s %.3f s after the end of %s was seen "
            "(decision seen=%.3f created=%.3f)",
            namespace,
            job["metadata"]["name"],
            created - seen,
            ended,
            seen,
            created,
        )

    def _delete(self, namespace: str, job_name: str) -> None:
        try:
            self.apis.batch.delete_namespaced_job(
                job_name, namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def _time_steps(self, namespace: str, name: str, observed: list[ObservedJob]) -> None:
        """Observes each finished step Job's duration once."""
        finished = {
            job.name: (job.step, (job.completion_time - job.start_time).total_seconds())
            for job in observed
            if job.completion_time and job.start_time
        }
        with self._guard:
            timed = self._timed.setdefault((namespace, name), set())
            new = [finished[job] for job in finished.keys() - timed]
            timed.update(finished)
        for step, seconds in new:
            prometheus_metrics.STEP_SECONDS.labels(str(step)).observe(seconds)

    def _post(self, body: Obj, event: Event) -> None:
        try:
            self.events(body, event)
        except Exception:  # an event is never worth failing a reconcile for
            log.exception("could not post event %s", event.reason)


class Forbidden(Exception):
    """The API server refused a request for lack of RBAC permissions (HTTP 403)."""


def rejects_spec(error: ApiException) -> bool:
    """Whether the API server refused a request for what it asks (400, 422 Invalid, ...),
    so that asking again cannot succeed until the LabelingJob's spec changes."""
    status = int(error.status or 0)
    return 400 <= status < 500 and status not in NOT_THE_SPEC


def server_message(error: ApiException, default: str) -> str:
    """The message of the API server's Status body (it names the field), made safe to show."""
    detail = ""
    try:
        detail = str(json.loads(error.body or "{}").get("message") or "")
    except (TypeError, ValueError, AttributeError):
        detail = str(error.body or "")
    return safe_text(detail or str(error.reason or default), 800)


def forbidden_message(error: ApiException, namespace: str) -> str:
    """One sentence naming what was refused, from the API server's Status body."""
    detail = server_message(error, "forbidden")
    return (
        f"the API server refused an operator request in namespace {namespace}: "
        f"{detail}. Grant the operator's ServiceAccount this permission "
        "(the Helm chart's Role/ClusterRole); the job resumes by itself once it can."
    )


def rejected_message(error: ApiException, job: Obj) -> str:
    """Why a step Job was refused, and what the user can do about it."""
    detail = server_message(error, "invalid")
    return (
        f"the API server rejected step Job {job['metadata']['name']} "
        f"(HTTP {error.status}): {detail}. Fix the LabelingJob's spec; "
        "its next generation tries again."
    )


def _version_key(job: Obj) -> tuple[str, str]:
    meta = job["metadata"]
    return str(meta["uid"]), str(meta.get("resourceVersion") or "")


def owner_of(job: Obj) -> str | None:
    """The LabelingJob that controls a step Job, by its ownerReference."""
    for owner in job.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == KIND and owner.get("controller"):
            return str(owner["name"])
    return None


def decisive(event_type: str | None, job: Obj) -> bool:
    """Whether a step Job's event can change its LabelingJob's plan: only an ending does.

    A Job that starts or gains a running pod changes nothing the planner reads; one that
    completes, fails or disappears does (suspend waits for the deletion to finish)."""
    if event_type == "DELETED":
        return True
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )
