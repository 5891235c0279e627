"""Reading a step's data objects: from the images `prepare` decoded when it kept them
(labelpilot.engine.decoded_images), else from their source, confined and bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelpilot.engine import decoded_images, formats
from labelpilot.worker.common import Context


def loader(ctx: Context) -> Callable[[formats.DataObject], Any]:
    """A function from a data object to its model input; raises ObjectReadError as
    labelpilot.ml.load_input does."""
    from labelpilot.ml import ObjectAccess, load_input

    cfg = ctx.config
    cache = (
        decoded_images.DecodedImages.empty()
        if cfg.task_type.is_text
        else decoded_images.load(ctx.ws.decoded_images)
    )
    access = ObjectAccess.for_config(cfg)
    base = ctx.manifest_base

    def load(obj: formats.DataObject) -> Any:
        image = cache.get(obj.index)
        if image is not None:
            return image
        return load_input(cfg.task_type, obj.record, base, obj.index, access=access)

    return load
