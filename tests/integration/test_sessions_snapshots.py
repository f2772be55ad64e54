"""Frequent sessions snapshots (`backup --sessions-snapshot`, which the container's cron runs on
BACKUP_SESSIONS_SCHEDULE): sessions.db alone, marked as a snapshot, kept BACKUP_SESSIONS_SNAPSHOT_HOURS under the
BACKUP_KEEP_LAST floor, never copied off-site, recorded apart from the full runs, and told to the alert channels
without hiding a full run's failure.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    backups_of,
    describe,
    finish,
    hold_lock,
    names_in,
    plant_backup,
    read_manifest,
    run_cli,
    start_cli,
    stderr_errors,
)
from http_recorder import Recorder, Request, recording

PING = "/ping/snapshot-check"
HOOK = "/hooks/snapshot-hook"


def record(env: dict[str, str], name: str) -> dict[str, Any]:
    return json.loads((Path(env["BACKUP_DIR"]) / name).read_text())


def probe(sessions: Path, value: str) -> None:
    """A row written by "the application" after the last backup: a restore of the snapshot must hold it."""
    with sqlite3.connect(sessions) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS snapshot_probe (value TEXT)")
        conn.execute("INSERT INTO snapshot_probe VALUES (?)", (value,))
    conn.close()


def snapshot(env: dict[str, str]) -> Any:
    return run_cli(env, "backup", "--sessions-snapshot")


def test_a_snapshot_is_sessions_db_alone_marked_restorable_and_leaves_the_full_runs_record(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    env = backup_env
    backup_dir = Path(env["BACKUP_DIR"])
    assert run_cli(env, "backup").returncode == 0
    full_record = (backup_dir / "last_run.json").read_bytes()
    probe(Path(env["SESSIONS_DB_PATH"]), "written after the full run")

    taken = snapshot(env)
    assert taken.returncode == 0, describe(taken)

    assert len(backups_of(backup_dir, "mysql")) == 1
    first, second = sorted(backups_of(backup_dir, "sessions"))
    assert "snapshot" not in read_manifest(first)
    assert read_manifest(second)["snapshot"] is True
    assert (backup_dir / "last_run.json").read_bytes() == full_record
    last = record(env, "last_snapshot.json")
    assert (last["outcome"], last["sessions_snapshot"], list(last["parts"])) == ("success", True, ["sessions"])
    assert last["parts"]["sessions"]["file"] == second.name

    target = tmp_path / "restored" / "sessions.db"
    target.parent.mkdir()
    restored = run_cli(env, "restore", "sessions", "latest", "--target", str(target), "--yes")
    assert restored.returncode == 0, describe(restored)
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT value FROM snapshot_probe").fetchall() == [("written after the full run",)]
    conn.close()
    status = run_cli(env, "status")
    assert status.returncode == 0, describe(status)
    assert "last sessions snapshot: success" in status.stdout


def test_snapshots_are_kept_their_own_hours_under_the_keep_last_floor_and_other_kinds_are_left_alone(
    backup_env: dict[str, str],
) -> None:
    env = dict(backup_env, BACKUP_RETENTION_DAYS="7", BACKUP_KEEP_LAST="2", BACKUP_SESSIONS_SNAPSHOT_HOURS="2")
    backup_dir = Path(env["BACKUP_DIR"])
    snap_3h = plant_backup(backup_dir, "sessions", timedelta(hours=3), snapshot=True)
    snap_4h = plant_backup(backup_dir, "sessions", timedelta(hours=4), snapshot=True)
    full_5h = plant_backup(backup_dir, "sessions", timedelta(hours=5))
    full_10d = plant_backup(backup_dir, "sessions", timedelta(days=10))
    mysql = [plant_backup(backup_dir, "mysql", timedelta(days=age)) for age in (10, 11, 12)]

    taken = snapshot(env)
    assert taken.returncode == 0, describe(taken)

    names = names_in(backup_dir)
    # the new snapshot and the 3-hour one are the newest 2 good backups (the floor); the 4-hour snapshot is older
    # than 2 hours with 2 good ones newer; the 5-hour backup of a full run is younger than 7 days
    assert snap_3h.name in names and full_5h.name in names
    assert snap_4h.name not in names and f"{snap_4h.name}.json" not in names
    assert full_10d.name not in names
    assert all(backup.name in names for backup in mysql), "a snapshot run prunes sessions backups only"
    assert len(backups_of(backup_dir, "sessions")) == 3

    pruned = run_cli(env, "prune")  # the full retention still applies to MySQL: the snapshot run left it alone
    assert pruned.returncode == 0, describe(pruned)
    assert {b.name for b in backups_of(backup_dir, "mysql")} == {mysql[0].name, mysql[1].name}


def test_snapshots_stay_local_while_the_full_runs_backups_go_off_site(offsite_env: dict[str, str]) -> None:
    env = offsite_env
    backup_dir = Path(env["BACKUP_DIR"])
    assert snapshot(env).returncode == 0
    [taken] = backups_of(backup_dir, "sessions")
    assert "offsite" not in read_manifest(taken), "a snapshot run copies nothing off-site"

    full = run_cli(env, "backup")
    assert full.returncode == 0, describe(full)
    copied = [b.name for b in backups_of(backup_dir, "sessions") if "offsite" in read_manifest(b)]
    assert len(copied) == 1 and copied[0] != taken.name
    assert "offsite" not in read_manifest(taken)
    remote = run_cli(env, "list", "--remote")
    assert remote.returncode == 0, describe(remote)
    assert copied[0] in remote.stdout and taken.name not in remote.stdout


def test_a_snapshot_needs_sessions_backups_on(backup_env: dict[str, str]) -> None:
    env = dict(backup_env, BACKUP_SESSIONS_ENABLED="false")
    for args in (("backup", "--sessions-snapshot"), ("backup", "--sessions-snapshot", "--check")):
        refused = run_cli(env, *args)
        assert refused.returncode == 2, describe(refused)
        [line] = stderr_errors(refused)
        assert "BACKUP_SESSIONS_ENABLED is false" in line and "allowed:" in line
    assert not Path(env["BACKUP_DIR"]).exists() or backups_of(Path(env["BACKUP_DIR"]), "sessions") == []


def test_a_snapshot_waits_for_a_run_that_holds_the_lock_then_takes_its_copy(backup_env: dict[str, str]) -> None:
    env = dict(backup_env, BACKUP_MYSQL_ENABLED="false")
    backup_dir = Path(env["BACKUP_DIR"])
    held = hold_lock(backup_dir / ".afirgen-backup.lock")
    try:
        waiting = start_cli(env, "backup", "--sessions-snapshot")
        time.sleep(3)
        assert waiting.poll() is None, "the snapshot gave up instead of waiting for the lock"
        assert backups_of(backup_dir, "sessions") == []
    finally:
        import os

        os.close(held)
    done = finish(waiting, timeout=60)
    assert done.returncode == 0, describe(done)
    assert len(backups_of(backup_dir, "sessions")) == 1


# --- the record and the alerts ----------------------------------------------------------------------------------


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording() as started:
        yield started


def pings(requests: list[Request]) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in requests if r.path.startswith(PING)]


def notified(requests: list[Request]) -> list[str]:
    """The titles of the notifications sent."""
    return [r.json().get("title", "") for r in requests if r.path == HOOK]


def test_a_failed_snapshot_is_told_and_unhealthy_until_a_later_success_and_never_hides_a_failed_full_run(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    env = dict(backup_env, BACKUP_PING_URL=recorder.url(PING), BACKUP_NOTIFY_URLS=recorder.url(HOOK, "json"))
    assert run_cli(env, "backup").returncode == 0
    full_record = record(env, "last_run.json")
    recorder.taken()

    not_sqlite = tmp_path / "not-a-database.db"
    not_sqlite.write_bytes(b"this is no SQLite file " * 100)
    failed = snapshot(dict(env, SESSIONS_DB_PATH=str(not_sqlite)))
    assert failed.returncode == 1, describe(failed)
    assert record(env, "last_snapshot.json")["outcome"] == "failed"
    assert record(env, "last_run.json") == full_record
    requests = recorder.taken()
    assert pings(requests) == [], "a snapshot never pings: the dead-man switch times the full runs"
    [title] = notified(requests)
    assert "FAILED" in title
    status = run_cli(env, "status")
    assert status.returncode == 1 and "last sessions snapshot failed" in status.stdout, describe(status)

    assert snapshot(env).returncode == 0  # sessions.db is fine again
    requests = recorder.taken()
    assert pings(requests) == []
    assert [t for t in notified(requests) if "recovered" in t], notified(requests)
    assert run_cli(env, "status").returncode == 0

    failing_full = run_cli(dict(env, MYSQL_PASSWORD="not the password"), "backup")
    assert failing_full.returncode != 0
    assert [t for t in notified(recorder.taken()) if "FAILED" in t]
    assert snapshot(env).returncode == 0
    assert notified(recorder.taken()) == [], "a snapshot announced a recovery the MySQL part has not made"
    status = run_cli(env, "status")
    assert status.returncode == 1 and "last run failed" in status.stdout, describe(status)

    # a failed snapshot followed by a good full run (which backs up sessions.db too): healthy again
    assert snapshot(dict(env, SESSIONS_DB_PATH=str(not_sqlite))).returncode == 1
    assert run_cli(env, "backup").returncode == 0
    status = run_cli(env, "status")
    assert status.returncode == 0, describe(status)
    assert "last sessions snapshot: failed" in status.stdout


def test_a_good_snapshot_ends_no_alert_while_status_is_unhealthy(
    backup_env: dict[str, str], recorder: Recorder
) -> None:
    """Stale backups (here: no MySQL backup at all): a snapshot's success is no recovery, and no `success` either."""
    env = dict(
        backup_env, BACKUP_NOTIFY_URLS=recorder.url(HOOK, "json"), BACKUP_NOTIFY_ON="failure,recovery,stale,success"
    )
    Path(env["BACKUP_DIR"]).mkdir(mode=0o700)  # status writes nothing but alerts.json, and creates no directory
    checked = run_cli(env, "status", "--notify")
    assert checked.returncode == 1 and "no good mysql backup" in checked.stdout, describe(checked)
    assert [t for t in notified(recorder.taken()) if "STALE" in t]

    assert snapshot(env).returncode == 0
    assert notified(recorder.taken()) == [], "a snapshot announced a recovery status does not see"
    assert record(env, "alerts.json")["state"] == "stale"

    assert run_cli(env, "backup").returncode == 0  # a full run ends it
    assert [t for t in notified(recorder.taken()) if "recovered" in t]


