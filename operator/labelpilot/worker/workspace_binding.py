"""The workspace's binding: the job and the input manifest its files belong to.

Labels are stored by their object's position in the input manifest, so a workspace means
something only with the manifest and the job that wrote it. `prepare` records both in
`binding.json` before it writes anything else, or checks them on a rerun; every later step
checks them before it reads or writes the workspace. The job is its uid (the LabelingJob's;
`labelpilot run --job-uid`), name and namespace; the manifest is its URI, the sha256 of its
bytes and its object count. A workspace bound to another job or manifest, or one that
holds files but no binding (another tool's, an older LabelPilot's), is refused with
WorkspaceMismatch and nothing in it is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from labelpilot.api.steps import StepFailed
from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.common import Context

WORKSPACE_MISMATCH = "WorkspaceMismatch"


@dataclass(frozen=True)
class JobRef:
    name: str
    namespace: str | None
    uid: str | None

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"job {name} ({f'uid {self.uid}' if self.uid else 'no uid'})"


@dataclass(frozen=True)
class ManifestRef:
    uri: str
    sha256: str
    objects: int

    def __str__(self) -> str:
        return f"manifest {self.uri} ({self.objects} objects, sha256 {self.sha256[:16]})"


@dataclass(frozen=True)
class Binding:
    job: JobRef
    manifest: ManifestRef

    def __str__(self) -> str:
        return f"{self.job} and {self.manifest}"

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, value: Any) -> Binding:
        """Raises ValueError when `value` is not a binding."""
        try:
            return cls(JobRef(**value["job"]), ManifestRef(**value["manifest"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a binding ({type(error).__name__}: {error})") from error

    def differences(self, other: Binding) -> list[str]:
        return [
            f"{part} {f.name}"
            for part in ("job", "manifest")
            for f in fields(getattr(self, part))
            if getattr(getattr(self, part), f.name) != getattr(getattr(other, part), f.name)
        ]


def of_this_job(ctx: Context) -> Binding:
    """The binding of `ctx`'s job and input manifest as they are now."""
    cfg = ctx.config
    digest = storage.sha256(cfg.input_manifest_uri)
    return Binding(
        JobRef(cfg.job_name, cfg.job_namespace, cfg.job_uid),
        ManifestRef(cfg.input_manifest_uri, digest, len(ctx.objects())),
    )


def bind(ctx: Context) -> None:
    """`prepare`: binds an empty workspace to this job, or checks the binding it has."""
    ws, mine = ctx.ws, of_this_job(ctx)
    with storage.writes_to(ws.root):
        stored = _stored(ws)
        if stored is None:
            if _holds_files(ws):
                raise _unbound(ws)
            storage.write_new(ws.binding, mine.to_bytes())
            stored = _stored(ws)  # another job may have bound it first
    if stored is None:
        raise _unbound(ws)
    if stored != mine:
        raise _mismatch(ws, stored, mine)


def check(ctx: Context) -> None:
    """Every step after `prepare`: the workspace must be bound to this job and manifest."""
    ws = ctx.ws
    stored = _stored(ws)
    if stored is None:
        raise _unbound(ws)
    mine = of_this_job(ctx)
    if stored != mine:
        raise _mismatch(ws, stored, mine)


def _stored(ws: Workspace) -> Binding | None:
    if not storage.exists(ws.binding):
        return None
    try:
        return Binding.from_json(storage.read_json(ws.binding))
    except ValueError as error:
        raise StepFailed(
            WORKSPACE_MISMATCH, f"{ws.binding} is not a LabelPilot workspace binding: {error}"
        ) from error


def _holds_files(ws: Workspace) -> bool:
    """Whether anything but a binding's leftover temporary file is in the workspace."""
    return any(
        not (name.startswith(".binding.json.") and name.endswith(".tmp"))
        for name in storage.listdir(ws.root)
    )


def _unbound(ws: Workspace) -> StepFailed:
    if _holds_files(ws):
        return StepFailed(
            WORKSPACE_MISMATCH,
            f"the workspace {ws.root} holds files but no binding.json: it was "
            "written by another tool or an older LabelPilot, so which job and "
            "input manifest its labels belong to is unknown, and nothing was "
            "read or written; give the job an empty output location",
        )
    return StepFailed(
        WORKSPACE_MISMATCH,
        f"the workspace {ws.root} has no binding.json: prepare has not run for this job",
    )


def _mismatch(ws: Workspace, stored: Binding, mine: Binding) -> StepFailed:
    differences = stored.differences(mine)
    remedy = (
        "restore the manifest it was bound to, or give the job its own output location"
        if stored.job == mine.job
        else "give this job its own output location"
    )
    return StepFailed(
        WORKSPACE_MISMATCH,
        f"the workspace {ws.root} belongs to {stored}, but this is {mine} "
        f"(they differ in: {', '.join(differences)}); its labels would land on "
        f"the wrong objects, so nothing was read or written: {remedy}",
    )
