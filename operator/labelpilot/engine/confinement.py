"""The job's data roots: the only places a manifest line may name an object in.

An object is read only when it lies under one of the roots (their syntax, and what "under"
means, are in labelpilot.api.data_roots). Without roots in the config, the job's roots are
its input manifest's folder (local) or its bucket (object stores). An http(s) manifest gives
none: http(s) objects are read only under an http(s) root listed explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from labelpilot.api.data_roots import (
    OutsideDataRoots,
    bucket_of,
    local_target,
    parse_root,
    remote_parts,
)
from labelpilot.engine import storage


def default_roots(manifest_uri: str) -> list[str]:
    """The roots of a job that lists none: the manifest's folder, or its bucket."""
    if storage.is_local(manifest_uri):
        folder = storage.parent(manifest_uri)
        if folder.startswith("file://"):
            folder = folder[len("file://") :] or "/"
        return [os.path.abspath(folder)]
    bucket = bucket_of(manifest_uri)
    return [bucket] if bucket else []


class DataRoots:
    """Decides whether a resolved object URI may be read, and names what to open."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = [parse_root(root) for root in roots]
        self.text = ", ".join(roots) if roots else "(none)"

    @classmethod
    def for_job(cls, roots: Sequence[str], manifest_uri: str) -> DataRoots:
        return cls(list(roots) or default_roots(manifest_uri))

    def confine(self, uri: str) -> str:
        """The path or URI to open for `uri`: for local objects their real path.

        Raises OutsideDataRoots when `uri` is not under a root."""
        if storage.is_local(uri):
            target = local_target(uri)
            for root in self.roots:
                if root.local and (
                    target == root.prefix or target.startswith(root.prefix.rstrip("/") + "/")
                ):
                    return target
            raise OutsideDataRoots(f"not under the data roots {self.text}")
        scheme, host, path = remote_parts(uri)
        candidate = f"{scheme}://{host}{path}"
        for root in self.roots:
            if not root.local and candidate.startswith(root.prefix):
                return uri
        raise OutsideDataRoots(f"not under the data roots {self.text}")
