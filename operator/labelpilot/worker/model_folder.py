"""Where `train` and `infer` find a model of the workspace (or the job's initial model)."""

from __future__ import annotations

import tempfile
from typing import Any

from labelpilot.engine import storage


def local_model_dir(uri: str, keep: list[Any]) -> str:
    """A local folder holding the model at `uri` (downloaded for object stores)."""
    if storage.is_local(uri):
        return str(storage.local_path(uri))
    tmp = tempfile.TemporaryDirectory()
    keep.append(tmp)
    storage.copy_tree(uri, tmp.name)
    return tmp.name
