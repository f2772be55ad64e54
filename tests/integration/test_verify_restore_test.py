"""verify --restore-test: the dump loads into a scratch database that is always dropped afterwards, on every
server/client pairing; on MySQL the scratch copy also stays out of the binary log and its events never run."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    MYSQL_PAIRINGS,
    Pairing,
    as_root,
    describe,
    events_named,
    newest_backup,
    on_pairings,
    read_manifest,
    run_cli,
)
from mariadb_server import BACKUP_PRIVILEGES, MariaDBServer
from mysql_server import BACKUP_DB_PRIVILEGES, BACKUP_GLOBAL_PRIVILEGES

REPO = Path(__file__).resolve().parents[2]


def scratch_databases(server: MariaDBServer, db: str) -> list[str]:
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return [row[0] for row in cur.fetchall() if row[0].startswith(f"{db}_verify_")]


def break_dump_in_the_middle(path: Path) -> None:
    """A dump that passes checksum, stream, trailer and statement checks but fails to load part way: its first
    rows are inserted twice (ERROR 1062, duplicate entry), before anything a pairing's client refuses on its own."""
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    first = next(number for number, line in enumerate(lines) if line.startswith(b"INSERT INTO"))
    last = next(number for number in range(first, len(lines)) if lines[number].rstrip().endswith(b");"))
    lines[last + 1 : last + 1] = lines[first : last + 1]
    path.write_bytes(gzip.compress(b"".join(lines)))
    manifest_file = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest.update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    manifest_file.write_text(json.dumps(manifest))


@on_pairings()
def test_restore_test_loads_the_dump_matches_the_manifest_and_drops_the_scratch_database(
    backed_up_pairing: Pairing,
) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env

    result = run_cli(as_root(backed_up), "verify", "--restore-test", newest_backup(backed_up).name)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "restore-test" in result.stdout
    assert scratch_databases(server, fir_db) == []
    assert events_named(backed_up, "restore_test_loaded") and events_named(backed_up, "scratch_db_dropped")
    manifest = read_manifest(newest_backup(backed_up))
    assert manifest["verification"]["ok"] is True
    assert manifest["verification"]["restore_test"] is True


@on_pairings()
def test_restore_test_drops_the_scratch_database_when_the_load_fails(backed_up_pairing: Pairing) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    break_dump_in_the_middle(newest_backup(backed_up))

    result = run_cli(as_root(backed_up), "verify", "--restore-test")

    assert result.returncode == 1
    assert "restore-test: cannot load into scratch database" in result.stdout
    assert "ERROR 1062" in result.stdout and "Duplicate entry" in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("(restore-test)")
    assert scratch_databases(server, fir_db) == []


@on_pairings()
def test_restore_test_as_the_backup_user_says_which_privileges_it_needs(backed_up_pairing: Pairing) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env

    result = run_cli(backed_up, "verify", "--restore-test")

    assert result.returncode == 1
    assert "lacks the CREATE privilege" in result.stdout, result.stdout
    for privilege in ("INSERT", "CREATE ROUTINE", "TRIGGER", "EVENT", "LOCK TABLES", "CREATE VIEW"):
        assert privilege in result.stdout
    assert scratch_databases(server, fir_db) == []


@on_pairings()
def test_restore_test_interrupted_by_sigterm_drops_the_scratch_database(
    backed_up_pairing: Pairing, tmp_path: Path
) -> None:
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    stalled_client = tmp_path / "stalled-mysql"  # a client that answers --version and --help, then never loads
    real = backed_up.get("MYSQL_BIN", "mariadb")
    stalled_client.write_text(f'#!/bin/sh\ncase "$1" in --version|--help) exec {real} "$1";; esac\nexec sleep 120\n')
    stalled_client.chmod(0o755)
    env = dict(as_root(backed_up), MYSQL_BIN=str(stalled_client))
    command = [sys.executable, str(REPO / "backup_database.py"), "verify", "--restore-test"]
    tool = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not scratch_databases(server, fir_db):
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
    assert scratch_databases(server, fir_db) == []
    assert events_named(backed_up, "scratch_db_dropped")
    assert not any(p.endswith(b"stalled-mysql") for p in map(os.fsencode, os.listdir("/proc")))


#: `fix: GRANT ... TO 'user'@'host';` in check-grants' output (each fix's first way, and what it adds with `and`).
GRANT_FIX = re.compile(r"GRANT [^;]+? TO '[^']+'@'[^']+'")


def backup_grants(pairing: Pairing) -> list[str]:
    """The backup user's privileges, as GRANT statements without their `TO ...`."""
    if pairing.flavor == "mariadb":
        return [f"GRANT {', '.join(BACKUP_PRIVILEGES)} ON *.*"]
    return [
        f"GRANT {', '.join(BACKUP_DB_PRIVILEGES)} ON `{pairing.db}`.*",
        f"GRANT {', '.join(BACKUP_GLOBAL_PRIVILEGES)} ON *.*",
    ]


