"""Durable-write helpers shared by the index and the model cache: hash, fsync, lock, replace."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (model weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# Files up to this size are hashed whole when an index opens; larger ones (the vectors of a
# big archive: gigabytes) by their size and a fixed sample of blocks, so opening stays fast.
WHOLE_HASH_LIMIT = 64 << 20
_SAMPLES = 64
_SAMPLE = 64 << 10


def digest_file(path: Path) -> str:
    """'sha256:<hex>' of a small file; 'sampled-sha256:<hex>' of a large one: its size, its
    first and last MiB and 64 evenly spaced 64 KiB blocks. Any truncation, any damage to a
    header and most other damage change it."""
    size = path.stat().st_size
    if size <= WHOLE_HASH_LIMIT:
        return f"sha256:{sha256_file(path)}"
    digest = hashlib.sha256(str(size).encode())
    step = (size - _SAMPLE) // (_SAMPLES - 1)
    offsets = [0, size - _BLOCK, *(i * step for i in range(_SAMPLES))]
    with path.open("rb") as fh:
        for offset, length in zip(offsets, [_BLOCK, _BLOCK, *[_SAMPLE] * _SAMPLES], strict=True):
            fh.seek(offset)
            digest.update(fh.read(length))
    return f"sampled-sha256:{digest.hexdigest()}"


def fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (POSIX: the directory entry needs its own fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root` (a crash must not expose holes)."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            fsync_file(path)
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fsync_dir(directory)


@contextlib.contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """Build a directory in a temporary sibling of `target`, yielded; on success flush it
    and rename it into place (readers see no `target` or a complete one), on any failure
    remove it. `target` must not exist; call under a lock, one builder at a time."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        fsync_tree(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary sibling, fsync, then os.replace: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, path)


@contextlib.contextmanager
def exclusive_lock(lock_file: Path, what: str = "") -> Iterator[None]:
    """An flock held for the block: other processes wait; the kernel drops it if we die."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process %s(%s)", f"{what} " if what else "", lock_file)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
