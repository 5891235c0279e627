"""Reading a step's data objects: from the images `prepare` decoded when it kept them
(labelpilot.engine.decoded_images), the others from their source, confined and bounded,
several reads at once. Images for a classifier are scaled down to its input's largest side
(labelpilot.ml.image_classifier.input_max_side) as they are read: boxes and masks keep
their images' own pixels."""

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
        task = ctx.config.task_type
        self.max_side = None
        if task.measured_by_accuracy and not task.is_text:
            from labelpilot.ml.image_classifier import input_max_side

            self.max_side = input_max_side(ctx.model_options())
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
        if self.max_side is None:
            return image
        from labelpilot.ml.images import shrunk

        return shrunk(image, self.max_side)
