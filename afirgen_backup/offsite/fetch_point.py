"""What `restore mysql --to-time T --remote` (or `--to-position`) needs from the bucket, for a host that lost its
BACKUP_DIR: the dump a roll forward to the point starts from, and the archive's copies from its coordinates on.

Both are fetched as `restore --remote` fetches a backup (fetch.fetch_into: each object checked against the
manifest that went with it) into one private directory laid out like a BACKUP_DIR (`<name>` and
`binlog/<file>.gz`, each with its manifest), which the roll forward then reads instead of BACKUP_DIR: every check
it makes of a local archive (the chain of files, GTID continuity, each event read before it is replayed, whether
the archive reaches the point) it makes of this one. Only sealed files go off-site: what the server logged after
the last rotation before the host was lost is not in the bucket, and a point after the newest copy is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import UsageError
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.binlogs import copies_by_file
from afirgen_backup.offsite.copies import BINLOG_DIR
from afirgen_backup.offsite.fetch import fetch_into, private_fetch_dir
from afirgen_backup.offsite.remote import FUTURE_SLACK, RemoteBackup, scan_remote
from afirgen_backup.offsite.store import Store
from afirgen_backup.sources.mysql.binlog_archive import SEALED_SUFFIX
from afirgen_backup.sources.mysql.binlog_file import binlog_sequence

MAX_DUMPS_TRIED = 3  # dumps named before the point whose snapshot still came after it (a run started just before)


@contextlib.contextmanager
def fetched_for_point(settings: Settings, point: Any) -> Iterator[tuple[BackupEntry, Settings]]:
    """(the dump to start from, the settings whose BACKUP_DIR is the private directory holding it and the
    archive's copies); the directory is removed on the way out."""
    from afirgen_backup.sources.mysql.binlog_replay import recorded_coordinates

    if settings.offsite is None:
        raise UsageError("restore mysql --remote: off-site copies are off; allowed: set BACKUP_S3_URL")
    assert point.gtid is None  # actions/restore.py refuses --to-gtid with --remote
    store = Store(settings.offsite)
    with private_fetch_dir(settings) as workdir:
        entry = fetch_dump(store, settings, point, workdir)
        coordinates = recorded_coordinates(entry)
        assert coordinates is not None  # fetch_dump chose it for them
        archive = workdir / BINLOG_DIR.rstrip("/")
        archive.mkdir(mode=0o700)
        fetched = fetch_archive(store, settings, coordinates[0], archive)
        if not fetched:
            from afirgen_backup.sources.mysql.binlog_replay import PointInTimeUnreachable

            raise PointInTimeUnreachable(
                f"{store.where} holds no copy of the binary log archive from {coordinates[0]} on, where "
                f"{entry.name} starts: only files the server rotated past go off-site (with each backup run), so no "
                f"restore from the bucket reaches {point.describe()}"
            )
        get_logger().info("remote_point_in_time_fetched", dump=entry.name, binlog_files=fetched)
        yield entry, dataclasses.replace(settings, backup_dir=workdir)


def fetch_dump(store: Store, settings: Settings, point: Any, workdir: Path) -> BackupEntry:
    """The newest complete dump copy whose recorded snapshot precedes the point, fetched and checked; dumps named
    after the point are never fetched (a dump's name is its run's start, before its snapshot)."""
    from afirgen_backup.sources.mysql.binlog_replay import PointInTimeUnreachable, choose_backup

    with store.watched():
        remote = scan_remote(store)
    now = datetime.now(UTC)
    candidates = [
        copy
        for copy in remote.of_kind("mysql")
        if copy.good and copy.time <= now + FUTURE_SLACK and (point.time is None or copy.time <= point.time)
    ]
    tried: list[str] = []
    for copy in candidates[:MAX_DUMPS_TRIED]:
        path = fetch_into(store, settings, copy, workdir)
        entry = catalog.entry_for(path)
        assert isinstance(entry, BackupEntry)
        try:
            return choose_backup([entry], point)
        except PointInTimeUnreachable:
            tried.append(copy.name)
            for victim in (path, catalog.manifest_path(path)):
                victim.unlink()
    tried_text = f" (tried {', '.join(tried)})" if tried else ""
    raise PointInTimeUnreachable(
        f"no complete MySQL copy in {store.where} records binary log coordinates from before {point.describe()}"
        f"{tried_text}"
    )


def fetch_archive(store: Store, settings: Settings, start_file: str, archive: Path) -> list[str]:
    """Fetch the archive's copies of `start_file` and every later file of its base name (an encrypted copy
    before one in the clear); the names fetched, in order. A missing one is for the roll forward to name."""
    start = binlog_sequence(start_file)
    assert start is not None
    prefix = (f"{store.settings.prefix}/" if store.settings.prefix else "") + BINLOG_DIR
    with store.watched():
        copies = copies_by_file(store.list_objects(under=BINLOG_DIR), prefix)
    chosen: dict[str, RemoteBackup] = {}
    for copy in copies.values():
        sequence = binlog_sequence(copy.name.removesuffix(SEALED_SUFFIX))
        if sequence is None or sequence[0] != start[0] or sequence < start or not copy.good:
            continue
        if copy.name not in chosen or copy.encrypted:
            chosen[copy.name] = copy
    names = sorted(chosen, key=lambda name: binlog_sequence(name.removesuffix(SEALED_SUFFIX)) or ("", 0))
    for name in names:
        fetch_into(store, settings, chosen[name], archive)
    os.chmod(archive, 0o700)
    return names
