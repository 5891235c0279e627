"""fsspec I/O for the job workspace: plain paths, file://, s3:// and anything fsspec opens.

Writes are atomic: on a local file system a temporary file in the same folder is renamed
over the target; object stores (s3, gcs, ...) make a single PUT visible all at once, so
there the object is written once, in one call. Local files are written mode 0644 and the
folders a write creates 0755, whatever the umask, so that a reader with another uid (a
person, a pod with another securityContext) can read the workspace. A location that
refuses writes (permission denied, read-only file system, a file where a folder should be)
raises NotWritable naming the URI.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import posixpath
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from labelpilot.api.data_roots import is_local

FILE_MODE = 0o644
FOLDER_MODE = 0o755
_REFUSALS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.ENOENT})
READ_CHUNK = 1 << 20  # bytes: what one read of a remote file asks for, and the read-ahead


class NotWritable(OSError):
    """The location refuses writes: a setting to fix, not a failure that a retry cures."""

    def __init__(self, uri: str, cause: OSError) -> None:
        super().__init__(f"{uri} cannot be written: {cause.strerror or cause}")
        self.uri = uri
        self.errno = cause.errno


@contextmanager
def writes_to(uri: str) -> Iterator[None]:
    """Turns the OS or the object store refusing a write under `uri` into NotWritable."""
    try:
        yield
    except NotWritable:
        raise
    except OSError as error:
        if isinstance(error, PermissionError) or error.errno in _REFUSALS:
            raise NotWritable(uri, error) from error
        raise


def local_path(uri: str) -> Path:
    """The local path of a plain path or file:// URI."""
    if not is_local(uri):
        raise ValueError(f"{uri} is not on the local file system")
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def join(base: str, *parts: str) -> str:
    """Joins URI segments with '/', keeping the scheme of `base`."""
    out = base.rstrip("/") if base not in ("/", "") else base
    for part in parts:
        if part:
            out = posixpath.join(out, part.strip("/")) if out else part
    return out


def resolve(uri: str, base: str | None) -> str:
    """`uri` itself when absolute (a scheme or a leading '/'), else relative to folder `base`."""
    if base is None or "://" in uri or uri.startswith("/"):
        return uri
    return join(base, uri)


def parent(uri: str) -> str:
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://{posixpath.dirname(rest.rstrip('/'))}"
    return os.path.dirname(uri.rstrip("/")) or "."


def exists(uri: str) -> bool:
    if is_local(uri):
        return local_path(uri).exists()
    fs, path = url_to_fs(uri)
    return bool(fs.exists(path))


def read_bytes(uri: str) -> bytes:
    if is_local(uri):
        return local_path(uri).read_bytes()
    with fsspec.open(uri, "rb") as f:
        return f.read()


def iter_lines(uri: str) -> Iterator[bytes]:
    """The lines of `uri` as they are read, each with its newline: only b"\\n" ends a line
    (see json_lines). Memory stays that of one line and one chunk, whatever the file's size.

    A remote file is read a chunk at a time and split here: fsspec's own readline reads a
    whole block (s3fs: 50 MiB) from the current position for every line, so a manifest
    held in an object store cost a copy of up to the rest of the file per line."""
    if is_local(uri):
        with open(local_path(uri), "rb") as f:
            yield from f
        return
    yield from split_lines(iter_chunks(uri))


def iter_chunks(uri: str) -> Iterator[bytes]:
    """The bytes of `uri`, READ_CHUNK at a time."""
    if is_local(uri):
        with open(local_path(uri), "rb") as f:
            yield from iter(lambda: f.read(READ_CHUNK), b"")
        return
    fs, path = url_to_fs(uri)
    with fs.open(path, "rb", block_size=READ_CHUNK) as f:
        yield from iter(lambda: f.read(READ_CHUNK), b"")


def sha256(uri: str) -> str:
    """The hex SHA-256 of `uri`'s bytes, read a chunk at a time."""
    digest = hashlib.sha256()
    for chunk in iter_chunks(uri):
        digest.update(chunk)
    return digest.hexdigest()


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream given in chunks, each with its newline (the last one
    without, when the stream does not end with one)."""
    parts: list[bytes] = []
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start : end + 1])
            yield b"".join(parts)
            parts = []
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def make_folder(folder: Path) -> None:
    """Creates `folder` and its missing parents, each FOLDER_MODE; existing ones stay as
    they are."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for level in reversed(missing):
        try:
            level.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another writer
            continue
        os.chmod(level, FOLDER_MODE)


