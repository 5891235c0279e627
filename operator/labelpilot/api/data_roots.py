"""The syntax of a data root, and what "under a root" means for a reference.

A root is an absolute local path (or file:// URI) or a remote prefix (`s3://bucket/`,
`gs://bucket/prefix/`, `https://host/prefix/`). A reference lies under one when it is a
local path that, after resolving `..` and symbolic links, is inside a local root, or a
remote URI whose scheme and host match a root's exactly and whose path starts with the
root's path, with no `.` or `..` segment (percent-encoded or not) and no fsspec chaining
(`::`).

Both planes read this: the run config checks its `data_roots` with it, the operator names
an input manifest's bucket as a root, and the engine confines every object read to the
roots (labelpilot.engine.confinement).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_HTTP = ("http", "https")


class OutsideDataRoots(ValueError):
    """A reference that does not resolve under any of the job's data roots."""


@dataclass(frozen=True)
class Root:
    """A canonical root: a real local folder, or a remote `scheme://host/path/` prefix."""

    local: bool
    prefix: str


def is_local(uri: str) -> bool:
    """Whether `uri` is a plain path or a file:// URI (anything else names a remote store)."""
    return "://" not in uri or uri.startswith("file://")


def local_target(uri: str) -> str:
    """The real path (`..` and symbolic links resolved) of a plain path or file:// URI."""
    if "\x00" in uri:
        raise OutsideDataRoots("the path holds a NUL character")
    if uri.startswith("file://"):
        path = uri[len("file://") :]
        if not path.startswith("/"):
            raise OutsideDataRoots("a file:// URI must name an absolute path (file:///...)")
    else:
        path = uri
    return os.path.realpath(path)


def remote_parts(uri: str) -> tuple[str, str, str]:
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
    if is_local(text):
        if not (text.startswith("/") or text.startswith("file:///")):
            raise ValueError(f"data root {text!r} must be an absolute path or a file:/// URI")
        try:
            return Root(True, local_target(text))
        except OutsideDataRoots as error:
            raise ValueError(f"data root {text!r}: {error}") from error
    try:
        scheme, host, path = remote_parts(text)
    except OutsideDataRoots as error:
        raise ValueError(f"data root {text!r}: {error}") from error
    return Root(False, f"{scheme}://{host}{path.rstrip('/')}/")


def bucket_of(uri: str) -> str | None:
    """`scheme://bucket/` of an object-store URI; None for local paths and http(s)."""
    if is_local(uri):
        return None
    parts = urlsplit(uri)
    if parts.scheme.lower() in _HTTP or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc}/"
