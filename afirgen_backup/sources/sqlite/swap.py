"""Putting a sessions.db backup back: a checked copy beside the target, swapped in without a stale journal.

Who has the target open? SQLite's unix VFS uses POSIX record locks: in WAL mode every open connection holds a
shared lock on the database file's lock bytes and on the `-shm` file, even when idle; in rollback-journal mode
a connection holds a lock only inside a transaction (shared while reading, RESERVED or more while writing).
`find_lock_holders` asks the kernel (F_OFD_GETLK) whether any such lock is held, without taking a lock and
without opening the database with SQLite, which would replay or checkpoint the old `-wal` it is about to
replace. Trying `BEGIN IMMEDIATE` instead would only see a writer in the middle of a transaction.

Why the order of `replace_database`: SQLite replays a `<db>-wal` file (and rolls back a hot `<db>-journal`)
into whatever database file has that name when it next opens it, so the old target's journals are moved
away with the old file before the restored file takes the name; the restored file is never next to them.
Nothing is ever renamed over an existing file: the kept names are chosen free, and each move goes through
link(2), which refuses an existing name, where the file system has hard links.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import sqlite3
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from afirgen_backup import process
from afirgen_backup.errors import UsageError
from afirgen_backup.files import fsync_directory, fsync_file
from afirgen_backup.sources.sqlite.copy import JOURNAL_SUFFIXES, integrity_of, sidecar, table_row_counts

LOCK_BYTES_START = 0x40000000  # SQLite's PENDING byte; RESERVED and the SHARED range follow it
LOCK_BYTES_LENGTH = 2 + 510
SHM_LOCKS_START = 120  # the WAL-index locks in -shm: write, checkpoint, recover, 5 readers, DMS
SHM_LOCKS_LENGTH = 9
FLOCK_FORMAT = "hhqqi4x"  # struct flock on 64-bit Linux
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", fcntl.F_GETLK)
SQLITE_HEADER = b"SQLite format 3\x00"
LINK_UNSUPPORTED = (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK)
TARGET_ALLOWED = "allowed: an SQLite database file, or a path that does not exist yet, in a writable directory"


def check_target(target: Path) -> Path:
    """The file a restore will replace, with symlinks followed; raise UsageError (exit 2) before anything moves.

    A symlinked sessions.db is followed, so that the database it points to is replaced and the link stays. What
    is there must be an SQLite database (or nothing): a directory or another file would be renamed aside and
    replaced. The directory must be writable, or the restore would fail half-way (a read-only volume).
    """
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
        raise UsageError(f"the restore target {target} cannot be resolved ({error}); {TARGET_ALLOWED}") from None
    shown = str(target) if resolved == target else f"{target} (-> {resolved})"
    check_target_directory(resolved.parent, shown)
    try:
        info = os.stat(resolved)
    except FileNotFoundError:
        return resolved
    except OSError as error:
        raise UsageError(f"the restore target {shown} cannot be read ({error.strerror}); {TARGET_ALLOWED}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UsageError(f"the restore target {shown} is {kind}; {TARGET_ALLOWED}")
    check_sqlite_header(resolved, shown, info.st_size)
    return resolved


def check_target_directory(directory: Path, shown: str) -> None:
    if not directory.is_dir():
        raise UsageError(f"the directory of the restore target {shown} does not exist; {TARGET_ALLOWED}")
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False  # os.access below still tells
    if read_only:
        raise UsageError(
            f"the directory of the restore target {shown} is on a read-only file system; {TARGET_ALLOWED} "
            "(restore from a container that mounts it read-write)"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"the directory of the restore target {shown} is not writable; {TARGET_ALLOWED}")


def check_sqlite_header(path: Path, shown: str, size: int) -> None:
    """An existing target must start like an SQLite database; an empty file is one to SQLite, so it passes."""
    if size == 0:
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise UsageError(f"the restore target {shown} cannot be read ({error.strerror}); {TARGET_ALLOWED}") from None
    if header != SQLITE_HEADER:
        raise UsageError(
            f"the restore target {shown} is not an SQLite database (it does not start with 'SQLite format 3'); "
            f"{TARGET_ALLOWED}"
        )


def probe_lock(path: Path, start: int, length: int) -> bool:
    """True when some process holds a record lock on [start, start+length) of `path`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        query = struct.pack(FLOCK_FORMAT, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
        answer = fcntl.fcntl(fd, F_OFD_GETLK, query)
        return struct.unpack(FLOCK_FORMAT, answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def find_lock_holders(target: Path) -> list[str]:
    """What shows that a connection has `target` open now (empty when nothing does)."""
    found = []
    if probe_lock(target, LOCK_BYTES_START, LOCK_BYTES_LENGTH):
        found.append(f"a connection holds a lock on {target}")
    if probe_lock(sidecar(target, "-shm"), SHM_LOCKS_START, SHM_LOCKS_LENGTH):
        found.append(f"a connection has {target} open in WAL mode ({target.name}-shm is locked)")
    return found


@dataclass(frozen=True)
class CheckedCopy:
    integrity: str
    row_counts: dict[str, int]


def check_copy(path: Path) -> CheckedCopy:
    """integrity_check and row counts of a decompressed copy; raise sqlite3.DatabaseError when it is no database."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = integrity_of(connection)
        counts = table_row_counts(connection) if integrity == "ok" else {}
    finally:
        connection.close()
    return CheckedCopy(integrity, counts)


@dataclass
class Replacement:
    kept: Path | None = None
    moved: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def unused_kept_name(target: Path, stamp: str) -> Path:
    """`<target>.before-restore-<stamp>`, or `...-2`, `-3`, ... when that name or its -wal/-journal is taken.

    Two restores within one second get the same stamp; the second must neither fail nor replace the first's.
    """
    base = f"{target.name}.before-restore-{stamp}"
    kept = target.with_name(base)
    for number in itertools.count(2):
        if not any(os.path.lexists(name) for name in (kept, *(sidecar(kept, s) for s in JOURNAL_SUFFIXES))):
            break
        kept = target.with_name(f"{base}-{number}")
    return kept


def refuse_existing(destination: Path) -> None:
    if os.path.lexists(destination):
        raise FileExistsError(errno.EEXIST, "refusing to replace an existing file", str(destination))


def link_or_rename(source: Path, destination: Path) -> bool:
    """Give `source` the name `destination` without ever replacing an existing `destination`.

    link(2) refuses an existing name by itself and keeps `source` (True); where the file system has no hard
    links, rename(2) follows a look at the name (False: `source` is gone). The restore holds the BACKUP_DIR lock,
    so no other restore picks the name meanwhile.
    """
    try:
        os.link(source, destination)
    except OSError as error:
        if error.errno not in LINK_UNSUPPORTED:
            raise
        refuse_existing(destination)
        os.rename(source, destination)
        return False
    return True


def move_without_replacing(source: Path, destination: Path) -> None:
    """Rename `source` to `destination`, or raise FileExistsError: an existing `destination` is never replaced."""
    if link_or_rename(source, destination):
        os.unlink(source)


def move_journals_aside(target: Path, kept: Path, replacement: Replacement) -> None:
    for suffix in JOURNAL_SUFFIXES:
        journal = sidecar(target, suffix)
        if journal.exists():
            destination = sidecar(kept, suffix)
            move_without_replacing(journal, destination)
            replacement.moved.append(destination)


def keep_old_file(target: Path, kept: Path) -> None:
    """Give the old database a second name without a moment in which `target` is missing.

    Without hard links it is renamed instead; an existing `kept` is never replaced either way.
    """
    link_or_rename(target, kept)


def replace_database(restored: Path, target: Path, kept: Path) -> Replacement:
    """Keep the old target (with its -wal/-journal) as `kept`, remove -shm, and rename `restored` to `target`.

    SIGTERM/SIGINT wait until the swap is done: cut in between, the target could be missing, or sit next to
    journals that SQLite would replay into the restored file.
    """
    replacement = Replacement()
    for name in (kept, *(sidecar(kept, suffix) for suffix in JOURNAL_SUFFIXES)):
        refuse_existing(name)  # before anything moves, so that a taken name leaves the target as it was
    fsync_file(restored)  # renamed into place unflushed, a crash could leave the target empty
    with process.signals_deferred():
        if target.exists():
            keep_old_file(target, kept)
            replacement.kept = kept
        for _ in range(3):  # a connection opened meanwhile may have made a new -wal for the old file
            move_journals_aside(target, kept, replacement)
            shm = sidecar(target, "-shm")
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()
                replacement.removed.append(shm)
            if not any(sidecar(target, suffix).exists() for suffix in JOURNAL_SUFFIXES):
                break
        os.replace(restored, target)
        fsync_directory(target.parent)
    return replacement
