"""The binary log clients' command lines by flavor (binlog-stream's streamer), and how the flavor is read from
`--version`."""

from __future__ import annotations

from pathlib import Path

import pytest

from afirgen_backup.config import Settings
from afirgen_backup.sources.mysql.binlog_stream import streamer_argv
from afirgen_backup.sources.mysql.server import Flavor, binlog_status_statement, parse_binlog_client_version

SETTINGS = Settings(mysql_host="db.internal", mysql_port=3307, binlog_bin="/usr/bin/mysqlbinlog", backup_dir=Path("/b"))
MARIADB = Flavor("mariadb", (0,))
MYSQL_9_7 = Flavor("mysql", (9, 7, 4))
DEFAULTS = "--defaults-extra-file=/dev/fd/7"


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
