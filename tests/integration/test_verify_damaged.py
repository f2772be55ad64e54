"""Damaged MySQL backups: verify names the file and the check it failed; restore refuses before touching anything."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from dbcompare import object_lists, table_checksums
from helpers import as_root, newest_backup, run_cli
from mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 5])


def drop_trailer(path: Path) -> None:
    """Re-gzip the dump without its last lines and fix the manifest, so that only the trailer check can tell."""
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    while not lines[-1].startswith(b"-- Dump completed"):
        lines.pop()
    lines.pop()
    path.write_bytes(gzip.compress(b"".join(lines)))
    manifest_file = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["size"] = path.stat().st_size
    manifest_file.write_text(json.dumps(manifest))


DAMAGES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "flipped byte": (flip_middle_byte, ["checksum", "stream"]),
    "truncated": (truncate, ["checksum", "stream"]),
    "no trailer": (drop_trailer, ["trailer"]),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_verify_names_the_damaged_dump_and_the_check_it_failed(backed_up: dict[str, str], damage: str) -> None:
    damage_file, failed_checks = DAMAGES[damage]
    dump = newest_backup(backed_up)
    damage_file(dump)

    result = run_cli(backed_up, "verify")

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED  {dump.name}" in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line == f"verify failed: {dump.name} ({', '.join(failed_checks)})"
    if damage == "truncated":
        assert "truncated" in result.stdout
    record = json.loads(dump.with_name(dump.name + ".json").read_text())["verification"]
    assert record["ok"] is False
    assert [failure.split(":")[0] for failure in record["failures"]] == failed_checks
    listing = run_cli(backed_up, "list").stdout
    assert "verify FAILED" in listing


@pytest.mark.parametrize("damage", DAMAGES)
def test_restore_refuses_a_damaged_dump_before_touching_the_target(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, damage: str
) -> None:
    dump = newest_backup(backed_up)
    DAMAGES[damage][0](dump)
    with mariadb.connect() as conn:
        before = table_checksums(conn, fir_db), object_lists(conn, fir_db)

    result = run_cli(as_root(backed_up), "restore", "mysql", dump.name, "--yes")

    assert result.returncode == 1
    assert "refusing to restore" in result.stderr and "was not touched" in result.stderr
    # The refusal recorded the failed check in the manifest: `latest` no longer takes the file.
    result = run_cli(as_root(backed_up), "restore", "mysql", "latest", "--yes")
    assert result.returncode == 2
    assert "there is no good mysql backup" in result.stderr
    with mariadb.connect() as conn:
        assert (table_checksums(conn, fir_db), object_lists(conn, fir_db)) == before
    assert not (Path(backed_up["BACKUP_DIR"]) / "safety").exists()


def test_verify_passes_a_good_backup_and_records_it_for_list_and_status(backed_up: dict[str, str]) -> None:
    result = run_cli(backed_up, "verify", "--json")

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert sorted(b["name"].split("_")[0] for b in document["backups"]) == ["mysql", "sessions"]
    checks = {b["name"].split("_")[0]: [c["check"] for c in b["checks"]] for b in document["backups"]}
    assert checks == {
        "mysql": ["checksum", "stream", "trailer", "statements"],
        "sessions": ["checksum", "stream", "integrity", "tables"],
    }
    status = json.loads(run_cli(backed_up, "status", "--json").stdout)
    assert all(kind["verification"]["ok"] for kind in status["kinds"])
