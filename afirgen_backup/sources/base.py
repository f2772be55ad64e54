"""What every source shares: the interface the actions use, a backup job, a part's result, and how a backup is
published with its manifest.

A source owns one kind of backup (MySQL: sources/mysql, kind `mysql`; SQLite: sources/sqlite, kind `sessions`):
- `kind`: in file names, manifests, list and status groups (config.Settings.enabled_kinds says which are on);
- `activity(settings)`: what the CPU yielder watches for the application's writes while a backup runs, or None;
- `back_up(job)`: take the backup and publish it with its manifest (publish_backup below);
- `check_file(entry, ...)`: every check of one of its backup files that needs no server;
- `restore_tester(settings)`: what `verify --restore-test` runs on one of its backups, or None when the kind has
  no restore test beyond its checks;
- `owns_leftover(name)` and `remove_leftover(path)`: what a killed run of it leaves in BACKUP_DIR.
Restoring and the restore test are the sources' own (their targets differ: a database, a file): the restore
action calls sources/mysql/restore.py and sources/sqlite/restore.py.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from afirgen_backup import TOOL_NAME, __version__, catalog, process
from afirgen_backup.config import Settings
from afirgen_backup.display import MB
from afirgen_backup.publish import GzipPublisher, WrittenFile

if TYPE_CHECKING:
    from afirgen_backup.checks import Check
    from afirgen_backup.cpu import Yielder


class Watch(Protocol):
    """Something that reads what shows the application's activity; any change between two reads is activity."""

    def __call__(self) -> Hashable: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BackupJob:
    """One part of one run: the settings, the UTC second the run's files are named by, and the CPU yielder;
    `snapshot` for a frequent sessions snapshot (its manifest says so: catalog.BackupEntry.snapshot)."""

    settings: Settings
    stamp: datetime
    run_id: str
    yielder: Yielder | None = None
    snapshot: bool = False

    def final_path(self, kind: str) -> Path:
        return self.settings.backup_dir / catalog.backup_name(kind, self.stamp)

    def publisher(self, kind: str) -> GzipPublisher:
        return GzipPublisher(
            self.final_path(kind), level=self.settings.compress_level, threads=self.settings.compress_threads
        )


@dataclass
class PartResult:
    kind: str
    ok: bool
    file: str | None = None
    error: str | None = None
    size: int = 0
    duration_s: float = 0.0
    exit_code: int = 0  # a failed part's: 1, or 2 when a setting or the database must change


class Source(Protocol):
    kind: str

    def activity(self, settings: Settings) -> Watch | None: ...

    def back_up(self, job: BackupJob) -> PartResult: ...

    def check_file(
        self, entry: catalog.BackupEntry, *, statements: bool = True, copy_to: Path | None = None
    ) -> list[Check]: ...

    def restore_tester(self, settings: Settings) -> Callable[[catalog.BackupEntry], Check] | None: ...

    def owns_leftover(self, name: str) -> bool: ...

    def remove_leftover(self, path: Path) -> None: ...


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def unused_stamp(backup_dir: Path) -> datetime:
    """The current UTC second, or a later one if a backup's name of that second is taken (two runs in one second;
    a link of that name, even a dangling one: a published backup never replaces anything)."""
    while True:
        stamp = datetime.now(UTC).replace(microsecond=0)
        if not any(os.path.lexists(backup_dir / catalog.backup_name(kind, stamp)) for kind in catalog.KINDS):
            return stamp
        time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)


def run_facts(settings: Settings, started: datetime, duration: float, run_id: str) -> dict[str, Any]:
    """The manifest entries every kind shares: how it was compressed, when, by which run and tool, and its
    sequence (catalog.next_sequence: the order of publishing, which `latest` trusts more than the clock).

    Called under the run's lock, just before the manifest is published.
    """
    return {
        "sequence": catalog.next_sequence(settings.backup_dir),
        "compression": {"format": "gzip", "library": "isal", "level": settings.compress_level},
        "started_at": iso(started),
        "finished_at": iso(datetime.now(UTC)),
        "duration_s": round(duration, 3),
        "run_id": run_id,
        "tool": {"name": TOOL_NAME, "version": __version__},
    }


def publish_with_manifest(publisher: GzipPublisher, manifest: dict[str, Any]) -> None:
    """Write the manifest, then rename the finished file into place, with SIGTERM/SIGINT held meanwhile.

    A file named like a backup therefore always has its manifest: when the manifest cannot be written (say the
    dump just filled the disk) the part fails and the publisher removes the `.partial` file.
    """
    with process.signals_deferred():
        catalog.write_manifest(publisher.final, manifest)
        try:
            publisher.publish()
        except BaseException:
            with contextlib.suppress(OSError):
                catalog.manifest_path(publisher.final).unlink()
            raise


def publish_backup(
    job: BackupJob,
    kind: str,
    write: Callable[[GzipPublisher], dict[str, Any]],
    started: datetime,
    clock: float,
) -> tuple[WrittenFile, int, float]:
    """Write a backup of `kind` (`write` streams the data into the publisher and returns the kind's own manifest
    entries), finish it, and publish it with its whole manifest; (written file, uncompressed size, seconds)."""
    with job.publisher(kind) as publisher:
        facts = write(publisher)
        written = publisher.finish()
        duration = time.monotonic() - clock
        manifest: dict[str, Any] = {
            "format": catalog.MANIFEST_FORMAT,
            "file": publisher.final.name,
            "kind": kind,
            "sha256": written.sha256,
            "size": written.size,
            "uncompressed_size": publisher.uncompressed_size,
            **facts,
            **run_facts(job.settings, started, duration, job.run_id),
        }
        if job.snapshot:
            manifest[catalog.SNAPSHOT_KEY] = True
        publish_with_manifest(publisher, manifest)
    return written, publisher.uncompressed_size, duration


def throughput(size: int, duration: float) -> float | None:
    """MB (10^6 bytes) per second, for the log."""
    return round(size / MB / duration, 1) if duration > 0 else None
