"""Publishing files safely: write to `<name>.partial`, fsync, rename into place, fsync the directory.

The gzip writer is python-isal's threaded writer (standard gzip that gunzip reads); the sha256 and size of the
compressed bytes are computed while they are written, so no second pass over the file is needed.

A backup is written to disk as it goes, not in one burst at the end: every WRITEBACK_WINDOW bytes the kernel is
asked to start writing the window just written (posix_fadvise DONTNEED starts writeback of dirty pages) and to
drop the window before it from the page cache, by then clean. Left to itself the kernel keeps hundreds of MB
dirty (its background threshold is a share of RAM) until the final fsync, and on ext4 an application's own fsync
during that flush waits for the backup's data to reach the disk (journal commits in data=ordered mode): the
benchmark measured sessions.db commits blocked for 250-300 ms. The dropped pages also leave the page cache to
the application instead of to a file nobody reads until a restore.

Everything in BACKUP_DIR is treated as untrusted: files are opened without following a symbolic link
(O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK), and used only when fstat says they are regular files; new
temporary files are created with O_EXCL. Anything else is an UnsafeFile error that names it, and its target is
never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import igzip_threaded

from afirgen_backup.errors import BackupError

PARTIAL_SUFFIX = ".partial"
FILE_MODE = 0o600
READ_CHUNK = 1 << 20
WRITEBACK_WINDOW = 8 << 20
SAFE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
TEMP_ATTEMPTS = 8


class UnsafeFile(BackupError):
    """A name the tool reads or writes is taken by a symbolic link, a FIFO, a directory or a device.

    Nothing is opened through it and nothing is written through it: the message names it and says what to do.
    """

    def __init__(self, path: Path | str, mode: int, action: str = "write", expected: str = "a regular file") -> None:
        what = describe_file_type(mode)
        if stat.S_ISLNK(mode):
            message = f"{path} is {what}; refusing to {action} through it: remove it"
        else:
            message = f"{path} is {what}, not {expected}; refusing to use it: remove it"
        super().__init__(message)
        self.path = Path(path)
        self.what = what


FILE_TYPES = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISREG, "a regular file"),
)


def describe_file_type(mode: int) -> str:
    return next((what for test, what in FILE_TYPES if test(mode)), "not a regular file")


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def require_regular_or_absent(path: Path, action: str = "write") -> bool:
    """True when `path` is a regular file, False when nothing has that name; UnsafeFile for anything else."""
    info = lstat_or_none(path)
    if info is None:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(path, info.st_mode, action)
    return True


def require_directory_or_absent(path: Path, action: str = "write") -> bool:
    """True when `path` is a real directory (not a link to one), False when absent; UnsafeFile for anything else."""
    info = lstat_or_none(path)
    if info is None:
        return False
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(path, info.st_mode, action, expected="a directory")
    return True


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = FILE_MODE, action: str = "read") -> int:
    """os.open for a file in BACKUP_DIR: a symbolic link is not followed, a FIFO does not block, a device or
    directory is not opened (lstat first), and what was opened is checked again with fstat (it may have been
    swapped meanwhile). Returns a blocking fd of a regular file; raises UnsafeFile, or OSError (ENOENT ...)."""
    info = lstat_or_none(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(path, info.st_mode, action)
    try:
        fd = os.open(path, flags | SAFE_FLAGS, mode)
    except OSError as error:
        swapped = lstat_or_none(path) if error.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR) else None
        if swapped is not None and not stat.S_ISREG(swapped.st_mode):
            raise UnsafeFile(path, swapped.st_mode, action) from None
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise UnsafeFile(path, opened.st_mode, action)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_new_file(path: Path, mode: int = FILE_MODE) -> int:
    """A new regular file at `path` (O_CREAT | O_EXCL: never an existing file, never through a link)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


class ReadLimitExceeded(ValueError):
    """A file is larger than the bound its reader allows."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file (open_regular's checks); ReadLimitExceeded when it holds more."""
    fd = open_regular(path)
    try:
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise ReadLimitExceeded(f"larger than {limit} bytes")
    return b"".join(chunks)


def open_regular_for_reading(path: Path) -> IO[bytes]:
    """A buffered binary reader of a regular file (open_regular's checks)."""
    return os.fdopen(open_regular(path), "rb")


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


def fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    fsync_path(directory, os.O_RDONLY | os.O_DIRECTORY)


def fsync_file(path: Path) -> None:
    fd = open_regular(path)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def describe_os_error(error: OSError) -> str:
    """An OSError as the operator reads it: `No space left on device: /path` (no errno number, no traceback)."""
    text = error.strerror or str(error)
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return f"{text}: {' -> '.join(names)}" if names else text


def temp_path(path: Path) -> Path:
    """`.<name>.<pid>.<random>.tmp` beside `path` (actions/backup.py's leftover patterns know this form)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_file_atomically(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Small files (manifests, state): temp file in the same directory, fsync, rename, fsync the directory.

    The rename would replace a symbolic link (or a FIFO) at `path` rather than write through it; it is refused
    instead (UnsafeFile), so that whatever put it there is noticed. The temp file is created with O_EXCL.
    """
    require_regular_or_absent(path, "write")
    for attempt in range(TEMP_ATTEMPTS):
        temp = temp_path(path)
        try:
            fd = create_new_file(temp, mode)
            break
        except FileExistsError:  # a random name taken (by a link, say): another name, never through it
            if attempt == TEMP_ATTEMPTS - 1:
                raise
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    fsync_directory(path.parent)


def sha256_of_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open_regular_for_reading(path) as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def iter_gzip(path: Path) -> Iterator[bytes]:
    """Decompressed chunks of a .gz file; raises EOFError or isal's error on a truncated or corrupt stream."""
    with open_regular_for_reading(path) as raw, igzip_threaded.open(raw, "rb", threads=1) as stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