def test_a_full_run_waits_for_a_snapshot_that_holds_the_lock_instead_of_giving_way(
    backup_env: dict[str, str], tmp_path: Path
) -> None:
    """The snapshot holds the lock while it waits for a sessions.db the application keeps locked (rollback
    journal, the application's mode now: a writer keeps readers out); the scheduled full run, started meanwhile,
    waits for it and then backs up both kinds."""
    sessions = tmp_path / "app" / "sessions.db"
    sessions.parent.mkdir()
    probe(sessions, "one row")
    env = dict(backup_env, BACKUP_SESSIONS_LOCK_TIMEOUT="20", SESSIONS_DB_PATH=str(sessions))
    backup_dir = Path(env["BACKUP_DIR"])
    application = sqlite3.connect(sessions, isolation_level=None)
    application.execute("BEGIN EXCLUSIVE")
    try:
        slow_snapshot = start_cli(env, "backup", "--sessions-snapshot")
        lock_file = backup_dir / ".afirgen-backup.lock"
        wait_for_holder(lock_file, "snapshot")
        full = start_cli(env, "backup")
        time.sleep(3)
        assert full.poll() is None, "the full run gave way to a snapshot"
    finally:
        application.execute("ROLLBACK")
        application.close()
    assert finish(slow_snapshot, timeout=60).returncode == 0
    done = finish(full, timeout=120)
    assert done.returncode == 0, describe(done)
    assert record(env, "last_run.json")["outcome"] == "success"
    assert len(backups_of(backup_dir, "mysql")) == 1


def wait_for_holder(lock_file: Path, role: str) -> None:
    deadline = time.monotonic() + 30
    while not (lock_file.exists() and role in lock_file.read_text()):
        assert time.monotonic() < deadline, f"no {role} took the lock"
        time.sleep(0.05)
