"""The backup of sessions.db: a consistent copy (copy.py) in a private scratch directory, gzipped and published.

SQLite creates the copy by name, following links: it goes into a directory of its own (0700, an unguessable name,
`.sessions-copy-*` in BACKUP_DIR) where nobody else can put one. A killed run's directory is removed by the next
run (owns_leftover), but never what is not ours in it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup.logs import get_logger
from afirgen_backup.publish import GzipPublisher
from afirgen_backup.sources.base import BackupJob, PartResult, publish_backup, throughput
from afirgen_backup.sources.sqlite.copy import snapshot_sessions

KIND = "sessions"
COPY_PREFIX = ".sessions-copy-"
COPY_NAME = "copy.db"
COPY_FILES = (COPY_NAME, *(COPY_NAME + suffix for suffix in ("-journal", "-wal", "-shm")))
READ_SIZE = 1 << 20


def remove_copy_directory(directory: Path) -> None:
    """Remove a copy's private directory: the copy and its journals, then the directory. Anything else in it is
    not ours and stays (the directory with it), as OSError."""
    for name in COPY_FILES:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    directory.rmdir()


def back_up(job: BackupJob) -> PartResult:
    settings = job.settings
    assert settings.sessions_db_path is not None
    source = settings.sessions_db_path
    log = get_logger(part=KIND)
    started, clock = datetime.now(UTC), time.monotonic()
    log.info("sessions_copy_started", source=str(source))
    workdir = Path(tempfile.mkdtemp(prefix=COPY_PREFIX, dir=settings.backup_dir))
    temp = workdir / COPY_NAME
    try:
        copy = snapshot_sessions(source, temp, settings.sessions_lock_timeout)
        copied = time.monotonic() - clock

        def write(publisher: GzipPublisher) -> dict[str, Any]:
            with open(temp, "rb") as handle:
                while chunk := handle.read(READ_SIZE):
                    publisher.write(chunk)
            return {
                "source": {"path": str(source), "journal_mode": copy.source_journal_mode, "read_mode": copy.read_mode},
                "server": {"flavor": "sqlite", "version": sqlite3.sqlite_version},
                "sqlite": {
                    "page_count": copy.page_count,
                    "page_size": copy.page_size,
                    "integrity_check": copy.integrity,
                },
                "objects": {"tables": len(copy.tables)},
                "names": {"tables": sorted(copy.tables)},
                "row_counts": copy.tables,
            }

        written, uncompressed, duration = publish_backup(job, KIND, write, started, clock)
    finally:
        with contextlib.suppress(OSError):  # what is left, the next run's leftover cleanup names
            remove_copy_directory(workdir)
    log.info(
        "sessions_backup_published",
        file=written.path.name,
        size=written.size,
        uncompressed_size=uncompressed,
        pages=copy.page_count,
        read_mode=copy.read_mode,
        copy_s=round(copied, 3),
        duration_s=round(duration, 3),
        throughput_mb_s=throughput(uncompressed, duration),
    )
    return PartResult(KIND, True, written.path.name, size=written.size, duration_s=duration)
