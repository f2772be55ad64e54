"""The SQLite side: a consistent copy of sessions.db with the online backup API, checked and made standalone.

The source is opened read-only and copied in one backup step, so the copy is one snapshot: in WAL mode
the application's writers go on meanwhile; in rollback-journal mode they wait for the copy (a moment).

A database another process holds locked (in rollback-journal mode a write transaction keeps every reader out
until it commits) is waited for at most BACKUP_SESSIONS_LOCK_TIMEOUT seconds. The wait is ours, in Python
(copy_once): SQLite's own busy handler would sleep inside C, where a SIGTERM cannot end the run until it returns,
and Connection.backup retries a busy step for ever.

Read-only mounts: a reader of a WAL database needs the `-wal` and `-shm` files beside it. When the
application has the database open they exist and SQLite reads them read-only. When it has none open,
SQLite removed them at its last close, and on a read-only directory it can neither create them nor open
the database ("unable to open database file"). Then, and only then, the file alone holds every committed
transaction; it is read with `immutable=1`, and the copy is kept only if the file was left unchanged and no
`-wal` appeared meanwhile (else the copy is taken again).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from afirgen_backup.errors import BackupError, SourceUnavailable

LOCK_RETRY_S = 0.05  # between two attempts on a locked source: how soon a SIGTERM or the lock's release is seen
LOCKED_CODES = frozenset({getattr(sqlite3, "SQLITE_BUSY", 5), getattr(sqlite3, "SQLITE_LOCKED", 6)})
IMMUTABLE_ATTEMPTS = 5
SQLITE_FULL = getattr(sqlite3, "SQLITE_FULL", 13)  # "database or disk is full": the copy's disk, here
WAL_HEADER_VERSION = 2  # bytes 18-19 of the database header are 2 in WAL mode


@dataclass(frozen=True)
class SqliteCopy:
    path: Path
    page_count: int
    page_size: int
    integrity: str
    source_journal_mode: str
    read_mode: str
    tables: dict[str, int]


def source_uri(path: Path, *, immutable: bool = False) -> str:
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"file:{urllib.parse.quote(str(path))}?{query}"


def header_says_wal(path: Path) -> bool:
    with open(path, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == WAL_HEADER_VERSION and header[19] == WAL_HEADER_VERSION


JOURNAL_SUFFIXES = ("-wal", "-journal")  # the files beside a database that hold its committed changes


def sidecar(path: Path, suffix: str) -> Path:
    """A file SQLite keeps beside the database: `<path>-wal`, `<path>-journal`, `<path>-shm`."""
    return path.with_name(path.name + suffix)


def file_state(path: Path) -> tuple[int, int, int, int]:
    info = os.stat(path)
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


class LockWait:
    """Connection.backup's progress callback: gives up on a source that stays locked for `timeout` seconds.

    Called after every step, between two of which the step's SQLITE_BUSY is slept off in LOCK_RETRY_S pieces; as
    it runs Python code, a pending SIGTERM is raised there (Interrupted), which ends the backup at once."""

    def __init__(self, source: Path, timeout: float) -> None:
        self.source = source
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def __call__(self, status: int, remaining: int, total: int) -> None:
        if status in LOCKED_CODES and time.monotonic() >= self.deadline:
            raise SourceUnavailable(
                f"cannot read {self.source}: another process (the application, in a write transaction) has held "
                f"it locked for {self.timeout:g} s, as long as BACKUP_SESSIONS_LOCK_TIMEOUT={self.timeout:g} lets "
                "the backup wait; allowed: a lock held for less time, or a longer BACKUP_SESSIONS_LOCK_TIMEOUT "
                "(0-3600 seconds)"
            )


def copy_once(source: Path, destination: Path, *, immutable: bool, lock_timeout: float) -> None:
    # timeout=0: no busy handler sleeping inside C; a locked source is waited for by LockWait instead
    src = sqlite3.connect(source_uri(source, immutable=immutable), uri=True, timeout=0)
    try:
        dst = scratch_connection(destination)
        try:
            # pages=-1: the whole database in one step, one read transaction
            src.backup(dst, progress=LockWait(source, lock_timeout), sleep=LOCK_RETRY_S)
        finally:
            dst.close()
    finally:
        src.close()


def scratch_connection(path: Path) -> sqlite3.Connection:
    """A connection to the scratch copy, which SQLite need not make durable: only the .gz made from it is (that
    one is fsynced), and a copy left by a crash is removed by the next run. No journal and no fsync spare the disk
    a burst the size of the database, which on ext4 would stall the application's own commits; the copy is
    usually read back and deleted before the kernel writes it out at all."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA journal_mode=OFF").fetchone()
    return connection


def copy_database(source: Path, destination: Path, lock_timeout: float) -> str:
    """Copy `source` into `destination` (a new file); return how it was read ('shared' or 'immutable')."""
    if not source.exists():
        raise SourceUnavailable(f"SESSIONS_DB_PATH {str(source)!r} does not exist")
    if not source.is_file():
        raise SourceUnavailable(f"SESSIONS_DB_PATH {str(source)!r} is not a file")
    try:
        copy_once(source, destination, immutable=False, lock_timeout=lock_timeout)
        return "shared"
    except sqlite3.OperationalError as error:
        if not cannot_open_wal_read_only(source, error):
            raise copy_failure(source, destination, error) from None
    except sqlite3.DatabaseError as error:
        raise copy_failure(source, destination, error) from None
    return copy_immutable(source, destination, lock_timeout)


