"""infer's chunks: bounded by count and by decoded bytes, with the same predictions."""

import io

import numpy as np
from engine_fixtures import config_for, digits

from labelpilot.engine import decoded_images, storage
from labelpilot.engine.workspace import Workspace
from labelpilot.ml import ObjectReadError
from labelpilot.worker import predict_chunks
from labelpilot.worker.cli import run_step
from labelpilot.worker.predict_chunks import chunks


class Images:
    """A loader of square RGB images, side `sides[i]` for index i; records each read."""

    def __init__(self, sides: dict[int, int], refused: frozenset[int] = frozenset()) -> None:
        self.sides = sides
        self.refused = refused
        self.groups: list[list[int]] = []

    def __call__(self, indices: list[int]) -> list:
        self.groups.append(list(indices))
        return [
            ObjectReadError(i, f"{i}.png", "gone")
            if i in self.refused
            else np.full((self.sides[i], self.sides[i], 3), i % 256, np.uint8)
            for i in indices
        ]


def all_chunks(indices, load, **bounds) -> list[list]:
    return [list(chunk) for chunk in chunks(indices, load, **bounds)]


def test_large_images_are_split_by_their_decoded_bytes_and_each_read_fits_the_room_left():
    sides = {i: 100 for i in range(50)}  # 30,000 bytes each
    load = Images(sides)
    got = all_chunks(list(range(50)), load, max_bytes=100_000)
    assert [[i for i, _ in chunk] for chunk in got] == [
        list(range(s, min(s + 3, 50))) for s in range(0, 50, 3)
    ]
    for chunk in got:
        assert all(image[0, 0, 0] == i for i, image in chunk)  # each index with its own image
    assert max(len(group) for group in load.groups) <= 3


def test_the_count_bounds_a_chunk_of_small_images_and_of_text():
    got = all_chunks(
        list(range(10)), Images({i: 2 for i in range(10)}), max_count=4, max_bytes=10**6
    )
    assert [len(chunk) for chunk in got] == [4, 4, 2]
    texts = all_chunks(list(range(10)), lambda ids: [f"text {i}" for i in ids], max_count=4)
    assert [[text for _, text in chunk] for chunk in texts][2] == ["text 8", "text 9"]
    assert [len(chunk) for chunk in texts] == [4, 4, 2]


def test_a_tiny_budget_still_makes_progress_an_object_at_a_time():
    sides = {i: 10 + i for i in range(7)}
    got = all_chunks(list(range(7)), Images(sides, frozenset({3})), max_bytes=1)
    assert [[i for i, _ in chunk] for chunk in got] == [[i] for i in range(7)]
    assert isinstance(got[3][0][1], ObjectReadError)


def test_an_image_larger_than_the_ones_before_starts_a_chunk_of_its_own():
    sides = {0: 10, 1: 10, 2: 40, 3: 10}  # 300, 300, 4,800, 300 bytes
    got = all_chunks(list(range(4)), Images(sides), max_bytes=1_000)
    assert [[i for i, _ in chunk] for chunk in got] == [[0, 1], [2], [3]]


def test_infer_predicts_the_same_in_chunks_of_a_few_images_as_in_one(tmp_path, monkeypatch):
    data = digits(tmp_path / "digits", 120)
    config = config_for(data, tmp_path / "job")
    ws = Workspace(str(tmp_path / "job"))
    for step in ("prepare", "human", "train", "infer"):
        run_step(step, config, None if step == "prepare" else 0)
    whole = storage.read_bytes(ws.inference_shard(0, 0, 1))

    sizes: list[int] = []

    def recorded(indices, load, **bounds):
        for chunk in chunks(indices, load, **bounds):
            sizes.append(len(chunk))
            yield chunk

    kept = decoded_images.load(ws.decoded_images)
    (image_bytes,) = {image.nbytes for i in range(120) if (image := kept.get(i)) is not None}
    monkeypatch.setattr(predict_chunks, "PREDICT_BYTES", 5 * image_bytes)
    monkeypatch.setattr(predict_chunks, "chunks", recorded)
    storage.remove(ws.inference_shard(0, 0, 1))
    run_step("infer", config, 0)
    assert len(sizes) > 10 and max(sizes) == 5
    assert_same_shard(storage.read_bytes(ws.inference_shard(0, 0, 1)), whole)


def assert_same_shard(got: bytes, expected: bytes) -> None:
    """The same objects, sizes and failures; the same predictions but for the last bits of
    a float, which a convolution's batch size may change."""
    with np.load(io.BytesIO(got)) as a, np.load(io.BytesIO(expected)) as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            if a[name].dtype.kind == "f":
                np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-6)
            else:
                np.testing.assert_array_equal(a[name], b[name])
