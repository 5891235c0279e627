"""Which LabelingJob a Label Studio task belongs to.

Every task LabelPilot creates carries, in its meta under `labelpilot`, the job's name,
namespace and uid, and every lookup of tasks (a rerun finding its batch, polling,
collecting the answers, taking back expired tasks) keeps only the tasks whose three match
the job's. Jobs sharing a project never see each other's tasks: not a same-named job of
another namespace, not a job deleted and re-created under the same name (a new uid).

`labelpilot run` without `--job-uid` has no uid. Its stand-in is `run-` followed by the
first 32 hex digits of the SHA-256 of the namespace (empty), the job name and the output
URI (without a trailing slash): a rerun into the same output finds its tasks again, and
the same job name writing elsewhere is another job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from labelpilot.api.run_config import RunConfig

META_KEY = "labelpilot"
STAND_IN_PREFIX = "run-"


@dataclass(frozen=True)
class JobIdentity:
    name: str
    namespace: str | None
    uid: str | None

    @classmethod
    def of(cls, config: RunConfig) -> JobIdentity:
        uid = config.job_uid
        if not uid:
            seed = "\n".join(
                (config.job_namespace or "", config.job_name, config.output_uri.rstrip("/"))
            )
            uid = STAND_IN_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:32]
        return cls(config.job_name, config.job_namespace, uid)

    def meta(self) -> dict[str, Any]:
        """What a task's `labelpilot` meta holds about its job."""
        return {"job": self.name, "namespace": self.namespace, "uid": self.uid}

    def owns(self, task: dict[str, Any]) -> bool:
        """Whether a Label Studio task (as its API returns it) is this job's."""
        meta = (task.get("meta") or {}).get(META_KEY)
        if not isinstance(meta, dict):
            return False
        return (meta.get("job"), meta.get("namespace"), meta.get("uid")) == (
            self.name,
            self.namespace,
            self.uid,
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{where}{self.name} (uid {self.uid})"
