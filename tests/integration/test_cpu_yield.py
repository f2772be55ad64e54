"""While the application writes to the database, the backup and its mysqldump leave it a CPU.

The mysqldump wrapper waits a moment (the watcher polls every 0.2 s), then records which CPUs it, and the
backup process that started it, may run on, before it becomes the real mysqldump.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import dump_wrapper, events_named, run_cli
from infrastructure import unavailable
from mariadb_server import MariaDBServer

from afirgen_backup import cpu

pytestmark = pytest.mark.mariadb

ALL = sorted(os.sched_getaffinity(0))


def cpu_list(text: str) -> list[int]:
    """Parse a Cpus_allowed_list such as '0-1,3'."""
    cpus: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def recording_mysqldump(directory: Path) -> Path:
    return dump_wrapper(
        directory,
        "mysqldump-cpus",
        "sleep 1.5\n"
        f"grep Cpus_allowed_list /proc/$$/status | cut -f2 > {directory}/dump_cpus\n"
        f"grep Cpus_allowed_list /proc/$PPID/status | cut -f2 > {directory}/tool_cpus",
    )


def recorded(directory: Path) -> tuple[list[int], list[int]]:
    return (
        cpu_list((directory / "dump_cpus").read_text().strip()),
        cpu_list((directory / "tool_cpus").read_text().strip()),
    )


@pytest.fixture(autouse=True)
def two_cpus() -> None:
    if len(ALL) < 2:
        unavailable("the CPU yield needs at least two CPUs to leave one to the application")


@pytest.fixture
def application(mariadb: MariaDBServer, make_database) -> Iterator[threading.Event]:  # noqa: ANN001
    """Start it with .set(): an application inserting a row every 10 ms into a database of its own."""
    database = make_database("app")
    mariadb.execute("CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20))", database=database)
    go, stop = threading.Event(), threading.Event()

    def write() -> None:
        go.wait()
        conn = mariadb.connect(database)
        try:
            with conn.cursor() as cursor:
                while not stop.wait(0.01):
                    cursor.execute("INSERT INTO events (note) VALUES ('app')")
        finally:
            conn.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield go
    stop.set()
    go.set()
    writer.join(timeout=10)


def test_while_the_application_writes_the_backup_and_mysqldump_leave_it_a_cpu(backup_env, tmp_path, application):
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)))
    application.set()
    result = run_cli(env)
    assert result.returncode == 0, result.stderr
    kept = sorted(cpu.cpus_to_keep(set(ALL)) or ())
    assert recorded(tmp_path) == (kept, kept)
    (finished,) = events_named(env, "backup_finished")
    assert finished["cpu_yield"]["times"] >= 1
    assert finished["cpu_yield"]["seconds"] > 0
    assert finished["cpu_yield"]["cpus"] == kept


def test_without_application_writes_the_backup_uses_every_cpu(backup_env, tmp_path):
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)))
    result = run_cli(env)
    assert result.returncode == 0, result.stderr
    assert recorded(tmp_path) == (ALL, ALL)
    (finished,) = events_named(env, "backup_finished")
    assert finished["cpu_yield"]["times"] == 0


def test_backup_yield_cpu_false_never_confines(backup_env, tmp_path, application):
    env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)), BACKUP_YIELD_CPU="false")
    application.set()
    result = run_cli(env)
    assert result.returncode == 0, result.stderr
    assert recorded(tmp_path) == (ALL, ALL)
    (finished,) = events_named(env, "backup_finished")
    assert finished["cpu_yield"] is None


def test_commits_to_sessions_db_count_as_application_activity_too(backup_env, tmp_path, sessions_db):
    """No MySQL writes: the application only commits to sessions.db (WAL), as AFIRGen's session manager does."""
    stop = threading.Event()

    def commit() -> None:
        conn = sqlite3.connect(sessions_db, timeout=5)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS app_ticks (at REAL)")
            while not stop.wait(0.01):
                with conn:
                    conn.execute("INSERT INTO app_ticks VALUES (julianday('now'))")
        finally:
            conn.close()

    writer = threading.Thread(target=commit, daemon=True)
    writer.start()
    try:
        env = dict(backup_env, MYSQLDUMP_BIN=str(recording_mysqldump(tmp_path)))
        result = run_cli(env)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert result.returncode == 0, result.stderr
    kept = sorted(cpu.cpus_to_keep(set(ALL)) or ())
    assert recorded(tmp_path) == (kept, kept)