def _write_temp(target: Path, data: bytes | Iterable[str]) -> str:
    """A FILE_MODE temporary file next to `target` (its folder made) holding `data`: bytes,
    or text chunks written as UTF-8 one by one as they come."""
    make_folder(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            if isinstance(data, bytes):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk.encode("utf-8"))
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _replace(target: Path, content: bytes | Iterable[str]) -> None:
    """`content` written beside `target`, then renamed over it."""
    tmp = _write_temp(target, content)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def share_files(uri: str) -> None:
    """Gives the files under local folder `uri` FILE_MODE and its folders FOLDER_MODE, for
    what another writer (a model's own save) made under the umask."""
    root = local_path(uri)
    os.chmod(root, FOLDER_MODE)
    for path in root.rglob("*"):
        os.chmod(path, FOLDER_MODE if path.is_dir() else FILE_MODE)


def write_bytes(uri: str, data: bytes) -> None:
    """Writes `data` to `uri` atomically: readers see the old content or the new, never half."""
    with writes_to(uri):
        if is_local(uri):
            _replace(local_path(uri), data)
            return
        fs, path = url_to_fs(uri)
        fs.pipe_file(path, data)


def write_new(uri: str, data: bytes) -> bool:
    """Writes `data` to `uri` unless something is there already; False when it was. On a
    local file system the check and the write are one step (a hard link, which fails on an
    existing name); an object store is checked, then written."""
    with writes_to(uri):
        if is_local(uri):
            target = local_path(uri)
            tmp = _write_temp(target, data)
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links
                if target.exists():
                    return False
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return True
        fs, path = url_to_fs(uri)
        if fs.exists(path):
            return False
        fs.pipe_file(path, data)
        return True


def write_lines(uri: str, lines: Iterable[str]) -> None:
    """Writes the text chunks of `lines` to `uri` atomically as write_bytes does, consuming
    them one by one: the whole text is never held. An object store gets the file staged on
    local disk, then uploaded in one piece."""
    with writes_to(uri):
        if is_local(uri):
            _replace(local_path(uri), lines)
            return
        fs, path = url_to_fs(uri)
        with tempfile.TemporaryDirectory() as folder:
            staged = _write_temp(Path(folder) / "staged", lines)
            fs.put_file(staged, path)


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_json(uri: str, value: Any, *, indent: int | None = None) -> None:
    if indent is None:
        write_text(uri, dumps(value) + "\n")
    else:
        write_text(uri, json.dumps(value, sort_keys=True, indent=indent, ensure_ascii=False) + "\n")


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text. Only newline ends a line: str.splitlines would also
    break at U+0085 or U+2028, which JSON written with ensure_ascii=False keeps raw."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def read_jsonl(uri: str) -> list[Any]:
    """The rows of a JSON Lines file, read a line at a time (never the whole text at once).
    The rows' keys are interned: json.loads makes new key strings for every line, and a
    million rows of a few keys each would hold a million copies of each."""
    return [
        _shared_keys(json.loads(line.decode("utf-8"))) for line in iter_lines(uri) if line.strip()
    ]


def _shared_keys(row: Any) -> Any:
    return {sys.intern(k): v for k, v in row.items()} if isinstance(row, dict) else row


def write_jsonl(uri: str, rows: Iterable[Any]) -> None:
    write_lines(uri, (dumps(row) + "\n" for row in rows))


def listdir(uri: str) -> list[str]:
    """Names (not paths) directly under folder `uri`; empty when it does not exist."""
    if is_local(uri):
        folder = local_path(uri)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    fs, path = url_to_fs(uri)
    if not fs.exists(path):
        return []
    return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(path, detail=False))


def walk_files(uri: str) -> Iterator[str]:
    """Relative paths of every file under folder `uri`."""
    if is_local(uri):
        root = local_path(uri)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path.relative_to(root).as_posix()
        return
    fs, path = url_to_fs(uri)
    for found in sorted(fs.find(path)):
        yield posixpath.relpath(found, path)


def copy_tree(src: str, dst: str) -> None:
    """Copies every file of folder `src` into folder `dst`, each file atomically."""
    for rel in walk_files(src):
        write_bytes(join(dst, rel), read_bytes(join(src, rel)))


def remove(uri: str) -> None:
    if is_local(uri):
        path = local_path(uri)
        if path.exists():
            path.unlink()
        return
    fs, path = url_to_fs(uri)
    if fs.exists(path):
        fs.rm(path)
