"""The operator's own settings: from `labelpilot operator` flags or environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labelpilot.controller.policy import Policy
from labelpilot.controller.profiles import Catalog
from labelpilot.controller.step_jobs import JobSettings

ENV_PREFIX = "LABELPILOT_OPERATOR_"


@dataclass
class OperatorSettings:
    job: JobSettings = field(default_factory=JobSettings)
    metrics_port: int | None = 8080
    resync_seconds: float = 30.0
    # Off when the operator watches named namespaces: its Role cannot list namespaces or
    # CRDs (cluster-scoped), so kopf is told not to try instead of warning on every start.
    scanning: bool = True
    workers: int = 16  # threads that reconcile LabelingJobs
    relist_seconds: float = 300.0  # how stale the cache of child Jobs may get, at most

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorSettings:
        """LABELPILOT_OPERATOR_{IMAGE,PROFILES_FILE,POLICY_FILE,METRICS_PORT,RESYNC_SECONDS,
        SCANNING,WORKERS,RELIST_SECONDS}."""
        env = dict(os.environ if environ is None else environ)

        def value(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        catalog = Catalog()
        if value("PROFILES_FILE"):
            catalog = Catalog.from_yaml(Path(str(value("PROFILES_FILE"))).read_text())
        policy = Policy.from_file(value("POLICY_FILE"))
        job = JobSettings(catalog=catalog, policy=policy)
        if value("IMAGE"):
            job = JobSettings(image=str(value("IMAGE")), catalog=catalog, policy=policy)
        port = value("METRICS_PORT")
        return cls(
            job=job,
            metrics_port=None if port in (None, "0", "off") else int(str(port)),
            resync_seconds=float(value("RESYNC_SECONDS") or 30.0),
            scanning=value("SCANNING") not in ("0", "off", "false"),
            workers=int(value("WORKERS") or 16),
            relist_seconds=float(value("RELIST_SECONDS") or 300.0),
        )
