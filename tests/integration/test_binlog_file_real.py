"""sources/mysql/binlog_file.py on binary logs a real server wrote: MariaDB 10.11's own files (closed by FLUSH
BINARY LOGS, still open, closed at shutdown), the copies `mariadb-binlog --read-from-remote-server --raw` makes of
them, a copy cut inside its last event; and one file of Oracle MySQL 9.7 with GTIDs on, and its `mysqlbinlog --raw`
copy."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from infrastructure import unavailable
from mariadb_server import BinlogMariaDBServer, find_program
from mysql_server import BinlogMySQLServer

from afirgen_backup.sources.mysql.binlog_file import BinlogDamaged, iter_events, read_binlog

MARIADB_GTID = re.compile(r"0-1-(\d+)")


def write_rows(server: BinlogMariaDBServer, count: int, *, create: bool = True) -> tuple[int, int]:
    """`count` rows into table `d.t` (made first when `create`), one transaction each; returns the whole seconds
    around it all."""
    started = math.floor(time.time())
    if create:
        server.execute("CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT)")
    for _ in range(count):
        server.execute("INSERT INTO d.t (id, v) SELECT COALESCE(MAX(id), 0) + 1, REPEAT('x', 300) FROM d.t")
    return started, math.ceil(time.time())


def gtid_seq(gtid: str | None) -> int:
    match = MARIADB_GTID.fullmatch(gtid or "")
    assert match, f"{gtid!r} is not a GTID of domain 0 and server 1"
    return int(match.group(1))


def raw_copy(server: BinlogMariaDBServer, name: str, directory: Path) -> Path:
    """The file as `mariadb-binlog --read-from-remote-server --raw` copies it (it stops at the rotation)."""
    program = find_program(("mariadb-binlog", "mysqlbinlog"))
    if program is None:
        unavailable("mariadb-binlog not found")
    directory.mkdir()
    subprocess.run(
        [program, "--no-defaults", "--read-from-remote-server", "--raw", f"--result-file={directory}/"]
        + [f"-h{server.host}", f"-P{server.port}", f"-u{server.user}", name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return directory / name


def test_a_closed_mariadb_binlog_and_its_raw_copy(binlog_mariadb: BinlogMariaDBServer, tmp_path: Path) -> None:
    started, _ = write_rows(binlog_mariadb, 5)
    binlog_mariadb.execute("FLUSH BINARY LOGS")
    ended = math.ceil(time.time())
    own = binlog_mariadb.datadir / "mysql-bin.000001"

    facts = read_binlog(own, allow_partial_tail=False)
    copy = raw_copy(binlog_mariadb, "mysql-bin.000001", tmp_path / "raw")

    assert facts.server_version.startswith("10.") and "MariaDB" in facts.server_version
    assert (facts.ends_with, facts.next_file, facts.checksums, facts.in_use) == (
        "rotate",
        "mysql-bin.000002",
        True,
        False,
    )
    assert facts.size == facts.last_position == own.stat().st_size and facts.truncated_bytes == 0
    assert facts.server_id == 1
    assert facts.first_event_time is not None and facts.last_event_time is not None
    assert started <= facts.last_event_time <= ended
    first, last = gtid_seq(facts.first_gtid), gtid_seq(facts.last_gtid)
    assert first == 1 and last == 7  # CREATE DATABASE, CREATE TABLE, five INSERTs
    headers = list(iter_events(own))
    assert [h.type_name for h in headers[:3]] == [
        "FORMAT_DESCRIPTION_EVENT",
        "GTID_LIST_EVENT",
        "BINLOG_CHECKPOINT_EVENT",
    ]
    assert [h.type_name for h in headers[-3:]] == ["WRITE_ROWS_EVENT_V1", "XID_EVENT", "ROTATE_EVENT"]
    assert sum(h.type_name == "GTID_EVENT" for h in headers) == last - first + 1
    # The earliest event is the format description, written when the server started (before the test's window).
    assert facts.first_event_time == headers[0].timestamp <= started
    transactions = headers[[h.type_name for h in headers].index("GTID_EVENT") :]
    assert all(started <= h.timestamp <= ended for h in transactions)
    assert copy.read_bytes() == own.read_bytes()
    assert read_binlog(copy, allow_partial_tail=False) == facts


def test_the_mariadb_binlog_being_written(binlog_mariadb: BinlogMariaDBServer, tmp_path: Path) -> None:
    write_rows(binlog_mariadb, 2)
    binlog_mariadb.execute("FLUSH BINARY LOGS")
    closed = read_binlog(binlog_mariadb.datadir / "mysql-bin.000001", allow_partial_tail=False)
    started, ended = write_rows(binlog_mariadb, 3, create=False)
    current = binlog_mariadb.datadir / "mysql-bin.000002"

    facts = read_binlog(current, allow_partial_tail=True)

    assert (facts.ends_with, facts.next_file, facts.in_use, facts.truncated_bytes) == ("open", None, True, 0)
    assert facts.size == facts.last_position == current.stat().st_size
    assert gtid_seq(facts.first_gtid) == gtid_seq(closed.last_gtid) + 1
    assert gtid_seq(facts.last_gtid) == gtid_seq(closed.last_gtid) + 3
    assert facts.last_event_time is not None and started <= facts.last_event_time <= ended
    # The server clears the in-use flag of what it sends: the copy differs from the file in that bit only.
    copy = read_binlog(raw_copy(binlog_mariadb, "mysql-bin.000002", tmp_path / "raw"), allow_partial_tail=False)
    assert copy == dataclasses.replace(facts, in_use=False)


def test_a_mariadb_binlog_cut_inside_its_last_event(binlog_mariadb: BinlogMariaDBServer, tmp_path: Path) -> None:
    write_rows(binlog_mariadb, 1)
    binlog_mariadb.execute("FLUSH BINARY LOGS")
    cut = tmp_path / "mysql-bin.000001"
    shutil.copyfile(binlog_mariadb.datadir / "mysql-bin.000001", cut)
    whole = cut.stat().st_size
    rotate = list(iter_events(cut))[-1]
    with cut.open("r+b") as handle:
        handle.truncate(whole - 7)

    with pytest.raises(BinlogDamaged) as caught:
        read_binlog(cut, allow_partial_tail=False)
    partial = read_binlog(cut, allow_partial_tail=True)

    assert str(caught.value).startswith(f"binary log mysql-bin.000001 is damaged at byte {rotate.offset}: ROTATE_EVENT")
    assert (partial.ends_with, partial.size, partial.truncated_bytes) == ("open", rotate.offset, rotate.size - 7)
    assert partial.last_position == rotate.offset


def test_a_mariadb_binlog_closed_at_shutdown_ends_with_stop(binlog_mariadb: BinlogMariaDBServer) -> None:
    write_rows(binlog_mariadb, 1)
    binlog_mariadb.stop()

    facts = read_binlog(binlog_mariadb.datadir / "mysql-bin.000001", allow_partial_tail=False)

    assert (facts.ends_with, facts.next_file, facts.in_use, facts.checksums) == ("stop", None, False, True)
    assert gtid_seq(facts.last_gtid) == 3


def test_a_closed_mysql_binlog_with_gtids(binlog_mysql: BinlogMySQLServer, tmp_path: Path) -> None:
    started = math.floor(time.time())
    binlog_mysql.execute(
        "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT)", "INSERT INTO d.t VALUES (1, 'a')"
    )
    binlog_mysql.execute("INSERT INTO d.t VALUES (2, 'b')", "FLUSH BINARY LOGS")
    ended = math.ceil(time.time())
    with binlog_mysql.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT @@server_uuid")
        (server_uuid,) = cur.fetchone()
    own = binlog_mysql.datadir / "mysql-bin.000001"

    facts = read_binlog(own, allow_partial_tail=False)

    assert facts.server_version.startswith("9.")
    assert (facts.ends_with, facts.next_file, facts.checksums, facts.server_id) == (
        "rotate",
        "mysql-bin.000002",
        True,
        1,
    )
    assert facts.size == facts.last_position == own.stat().st_size
    assert facts.first_event_time is not None and facts.last_event_time is not None
    assert facts.first_event_time <= started <= facts.last_event_time <= ended  # the first: server start
    assert (facts.first_gtid, facts.last_gtid) == (f"{server_uuid}:1", f"{server_uuid}:4")
    directory = tmp_path / "raw"
    directory.mkdir()
    subprocess.run(
        [*binlog_mysql.binlog_command(), "--read-from-remote-server", "--raw", f"--result-file={directory}/"]
        + [f"-h{binlog_mysql.host}", f"-P{binlog_mysql.port}", "-uroot", "mysql-bin.000001"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (directory / "mysql-bin.000001").read_bytes() == own.read_bytes()
