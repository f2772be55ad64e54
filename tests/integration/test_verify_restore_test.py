"""verify --restore-test: the dump loads into a scratch database that is always dropped afterwards."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import as_root, events_named, newest_backup, read_manifest, run_cli
from mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def scratch_databases(mariadb: MariaDBServer, db: str) -> list[str]:
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return [row[0] for row in cur.fetchall() if row[0].startswith(f"{db}_verify_")]


def break_dump_in_the_middle(path: Path) -> None:
    """A dump that passes checksum, stream and trailer checks but fails to load halfway."""
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    lines.insert(len(lines) // 2, b"THIS IS NOT SQL;\n")
    path.write_bytes(gzip.compress(b"".join(lines)))
    manifest_file = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest.update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    manifest_file.write_text(json.dumps(manifest))


def test_restore_test_loads_the_dump_matches_the_manifest_and_drops_the_scratch_database(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    result = run_cli(as_root(backed_up), "verify", "--restore-test", newest_backup(backed_up).name)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "restore-test" in result.stdout
    assert scratch_databases(mariadb, fir_db) == []
    assert events_named(backed_up, "restore_test_loaded") and events_named(backed_up, "scratch_db_dropped")
    manifest = read_manifest(newest_backup(backed_up))
    assert manifest["verification"]["ok"] is True
    assert manifest["verification"]["restore_test"] is True


def test_restore_test_drops_the_scratch_database_when_the_load_fails(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    break_dump_in_the_middle(newest_backup(backed_up))

    result = run_cli(as_root(backed_up), "verify", "--restore-test")

    assert result.returncode == 1
    assert "restore-test: cannot load into scratch database" in result.stdout
    assert "ERROR 1064" in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("(restore-test)")
    assert scratch_databases(mariadb, fir_db) == []


def test_restore_test_as_the_backup_user_says_which_privileges_it_needs(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    result = run_cli(backed_up, "verify", "--restore-test")

    assert result.returncode == 1
    assert "lacks the CREATE privilege" in result.stdout, result.stdout
    for privilege in ("INSERT", "CREATE ROUTINE", "TRIGGER", "EVENT", "LOCK TABLES", "CREATE VIEW"):
        assert privilege in result.stdout
    assert scratch_databases(mariadb, fir_db) == []


def test_restore_test_interrupted_by_sigterm_drops_the_scratch_database(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, tmp_path: Path
) -> None:
    stalled_client = tmp_path / "stalled-mysql"
    stalled_client.write_text("#!/bin/sh\nexec sleep 120\n")
    stalled_client.chmod(0o755)
    env = dict(as_root(backed_up), MYSQL_BIN=str(stalled_client))
    command = [sys.executable, str(REPO / "backup_database.py"), "verify", "--restore-test"]
    tool = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not scratch_databases(mariadb, fir_db):
            assert time.monotonic() < deadline, "the scratch database never appeared"
            assert tool.poll() is None, tool.communicate()
            time.sleep(0.05)
        time.sleep(0.3)  # let the tool reach the load
        tool.send_signal(signal.SIGTERM)
        stdout, stderr = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == 128 + signal.SIGTERM, stdout + stderr
    assert scratch_databases(mariadb, fir_db) == []
    assert events_named(backed_up, "scratch_db_dropped")
    assert not any(p.endswith(b"stalled-mysql") for p in map(os.fsencode, os.listdir("/proc")))


def test_the_suggested_grant_is_enough_for_a_restore_test(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str
) -> None:
    suggestion = run_cli(backed_up, "verify", "--restore-test").stdout
    grant = suggestion.split("to allow restore tests: ")[1].split(" TO <the backup user>")[0]
    verifier, password = "afirgen_verifier", "v3r1fy pass"
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE OR REPLACE USER %s@'%%' IDENTIFIED BY %s", (verifier, password))
        cur.execute(f"{grant} TO '{verifier}'@'%'")
        cur.execute(
            "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, PROCESS, SET USER ON *.* TO %s@'%%'", (verifier,)
        )
    try:
        result = run_cli(dict(backed_up, MYSQL_USER=verifier, MYSQL_PASSWORD=password), "verify", "--restore-test")
    finally:
        mariadb.execute(f"DROP USER {verifier}@'%'")

    assert result.returncode == 0, result.stdout + result.stderr
    assert scratch_databases(mariadb, fir_db) == []