def copy_failure(source: Path, destination: Path, error: sqlite3.DatabaseError) -> BackupError:
    """The error for a failed copy, blaming the side that failed: a full disk is BACKUP_DIR's, not the source's."""
    if getattr(error, "sqlite_errorcode", None) == SQLITE_FULL:
        return BackupError(f"cannot write the copy of {source} into {destination.parent}: {error}")
    return SourceUnavailable(f"cannot read {source}: {error}")


def cannot_open_wal_read_only(source: Path, error: sqlite3.OperationalError) -> bool:
    """The one failure the immutable read answers: a WAL database without -wal in a read-only directory."""
    return (
        "unable to open" in str(error)
        and not os.access(source.parent, os.W_OK)
        and header_says_wal(source)
        and not sidecar(source, "-wal").exists()
    )


def copy_immutable(source: Path, destination: Path, lock_timeout: float) -> str:
    wal = sidecar(source, "-wal")
    for attempt in range(IMMUTABLE_ATTEMPTS):
        with contextlib.suppress(FileNotFoundError):
            destination.unlink()
        if wal.exists():
            try:  # the application opened the database meanwhile: the shared way works again
                copy_once(source, destination, immutable=False, lock_timeout=lock_timeout)
                return "shared"
            except sqlite3.OperationalError:
                time.sleep(0.05 * (attempt + 1))
                continue
        before = file_state(source)
        try:
            copy_once(source, destination, immutable=True, lock_timeout=lock_timeout)
        except sqlite3.DatabaseError as error:
            raise SourceUnavailable(f"cannot read {source}: {error}") from None
        if file_state(source) == before and not wal.exists():
            return "immutable"
        time.sleep(0.05 * (attempt + 1))
    raise SourceUnavailable(
        f"cannot take a consistent copy of {source} on a read-only mount: it kept changing during "
        f"{IMMUTABLE_ATTEMPTS} attempts; mount its directory read-write for the backup service"
    )


def integrity_of(connection: sqlite3.Connection) -> str:
    """`ok`, or the first problems PRAGMA integrity_check reports."""
    rows = connection.execute("PRAGMA integrity_check").fetchall()
    return "ok" if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows[:10])


def check_and_finish_copy(copy: Path) -> tuple[int, int, str, dict[str, int]]:
    """integrity_check the copy and switch it to journal_mode=DELETE, so the restored file stands alone."""
    connection = sqlite3.connect(copy)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # a scratch copy: see scratch_connection
        integrity = integrity_of(connection)
        if integrity != "ok":
            return 0, 0, integrity, {}
        connection.execute("PRAGMA journal_mode=DELETE").fetchone()
        page_count = connection.execute("PRAGMA page_count").fetchone()[0]
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        tables = table_row_counts(connection)
    finally:
        connection.close()
    return int(page_count), int(page_size), integrity, tables


def table_row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {
        name: connection.execute(f'SELECT COUNT(*) FROM "{name.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
        for name in names
    }


def source_journal_mode(source: Path) -> str:
    try:
        return "wal" if header_says_wal(source) else "rollback"
    except OSError:
        return "unknown"


def snapshot_sessions(source: Path, destination: Path, lock_timeout: float) -> SqliteCopy:
    """A checked, standalone copy of `source` at `destination`; raise SourceUnavailable when it is not sound.

    lock_timeout: seconds to wait for a source another process holds locked (BACKUP_SESSIONS_LOCK_TIMEOUT)."""
    mode = copy_database(source, destination, lock_timeout)
    try:
        page_count, page_size, integrity, tables = check_and_finish_copy(destination)
    except sqlite3.DatabaseError as error:
        raise SourceUnavailable(f"the copy of {source} is not a usable database: {error}") from None
    if integrity != "ok":
        raise SourceUnavailable(f"{source} fails PRAGMA integrity_check: {integrity}")
    if not tables:
        # An empty file (a wrong path, a volume mounted over the real one) would otherwise be published as a good
        # backup every run, and after BACKUP_KEEP_LAST such runs retention would delete the real ones.
        raise SourceUnavailable(f"{source} holds no tables: is SESSIONS_DB_PATH the application's database?")
    return SqliteCopy(destination, page_count, page_size, integrity, source_journal_mode(source), mode, tables)


class FileWatch:
    """Inode, size and mtime (file_state without the ctime) of an SQLite file and of its -wal and -journal files;
    None for a missing one. What the CPU yielder watches for the application's writes to sessions.db.

    Only a write changes these. The ctime is left out: SQLite, running as root, fchowns a -wal it opens to the
    database's owner, which moves the ctime without a write, so the backup's own read of sessions.db would look
    like the application's activity.
    """

    def __init__(self, path: Path) -> None:
        self.paths = [path, *(sidecar(path, suffix) for suffix in JOURNAL_SUFFIXES)]

    def __call__(self) -> tuple[tuple[int, int, int] | None, ...]:
        result: list[tuple[int, int, int] | None] = []
        for item in self.paths:
            try:
                inode, size, mtime, _ctime = file_state(item)
            except OSError:
                result.append(None)
                continue
            result.append((inode, size, mtime))
        return tuple(result)

    def close(self) -> None:
        """Nothing to close: stat only."""
