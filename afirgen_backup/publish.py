"""Publishing a backup: write it to `<name>.partial`, fsync, rename into place, fsync the directory.

The gzip writer is python-isal's threaded writer (standard gzip that gunzip reads); the sha256 and size of the
compressed bytes are computed while they are written, so no second pass over the file is needed.

A backup is written to disk as it goes, not in one burst at the end: every WRITEBACK_WINDOW bytes the kernel is
asked to start writing the window just written (posix_fadvise DONTNEED starts writeback of dirty pages) and to
drop the window before it from the page cache, by then clean. Left to itself the kernel keeps hundreds of MB
dirty (its background threshold is a share of RAM) until the final fsync, and on ext4 an application's own fsync
during that flush waits for the backup's data to reach the disk (journal commits in data=ordered mode);
docs/performance.md has what the benchmark measured. The dropped pages also leave the page cache to the
application instead of to a file nobody reads until a restore.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import igzip_threaded

from afirgen_backup.files import (
    READ_CHUNK,
    UnsafeFile,
    create_new_file,
    fsync_directory,
    lstat_or_none,
    open_regular_for_reading,
    require_regular_or_absent,
)

PARTIAL_SUFFIX = ".partial"
WRITEBACK_WINDOW = 8 << 20


class HashingWriter(io.RawIOBase):
    """A raw file writer that hashes and counts every byte that goes through it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.kicked = 0  # bytes before this offset have been handed to writeback
        self.dropped = 0  # ... and bytes before this one dropped from the page cache

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.write(self.fd, view[written:])
        self.sha256.update(view)
        self.size += written
        if self.size - self.kicked >= WRITEBACK_WINDOW:
            self.write_back()
        return written

    def write_back(self) -> None:
        """Start writeback of what was written since the last call, and drop the window before that."""
        advise_dontneed(self.fd, self.kicked, self.size - self.kicked)
        advise_dontneed(self.fd, self.dropped, self.kicked - self.dropped)
        self.dropped, self.kicked = self.kicked, self.size


def advise_dontneed(fd: int, offset: int, length: int) -> None:
    """posix_fadvise(DONTNEED): Linux starts writeback of the range's dirty pages and drops its clean ones. Advice
    only: where it is not supported, nothing changes but the page cache."""
    if length > 0:
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    sha256: str
    size: int


def partial_path(final: Path) -> Path:
    return final.with_name(final.name + PARTIAL_SUFFIX)


def refuse_to_replace(final: Path) -> None:
    """A backup's name is used once: a file, link or FIFO that already holds it is never replaced (a directory
    there makes the rename itself fail)."""
    info = lstat_or_none(final)
    if info is None or stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(final, info.st_mode, "write")
    raise FileExistsError(errno.EEXIST, "a file of that name exists already", str(final))


def create_partial(partial: Path) -> int:
    """Create `<final>.partial` afresh. A regular file of that name is what a killed run left (its name is
    removed, not truncated: it might be a hard link to another file); a link or anything else is UnsafeFile."""
    try:
        return create_new_file(partial)
    except FileExistsError:
        if not require_regular_or_absent(partial):
            raise
    partial.unlink()
    return create_new_file(partial)


class GzipPublisher:
    """Write a gzip stream into `<final>.partial`; `finish()` makes it durable, `publish()` names it `<final>`.

    Used as a context manager: leaving it without publish() (an error, a signal) removes the partial file.
    """

    def __init__(self, final: Path, *, level: int, threads: int) -> None:
        self.final = final
        self.partial = partial_path(final)
        self.level = level
        self.threads = threads
        self.finished: WrittenFile | None = None
        self.published: WrittenFile | None = None
        self._fd = -1
        self._raw: HashingWriter | None = None
        self._gzip: IO[bytes] | None = None
        self.uncompressed_size = 0

    def __enter__(self) -> GzipPublisher:
        self._fd = create_partial(self.partial)
        self._raw = HashingWriter(self._fd)
        try:  # the gzip header is written here: on a full disk this is where the first write fails
            self._gzip = igzip_threaded.open(self._raw, "wb", compresslevel=self.level, threads=self.threads)
        except BaseException:
            self.__exit__()  # __exit__ is not called when __enter__ raises
            raise
        return self

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self._gzip is not None
        self._gzip.write(data)
        self.uncompressed_size += len(data)

    def finish(self) -> WrittenFile:
        """End the gzip stream and fsync it: the data is durable, still under its `.partial` name."""
        if self.finished is None:
            assert self._gzip is not None and self._raw is not None
            self._gzip.close()
            self._gzip = None
            os.fsync(self._fd)
            advise_dontneed(self._fd, 0, self._raw.size)  # all clean now: leave the page cache to the application
            os.close(self._fd)
            self._fd = -1
            self.finished = WrittenFile(self.final, self._raw.sha256.hexdigest(), self._raw.size)
        return self.finished

    def publish(self) -> WrittenFile:
        """Finish, rename `.partial` to the final name and fsync the directory."""
        written = self.finish()
        refuse_to_replace(self.final)
        os.replace(self.partial, self.final)
        fsync_directory(self.final.parent)
        self.published = written
        return written

    def __exit__(self, *exc_info: object) -> None:
        if self._gzip is not None:
            with contextlib.suppress(Exception):
                self._gzip.close()
            self._gzip = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.published is None:
            with contextlib.suppress(FileNotFoundError):
                self.partial.unlink()


def iter_gzip(path: Path) -> Iterator[bytes]:
    """Decompressed chunks of a .gz file; raises EOFError or isal's error on a truncated or corrupt stream."""
    with open_regular_for_reading(path) as raw, igzip_threaded.open(raw, "rb", threads=1) as stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
