"""Reading data objects named by Ground Truth manifest records into model inputs."""

from __future__ import annotations

import io
import os
from urllib.parse import urlparse

import numpy as np

from labelpilot.config import TaskType


class ObjectReadError(Exception):
    """One data object could not be read or decoded; the message says which and why."""

    def __init__(self, index: int, ref: str | None, reason: str) -> None:
        super().__init__(f"object {index} ({ref or 'no reference'}): {reason}")
        self.index = index
        self.ref = ref
        self.reason = reason


def resolve(ref: str, base_uri: str | None) -> str:
    """An absolute URI or path for `ref`: relative paths are taken against `base_uri`."""
    if "://" in ref or os.path.isabs(ref) or not base_uri:
        return ref
    if "://" in base_uri:
        return base_uri.rstrip("/") + "/" + ref
    return os.path.join(base_uri, ref)


def read_bytes(uri: str) -> bytes:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        with open(path, "rb") as handle:
            return handle.read()
    import fsspec

    with fsspec.open(uri, "rb") as handle:
        return handle.read()


def decode_image(data: bytes) -> np.ndarray:
    """HxWxC uint8: C = 1 for grayscale, 3 otherwise (palette and alpha are flattened)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode in ("L", "1", "I;16", "I", "F"):
            array = np.asarray(image.convert("L"))[:, :, None]
        else:
            array = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(array, dtype=np.uint8)


def load_input(task_type: TaskType, record: dict, base_uri: str | None = None, index: int = 0):
    """One record's object: an HxWxC uint8 array (image tasks) or a str (text).

    Raises ObjectReadError with a reason when the object cannot be read.
    """
    if not isinstance(record, dict):
        raise ObjectReadError(index, None, "the manifest line is not a JSON object")
    if TaskType(task_type) == TaskType.TEXT_CLASSIFICATION:
        if isinstance(record.get("source"), str):
            return record["source"]
        ref = record.get("source-ref")
        if not isinstance(ref, str):
            raise ObjectReadError(index, None, "neither 'source' nor 'source-ref' is a string")
        try:
            return read_bytes(resolve(ref, base_uri)).decode("utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ObjectReadError(index, ref, f"{type(error).__name__}: {error}") from error
    ref = record.get("source-ref")
    if not isinstance(ref, str) or not ref:
        raise ObjectReadError(index, None, "image tasks need a 'source-ref' string")
    try:
        data = read_bytes(resolve(ref, base_uri))
    except (OSError, ValueError) as error:
        raise ObjectReadError(
            index, ref, f"cannot read: {type(error).__name__}: {error}"
        ) from error
    try:
        return decode_image(data)
    except Exception as error:  # PIL raises many types for corrupt files
        raise ObjectReadError(index, ref, f"not a decodable image: {error}") from error


def load_inputs(task_type: TaskType, records: list[dict], base_uri: str | None = None) -> list:
    """All records' objects, in order; raises ObjectReadError for the first unreadable one.

    Use `load_input` per record to turn each failure into a failed object instead.
    """
    return [load_input(task_type, record, base_uri, i) for i, record in enumerate(records)]
