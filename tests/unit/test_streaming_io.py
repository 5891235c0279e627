"""Manifests are read and written a line at a time: a step's memory does not hold a whole
file's text besides its objects."""

import hashlib
import io
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from labelpilot.engine import formats, storage
from labelpilot.engine.predictions import Rows

LINE = 100_000  # characters: more than a file buffer, so a written line reaches the disk


def _temporaries(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def test_write_lines_writes_each_line_as_it_comes_and_replaces_the_file_at_the_end(tmp_path):
    target = tmp_path / "out" / "output.manifest"
    seen: list[int] = []

    def lines() -> Iterator[str]:
        yield "a" * LINE + "\n"
        (staged,) = _temporaries(target.parent, target.name)
        seen.append(staged.stat().st_size)
        assert not target.exists()  # readers see nothing half-written
        yield "b\n"

    storage.write_lines(str(target), lines())
    assert seen == [LINE + 1]
    assert target.read_text() == "a" * LINE + "\nb\n"
    assert stat.S_IMODE(target.stat().st_mode) == storage.FILE_MODE
    assert _temporaries(target.parent, target.name) == []


def test_write_lines_that_fails_midway_leaves_the_old_file(tmp_path):
    target = tmp_path / "output.manifest"
    target.write_text("old\n")

    def lines() -> Iterator[str]:
        yield "new\n"
        raise RuntimeError("the step crashed")

    with pytest.raises(RuntimeError):
        storage.write_lines(str(target), lines())
    assert target.read_text() == "old\n"
    assert _temporaries(tmp_path, target.name) == []


def test_write_jsonl_and_read_jsonl_round_trip_a_line_separator_inside_a_value(tmp_path):
    uri = str(tmp_path / "rows.jsonl")
    rows = [{"index": 0, "text": "one\u2028two\u0085three"}, {"index": 1, "text": "x\r"}]
    storage.write_jsonl(uri, rows)
    assert storage.read_jsonl(uri) == rows


def test_iter_manifest_yields_an_object_before_the_file_ends(tmp_path):
    """A FIFO: the writer sends the second line only once the reader has the first object,
    so a reader that waited for the whole file would never get it."""
    fifo = tmp_path / "input.manifest"
    os.mkfifo(fifo)
    first_read = threading.Event()

    def write() -> None:
        with open(fifo, "w") as f:
            f.write(json.dumps({"source": "first"}) + "\n")
            f.flush()
            first_read.wait(timeout=30)
            f.write(json.dumps({"source": "second"}) + "\n")

    writer = threading.Thread(target=write)
    writer.start()
    objects = formats.iter_manifest(str(fifo))
    first = next(objects)
    got_first_before_the_end = writer.is_alive()
    first_read.set()
    rest = list(objects)
    writer.join()
    assert got_first_before_the_end
    assert [(o.index, o.source) for o in [first, *rest]] == [(0, "first"), (1, "second")]


def test_iter_manifest_reads_as_read_manifest_does(tmp_path):
    path = tmp_path / "input.manifest"
    path.write_bytes(
        b'\xef\xbb\xbf{"source": "a"}\r\n'
        b"\n"
        b'{"source": "b\xff"}\n'
        b"not json\n"
        b'{"source-ref": "s3://bucket/x.png"}'
    )
    streamed = list(formats.iter_manifest(str(path)))
    assert streamed == formats.parse_manifest_bytes(path.read_bytes())
    assert [o.index for o in streamed] == [0, 1, 2, 3]
    assert streamed[0].line == '{"source": "a"}'
    assert streamed[1].error is not None and "not UTF-8" in streamed[1].error
    assert streamed[2].error is not None and streamed[3].source_ref == "s3://bucket/x.png"


def test_prediction_rows_of_several_shards_read_as_one_sequence():
    rows = Rows()
    assert not rows and len(rows) == 0
    rows.extend(np.zeros((0, 0), np.float32))  # a shard that predicted nothing
    rows.extend(np.asarray([[0.1, 0.9], [0.8, 0.2]], np.float32))
    rows.extend(np.asarray([[0.5, 0.5]], np.float32))
    assert rows and len(rows) == 3
    assert rows[2].tolist() == [0.5, 0.5] and rows[0].tolist() == pytest.approx([0.1, 0.9])
    assert [r.argmax() for r in rows] == [1, 0, 0]
    with pytest.raises(IndexError):
        rows[3]


def test_the_predictions_of_chunks_join_in_order():
    from labelpilot.ml.base import Predictions
    from labelpilot.worker.infer import joined

    first = Predictions(
        probs=np.asarray([[0.2, 0.8]], np.float32),
        embeddings=np.asarray([[1.0, 0.0, 0.0]], np.float32),
    )
    second = Predictions(
        probs=np.asarray([[0.6, 0.4], [0.5, 0.5]], np.float32),
        embeddings=np.asarray([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32),
    )
    both = joined([first, second])
    assert both.probs is not None
    assert np.allclose(both.probs, [[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    assert both.embeddings is not None and both.embeddings.argmax(axis=1).tolist() == [0, 1, 2]
    assert both.boxes is None and both.masks is None and len(both) == 3

    boxes = [np.zeros((k, 6), np.float32) for k in (1, 0, 2)]
    detected = joined(
        [
            Predictions(boxes=boxes[:1], image_confidence=np.asarray([0.9])),
            Predictions(boxes=boxes[1:], image_confidence=np.asarray([0.1, 0.5])),
        ]
    )
    assert detected.boxes is not None and [len(b) for b in detected.boxes] == [1, 0, 2]
    assert detected.image_confidence is not None
    assert detected.image_confidence.tolist() == [0.9, 0.1, 0.5]


def test_a_remote_file_system_gets_the_lines_in_one_upload_and_reads_them_back():
    """fsspec's in-memory file system stands for an object store: nothing shows there
    until the staged file is uploaded whole."""
    uri = "memory://scale-bench/manifests/output/output.manifest"

    def lines() -> Iterator[str]:
        yield '{"source": "a"}\n'
        assert not storage.exists(uri)
        yield '{"source": "b"}\n'

    storage.write_lines(uri, lines())
    assert storage.read_bytes(uri) == b'{"source": "a"}\n{"source": "b"}\n'
    assert [o.source for o in formats.iter_manifest(uri)] == ["a", "b"]
    storage.remove(uri)


def test_rows_read_back_share_their_key_strings(tmp_path):
    uri = str(tmp_path / "machine-labels.jsonl")
    storage.write_jsonl(uri, [{"index": i, "source": "machine"} for i in range(3)])
    rows = storage.read_jsonl(uri)
    assert rows == [{"index": i, "source": "machine"} for i in range(3)]
    first, *others = (next(iter(row)) for row in rows)
    assert all(key is first for key in others)


class _CountingFile(AbstractBufferedFile):
    """An object store's file: fsspec's buffered reads over ranged fetches."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return _CountingStore.data[self.path][start:end]

    def read(self, length: int = -1) -> bytes:
        out = super().read(length)
        _CountingStore.bytes_read += len(out)
        return out


class _CountingStore(AbstractFileSystem):
    """Counts the bytes its files hand out, as s3fs's would, with s3fs's 50 MiB block."""

    protocol = "counting-store"
    data: dict[str, bytes] = {}
    bytes_read = 0

    def __init__(self) -> None:  # no options: s3fs's refuses open()'s arguments too
        super().__init__()

    def info(self, path: str, **kwargs: object) -> dict[str, object]:
        path = self._strip_protocol(path)
        return {"name": path, "size": len(self.data[path]), "type": "file"}

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, **kwargs):  # type: ignore[no-untyped-def]
        path = self._strip_protocol(path)
        size = len(self.data[path])
        return _CountingFile(self, path, mode, block_size=block_size or 50 * 2**20, size=size)


def test_a_remote_manifest_is_read_once_not_once_per_line():
    """fsspec's readline reads a whole block per line from where it stands: a 2,000-line
    file read that way hands out its rest 2,000 times."""
    fsspec.register_implementation(_CountingStore.protocol, _CountingStore, clobber=True)
    text = b"".join(b'{"source": "object %04d"}\n' % i for i in range(2000))
    _CountingStore.data = {"bucket/input.manifest": text}
    _CountingStore.bytes_read = 0
    lines = list(storage.iter_lines("counting-store://bucket/input.manifest"))
    assert b"".join(lines) == text and len(lines) == 2000
    assert _CountingStore.bytes_read <= 2 * len(text)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_split_lines_splits_at_newlines_only_whatever_the_chunks(size):
    data = b"first\n\n" + b"x" * 50 + b"\r\nnext\xc2\x85 still\nlast without newline"
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert list(storage.split_lines(chunks)) == io.BytesIO(data).readlines()
    assert list(storage.split_lines([data + b"\n"])) == io.BytesIO(data + b"\n").readlines()
    assert list(storage.split_lines([])) == []


def test_a_manifests_digest_is_read_a_chunk_at_a_time(tmp_path, monkeypatch):
    fsspec.register_implementation(_CountingStore.protocol, _CountingStore, clobber=True)
    monkeypatch.setattr(storage, "READ_CHUNK", 1000)
    text = b"".join(b'{"source": "object %04d"}\n' % i for i in range(2000))
    _CountingStore.data = {"bucket/input.manifest": text}
    _CountingStore.bytes_read = 0
    expected = hashlib.sha256(text).hexdigest()
    assert storage.sha256("counting-store://bucket/input.manifest") == expected
    assert _CountingStore.bytes_read <= 2 * len(text)
    local = tmp_path / "input.manifest"
    local.write_bytes(text)
    assert storage.sha256(str(local)) == storage.sha256(f"file://{local}") == expected
    assert [len(c) for c in storage.iter_chunks(str(local))][:2] == [1000, 1000]
