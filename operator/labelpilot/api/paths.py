"""Where a job's claim may be mounted, and which of its URIs must lie on that claim.

The claim is mounted into the worker image: over one of the image's own folders it would
replace the image's code, so those folders are refused, and so is `/tmp` itself (the
steps' scratch volume is mounted there; a folder below it is fine). With a claim, the
input manifest and the output lie on it: a `file://` URI or plain path outside the mount
path would land on the Pod's read-only root filesystem. A remote URI (`s3://...`) is not a
path and is not checked here.
"""

from __future__ import annotations

import re

SYSTEM_FOLDERS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
)
SCRATCH = "/tmp"
# Absolute, no empty segment, no trailing slash, no whitespace.
MOUNT_PATH_PATTERN = r"^(/[^/\s]+)+$"
DOT_SEGMENT = r"(^|/)\.\.?(/|$)"
DOT_DOT_SEGMENT = r"(^|/)\.\.(/|$)"
REMOTE_SCHEME = r"^[a-zA-Z][a-zA-Z0-9+.-]*://"
FILE_SCHEME = "file://"
DEFAULT_MOUNT_PATH = "/data"


def _cel(pattern: str) -> str:
    return pattern.replace("\\", "\\\\")


_FOLDERS = "[" + ", ".join(f"'{f}'" for f in SYSTEM_FOLDERS) + "]"
NO_DOT_SEGMENTS_RULE = f"!self.matches('{_cel(DOT_SEGMENT)}')"
NOT_SYSTEM_RULE = (
    f"self != '{SCRATCH}' && !{_FOLDERS}.exists(d, self == d || self.startsWith(d + '/'))"
)
SYSTEM_MESSAGE = (
    f"mountPath must not be {SCRATCH} (the steps' scratch space), a system "
    "folder or lie under one: " + ", ".join(SYSTEM_FOLDERS)
)


def uri_on_claim_rule(part: str, field: str | None = None) -> str:
    """The CEL rule, on the spec, that `<part>.<field>` (or the spec's own field `part`)
    lies under the claim's mount path."""
    mount = f"(has(self.storage.mountPath) ? self.storage.mountPath : '{DEFAULT_MOUNT_PATH}')"
    uri = f"self.{part}.{field}" if field else f"self.{part}"
    return (
        f"!has(self.storage) || !has(self.storage.volumeClaimName) || !has(self.{part}) || "
        f"({uri}.matches('{_cel(REMOTE_SCHEME)}') && !{uri}.startsWith('{FILE_SCHEME}')) || "
        f"(!{uri}.matches('{_cel(DOT_DOT_SEGMENT)}') && ("
        f"{uri} == {mount} || {uri}.startsWith({mount} + '/') || "
        f"{uri} == '{FILE_SCHEME}' + {mount} || "
        f"{uri}.startsWith('{FILE_SCHEME}' + {mount} + '/')))"
    )


def check_mount_path(path: str) -> None:
    """Raises ValueError when the claim may not be mounted at `path`."""
    if re.search(DOT_SEGMENT, path):
        raise ValueError("mountPath must not have . or .. segments")
    if path == SCRATCH or any(path == f or path.startswith(f + "/") for f in SYSTEM_FOLDERS):
        raise ValueError(SYSTEM_MESSAGE)


def on_claim(uri: str, mount_path: str) -> bool:
    """Whether `uri` is remote, or a local path (file:// or plain) under `mount_path`."""
    if re.match(REMOTE_SCHEME, uri) and not uri.startswith(FILE_SCHEME):
        return True
    if re.search(DOT_DOT_SEGMENT, uri):
        return False
    path = uri.removeprefix(FILE_SCHEME)
    return path == mount_path or path.startswith(mount_path + "/")
