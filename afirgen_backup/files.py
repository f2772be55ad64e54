"""Files in BACKUP_DIR, opened as untrusted: never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO
(O_NONBLOCK), used only when fstat says they are regular files; new files are created with O_EXCL. Anything else is
an UnsafeFile error that names it, and its target is never touched. Small files (manifests, state) are written
atomically: a temp file beside them, fsync, rename, fsync of the directory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import IO

from afirgen_backup.errors import BackupError

FILE_MODE = 0o600
READ_CHUNK = 1 << 20
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


def temp_path(path: Path) -> Path:
    """`.<name>.<pid>.<random>.tmp` beside `path` (leftovers.py knows this form)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_file_atomically(path: Path, data: bytes, mode: int = FILE_MODE, owner: tuple[int, int] | None = None) -> None:
    """Small files (manifests, state): temp file in the same directory, fsync, rename, fsync the directory.

    The rename would replace a symbolic link (or a FIFO) at `path` rather than write through it; it is refused
    instead (UnsafeFile), so that whatever put it there is noticed. The temp file is created with O_EXCL, and given
    to `owner` (uid, gid) before anything is written to it when one is named.
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
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)  # the mode asked for, whatever the umask (the tool's is 077)
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
    with open_regular_for_reading(path) as handle:
        return sha256_of_stream(handle)


def sha256_of_stream(handle: IO[bytes]) -> tuple[str, int]:
    """The sha256 and size of what `handle` reads to its end, READ_CHUNK at a time (never all of it at once)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def measure_directory(path: Path) -> tuple[int, int]:
    """Number and total size of the files under `path` (0, 0 when it does not exist)."""
    count = size = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
            count += 1
    return count, size


def free_space(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None
