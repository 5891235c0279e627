"""The operator's own settings: from `labelpilot operator`'s flags, or, for `kopf run -m
labelpilot.controller`, from LABELPILOT_OPERATOR_* environment variables. Either way they
reach the kopf handlers as one object in kopf's memo (labelpilot.controller.handlers)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from labelpilot.controller.policy import Policy
from labelpilot.controller.profiles import Catalog
from labelpilot.controller.step_jobs import JobSettings

ENV_PREFIX = "LABELPILOT_OPERATOR_"
DEFAULT_METRICS_PORT = 8080
DEFAULT_RESYNC_SECONDS = 30.0
DEFAULT_WORKERS = 16
DEFAULT_RELIST_SECONDS = 300.0
OFF = ("0", "off", "false")


@dataclass(frozen=True)
class OperatorSettings:
    job: JobSettings = field(default_factory=JobSettings)
    metrics_port: int | None = DEFAULT_METRICS_PORT
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    # Off when the operator watches named namespaces: its Role cannot list namespaces or
    # CRDs (cluster-scoped), so kopf is told not to try instead of warning on every start.
    scanning: bool = True
    workers: int = DEFAULT_WORKERS  # threads that reconcile LabelingJobs
    relist_seconds: float = DEFAULT_RELIST_SECONDS  # how stale the child Job cache may get

    @classmethod
    def build(
        cls,
        *,
        image: str | None = None,
        profiles_file: str | None = None,
        policy_file: str | None = None,
        metrics_port: int | None = DEFAULT_METRICS_PORT,
        resync_seconds: float = DEFAULT_RESYNC_SECONDS,
        scanning: bool = True,
        workers: int = DEFAULT_WORKERS,
        relist_seconds: float = DEFAULT_RELIST_SECONDS,
    ) -> OperatorSettings:
        """Reads the profile and policy files (profiles.ProfileError, policy.PolicyError:
        a file that cannot be read or is invalid, named). Metrics port 0: no metrics."""
        job = JobSettings(
            catalog=Catalog.from_file(profiles_file), policy=Policy.from_file(policy_file)
        )
        if image:
            job = JobSettings(image=image, catalog=job.catalog, policy=job.policy)
        return cls(
            job=job,
            metrics_port=metrics_port or None,
            resync_seconds=resync_seconds,
            scanning=scanning,
            workers=workers,
            relist_seconds=relist_seconds,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorSettings:
        """LABELPILOT_OPERATOR_{IMAGE,PROFILES_FILE,POLICY_FILE,METRICS_PORT,RESYNC_SECONDS,
        SCANNING,WORKERS,RELIST_SECONDS}; METRICS_PORT unset, 0 or off: no metrics.
        Raises ValueError (ProfileError among them) for a bad value or file."""
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        port = value("METRICS_PORT")
        return cls.build(
            image=value("IMAGE"),
            profiles_file=value("PROFILES_FILE"),
            policy_file=value("POLICY_FILE"),
            metrics_port=None if port is None or port in OFF else int(port),
            resync_seconds=float(value("RESYNC_SECONDS") or DEFAULT_RESYNC_SECONDS),
            scanning=value("SCANNING") not in OFF,
            workers=int(value("WORKERS") or DEFAULT_WORKERS),
            relist_seconds=float(value("RELIST_SECONDS") or DEFAULT_RELIST_SECONDS),
        )
