"""Bounded reads of one object: never more than the limit plus one byte.

A local object must be a regular file (not a device, a pipe or a folder); its size is
checked before reading. An object store's object is read with one ranged request for
limit + 1 bytes; an http(s) one is refused from its reported size when the server gives
one, else after reading limit + 1 bytes. http(s) redirects are not followed: a
server under a data root may not send the read elsewhere.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from labelpilot.engine import storage

TOO_LARGE = "ObjectTooLarge"
UNREADABLE = "UnreadableObject"


class Refused(Exception):
    """A read refused before or while reading; `kind` is the failure's name."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def too_large(limit: int, what: str) -> Refused:
    return Refused(TOO_LARGE, f"more than the {limit:,}-byte limit for {what}")


def _read_local(path: str, limit: int, what: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused(UNREADABLE, "not a regular file")
        if info.st_size > limit:
            raise too_large(limit, what)
        return handle.read(limit + 1)


def _read_remote(uri: str, limit: int, what: str) -> bytes:
    import fsspec

    if not uri.lower().startswith(("http://", "https://")):
        # an object store: one ranged GET, where opening a file would ask for its size first
        fs, path = fsspec.core.url_to_fs(uri)
        try:
            return bytes(fs.cat_file(path, start=0, end=limit + 1))
        except OSError:
            if fs.size(path) == 0:  # no byte range of an empty object can be satisfied
                return b""
            raise
    options: dict[str, Any] = {"allow_redirects": False}
    with fsspec.open(uri, "rb", **options) as handle:
        size = getattr(handle, "size", None)
        if isinstance(size, int) and size > limit:
            raise too_large(limit, what)
        return handle.read(limit + 1)


def read_bounded(uri: str, limit: int, what: str = "an object") -> bytes:
    """The bytes of `uri`; raises Refused when it holds more than `limit`, OSError (or
    ValueError from fsspec) when it cannot be read."""
    if storage.is_local(uri):
        data = _read_local(str(storage.local_path(uri)), limit, what)
    else:
        data = _read_remote(uri, limit, what)
    if len(data) > limit:
        raise too_large(limit, what)
    return data
