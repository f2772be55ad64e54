"""A sessions.db that the application keeps locked: the sessions part waits a bounded time, and SIGTERM ends the wait.

In rollback-journal mode a write transaction (here `BEGIN EXCLUSIVE`, held by a real process) keeps every reader
out until it ends, so the online backup cannot read the file. The wait is bounded by BACKUP_SESSIONS_LOCK_TIMEOUT and
sleeps in Python, where a SIGTERM is handled at once (SQLite's busy handler would sleep inside C). The MySQL part
does not depend on it and is backed up all the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from helpers import (
    backups_of,
    describe,
    finish,
    leftovers_in,
    log_events,
    run_cli,
    start_cli,
    stderr_errors,
    wait_for,
)

from afirgen_backup.errors import SourceUnavailable
from afirgen_backup.sources.sqlite import copy as sqlite

HOLD_SCRIPT = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
print("released", flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def held_locked(path: Path, seconds: float = 120) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `BEGIN EXCLUSIVE` on the database for `seconds` (then it commits and idles)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def event_time(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def events_of(backup_dir: Path) -> list[dict[str, object]]:
    log = backup_dir / "backup.log"
    return log_events(log) if log.exists() else []


# --- the source module alone ------------------------------------------------------------------------------------


def test_a_locked_source_is_given_up_after_the_lock_timeout(sessions_db_rollback: Path, tmp_path: Path) -> None:
    with held_locked(sessions_db_rollback):
        began = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            sqlite.snapshot_sessions(sessions_db_rollback, tmp_path / "copy.db", lock_timeout=1)
        waited = time.monotonic() - began

    assert 1 <= waited < 2, waited
    assert "BACKUP_SESSIONS_LOCK_TIMEOUT=1" in str(caught.value) and "locked" in str(caught.value)


def test_a_lock_released_within_the_timeout_is_waited_for(sessions_db_rollback: Path, tmp_path: Path) -> None:
    with held_locked(sessions_db_rollback, seconds=1):
        began = time.monotonic()
        copy = sqlite.snapshot_sessions(sessions_db_rollback, tmp_path / "copy.db", lock_timeout=30)
        waited = time.monotonic() - began

    assert 0.8 <= waited < 5, waited
    assert copy.integrity == "ok" and copy.tables


def test_a_lock_timeout_of_zero_gives_up_at_once(sessions_db_rollback: Path, tmp_path: Path) -> None:
    with held_locked(sessions_db_rollback):
        began = time.monotonic()
        with pytest.raises(SourceUnavailable, match="BACKUP_SESSIONS_LOCK_TIMEOUT=0"):
            sqlite.snapshot_sessions(sessions_db_rollback, tmp_path / "copy.db", lock_timeout=0)
    assert time.monotonic() - began < 0.5


# --- the real CLI -----------------------------------------------------------------------------------------------


@pytest.mark.mariadb
def test_a_locked_sessions_db_fails_its_part_after_the_timeout_and_mysql_is_still_backed_up(
    backup_env: dict[str, str], sessions_db_rollback: Path
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_env.update({"SESSIONS_DB_PATH": str(sessions_db_rollback), "BACKUP_SESSIONS_LOCK_TIMEOUT": "2"})

    with held_locked(sessions_db_rollback) as holder:
        result = run_cli(backup_env, timeout=120)
        assert holder.poll() is None, "the lock was held throughout"

    assert result.returncode == 1, describe(result)
    [error] = stderr_errors(result)
    assert error.startswith(f"error: sessions backup failed: cannot read {sessions_db_rollback}: "), error
    assert "held it locked for 2 s" in error and "BACKUP_SESSIONS_LOCK_TIMEOUT=2" in error, error
    assert "Traceback" not in result.stderr
    assert len(backups_of(backup_dir, "mysql")) == 1 and backups_of(backup_dir, "sessions") == []
    assert leftovers_in(backup_dir) == []
    events = log_events(backup_dir / "backup.log")
    [started] = [e for e in events if e["event"] == "sessions_copy_started"]
    [failed] = [e for e in events if e["event"] == "part_failed" and e.get("part") == "sessions"]
    waited = event_time(failed) - event_time(started)
    assert 2 <= waited < 3.5, f"the sessions part waited {waited:.2f} s for a 2 s BACKUP_SESSIONS_LOCK_TIMEOUT"


@pytest.mark.mariadb
def test_sigterm_ends_the_wait_for_a_locked_sessions_db_within_a_second(
    backup_env: dict[str, str], sessions_db_rollback: Path
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    backup_env["SESSIONS_DB_PATH"] = str(sessions_db_rollback)  # the default BACKUP_SESSIONS_LOCK_TIMEOUT: 60 s

    with held_locked(sessions_db_rollback):
        cli = start_cli(backup_env)
        try:
            wait_for(
                lambda: any(e["event"] == "sessions_copy_started" for e in events_of(backup_dir)),
                120,
                "the sessions part to start",
                interval=0.05,
            )
            time.sleep(1.0)  # well into the wait
            assert cli.poll() is None, "still waiting for the lock"
            os.kill(cli.pid, signal.SIGTERM)
            signalled = time.monotonic()
            result = finish(cli, timeout=30)
            took = time.monotonic() - signalled
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()

    assert result.returncode == 143, describe(result)
    assert took < 1.5, f"the run took {took:.2f} s to end after SIGTERM"
    assert "Traceback" not in result.stderr
    assert leftovers_in(backup_dir) == []
    assert len(backups_of(backup_dir, "mysql")) == 1 and backups_of(backup_dir, "sessions") == []
    assert json.loads((backup_dir / "last_run.json").read_text())["outcome"] == "interrupted"
