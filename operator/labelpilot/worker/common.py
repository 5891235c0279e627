"""What every step shares: the context, the job-failing errors, the limits on failed objects."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from labelpilot.api.run_config import RunConfig
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

    def __post_init__(self) -> None:
        self.ws = Workspace(self.config.output_uri)

    @property
    def delta(self) -> float:
        return 1.0 - self.config.confidence_level

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    def objects(self) -> list[formats.DataObject]:
        """The input manifest's objects, read once per step."""
        if self._objects is None:
            self._objects = formats.read_manifest(self.config.input_manifest_uri)
        return self._objects

    @property
    def manifest_base(self) -> str:
        return storage.parent(self.config.input_manifest_uri)

    def model_options(self) -> dict[str, Any]:
        return dict(self.config.model_options)


def timestamp_of(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Creation dates already recorded for objects, so that a rerun keeps them."""
    return {int(r["index"]): r["created"] for r in rows if "created" in r}
