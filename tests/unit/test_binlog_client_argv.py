"""The binary log clients' command lines by flavor (binlog-stream's streamer, a point-in-time restore's replay),
how the flavor is read from `--version`, and what a MySQL replay refuses that MariaDB's filters out."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afirgen_backup.config import Settings
from afirgen_backup.errors import VerificationFailed
from afirgen_backup.sources.mysql.binlog_events import check_not_on
from afirgen_backup.sources.mysql.binlog_replay import Point, ReplayPlan, replay_argv
from afirgen_backup.sources.mysql.binlog_stream import streamer_argv
from afirgen_backup.sources.mysql.server import Flavor, binlog_status_statement, parse_binlog_client_version

SETTINGS = Settings(mysql_host="db.internal", mysql_port=3307, binlog_bin="/usr/bin/mysqlbinlog", backup_dir=Path("/b"))
MARIADB = Flavor("mariadb", (0,))
MYSQL_9_7 = Flavor("mysql", (9, 7, 4))
DEFAULTS = "--defaults-extra-file=/dev/fd/7"
PLAN = ReplayPlan(
    "mysql-bin.000003",
    1234,
    (),
    Point(time=datetime(2026, 12, 5, 7, 15, 20, tzinfo=UTC)),
    reaches="",
    current_until=None,
)
FILES = [Path("/w/mysql-bin.000003"), Path("/w/mysql-bin.000004")]


@pytest.mark.parametrize(
    ("text", "name", "version"),
    [
        ("/usr/bin/mysqlbinlog  Ver 9.7.4-2 for Linux on x86_64 ((Debian))", "mysql", (9, 7, 4)),
        ("mysqlbinlog  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)", "mysql", (8, 4, 3)),
        ("mariadb-binlog Ver 3.5 for debian-linux-gnu at x86_64", "mariadb", (0,)),
        ("mysqlbinlog Ver 3.5 for debian-linux-gnu at x86_64", "mariadb", (0,)),
        ("mariadb-binlog from 11.4.2-MariaDB, client 3.5 for linux-systemd (x86_64)", "mariadb", (11, 4, 2)),
    ],
)
def test_the_binlog_clients_flavor_is_read_from_its_version_output(text, name, version):
    found = parse_binlog_client_version(text)
    assert (found.name, found.version) == (name, version)


@pytest.mark.parametrize(
    ("flavor", "statement"),
    [
        (Flavor("mysql", (9, 7, 4)), "SHOW BINARY LOG STATUS"),
        (Flavor("mysql", (8, 4, 3)), "SHOW BINARY LOG STATUS"),
        (Flavor("mysql", (8, 0, 40)), "SHOW MASTER STATUS"),
        (Flavor("mariadb", (11, 4, 2)), "SHOW MASTER STATUS"),
    ],
)
def test_the_servers_binlog_position_is_asked_in_its_own_words(flavor, statement):
    assert binlog_status_statement(flavor) == statement


@pytest.mark.parametrize(
    ("client", "server_id"),
    [(MARIADB, "--stop-never-slave-server-id=4200000001"), (MYSQL_9_7, "--connection-server-id=4200000001")],
    ids=["mariadb-binlog", "mysqlbinlog 9.7"],
)
def test_the_streamers_argv_for_each_flavor(client, server_id):
    argv = streamer_argv(SETTINGS, client, DEFAULTS, "mysql-bin.000007")
    assert argv == [
        "/usr/bin/mysqlbinlog",
        DEFAULTS,
        "--host=db.internal",
        "--port=3307",
        "--protocol=TCP",
        "--read-from-remote-server",
        "--raw",
        "--stop-never",
        server_id,
        "--result-file=/b/binlog/.stream/",
        "mysql-bin.000007",
    ]


@pytest.mark.parametrize(
    ("client", "options"),
    [
        (MARIADB, ["--database=fir_db", "--rewrite-db=fir_db->fir_db_restore_x", "--skip-annotate-row-events"]),
        (MYSQL_9_7, ["--database=fir_db_restore_x", "--rewrite-db=fir_db->fir_db_restore_x", "--skip-gtids"]),
    ],
    ids=["mariadb-binlog: filters, then rewrites", "mysqlbinlog 9.7: rewrites, then filters; no GTIDs"],
)
def test_the_replays_argv_for_each_flavor(client, options):
    argv = replay_argv(SETTINGS, client, PLAN, FILES, "fir_db", "fir_db_restore_x")
    assert argv == [
        "/usr/bin/mysqlbinlog",
        "--no-defaults",
        "--start-position=1234",
        "--stop-datetime=2026-12-05 07:15:21",
        *options,
        "/w/mysql-bin.000003",
        "/w/mysql-bin.000004",
    ]


def query_body(database: bytes, statement: bytes) -> bytes:
    """A QUERY_EVENT body: thread id, time, database length, error code, no status variables; then the names."""
    return struct.pack("<IIBHH", 1, 0, len(database), 0, 0) + database + b"\0" + statement


def table_map_body(database: bytes, table: bytes) -> bytes:
    return struct.pack("<Q", 42)[:6] + b"\0\0" + bytes([len(database)]) + database + b"\0" + bytes([len(table)]) + table


@pytest.mark.parametrize(
    ("type_code", "body"),
    [
        (2, query_body(b"fir_db_restore_x", b"CREATE DATABASE fir_db_restore_x")),
        (19, table_map_body(b"fir_db_restore_x", b"fir")),
    ],
    ids=["a statement", "rows"],
)
def test_a_mysql_replay_refuses_what_the_log_holds_under_the_staging_databases_own_name(type_code, body):
    with pytest.raises(VerificationFailed, match="the database being restored into"):
        check_not_on("fir_db_restore_x", type_code, body, b"", "mysql-bin.000003 at 400")

    check_not_on("fir_db_restore_x", type_code, body.replace(b"_restore_x", b"_other_y"), b"", "mysql-bin.000003 at 4")
