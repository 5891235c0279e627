"""The data of a Label Studio task: what its browser shows for one object.

Text goes inline. An image whose `source-ref` is already an http(s) URL is passed as it
is; any other image is given as the job's `object_urls` says:
- inline: a `data:` URI in the task (no shared storage; fine for small images);
- local-files: `/data/local-files/?d=<path>`, served by Label Studio itself from a volume
  it shares with the Jobs (LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and
  LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set on the server); `<path>` is the object's path
  relative to `local_files_root`;
- presigned: a presigned URL of the object store (s3://, gs://, ...), valid
  `presign_seconds`.
"""

from __future__ import annotations

import base64
import io
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from PIL import Image

from labelpilot.api.run_config import LabelStudioWorkforceConfig, ObjectUrls, TaskType
from labelpilot.engine import storage
from labelpilot.engine.formats import SOURCE_REF
from labelpilot.ml.inputs import ObjectAccess, ObjectReadError, load_input, object_bytes
from labelpilot.workforce.labelstudio.interface import IMAGE, TEXT


class MediaError(ValueError):
    """An object that cannot be shown to people."""


@dataclass(frozen=True)
class Shown:
    """What the task shows, and an image's size (width, height, depth) when read."""

    data: dict[str, Any]
    size: tuple[int, int, int] | None = None


def _inspect(payload: bytes) -> tuple[tuple[int, int, int], str]:
    """An image's (width, height, depth) and MIME type, from its header."""
    with Image.open(io.BytesIO(payload)) as image:
        mime = Image.MIME.get(image.format or "", "application/octet-stream")
        return (image.width, image.height, len(image.getbands())), mime


def _data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def _local_files(uri: str, root: str) -> str:
    path = str(storage.local_path(uri))
    relative = posixpath.relpath(path, root)
    if relative.startswith(".."):
        raise MediaError(f"{path} is outside local_files_root {root}")
    return "/data/local-files/?d=" + quote(relative)


def _presigned(uri: str, seconds: int) -> str:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(uri)
    try:
        return str(fs.sign(path, expiration=seconds))
    except NotImplementedError as exc:
        raise MediaError(
            f"{uri}: its storage cannot presign URLs; use objectUrls Inline or LocalFiles"
        ) from exc


def task_data(
    task_type: TaskType,
    record: dict[str, Any],
    base: str | None,
    settings: LabelStudioWorkforceConfig,
    access: ObjectAccess,
) -> Shown:
    """The task's `data` for one input-manifest record, read only under the job's data
    roots and within its size limits (what annotators see is what the job may read);
    raises MediaError."""
    if TaskType(task_type).is_text:
        try:
            return Shown({TEXT: load_input(task_type, record, base, access=access)})
        except ObjectReadError as exc:
            raise MediaError(exc.failure) from exc
    ref = record.get(SOURCE_REF)
    if not isinstance(ref, str) or not ref:
        raise MediaError("an image object needs a source-ref")
    try:
        uri, payload = object_bytes(ref, base, access, access.limits.image_bytes, "images")
    except ObjectReadError as exc:
        raise MediaError(exc.failure) from exc
    try:
        size, mime = _inspect(payload)
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot read image {uri}: {exc}") from exc
    if uri.startswith(("http://", "https://")):
        return Shown({IMAGE: uri}, size)
    mode = ObjectUrls(settings.object_urls)
    if mode is ObjectUrls.INLINE:
        return Shown({IMAGE: _data_uri(payload, mime)}, size)
    if mode is ObjectUrls.LOCAL_FILES:
        return Shown({IMAGE: _local_files(uri, settings.local_files_root)}, size)
    return Shown({IMAGE: _presigned(uri, settings.presign_seconds)}, size)
