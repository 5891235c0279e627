"""Where `train` and `infer` find a model of the workspace (or the job's initial model)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from labelpilot.api.data_roots import OutsideDataRoots
from labelpilot.api.steps import StepFailed
from labelpilot.engine import reasons, storage
from labelpilot.engine.bounded_read import Refused, read_bounded
from labelpilot.engine.confinement import DataRoots
from labelpilot.ml.base import META_FILE, WEIGHTS_FILE

INVALID_INITIAL_MODEL = "InvalidInitialModel"
MAX_META_BYTES = 16 * 2**20
MAX_WEIGHTS_BYTES = 2**30


def local_model_dir(uri: str, keep: list[Any]) -> str:
    """A local folder holding the model at `uri` (downloaded for object stores)."""
    if storage.is_local(uri):
        return str(storage.local_path(uri))
    tmp = tempfile.TemporaryDirectory()
    keep.append(tmp)
    storage.copy_tree(uri, tmp.name)
    return tmp.name


def initial_model_dir(uri: str, roots: DataRoots, keep: list[Any]) -> str:
    """A local copy of the model folder `autoLabeling.initialModelRef` names: its model.json
    and weights, each read under the job's data roots and within a size limit, and checked
    to be a model folder. Raises StepFailed (InvalidInitialModel) naming the field."""
    where = f"autoLabeling.initialModelRef {reasons.shorten(uri)}"
    files = {}
    for name, limit in ((META_FILE, MAX_META_BYTES), (WEIGHTS_FILE, MAX_WEIGHTS_BYTES)):
        try:
            data = read_bounded(roots.confine(storage.join(uri, name)), limit, f"a model's {name}")
        except OutsideDataRoots as error:
            raise StepFailed(INVALID_INITIAL_MODEL, f"{where}: {error}") from error
        except Refused as error:
            raise StepFailed(INVALID_INITIAL_MODEL, f"{where}: {name}: {error.reason}") from error
        except (OSError, ValueError) as error:
            raise StepFailed(
                INVALID_INITIAL_MODEL, f"{where}: cannot read {name}: {reasons.describe(error)}"
            ) from error
        files[name] = data
    _check(files, where)
    tmp = tempfile.TemporaryDirectory()
    keep.append(tmp)
    for name, data in files.items():
        (Path(tmp.name) / name).write_bytes(data)
    return tmp.name


def _check(files: dict[str, bytes], where: str) -> None:
    try:
        meta = json.loads(files[META_FILE])
        if not isinstance(meta, dict) or not isinstance(meta.get("architecture"), str):
            raise ValueError(f"{META_FILE} names no architecture")
        weights = torch.load(io.BytesIO(files[WEIGHTS_FILE]), map_location="cpu", weights_only=True)
        if not isinstance(weights, dict) or not all(
            isinstance(v, torch.Tensor) for v in weights.values()
        ):
            raise ValueError(f"{WEIGHTS_FILE} holds no tensors by name")
    except Exception as error:  # torch.load raises many kinds on a file it cannot take
        raise StepFailed(
            INVALID_INITIAL_MODEL, f"{where} is not a model folder: {reasons.describe(error)}"
        ) from error
