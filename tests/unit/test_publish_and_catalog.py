"""Publishing: .partial until complete, then renamed; names, manifests and the catalog of BACKUP_DIR."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from datetime import UTC, datetime

import pytest

from afirgen_backup import catalog
from afirgen_backup.files import write_file_atomically
from afirgen_backup.publish import GzipPublisher, partial_path


def test_a_published_file_is_standard_gzip_with_the_recorded_checksum(tmp_path):
    final = tmp_path / "mysql_backup_20261126_000000.sql.gz"
    payload = b"INSERT INTO t VALUES (1);\n" * 100_000
    with GzipPublisher(final, level=1, threads=2) as publisher:
        for start in range(0, len(payload), 65536):
            publisher.write(payload[start : start + 65536])
        assert partial_path(final).exists() and not final.exists()
        written = publisher.publish()
    assert not partial_path(final).exists()
    assert final.stat().st_mode & 0o777 == 0o600
    assert written.sha256 == hashlib.sha256(final.read_bytes()).hexdigest()
    assert written.size == final.stat().st_size
    assert gzip.decompress(final.read_bytes()) == payload
    subprocess.run(["gzip", "-t", str(final)], check=True)


def test_leaving_without_publishing_removes_the_partial_file(tmp_path):
    final = tmp_path / "mysql_backup_20261126_000000.sql.gz"
    with pytest.raises(RuntimeError), GzipPublisher(final, level=1, threads=1) as publisher:
        publisher.write(b"half a dump")
        raise RuntimeError("mysqldump died")
    assert list(tmp_path.iterdir()) == []


def test_small_files_are_replaced_atomically_with_private_mode(tmp_path):
    target = tmp_path / "state.json"
    write_file_atomically(target, b"one")
    write_file_atomically(target, b"two")
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mysql_backup_20261126_060000.sql.gz", ("mysql", datetime(2026, 11, 26, 6, 0, tzinfo=UTC))),
        ("sessions_backup_20261231_235959.db.gz", ("sessions", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))),
        ("mysql_backup_20261126_060000.sql.gz.json", None),
        ("mysql_backup_20261126_060000.sql.gz.partial", None),
        ("mysql_backup_20261399_060000.sql.gz", None),
        ("sessions_backup_20261126_060000.sql.gz", None),
        ("backup.log", None),
        ("my_notes.txt", None),
    ],
)
def test_backup_names_are_parsed_strictly(name, expected):
    assert catalog.parse_backup_name(name) == expected


def test_names_are_made_in_utc():
    moment = datetime(2026, 11, 26, 6, 0, 5, tzinfo=UTC)
    assert catalog.backup_name("mysql", moment) == "mysql_backup_20261126_060005.sql.gz"
    assert catalog.backup_name("sessions", moment) == "sessions_backup_20261126_060005.db.gz"


def test_the_catalog_tells_good_backups_from_leftovers(tmp_path):
    good = tmp_path / "mysql_backup_20261126_060000.sql.gz"
    good.write_bytes(b"x")
    catalog.write_manifest(good, {"file": good.name, "kind": "mysql", "size": 1})
    (tmp_path / "mysql_backup_20261126_000000.sql.gz").write_bytes(b"no manifest")
    (tmp_path / "sessions_backup_20261126_060000.db.gz.partial").write_bytes(b"half")
    (tmp_path / "sessions_backup_20261120_060000.db.gz.json").write_text(json.dumps({"file": "x"}))
    (tmp_path / "backup.log").write_text("")
    found = catalog.scan(tmp_path)
    assert [(b.name, b.good) for b in found.of_kind("mysql")] == [
        ("mysql_backup_20261126_060000.sql.gz", True),
        ("mysql_backup_20261126_000000.sql.gz", False),
    ]
    assert found.newest_good("mysql").name == good.name
    assert found.newest_good("sessions") is None
    assert [p.name for p in found.partials] == ["sessions_backup_20261126_060000.db.gz.partial"]
    assert [p.name for p in found.orphan_manifests] == ["sessions_backup_20261120_060000.db.gz.json"]


def test_a_manifest_for_another_file_does_not_count(tmp_path):
    backup = tmp_path / "mysql_backup_20261126_060000.sql.gz"
    backup.write_bytes(b"x")
    catalog.manifest_path(backup).write_text(json.dumps({"file": "mysql_backup_20261125_060000.sql.gz"}))
    assert catalog.read_manifest(backup) is None
