"""One reconcile of one LabelingJob: read, plan, act, write status. No kopf here."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from labelpilot import metrics
from labelpilot.api.crd import GROUP, KIND, PLURAL, VERSION
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import LabelingJobStatus
from labelpilot.conditions import Outcome, stalled
from labelpilot.jobs import JobSettings, build_job, selector
from labelpilot.observed import ObservedJob, observed_from
from labelpilot.planner import CreateJob, Decision, DeleteJob, Event, failed, plan
from labelpilot.profiles import ProfileError

Obj = dict[str, Any]
EventSink = Callable[[Obj, Event], None]
log = logging.getLogger("labelpilot.operator")


@dataclass
class Apis:
    custom: client.CustomObjectsApi
    batch: client.BatchV1Api
    core: client.CoreV1Api

    @classmethod
    def from_client(cls, api_client: client.ApiClient) -> Apis:
        return cls(client.CustomObjectsApi(api_client), client.BatchV1Api(api_client),
                   client.CoreV1Api(api_client))


def _json(response: Any) -> Obj:
    return json.loads(response.data)


class Reconciler:
    """At most one reconcile per LabelingJob at a time; safe to call from several threads."""

    def __init__(self, apis: Apis, settings: JobSettings, events: EventSink) -> None:
        self.apis = apis
        self.settings = settings
        self.events = events
        self._guard = threading.Lock()
        self._running: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._timed_jobs: set[str] = set()

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
            metrics.RECONCILE_ERRORS.labels("Forbidden").inc()
            return None
        except ApiException as error:
            metrics.RECONCILE_ERRORS.labels(f"Api{error.status}").inc()
            raise
        finally:
            metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)

    def _read(self, namespace: str, name: str) -> Obj | None:
        try:
            return _json(self.apis.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def observe(self, namespace: str, name: str, uid: str) -> list[ObservedJob]:
        """The LabelingJob's child Jobs (owned by this uid), each with its Pods."""
        label = selector(name)
        jobs = _json(self.apis.batch.list_namespaced_job(
            namespace, label_selector=label, _preload_content=False))["items"]
        pods: list[Obj] = []
        if any(decisive(None, job) for job in jobs):  # only a finished Job's pods are read
            pods = _json(self.apis.core.list_namespaced_pod(
                namespace, label_selector=label, _preload_content=False))["items"]
        observed = []
        for job in jobs:
            owners = job["metadata"].get("ownerReferences") or []
            if not any(o.get("uid") == uid for o in owners):
                continue
            job_uid = job["metadata"]["uid"]
            mine = [p for p in pods if any(o.get("uid") == job_uid
                                           for o in p["metadata"].get("ownerReferences") or [])]
            observed.append(observed_from(job, mine))
        return observed

    def _reconcile(self, namespace: str, name: str) -> Decision | None:
        body = self._read(namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        meta = body["metadata"]
        now = datetime.now(UTC)
        old_status = body.get("status") or None
        status = LabelingJobStatus.from_k8s(old_status) if old_status else None
        try:
            spec = LabelingJobSpec.from_k8s(body.get("spec"))
        except ValidationError as error:
            self._post(body, Event("Warning", "InvalidSpec", str(error)[:1000]))
            metrics.RECONCILE_ERRORS.labels("InvalidSpec").inc()
            return None
        decision = None
        try:
            observed = self.observe(namespace, name, meta["uid"])
            decision = plan(spec, status, observed, now, generation=meta.get("generation"))
            for action in decision.actions:
                if isinstance(action, CreateJob):
                    try:
                        job = build_job(name, namespace, meta["uid"], spec, action.step,
                                        action.iteration, self.settings, poll=action.poll)
                    except ProfileError as error:
                        decision = failed(spec, status, now, "InvalidProfile", str(error),
                                          generation=meta.get("generation"))
                        break
                    self._create(namespace, job)
                elif isinstance(action, DeleteJob):
                    self._delete(namespace, action.name)
        except ApiException as error:
            if error.status != 403:
                raise
            self._stall(body, decision.status if decision else status, error, now)
            raise Forbidden(str(error)) from error
        self._time_steps(observed)
        new_status = decision.status_body()
        if new_status != old_status:
            self.apis.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": new_status})
        metrics.record_status(namespace, name, new_status)
        for event in decision.events:
            self._post(body, event)
        return decision

    def _stall(self, body: Obj, status: LabelingJobStatus | None, error: ApiException,
               now: datetime) -> None:
        """The API refused one of the operator's requests: say so in status and an Event,
        so that the job does not look like it is still making progress."""
        outcome = Outcome("Forbidden", forbidden_message(error, body["metadata"]["namespace"]))
        log.warning("%s/%s: %s", body["metadata"]["namespace"], body["metadata"]["name"],
                    outcome.message)
        self._post(body, Event("Warning", outcome.reason, outcome.message))
        current = (status or LabelingJobStatus()).model_copy(deep=True)
        generation = body["metadata"].get("generation")
        current.conditions = stalled(current.conditions, outcome, now.replace(microsecond=0),
                                     generation)
        new_status = current.to_k8s()
        if new_status == (body.get("status") or None):
            return
        try:
            self.apis.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, body["metadata"]["namespace"], PLURAL,
                body["metadata"]["name"], {"status": new_status})
        except ApiException:  # status writes may be what is forbidden; the Event remains
            log.exception("could not write the Forbidden condition")

    def _create(self, namespace: str, job: Obj) -> None:
        try:
            self.apis.batch.create_namespaced_job(namespace, job)
        except ApiException as error:
            if error.status != 409:  # already there: an earlier reconcile made it
                raise
            return
        metrics.JOBS_CREATED.labels(job["metadata"]["labels"]["labelpilot.dev/step"]).inc()
        log.info("created job %s/%s", namespace, job["metadata"]["name"])

    def _delete(self, namespace: str, job_name: str) -> None:
        try:
            self.apis.batch.delete_namespaced_job(
                job_name, namespace, body={"propagationPolicy": "Foreground"})
        except ApiException as error:
            if error.status != 404:
                raise

    def _time_steps(self, observed: list[ObservedJob]) -> None:
        for job in observed:
            if job.completion_time and job.start_time and job.name not in self._timed_jobs:
                self._timed_jobs.add(job.name)
                seconds = (job.completion_time - job.start_time).total_seconds()
                metrics.STEP_SECONDS.labels(str(job.step)).observe(seconds)

    def _post(self, body: Obj, event: Event) -> None:
        try:
            self.events(body, event)
        except Exception:  # an event is never worth failing a reconcile for
            log.exception("could not post event %s", event.reason)


class Forbidden(Exception):
    """The API server refused a request for lack of RBAC permissions (HTTP 403)."""


def forbidden_message(error: ApiException, namespace: str) -> str:
    """One sentence naming what was refused, from the API server's Status body."""
    detail = ""
    try:
        detail = str(json.loads(error.body or "{}").get("message") or "")
    except (TypeError, ValueError):
        detail = str(error.body or "")
    detail = detail or str(error.reason or "forbidden")
    return (f"the API server refused an operator request in namespace {namespace}: "
            f"{detail[:800]}. Grant the operator's ServiceAccount this permission "
            "(the Helm chart's Role/ClusterRole); the job resumes by itself once it can.")


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
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in conditions)
