"""The CPU yielder's parts: when to confine, which CPUs to keep, what counts as activity, and the real affinity."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pymysql
import pytest
from infrastructure import unavailable

from afirgen_backup import cpu
from afirgen_backup.sources.mysql.server import ServerWrites
from afirgen_backup.sources.sqlite.copy import FileWatch


@pytest.mark.parametrize(
    ("allowed", "kept"),
    [({0}, None), ({0, 1}, {1}), ({3}, None), ({2, 5, 7}, {5, 7}), (set(range(8)), set(range(1, 8)))],
)
def test_a_confined_backup_keeps_every_allowed_cpu_but_the_lowest(allowed, kept):
    assert cpu.cpus_to_keep(allowed) == kept


# (seconds, what the sources read) -> what observe() returns; quiet period 2 s
POLICY_TABLE = [
    ("the first reading is the baseline, not activity", [(0.0, 5)], [None]),
    ("no change: never confined", [(0.0, 5), (0.2, 5), (0.4, 5)], [None, None, None]),
    ("a change confines at once", [(0.0, 5), (0.2, 6)], [None, True]),
    ("confined until 2 s pass without a change", [(0.0, 5), (0.2, 6), (1.0, 6), (2.1, 6), (2.2, 6)],
     [None, True, None, None, False]),
    ("every change restarts the quiet period", [(0.0, 5), (0.2, 6), (2.0, 7), (3.9, 7), (4.0, 7)],
     [None, True, None, None, False]),
    ("confined again on the next change", [(0.0, 1), (0.2, 2), (2.3, 2), (5.0, 3)], [None, True, False, True]),
    ("tuples of several sources: any member changing counts",
     [(0.0, (5, (1, 10))), (0.2, (5, (1, 10))), (0.4, (5, (2, 11)))], [None, None, True]),
    ("a source turning unreadable counts as one change", [(0.0, (5, None)), (0.2, (5, (1, 1)))], [None, True]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "readings", "expected"), POLICY_TABLE, ids=[row[0] for row in POLICY_TABLE])
def test_policy(case, readings, expected):
    policy = cpu.Policy(quiet=2.0)
    assert [policy.observe(t, token) for t, token in readings] == expected


def test_file_changes_sees_commits_to_the_database_and_its_wal(tmp_path: Path):
    db = tmp_path / "sessions.db"
    read = FileWatch(db)
    assert read() == (None, None, None)
    db.write_bytes(b"x" * 10)
    first = read()
    assert first[0] is not None and first[1:] == (None, None)
    assert read() == first  # reading it changes nothing
    (tmp_path / "sessions.db-wal").write_bytes(b"y" * 20)
    second = read()
    assert second != first and second[1] is not None and second[1][1] == 20


def test_file_changes_ignores_what_a_reader_does_to_the_wal(tmp_path: Path):
    """A reader running as root fchowns the -wal it opens (same owner, new ctime): no write, no activity."""
    db = tmp_path / "sessions.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.commit()  # the writer stays open: its -wal stays
    read = FileWatch(db)
    before = read()
    wal = tmp_path / "sessions.db-wal"
    ctime = wal.stat().st_ctime_ns
    time.sleep(0.01)
    os.chown(wal, wal.stat().st_uid, wal.stat().st_gid)
    assert wal.stat().st_ctime_ns != ctime
    assert read() == before
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    assert read() != before
    writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_cannot_be_watched_reads_as_no_activity_and_is_tried_once():
    attempts = []
    port = free_port()  # nothing listens there: a real refused connection

    def connect():  # noqa: ANN202
        attempts.append(port)
        return pymysql.connect(host="127.0.0.1", port=port, user="nobody", connect_timeout=2)

    watch = ServerWrites(connect)
    assert watch() is None
    assert watch() is None
    assert attempts == [port]
    assert watch.failed
    watch.close()


@pytest.fixture
def two_cpus() -> set[int]:
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        unavailable("the CPU yield needs at least two CPUs")
    return allowed


def allowed_cpus(pid: int | str) -> set[int]:
    return os.sched_getaffinity(int(pid))


def test_the_yielder_confines_this_process_and_adopted_children_and_gives_them_back(two_cpus, monkeypatch):
    monkeypatch.setattr(cpu, "POLL_SECONDS", 0.02)
    activity = [0]
    yielder = cpu.Yielder(lambda: activity[0], allowed=two_cpus)
    yielder.policy.quiet = 0.3
    child = subprocess.Popen(["sleep", "30"])
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    try:
        yielder.adopt(child.pid)
        yielder.start()
        time.sleep(0.1)
        assert allowed_cpus(0) == two_cpus  # no activity yet
        activity[0] += 1
        deadline = time.monotonic() + 5
        while allowed_cpus(0) == two_cpus and time.monotonic() < deadline:
            time.sleep(0.01)
        kept = cpu.cpus_to_keep(two_cpus)
        assert allowed_cpus(0) == kept
        assert allowed_cpus(child.pid) == kept
        assert all(allowed_cpus(tid) == kept for tid in tids if Path(f"/proc/self/task/{tid}").exists())
        later = subprocess.Popen(["sleep", "30"])
        yielder.adopt(later.pid)  # adopted while confined: confined at once
        assert allowed_cpus(later.pid) == kept
        deadline = time.monotonic() + 5
        while allowed_cpus(0) != two_cpus and time.monotonic() < deadline:
            time.sleep(0.01)
        assert allowed_cpus(0) == two_cpus  # quiet for 0.3 s: released
        assert allowed_cpus(child.pid) == two_cpus
        assert allowed_cpus(later.pid) == two_cpus
        later.kill()
        later.wait()
    finally:
        yielder.stop()
        child.kill()
        child.wait()
        os.sched_setaffinity(0, two_cpus)
    assert yielder.confinements == 1
    assert 0.25 < yielder.confined_seconds < 5


def test_a_failing_activity_source_ends_the_confinement_not_the_process(two_cpus, monkeypatch):
    monkeypatch.setattr(cpu, "POLL_SECONDS", 0.02)
    readings = iter([1, 2])

    def read() -> int:
        return next(readings)  # the third reading raises StopIteration

    yielder = cpu.Yielder(read, allowed=two_cpus)
    try:
        yielder.start()
        assert yielder._thread is not None
        yielder._thread.join(timeout=5)
        assert not yielder._thread.is_alive()
        assert yielder.confinements == 1
        assert allowed_cpus(0) == two_cpus
    finally:
        yielder.stop()
        os.sched_setaffinity(0, two_cpus)
