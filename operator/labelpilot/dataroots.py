"""The job's data roots: the only places a manifest line may name an object in.

A root is an absolute local path (or file:// URI) or a remote prefix (`s3://bucket/`,
`gs://bucket/prefix/`, `https://host/prefix/`). An object is read only when it lies under
one: a local path after resolving `..` and symbolic links, a remote URI when its scheme and
host match a root's exactly and its path starts with the root's path, with no `.` or `..`
segment (percent-encoded or not) and no fsspec chaining (`::`).

Without roots in the config, the job's roots are its input manifest's folder (local) or its
bucket (object stores). An http(s) manifest gives none: http(s) objects are read only under
an http(s) root listed explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from labelpilot import storage

_HTTP = ("http", "https")


class OutsideDataRoots(ValueError):
    """A reference that does not resolve under any of the job's data roots."""


@dataclass(frozen=True)
class Root:
    """A canonical root: a real local folder, or a remote `scheme://host/path/` prefix."""

    local: bool
    prefix: str


def _local_target(uri: str) -> str:
    """The real path (`..` and symbolic links resolved) of a plain path or file:// URI."""
    if "\x00" in uri:
        raise OutsideDataRoots("the path holds a NUL character")
    if uri.startswith("file://"):
        path = uri[len("file://"):]
        if not path.startswith("/"):
            raise OutsideDataRoots("a file:// URI must name an absolute path (file:///...)")
    else:
        path = uri
    return os.path.realpath(path)


def _remote_parts(uri: str) -> tuple[str, str, str]:
    """(scheme, host, path) of a remote URI, refusing what could leave a prefix."""
    if "::" in uri:
        raise OutsideDataRoots("chained URLs (::) are not allowed")
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        raise OutsideDataRoots("a remote URI needs a scheme and a host or bucket")
    path = parts.path or "/"
    segments = unquote(path).replace("\\", "/").split("/")
    if any(segment in (".", "..") for segment in segments):
        raise OutsideDataRoots("the path holds a '.' or '..' segment")
    return parts.scheme.lower(), parts.netloc.lower(), path


def parse_root(text: str) -> Root:
    """A canonical root; raises ValueError saying what is wrong with `text`."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a data root must be a non-empty path or URI")
    if storage.is_local(text):
        if not (text.startswith("/") or text.startswith("file:///")):
            raise ValueError(f"data root {text!r} must be an absolute path or a file:/// URI")
        try:
            return Root(True, _local_target(text))
        except OutsideDataRoots as error:
            raise ValueError(f"data root {text!r}: {error}") from error
    try:
        scheme, host, path = _remote_parts(text)
    except OutsideDataRoots as error:
        raise ValueError(f"data root {text!r}: {error}") from error
    return Root(False, f"{scheme}://{host}{path.rstrip('/')}/")


def bucket_of(uri: str) -> str | None:
    """`scheme://bucket/` of an object-store URI; None for local paths and http(s)."""
    if storage.is_local(uri):
        return None
    parts = urlsplit(uri)
    if parts.scheme.lower() in _HTTP or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc}/"


def default_roots(manifest_uri: str) -> list[str]:
    """The roots of a job that lists none: the manifest's folder, or its bucket."""
    if storage.is_local(manifest_uri):
        folder = storage.parent(manifest_uri)
        if folder.startswith("file://"):
            folder = folder[len("file://"):] or "/"
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
            target = _local_target(uri)
            for root in self.roots:
                if root.local and (target == root.prefix or target.startswith(
                        root.prefix.rstrip("/") + "/")):
                    return target
            raise OutsideDataRoots(f"not under the data roots {self.text}")
        scheme, host, path = _remote_parts(uri)
        candidate = f"{scheme}://{host}{path}"
        for root in self.roots:
            if not root.local and candidate.startswith(root.prefix):
                return uri
        raise OutsideDataRoots(f"not under the data roots {self.text}")