@on_pairings()
def test_what_check_grants_says_to_grant_is_enough_for_a_restore_test(backed_up_pairing: Pairing) -> None:
    """A user with the backup user's privileges asks check-grants, is granted every fix it names (the scratch
    databases' privileges; on MySQL also SET_ANY_DEFINER and SYSTEM_USER for root's objects, SUPER for triggers and
    routines under a binary log, SESSION_VARIABLES_ADMIN to keep the load out of it), and can then run a restore
    test; verify's own one-line suggestion points at check-grants for all but the first."""
    server, fir_db, backed_up = backed_up_pairing.server, backed_up_pairing.db, backed_up_pairing.env
    verifier, password = "afirgen_verifier", "v3r1fy pass"
    env = dict(backed_up, MYSQL_USER=verifier, MYSQL_PASSWORD=password)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (verifier,))
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (verifier, password))
        for statement in backup_grants(backed_up_pairing):
            cur.execute(f"{statement} TO %s@'%%'", (verifier,))
    try:
        suggestion = run_cli(env, "verify", "--restore-test").stdout
        assert "to allow restore tests: GRANT " in suggestion and "check-grants" in suggestion, suggestion
        advice = run_cli(env, "check-grants")
        assert "restore test (verify --restore-test): MISSING" in advice.stdout, describe(advice)
        fixes = GRANT_FIX.findall(advice.stdout)
        assert fixes, describe(advice)
        server.execute(*fixes)
        advice = run_cli(env, "check-grants")
        assert "restore test (verify --restore-test): ok" in advice.stdout, describe(advice)
        position = server.binlog_position() if backed_up_pairing.flavor == "mysql" else None

        result = run_cli(env, "verify", "--restore-test")
    finally:
        server.execute(f"DROP USER {verifier}@'%'")

    assert result.returncode == 0, describe(result)
    assert scratch_databases(server, fir_db) == []
    if position is not None:  # SESSION_VARIABLES_ADMIN: the load stays out of the binary log
        scratch = str(events_named(backed_up, "restore_test_started")[-1]["scratch_db"])
        assert scratch not in server.binlog_text_since(position)


# --- MySQL: a scratch copy is nobody's business but the restore test's ----------------------------------------


@on_pairings(*MYSQL_PAIRINGS)
def test_restore_test_keeps_the_scratch_copy_out_of_the_binary_log(backed_up_pairing: Pairing) -> None:
    server, backed_up = backed_up_pairing.server, backed_up_pairing.env
    position = server.binlog_position()

    result = run_cli(as_root(backed_up), "verify", "--restore-test")

    [started] = events_named(backed_up, "restore_test_started")
    scratch = str(started["scratch_db"])
    assert scratch.startswith(f"{backed_up_pairing.db}_verify_") and events_named(backed_up, "scratch_db_dropped")
    logged = server.binlog_text_since(position)
    assert scratch not in logged, [line for line in logged.splitlines() if scratch in line][:5]
    assert "fir_attachments" not in logged, describe(result)  # no DDL or row of any table of the fixture


@pytest.fixture
def probe(pairing: Pairing) -> tuple[str, str]:
    """(database, probe database): a small database the backup user may dump, whose ENABLED event writes to the
    probe database, every second, the name of the database it runs in."""
    small, probe = pairing.make_database("small"), pairing.make_database("probe")
    pairing.grant_backup(small)
    pairing.server.execute(
        f"CREATE TABLE `{probe}`.fired (db VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL)",
        "CREATE TABLE complaints (id INT PRIMARY KEY, body TEXT NOT NULL)",
        "INSERT INTO complaints VALUES (1, 'मेरा फ़ोन चोरी हो गया'), (2, 'cheque fraud')",
        f"CREATE EVENT ev_heartbeat ON SCHEDULE EVERY 1 SECOND ON COMPLETION PRESERVE ENABLE"
        f" DO INSERT INTO `{probe}`.fired VALUES (DATABASE(), NOW(6))",
        database=small,
    )
    return small, probe


@on_pairings(*MYSQL_PAIRINGS)
def test_the_events_of_a_scratch_copy_never_run(pairing: Pairing, probe: tuple[str, str], tmp_path: Path) -> None:
    small, probe_db = probe
    env = dict(pairing.env, MYSQL_DB=small, BACKUP_SESSIONS_ENABLED="false")
    assert run_cli(env, "backup").returncode == 0
    lingering = tmp_path / "lingering-client"  # the scratch copy lives 2.5 s after the load: the event is due
    lingering.write_text(
        f'#!/bin/sh\n{env["MYSQL_BIN"]} "$@"\nstatus=$?\n[ "$1" = --version ] || sleep 2.5\nexit $status\n'
    )
    lingering.chmod(0o755)

    result = run_cli(dict(as_root(env), MYSQL_BIN=str(lingering)), "verify", "--restore-test")

    assert result.returncode == 0, describe(result)
    [started] = events_named(env, "restore_test_started")
    with pairing.server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT db, COUNT(*) FROM `{probe_db}`.fired GROUP BY db ORDER BY db")
        fired = dict(cur.fetchall())
    assert fired.get(small, 0) > 0, "the source's event runs: the scheduler is on"
    assert set(fired) == {small}, f"{fired} (scratch copy {started['scratch_db']})"
