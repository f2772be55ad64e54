"""What `restore mysql --to-time T --remote` (or `--to-position`) needs from the bucket, for a host that lost its
BACKUP_DIR: the dump a roll forward to the point starts from, and the archive's copies from its coordinates to the
point.

The dump is chosen from the manifests that went with the copies (small: read first, as untrusted JSON), the
newest whose recorded snapshot precedes the point; only it is downloaded, and when it turns out damaged, or its
manifest cannot be read, the next older one that also precedes the point is taken. The archive's copies follow
in order, up to the first that reaches the point (a copy that does not check out is tried in its twin, encrypted
or in the clear, when there is one). Each object is checked against the manifest that went with it
(fetch.fetch_into) and lands in one private directory laid out like a BACKUP_DIR (`<name>` and
`binlog/<file>.gz`, each with its manifest), which the roll forward then reads instead of BACKUP_DIR: every check
it makes of a local archive (the chain of files, each file's events against its manifest, GTID continuity, each
event read before it is replayed) it makes of this one. Only sealed files go off-site: what the server logged
after the last rotation before the host was lost is not in the bucket, and a point after the copies' last event
is refused before anything is loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError, ConfigError, UsageError, VerificationFailed
from afirgen_backup.logs import get_logger
from afirgen_backup.offsite.binlogs import copies_by_file
from afirgen_backup.offsite.copies import BINLOG_DIR
from afirgen_backup.offsite.crypto import load_identities
from afirgen_backup.offsite.fetch import fetch_into, fetch_manifest, private_fetch_dir
from afirgen_backup.offsite.remote import FUTURE_SLACK, RemoteBackup, scan_remote
from afirgen_backup.offsite.store import Store
from afirgen_backup.sources.mysql.binlog_archive import SEALED_SUFFIX
from afirgen_backup.sources.mysql.binlog_file import binlog_sequence
from afirgen_backup.sources.mysql.binlog_replay import PointInTimeUnreachable, choose_backup, recorded_coordinates


@contextlib.contextmanager
def fetched_for_point(settings: Settings, point: Any) -> Iterator[tuple[BackupEntry, Settings]]:
    """(the dump to start from, the settings whose BACKUP_DIR is the private directory holding it and the
    archive's copies up to the point); the directory is removed on the way out."""
    if settings.offsite is None:
        raise UsageError("restore mysql --remote: off-site copies are off; allowed: set BACKUP_S3_URL")
    assert point.gtid is None  # actions/restore.py refuses --to-gtid with --remote
    store = Store(settings.offsite)
    with private_fetch_dir(settings) as workdir:
        entry = fetch_dump(store, settings, point, workdir)
        coordinates = recorded_coordinates(entry)
        assert coordinates is not None  # chosen for them
        archive = workdir / BINLOG_DIR.rstrip("/")
        archive.mkdir(mode=0o700)
        fetched = fetch_archive(store, settings, coordinates[0], point, archive)
        get_logger().info("remote_point_in_time_fetched", dump=entry.name, binlog_files=fetched)
        yield entry, dataclasses.replace(settings, backup_dir=workdir)


def fetch_dump(store: Store, settings: Settings, point: Any, workdir: Path) -> BackupEntry:
    """The newest complete dump copy whose recorded snapshot precedes the point, chosen by the manifests in the
    bucket and fetched; a copy that does not check out gives way to the next one that qualifies."""
    log = get_logger()
    with store.watched():
        remote = scan_remote(store)
    latest = datetime.now(UTC) + FUTURE_SLACK
    described: list[tuple[BackupEntry, RemoteBackup]] = []
    problems: list[str] = []
    for copy in remote.of_kind("mysql"):
        if not copy.good or copy.time > latest or (point.time is not None and copy.time > point.time):
            continue  # a dump's name is its run's start, before its snapshot: one named after the point is after it
        try:
            manifest = fetch_manifest(store, copy, identities_for(settings, copy))
        except (VerificationFailed, ConfigError) as error:
            problems.append(f"{copy.name}: {error}")
            log.warning("remote_copy_skipped", file=copy.name, error=str(error))
            continue
        recorded = manifest.get("size")
        size = recorded if isinstance(recorded, int) else -1
        described.append((BackupEntry("mysql", copy.name, workdir / copy.name, copy.time, size, manifest), copy))
    while described:
        try:
            chosen = choose_backup([entry for entry, _ in described], point)
        except PointInTimeUnreachable:
            break
        copy = next(copy for entry, copy in described if entry is chosen)
        try:
            path = fetch_into(store, settings, copy, workdir)
            entry = catalog.entry_for(path)
            assert isinstance(entry, BackupEntry)
            return choose_backup([entry], point)  # the manifest that came with the data says so too
        except (VerificationFailed, PointInTimeUnreachable) as error:
            problems.append(f"{copy.name}: {error}")
            log.warning("remote_copy_skipped", file=copy.name, error=str(error))
            for victim in (workdir / copy.name, catalog.manifest_path(workdir / copy.name)):
                victim.unlink(missing_ok=True)
            described = [(entry, other) for entry, other in described if other is not copy]
    skipped = f"; copies that could not be used: {'; '.join(problems)}" if problems else ""
    raise PointInTimeUnreachable(
        f"no complete MySQL copy in {store.where} records binary log coordinates from before {point.describe()}"
        f"{skipped}"
    )


def identities_for(settings: Settings, copy: RemoteBackup) -> list[Any] | None:
    assert settings.offsite is not None
    return load_identities(settings.offsite.identity_file) if copy.encrypted else None


def fetch_archive(store: Store, settings: Settings, start_file: str, point: Any, archive: Path) -> list[str]:
    """Fetch the archive's copies of `start_file` and the later files of its base name, in order, up to the first
    that reaches the point; the names fetched. PointInTimeUnreachable, before anything is loaded, when the copies
    end before the point (a missing file on the way is for the roll forward's chain check to name)."""
    start = binlog_sequence(start_file)
    assert start is not None
    prefix = (f"{store.settings.prefix}/" if store.settings.prefix else "") + BINLOG_DIR
    with store.watched():
        copies = copies_by_file(store.list_objects(under=BINLOG_DIR), prefix)
    by_file: dict[tuple[str, int], list[RemoteBackup]] = {}
    for copy in copies.values():
        sequence = binlog_sequence(copy.name.removesuffix(SEALED_SUFFIX))
        if sequence is not None and sequence[0] == start[0] and sequence >= start and copy.good:
            by_file.setdefault(sequence, []).append(copy)
    stop_at = point.time + timedelta(seconds=1) if point.time is not None else None
    fetched: list[str] = []
    for sequence in sorted(by_file):
        manifest = fetch_one(store, settings, by_file[sequence], archive)
        fetched.append(by_file[sequence][0].name)
        if stop_at is not None and reaches(manifest, stop_at):
            return fetched
        if point.file is not None and binlog_sequence(point.file) == sequence:
            return fetched
    ends = f"its copies end with {fetched[-1]}" if fetched else f"it holds no copy from {start_file} on"
    raise PointInTimeUnreachable(
        f"the binary log archive in {store.where} does not reach {point.describe()}: {ends} (only files the server "
        "rotated past go off-site, with each backup run)"
    )


def fetch_one(store: Store, settings: Settings, twins: list[RemoteBackup], archive: Path) -> dict[str, Any]:
    """One file of the archive, from whichever of its copies checks out: the one this host can read first (an
    encrypted copy needs BACKUP_AGE_IDENTITY_FILE). Its manifest, as fetched."""
    assert settings.offsite is not None
    readable = settings.offsite.identity_file is not None
    ordered = sorted(twins, key=lambda copy: copy.encrypted != readable)
    problems = []
    for copy in ordered:
        try:
            path = fetch_into(store, settings, copy, archive)
        except (VerificationFailed, ConfigError) as error:
            problems.append(f"{copy.data.key if copy.data else copy.name}: {error}")
            for victim in (archive / copy.name, catalog.manifest_path(archive / copy.name)):
                victim.unlink(missing_ok=True)
            continue
        manifest, _ = catalog.load_json_object(catalog.manifest_path(path))
        return manifest or {}
    raise BackupError(f"no copy of {twins[0].name} in {store.where} checks out: {'; '.join(problems)}")


def reaches(manifest: dict[str, Any], stop_at: datetime) -> bool:
    """Whether a file's last event (its ROTATE, for a sealed one) comes at or after `stop_at`."""
    try:
        last = datetime.fromisoformat(str(manifest.get("last_event_time")))
    except ValueError:
        return False
    return (last if last.tzinfo else last.replace(tzinfo=UTC)) >= stop_at
