"""restore mysql through the tool: round trip on the FIR fixture, refusals, safety backups, audit events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dbcompare import history_digests, object_lists, table_checksums
from mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]


def run_tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(REPO / "backup_database.py"), *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def as_root(env: dict[str, str]) -> dict[str, str]:
    """The restore needs write privileges the least-privilege backup user lacks."""
    return dict(env, MYSQL_USER="root", MYSQL_PASSWORD="")


def audit_events(env: dict[str, str], event: str) -> list[dict[str, object]]:
    log = Path(env["BACKUP_DIR"]) / "backup.log"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == event]


def snapshot(mariadb: MariaDBServer, db: str) -> tuple[object, ...]:
    with mariadb.connect() as conn:
        return table_checksums(conn, db), object_lists(conn, db), history_digests(conn, db)


@pytest.fixture
def backed_up(backup_env: dict[str, str]) -> dict[str, str]:
    result = run_tool(backup_env, "backup")
    assert result.returncode == 0, result.stderr
    return backup_env


def test_restore_into_a_new_database_gives_back_every_table_row_and_object(
    mariadb: MariaDBServer, backed_up: dict[str, str], fir_db: str, make_database
) -> None:
    target = make_database("restored")
    mariadb.execute(f"DROP DATABASE `{target}`")  # the tool creates a missing target (make_database drops it later)

    result = run_tool(as_root(backed_up), "restore", "mysql", "latest", "--target-db", target)

    assert result.returncode == 0, result.stderr
    assert f"into database {target}" in result.stdout
    assert snapshot(mariadb, target) == snapshot(mariadb, fir_db)
    finished = audit_events(backed_up, "restore_finished")
    assert len(finished) == 1
    assert finished[0]["what"] == "mysql"
    assert finished[0]["outcome"] == "success"
    assert str(finished[0]["source_file"]).endswith(".sql.gz")
    assert target in str(finished[0]["target"])
    assert finished[0]["started_at"] and finished[0]["finished_at"]
