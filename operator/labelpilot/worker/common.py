"""What every step shares: the context, the job-failing errors, the limits on failed objects."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from labelpilot.api.run_config import RunConfig, ValidationPolicy
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.labels import ObjectMismatch
from labelpilot.engine.workspace import Workspace

P = ParamSpec("P")
R = TypeVar("R")

MIN_OBJECTS = 1250
# More failed objects than this share of the input manifest (prepare) or of iteration 0's
# batch (human) fail the job.
MAX_FAILED_FRACTION = 0.10


def step(run: Callable[P, R]) -> Callable[P, R]:
    """A step's entry point: an output location that refuses writes, or a stored label row
    of another object, fails the job with a reason instead of crashing into retries."""

    @functools.wraps(run)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return run(*args, **kwargs)
        except storage.NotWritable as error:
            raise StepFailed(
                "OutputNotWritable",
                f"{error}; the output location must be writable by the step's user",
            ) from error
        except ObjectMismatch as error:
            raise StepFailed("ObjectMismatch", str(error)) from error

    return guarded


@dataclass
class Context:
    config: RunConfig
    ws: Workspace = field(init=False)
    started: float = field(default_factory=time.perf_counter)
    _objects: list[formats.DataObject] | None = field(default=None, init=False, repr=False)
    _policy: ValidationPolicy | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ws = Workspace(self.config.output_uri)

    @property
    def delta(self) -> float:
        return 1.0 - self.config.confidence_level

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def objects(self) -> list[formats.DataObject]:
        """The input manifest's objects, read once per step (and once per process while
        the local file stays as it was: `labelpilot run`'s steps share one reading)."""
        if self._objects is None:
            self._objects = _input_objects(self.config.input_manifest_uri)
        return self._objects

    def validation_policy(self) -> ValidationPolicy:
        """The policy prepare split the job with (its plan records it), else the config's:
        a later change of the spec or of the defaults does not switch a job's policy, whose
        delta schedule the earlier searches have spent."""
        if self._policy is None:
            plan = self.ws.prepare_plan
            recorded = storage.read_json(plan) if storage.exists(plan) else {}
            self._policy = (
                ValidationPolicy(recorded["validationPolicy"])
                if "validationPolicy" in recorded
                else self.config.effective_validation_policy
            )
        return self._policy

    @property
    def manifest_base(self) -> str:
        return storage.parent(self.config.input_manifest_uri)

    def model_options(self) -> dict[str, Any]:
        return dict(self.config.model_options)


_last_read: tuple[tuple[Any, ...], list[formats.DataObject]] | None = None


def _input_objects(uri: str) -> list[formats.DataObject]:
    global _last_read
    if not storage.is_local(uri):
        return formats.read_manifest(uri)
    found = os.stat(storage.local_path(uri))
    key = (uri, found.st_ino, found.st_size, found.st_mtime_ns)
    if _last_read is None or _last_read[0] != key:
        _last_read = (key, formats.read_manifest(uri))
    return list(_last_read[1])  # the objects are frozen; the list is the caller's


def timestamp_of(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Creation dates already recorded for objects, so that a rerun keeps them."""
    return {int(r["index"]): r["created"] for r in rows if "created" in r}
