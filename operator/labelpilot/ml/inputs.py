"""Reading data objects named by Ground Truth manifest records into model inputs.

Every read is bounded: at most the limit plus one byte is read, an image's size is checked
from its header before it is decoded, and with the job's data roots (labelpilot.engine.confinement)
only objects under them are opened. What cannot be read is an ObjectReadError whose
`failure` is the object's failure reason.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from labelpilot.api.data_roots import OutsideDataRoots, is_local
from labelpilot.api.run_config import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_MAX_TEXT_BYTES,
    TaskType,
)
from labelpilot.engine import reasons
from labelpilot.engine.bounded_read import TOO_LARGE, UNREADABLE, Refused, read_bounded
from labelpilot.engine.confinement import DataRoots

if TYPE_CHECKING:
    from labelpilot.api.run_config import RunConfig

OUTSIDE = "ObjectOutsideDataRoots"
# Reads in flight at once from an object store, which answers each in milliseconds that a
# serial loop would wait out one object at a time. Local files are read one at a time:
# decoding holds the GIL, so threads only add their overhead (BENCHMARKS.md, "Where the
# time goes").
READ_THREADS = 16


def read_threads(records: Iterable[dict], base_uri: str | None) -> int:
    """How many reads of these records' objects to keep in flight: READ_THREADS when any
    object is remote, else 1."""
    for record in records:
        ref = record.get("source-ref") if isinstance(record, dict) else None
        if isinstance(ref, str) and not is_local(resolve(ref, base_uri)):
            return READ_THREADS
    return 1


class ObjectReadError(Exception):
    """One data object could not be read or decoded; the message says which and why."""

    def __init__(self, index: int, ref: str | None, reason: str, kind: str = UNREADABLE) -> None:
        self.index = index
        self.ref = ref
        self.reason = reasons.clean(reason)
        self.kind = kind
        super().__init__(
            f"object {index} ({reasons.shorten(ref or 'no reference')}): {self.reason}"
        )

    @property
    def failure(self) -> str:
        """The failed object's reason: `Kind: ref: why`, bounded."""
        named = f"{reasons.shorten(self.ref)}: " if self.ref else ""
        return reasons.clean(f"{self.kind}: {named}{self.reason}")


@dataclass(frozen=True)
class ObjectLimits:
    """The most one object may hold: bytes read (images, text) and decoded pixels."""

    image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    text_bytes: int = DEFAULT_MAX_TEXT_BYTES


@dataclass(frozen=True)
class ObjectAccess:
    """Where objects may be read and how large they may be; `roots` None: anywhere."""

    roots: DataRoots | None = None
    limits: ObjectLimits = field(default_factory=ObjectLimits)

    @classmethod
    def for_config(cls, config: RunConfig) -> ObjectAccess:
        """The job's data roots (default: the manifest's folder or bucket) and limits."""
        return cls(
            DataRoots.for_job(config.data_roots, config.input_manifest_uri),
            ObjectLimits(config.max_image_bytes, config.max_image_pixels, config.max_text_bytes),
        )


