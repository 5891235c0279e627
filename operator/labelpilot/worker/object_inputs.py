"""Reading a step's data objects: from the images `prepare` decoded when it kept them
(labelpilot.engine.decoded_images), the others from their source, confined and bounded,
several reads at once. Images for a classifier are scaled down to its input's largest side
(labelpilot.ml.image_classifier.input_max_side) as they are read, and `prepare` keeps them
so in its cache: boxes and masks keep their images' own pixels."""

from __future__ import annotations

from typing import Any

from labelpilot.engine import decoded_images
from labelpilot.worker.common import Context


class ObjectInputs:
    def __init__(self, ctx: Context) -> None:
        from labelpilot.ml import ObjectAccess

        self.ctx = ctx
        self.objects = {o.index: o for o in ctx.objects()}
        self.access = ObjectAccess.for_config(ctx.config)
        self.max_side = max_side(ctx)
        self.cache = (
            decoded_images.DecodedImages.empty()
            if ctx.config.task_type.is_text
            else decoded_images.load(ctx.ws.decoded_images)
        )

    def load_each(self, indices: list[int]) -> list[Any]:
        """Each object's model input, or the ObjectReadError that refused it, in order."""
        from labelpilot.ml import load_each

        kept = {i: self._fit(image) for i in indices if (image := self.cache.get(i)) is not None}
        missing = [(i, self.objects[i].record) for i in indices if i not in kept]
        cfg = self.ctx.config
        read = load_each(
            cfg.task_type, missing, self.ctx.manifest_base, access=self.access, then=self._fit
        )
        loaded = kept | dict(zip((i for i, _ in missing), read, strict=True))
        return [loaded[i] for i in indices]

    def _fit(self, image: Any) -> Any:
        return image if self.max_side is None else fit(image, self.max_side)


def max_side(ctx: Context) -> int | None:
    """The largest side a step hands the job's model: a classifier's input side; None
    (full size) for boxes, masks and text."""
    task = ctx.config.task_type
    if not task.measured_by_accuracy or task.is_text:
        return None
    from labelpilot.ml.image_classifier import input_max_side

    return input_max_side(ctx.model_options())


def fit(image: Any, side: int) -> Any:
    from labelpilot.ml.images import shrunk

    return shrunk(image, side)
