"""The Prometheus metrics of the backups, in the text format node_exporter's textfile collector reads
(BACKUP_METRICS_FILE, written after every run) and `status --prometheus` prints.

They are read from what BACKUP_DIR records, as `status` reads it: the catalog (good backups, their manifests'
sizes, durations and verifications, off-site copies) and last_run.json; nothing is measured twice. A gauge of a
kind without a good backup is absent rather than 0, so that an alert on `time() - ..._last_success...` never
mistakes "none" for 1970.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from afirgen_backup import catalog
from afirgen_backup.config import Settings

PREFIX = "afirgen_backup"


def timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def render(settings: Settings, directory_bytes: int, free_bytes: int | None) -> bytes:
    """The metrics, as Prometheus's text format."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", help_text, labels, registry=registry)

    last_success = gauge("last_success_timestamp_seconds", "When the newest good backup finished", ("kind",))
    size = gauge("last_size_bytes", "Size of the newest good backup file", ("kind",))
    duration = gauge("last_duration_seconds", "How long the newest good backup took", ("kind",))
    good = gauge("good_backups", "Good backups in BACKUP_DIR", ("kind",))
    verified = gauge("last_verify_success_timestamp_seconds", "When a backup last passed verify", ("kind",))
    restore_test = gauge(
        "last_restore_test_success_timestamp_seconds", "When a backup last passed a restore test", ("kind",)
    )
    uploaded = (
        gauge("offsite_last_upload_timestamp_seconds", "When the newest off-site copy was uploaded", ("kind",))
        if settings.offsite is not None
        else None
    )
    found = catalog.scan(settings.backup_dir)
    for kind in settings.enabled_kinds:
        backups = [b for b in found.of_kind(kind) if b.good]
        good.labels(kind).set(len(backups))
        newest = found.newest_good(kind)
        if newest is not None and newest.manifest is not None:
            finished = timestamp(newest.manifest.get("finished_at")) or newest.time.timestamp()
            last_success.labels(kind).set(finished)
            size.labels(kind).set(newest.size)
            if isinstance(newest.manifest.get("duration_s"), int | float):
                duration.labels(kind).set(float(newest.manifest["duration_s"]))
        times = [timestamp((b.verification or {}).get("time")) for b in backups if (b.verification or {}).get("ok")]
        if any(times):
            verified.labels(kind).set(max(t for t in times if t))
        tested = [
            timestamp(record.get("time"))
            for b in backups
            if isinstance(record := (b.manifest or {}).get(catalog.RESTORE_TEST_KEY), dict) and record.get("ok")
        ]
        if any(tested):
            restore_test.labels(kind).set(max(t for t in tested if t))
        if uploaded is not None:
            newest_upload = newest_offsite_upload(settings, backups)
            if newest_upload is not None:
                uploaded.labels(kind).set(newest_upload)
    record = catalog.read_last_run(settings.backup_dir)
    if record is not None:
        gauge("last_run_success", "1 when the last run succeeded, else 0").set(
            1 if record.get("outcome") == "success" else 0
        )
        run_finished = timestamp(record.get("finished_at"))
        if run_finished is not None:
            gauge("last_run_timestamp_seconds", "When the last run ended").set(run_finished)
    snapshot = catalog.read_last_run(settings.backup_dir, snapshot=True)
    if snapshot is not None and settings.sessions_enabled:
        gauge("last_snapshot_success", "1 when the last sessions snapshot succeeded, else 0").set(
            1 if snapshot.get("outcome") == "success" else 0
        )
        snapshot_finished = timestamp(snapshot.get("finished_at"))
        if snapshot_finished is not None:
            gauge("last_snapshot_timestamp_seconds", "When the last sessions snapshot ended").set(snapshot_finished)
    gauge("dir_bytes", "Bytes in BACKUP_DIR").set(directory_bytes)
    if free_bytes is not None:
        gauge("dir_free_bytes", "Free bytes on BACKUP_DIR's file system").set(free_bytes)
    return bytes(generate_latest(registry))


def newest_offsite_upload(settings: Settings, backups: list[catalog.BackupEntry]) -> float | None:
    from afirgen_backup.offsite.copies import is_copied

    assert settings.offsite is not None
    times = [timestamp((b.offsite or {}).get("uploaded_at")) for b in backups if is_copied(b, settings.offsite)]
    return max((t for t in times if t is not None), default=None)


def write(settings: Settings, path: Path, directory_bytes: int, free_bytes: int | None) -> None:
    """Write the metrics file atomically (never through a link), readable by node_exporter (0644)."""
    from afirgen_backup.files import write_file_atomically

    write_file_atomically(path, render(settings, directory_bytes, free_bytes), mode=0o644)
