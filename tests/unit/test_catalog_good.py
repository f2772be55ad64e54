"""Which files count as good backups: a manifest, the size it recorded, no failed verify, not dated in the future.

Retention counts only good backups as copies to keep, and `status` and `latest` look only at them, so a damaged
or wrongly dated file must never pass for the newest good one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from afirgen_backup import catalog
from afirgen_backup.errors import BackupError


def publish(directory, kind, moment, body=b"backup"):
    path = directory / catalog.backup_name(kind, moment)
    path.write_bytes(body)
    catalog.write_manifest(path, {"file": path.name, "kind": kind, "size": len(body)})
    return path


def test_a_file_whose_size_differs_from_its_manifest_is_not_good(tmp_path):
    now = datetime.now(UTC)
    older = publish(tmp_path, "mysql", now - timedelta(hours=6))
    newer = publish(tmp_path, "mysql", now)
    with open(newer, "r+b") as handle:
        handle.truncate(2)  # damaged after publishing: a stat tells, no need to read it
    found = catalog.scan(tmp_path)
    assert found.find(newer.name).flaw == "2 bytes, the manifest says 6"
    assert found.newest_good("mysql").name == older.name


def test_a_backup_whose_last_verify_failed_is_not_good_until_a_verify_passes(tmp_path):
    now = datetime.now(UTC)
    older = publish(tmp_path, "sessions", now - timedelta(hours=6))
    newer = publish(tmp_path, "sessions", now)
    catalog.record_verification(newer, {"time": "t", "ok": False, "failures": ["gzip: CRC error"]})
    assert catalog.scan(tmp_path).newest_good("sessions").name == older.name
    catalog.record_verification(newer, {"time": "t2", "ok": True, "failures": []})
    assert catalog.scan(tmp_path).newest_good("sessions").name == newer.name


def test_a_backup_dated_in_the_future_is_never_the_newest(tmp_path):
    now = datetime.now(UTC)
    taken_now = publish(tmp_path, "mysql", now)
    publish(tmp_path, "mysql", now + timedelta(days=10))
    publish(tmp_path, "mysql", now + catalog.FUTURE_TOLERANCE - timedelta(seconds=5))  # skew between hosts: fine
    found = catalog.scan(tmp_path)
    assert [b.time > now + catalog.FUTURE_TOLERANCE for b in found.in_future("mysql", now)] == [True]
    assert found.newest_good("mysql", now).name != taken_now.name  # the one a little ahead counts
    assert found.newest_good("mysql", now).time < now + catalog.FUTURE_TOLERANCE


def test_an_unreadable_backup_dir_is_one_error_not_a_traceback(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(BackupError, match=f"cannot read the backup directory {not_a_dir}: Not a directory"):
        catalog.scan(not_a_dir)


def test_a_restore_test_that_failed_on_its_own_does_not_make_the_file_unusable(tmp_path):
    backup = publish(tmp_path, "mysql", datetime.now(UTC))
    checks = [
        {"check": "checksum", "ok": True, "detail": ""},
        {"check": "restore-test", "ok": False, "detail": "CREATE command denied"},
    ]
    catalog.record_verification(backup, {"time": "t", "ok": False, "checks": checks, "failures": ["restore-test"]})
    assert catalog.scan(tmp_path).find(backup.name).good
    checks[0]["ok"] = False
    catalog.record_verification(backup, {"time": "t", "ok": False, "checks": checks, "failures": ["checksum"]})
    assert catalog.scan(tmp_path).find(backup.name).flaw == catalog.VERIFY_FAILED


def test_only_a_sessions_backup_can_be_a_snapshot_whatever_its_manifest_says():
    from datetime import UTC, datetime
    from pathlib import Path

    from afirgen_backup.catalog import BackupEntry

    moment = datetime(2026, 12, 5, tzinfo=UTC)

    def entry(kind: str, flag: object) -> BackupEntry:
        return BackupEntry(kind, "x", Path("x"), moment, 1, {"size": 1, "snapshot": flag})

    assert entry("sessions", True).snapshot
    assert not entry("mysql", True).snapshot, "a forged flag must not put a dump under the snapshots' hours"
    assert not entry("sessions", "true").snapshot and not entry("sessions", 1).snapshot