def resolve(ref: str, base_uri: str | None) -> str:
    """An absolute URI or path for `ref`: relative paths are taken against `base_uri`."""
    if "://" in ref or os.path.isabs(ref) or not base_uri:
        return ref
    if "://" in base_uri:
        return base_uri.rstrip("/") + "/" + ref
    return os.path.join(base_uri, ref)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """HxWxC uint8: C = 1 for grayscale, 3 otherwise (palette and alpha are flattened).
    An image of more than `max_pixels` is refused from its header, before decoding."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise Refused(
                    TOO_LARGE, f"{width}x{height} pixels, more than the {max_pixels:,}-pixel limit"
                )
            image.load()
            if image.mode in ("L", "1", "I;16", "I", "F"):
                array = np.asarray(image.convert("L"))[:, :, None]
            else:
                array = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(array, dtype=np.uint8)


def _open(ref: str, base_uri: str | None, access: ObjectAccess, index: int) -> str:
    """What to read for `ref`: resolved, and confined to the data roots."""
    uri = resolve(ref, base_uri)
    if access.roots is None:
        return uri
    try:
        return access.roots.confine(uri)
    except OutsideDataRoots as error:
        raise ObjectReadError(index, ref, str(error), OUTSIDE) from error


def _fetch(ref: str, uri: str, limit: int, what: str, index: int) -> bytes:
    try:
        return read_bounded(uri, limit, what)
    except Refused as refused:
        raise ObjectReadError(index, ref, refused.reason, refused.kind) from refused
    except (OSError, ValueError) as error:
        raise ObjectReadError(index, ref, f"cannot read: {reasons.describe(error)}") from error


def object_bytes(
    ref: str, base_uri: str | None, access: ObjectAccess, limit: int, what: str, index: int = 0
) -> tuple[str, bytes]:
    """The confined URI of `ref` and its bytes, at most `limit` of them; raises
    ObjectReadError (outside the data roots, too large, unreadable)."""
    uri = _open(ref, base_uri, access, index)
    return uri, _fetch(ref, uri, limit, what, index)


def _load_text(record: dict, base_uri: str | None, access: ObjectAccess, index: int) -> str:
    limit = access.limits.text_bytes
    source = record.get("source")
    if isinstance(source, str):
        if len(source.encode("utf-8", "surrogatepass")) > limit:
            raise ObjectReadError(
                index,
                None,
                f"the inline source is more than the {limit:,}-byte limit for text",
                TOO_LARGE,
            )
        return source
    ref = record.get("source-ref")
    if not isinstance(ref, str) or not ref:
        raise ObjectReadError(index, None, "neither 'source' nor 'source-ref' is a string")
    data = _fetch(ref, _open(ref, base_uri, access, index), limit, "text", index)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ObjectReadError(index, ref, f"not UTF-8 text (byte {error.start})") from error


def _load_image(record: dict, base_uri: str | None, access: ObjectAccess, index: int) -> np.ndarray:
    ref = record.get("source-ref")
    if not isinstance(ref, str) or not ref:
        raise ObjectReadError(index, None, "image tasks need a 'source-ref' string")
    limits = access.limits
    data = _fetch(ref, _open(ref, base_uri, access, index), limits.image_bytes, "images", index)
    try:
        return decode_image(data, limits.image_pixels)
    except Refused as refused:
        raise ObjectReadError(index, ref, refused.reason, refused.kind) from refused
    except Exception as error:  # PIL raises many types for corrupt files
        raise ObjectReadError(
            index, ref, f"not a decodable image: {reasons.describe(error)}"
        ) from error


def load_input(
    task_type: TaskType,
    record: dict,
    base_uri: str | None = None,
    index: int = 0,
    *,
    access: ObjectAccess | None = None,
) -> Any:
    """One record's object: an HxWxC uint8 array (image tasks) or a str (text).

    `access` confines and bounds the read; without it, the default limits and no roots.
    Raises ObjectReadError with a reason when the object cannot be read.
    """
    access = access or ObjectAccess()
    if not isinstance(record, dict):
        raise ObjectReadError(index, None, "the manifest line is not a JSON object")
    if TaskType(task_type).is_text:
        return _load_text(record, base_uri, access, index)
    return _load_image(record, base_uri, access, index)


def load_each(
    task_type: TaskType,
    records: Sequence[tuple[int, dict]],
    base_uri: str | None = None,
    *,
    access: ObjectAccess | None = None,
    then: Callable[[Any], Any] | None = None,
) -> list[Any]:
    """Each (index, record)'s object (passed through `then` as soon as it is read), in
    order, or the ObjectReadError that refused it; several reads at once from an object
    store (read_threads)."""
    access = access or ObjectAccess()

    def one(item: tuple[int, dict]) -> Any:
        index, record = item
        try:
            loaded = load_input(task_type, record, base_uri, index, access=access)
        except ObjectReadError as error:
            return error
        return loaded if then is None else then(loaded)

    threads = read_threads((record for _, record in records), base_uri)
    if len(records) < 2 or threads == 1:
        return [one(item) for item in records]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, records))


def load_inputs(
    task_type: TaskType,
    records: list[dict],
    base_uri: str | None = None,
    *,
    access: ObjectAccess | None = None,
) -> list:
    """All records' objects, in order; raises ObjectReadError for the first unreadable one.

    Use `load_each` (or `load_input` per record) to turn each failure into a failed object
    instead.
    """
    return all_read(load_each(task_type, list(enumerate(records)), base_uri, access=access))


def all_read(loaded: list[Any]) -> list[Any]:
    """`load_each`'s results when every object was read; else raises the first refusal."""
    for item in loaded:
        if isinstance(item, ObjectReadError):
            raise item
    return loaded
