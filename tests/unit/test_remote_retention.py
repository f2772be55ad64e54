"""Retention of the remote copies (offsite/prune.py through retention.py): the floor of BACKUP_KEEP_LAST counts
distinct good backups, not objects. A backup copied both in the clear and encrypted is one backup; a copy that is
incomplete, or that this host's record of its upload knows to be damaged, is none. Built from RemoteBackup and
StoredObject values: no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from afirgen_backup.catalog import BackupEntry
from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.offsite.remote import RemoteBackup, RemoteCatalog, note_known_damage
from afirgen_backup.offsite.store import StoredObject
from afirgen_backup.retention import RetentionPolicy, plan_retention

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = OffsiteSettings(bucket="fir-backups", prefix="afirgen", endpoint_url="http://127.0.0.1:9000")
SIZE = 1000


def name_of(days_old: float) -> str:
    return f"sessions_backup_{NOW - timedelta(days=days_old):%Y%m%d_%H%M%S}.db.gz"


def copy(days_old: float, *, encrypted: bool = False, data: bool = True, manifest: bool = True) -> RemoteBackup:
    """The remote copy of the sessions backup taken `days_old` days before NOW."""
    name = name_of(days_old)
    suffix = ".age" if encrypted else ""
    return RemoteBackup(
        "sessions",
        name,
        NOW - timedelta(days=days_old),
        encrypted,
        data=StoredObject(SETTINGS.key(name + suffix), SIZE) if data else None,
        manifest=StoredObject(SETTINGS.key(f"{name}.json{suffix}"), 100) if manifest else None,
    )


def deleted(copies: list[RemoteBackup], days: int, keep: int) -> list[str]:
    """The copies retention deletes, as `<name>` or `<name>.age`."""
    gone = [d.backup for d in plan_retention(copies, RetentionPolicy(days, keep), NOW) if d.delete]
    return sorted(b.name + (".age" if isinstance(b, RemoteBackup) and b.encrypted else "") for b in gone)


def test_a_backup_there_in_the_clear_and_encrypted_counts_once_toward_keep_last() -> None:
    copies = [copy(2), copy(2, encrypted=True), copy(3)]

    assert deleted(copies, days=1, keep=2) == [], "the older backup is the second of the last two"


def test_the_floor_holds_keep_last_distinct_backups_when_every_newer_one_is_there_twice() -> None:
    copies = [copy(d, encrypted=e) for d in (2, 3) for e in (False, True)] + [copy(4), copy(5)]

    gone = deleted(copies, days=1, keep=3)

    assert gone == [name_of(5)]
    kept_names = {c.name for c in copies if c.name not in gone and c.name + ".age" not in gone}
    assert len(kept_names) == 3


@pytest.mark.parametrize("listed", ["in-the-clear-first", "encrypted-first"])
def test_the_copy_in_the_clear_of_an_encrypted_backup_goes_by_age_and_the_encrypted_one_stays(listed: str) -> None:
    copies = [copy(2), copy(2, encrypted=True)]
    if listed == "encrypted-first":  # whatever order the bucket lists them in
        copies.reverse()

    assert deleted(copies, days=1, keep=1) == [name_of(2)]


def test_a_young_duplicate_is_kept() -> None:
    assert deleted([copy(0.5), copy(0.5, encrypted=True)], days=1, keep=1) == []


def test_an_incomplete_copy_does_not_count_and_its_complete_twin_does() -> None:
    lonely = [copy(2, encrypted=True, manifest=False), copy(3)]
    twins = [copy(2, encrypted=True, manifest=False), copy(2), copy(3)]

    assert deleted(lonely, days=1, keep=1) == [], "no complete copy is newer than the older backup"
    assert deleted(twins, days=1, keep=1) == [name_of(3)]


def local_entry(days_old: float, **record: Any) -> BackupEntry:
    """This host's backup of that time, whose manifest records its upload (as offsite/copies.py writes it)."""
    name = name_of(days_old)
    upload = {
        "bucket": SETTINGS.bucket,
        "endpoint": SETTINGS.endpoint_url,
        "key": SETTINGS.key(name),
        "object_size": SIZE,
        **record,
    }
    manifest = {"file": name, "kind": "sessions", "size": 10, "offsite": upload}
    return BackupEntry("sessions", name, Path(name), NOW - timedelta(days=days_old), 10, manifest)


def failed_verification(*failures: str) -> dict[str, Any]:
    return {"time": NOW.isoformat(), "ok": False, "restore_test": True, "failures": list(failures)}


@pytest.mark.parametrize(
    ("record", "damaged"),
    [
        ({}, False),
        ({"object_size": SIZE + 1}, True),
        ({"verification": failed_verification("object: not the object that was uploaded")}, True),
        ({"verification": failed_verification("checksum: sha256 differs")}, True),
        ({"verification": failed_verification("restore-test: access denied")}, False),
        ({"verification": {"ok": True, "failures": []}}, False),
        ({"object_size": SIZE + 1, "bucket": "another-bucket"}, False),
        ({"object_size": SIZE + 1, "endpoint": None}, False),
        ({"object_size": SIZE + 1, "key": SETTINGS.key(name_of(2) + ".age")}, False),
    ],
    ids=[
        "recorded as uploaded",
        "not the size uploaded",
        "verify --remote failed its object",
        "verify --remote failed its checksum",
        "only a restore test failed",
        "verified ok",
        "a record of another bucket",
        "a record of another endpoint",
        "a record of the other copy",
    ],
)
def test_a_copy_known_to_be_damaged_does_not_count_toward_keep_last(record: dict[str, Any], damaged: bool) -> None:
    remote = RemoteCatalog([copy(2), copy(3)])

    note_known_damage(remote, [local_entry(2, **record)], SETTINGS)

    assert remote.backups[0].good is not damaged
    assert deleted(remote.backups, days=1, keep=1) == ([] if damaged else [name_of(3)])


def test_a_named_copy_is_the_complete_one_when_the_encrypted_twin_is_incomplete() -> None:
    plain, encrypted = copy(3), copy(3, encrypted=True, manifest=False)
    assert RemoteCatalog([encrypted, plain]).find(plain.name) is plain
    assert RemoteCatalog([plain, copy(3, encrypted=True)]).find(plain.name).encrypted
