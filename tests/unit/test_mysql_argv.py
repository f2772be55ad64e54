"""The mysqldump command line for each client/server pair, and what the dump of a pair must work around."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from afirgen_backup.config import Settings
from afirgen_backup.errors import BackupError
from afirgen_backup.sources.mysql.dump import (
    BASE_DUMP_OPTIONS,
    binlog_position,
    build_dump_argv,
    check_pair,
    ends_with_trailer,
    redact_argv,
)
from afirgen_backup.sources.mysql.grants import (
    BinaryLog,
    Grant,
    Grants,
    missing_for_binlog_position,
    missing_for_pitr,
)
from afirgen_backup.sources.mysql.server import (
    Flavor,
    Inventory,
    is_generated,
    parse_client_version,
    parse_server_version,
)

SETTINGS = Settings(mysql_host="db.internal", mysql_port=3307, mysql_db="fir_db", mysqldump_bin="/usr/bin/mysqldump")
DEFAULTS = "--defaults-extra-file=/dev/fd/7"
PLAIN = Inventory(("fir_records",), (), (), (), (), (), (), (), {"fir_records": 3})
VERSIONED = dataclasses.replace(PLAIN, versioned_tables=("audit",), tables=("audit", "fir_records"))
WITH_SEQUENCE = dataclasses.replace(PLAIN, sequences=("fir_number_seq",))

MARIADB_10_11 = Flavor("mariadb", (10, 11, 19))
MARIADB_10_6 = Flavor("mariadb", (10, 6, 20))
MYSQL_8_0 = Flavor("mysql", (8, 0, 40))
MYSQL_8_4 = Flavor("mysql", (8, 4, 3))
MYSQL_9_7 = Flavor("mysql", (9, 7, 4))
LOGGING = dataclasses.replace(PLAIN, binary_log=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)", MARIADB_10_11),
        ("mariadb-dump from 11.4.2-MariaDB, client 10.19 for linux-systemd (x86_64)", Flavor("mariadb", (11, 4, 2))),
        ("mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)", MYSQL_8_0),
        ("mysqldump  Ver 8.4.3 for Linux on aarch64 (MySQL Community Server - GPL)", MYSQL_8_4),
        ("mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)", Flavor("mysql", (5, 7, 44))),
    ],
)
def test_client_flavor_and_version_are_read_from_version_output(text, expected):
    found = parse_client_version(text)
    assert (found.name, found.version) == (expected.name, expected.version)


@pytest.mark.parametrize(
    ("version", "comment", "name", "numbers"),
    [
        ("10.11.19-MariaDB-0+deb12u1", "Debian 12", "mariadb", (10, 11, 19)),
        ("5.5.5-10.6.20-MariaDB", "mariadb.org binary distribution", "mariadb", (10, 6, 20)),
        ("8.0.40", "MySQL Community Server - GPL", "mysql", (8, 0, 40)),
        ("8.0.35", "Source distribution", "mysql", (8, 0, 35)),
    ],
)
def test_server_flavor_and_version_are_read_from_version_and_comment(version, comment, name, numbers):
    found = parse_server_version(version, comment)
    assert (found.name, found.version) == (name, numbers)


def common_prefix() -> list[str]:
    return ["/usr/bin/mysqldump", DEFAULTS, "--host=db.internal", "--port=3307", "--protocol=TCP", *BASE_DUMP_OPTIONS]


@pytest.mark.parametrize(
    ("client", "server", "inventory", "extra"),
    [
        (MARIADB_10_11, MARIADB_10_11, PLAIN, []),
        (MARIADB_10_11, MARIADB_10_11, VERSIONED, ["--dump-history"]),
        (MARIADB_10_11, MYSQL_8_0, PLAIN, []),
        (MARIADB_10_11, MYSQL_8_0, VERSIONED, []),
        (MYSQL_8_0, MYSQL_8_0, PLAIN, ["--set-gtid-purged=OFF"]),
        (MYSQL_8_4, MYSQL_8_4, PLAIN, ["--set-gtid-purged=OFF"]),
        (MYSQL_8_0, MARIADB_10_11, PLAIN, ["--set-gtid-purged=OFF", "--column-statistics=0"]),
        (MYSQL_8_4, MARIADB_10_6, PLAIN, ["--set-gtid-purged=OFF", "--column-statistics=0"]),
    ],
    ids=[
        "mariadb client, mariadb server",
        "mariadb client, mariadb server with system-versioned tables",
        "mariadb client, mysql 8.0 server",
        "mariadb client, mysql server: no --dump-history",
        "mysql 8.0 client and server",
        "mysql 8.4 client and server",
        "mysql 8.0 client, mariadb server",
        "mysql 8.4 client, mariadb 10.6 server",
    ],
)
def test_dump_argv_for_each_client_and_server(client, server, inventory, extra):
    argv = build_dump_argv(SETTINGS, client, server, inventory, DEFAULTS)
    assert argv == [*common_prefix(), *extra, "fir_db"]


def test_dump_argv_holds_no_password_and_no_databases_option():
    settings = dataclasses.replace(SETTINGS, mysql_password="s3cret pass")
    argv = build_dump_argv(settings, MARIADB_10_11, MARIADB_10_11, VERSIONED, DEFAULTS)
    assert not any("s3cret" in arg for arg in argv)
    assert "--databases" not in argv and "-B" not in argv
    assert argv[1] == DEFAULTS, "a defaults file must be the first option"
    assert {"--single-transaction", "--quick", "--routines", "--triggers", "--events", "--hex-blob"} <= set(argv)
    assert "--lock-tables" not in argv and "--lock-all-tables" not in argv


def test_redacted_argv_drops_the_defaults_file():
    argv = build_dump_argv(SETTINGS, MARIADB_10_11, MARIADB_10_11, PLAIN, DEFAULTS)
    assert DEFAULTS not in redact_argv(argv) and len(redact_argv(argv)) == len(argv) - 1


@pytest.mark.parametrize(
    ("client", "inventory", "message"),
    [
        (MYSQL_8_0, WITH_SEQUENCE, "cannot dump MariaDB sequences"),
        (MYSQL_8_0, VERSIONED, "system-versioned history"),
        (MARIADB_10_6, VERSIONED, "use a MariaDB 10.11 or newer client"),
    ],
)
def test_a_client_that_would_lose_mariadb_features_is_refused(client, inventory, message):
    with pytest.raises(BackupError, match=message) as refused:
        check_pair(client, MARIADB_10_11, inventory)

    assert refused.value.exit_code == 2  # a setting (MYSQLDUMP_BIN) must change


def test_a_client_that_loses_nothing_is_accepted():
    check_pair(MYSQL_8_0, MARIADB_10_11, PLAIN)
    check_pair(MARIADB_10_11, MARIADB_10_11, VERSIONED)
    check_pair(MARIADB_10_11, MYSQL_8_0, PLAIN)


@pytest.mark.parametrize(
    ("tail", "complete"),
    [
        (b"INSERT INTO t VALUES (1);\n\n-- Dump completed on 2026-11-26 12:00:00\n", True),
        (b"/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed\n", True),
        (b"INSERT INTO t VALUES (1),(2", False),
        (b"-- Dump completed on 2026-11-26\nINSERT INTO t VALUES (1);\n", False),
        (b"", False),
    ],
)
def test_a_dump_is_complete_only_when_it_ends_with_the_trailer(tail, complete):
    assert (ends_with_trailer(tail) is not None) is complete


@pytest.mark.parametrize(
    ("extra", "generated"),
    [
        ("VIRTUAL GENERATED", True),
        ("STORED GENERATED", True),
        ("VIRTUAL GENERATED INVISIBLE", True),
        ("DEFAULT_GENERATED", False),
        ("DEFAULT_GENERATED on update CURRENT_TIMESTAMP", False),
        ("auto_increment", False),
        ("INVISIBLE", False),
        ("", False),
    ],
)
def test_only_virtual_and_stored_columns_count_as_generated(extra: str, generated: bool) -> None:
    assert is_generated(extra) is generated


@pytest.mark.parametrize(
    ("client", "server", "may_lock", "extra"),
    [
        (MARIADB_10_11, MARIADB_10_11, False, ["--master-data=2", "--gtid"]),
        (MYSQL_9_7, MYSQL_9_7, True, ["--set-gtid-purged=OFF", "--source-data=2"]),
        (MYSQL_8_4, MYSQL_8_4, True, ["--set-gtid-purged=OFF", "--source-data=2"]),
        (MYSQL_9_7, MYSQL_9_7, False, ["--set-gtid-purged=OFF"]),
        (Flavor("mysql", (8, 0, 25)), MYSQL_8_4, True, ["--set-gtid-purged=OFF"]),
        (MARIADB_10_11, MYSQL_9_7, True, []),
    ],
    ids=[
        "mariadb: no lock, no privilege more",
        "mysql 9.7: the user may lock",
        "mysql 8.4: the user may lock",
        "mysql: the user may not lock",
        "mysql client before --source-data",
        "mariadb client, mysql server (no SHOW MASTER STATUS on 8.4+)",
    ],
)
def test_a_dump_of_a_server_with_a_binary_log_records_its_coordinates_where_the_pair_can(
    client, server, may_lock, extra
):
    argv = build_dump_argv(SETTINGS, client, server, LOGGING, DEFAULTS, may_lock=may_lock)
    assert argv == [*common_prefix(), *extra, "fir_db"]


@pytest.mark.parametrize(
    ("head", "file", "position", "gtid"),
    [
        (
            b"--\n-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000007', MASTER_LOG_POS=4242;\n"
            b"-- SET GLOBAL gtid_slave_pos='0-1-99';\n",
            "mysql-bin.000007",
            4242,
            "0-1-99",
        ),
        (
            b"--\n-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000012', SOURCE_LOG_POS=2853;\n\n",
            "binlog.000012",
            2853,
            None,
        ),
    ],
    ids=["mariadb-dump --master-data=2 --gtid", "mysqldump --source-data=2"],
)
def test_binlog_coordinates_are_read_from_the_dumps_comments(head, file, position, gtid):
    seen = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    found = binlog_position(head, b"-- Dump completed\n", seen)
    assert found == {
        "file": file,
        "position": position,
        "gtid": gtid,
        "snapshot_before": "2026-12-05T07:00:00.000000+00:00",
    }


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        ((), ["RELOAD (or FLUSH_TABLES)", "REPLICATION CLIENT"]),
        (("RELOAD", "REPLICATION CLIENT"), []),
        (("FLUSH_TABLES", "SUPER"), []),
        (("ALL PRIVILEGES",), []),
        (("RELOAD",), ["REPLICATION CLIENT"]),
    ],
)
def test_what_a_mysql_dump_needs_to_record_its_coordinates(granted, missing):
    grants = Grants([Grant(frozenset(granted), None), Grant(frozenset({"REPLICATION CLIENT"}), "fir_db")])
    found = missing_for_binlog_position(grants, MYSQL_9_7, "'b'@'%'")
    assert [m.what for m in found] == missing
    assert missing_for_binlog_position(Grants(), MARIADB_10_11, "'b'@'%'") == []


ROW_LOG = BinaryLog(True, "ROW")
MARIADB_11_4 = Flavor("mariadb", (11, 4, 2))


@pytest.mark.parametrize(
    ("flavor", "granted", "log", "missing"),
    [
        (
            MYSQL_9_7,
            (),
            ROW_LOG,
            [
                "REPLICATION SLAVE",
                "REPLICATION CLIENT",
                "RELOAD (or FLUSH_TABLES)",
                "SESSION_VARIABLES_ADMIN (or SYSTEM_VARIABLES_ADMIN)",
                "BINLOG_ADMIN",
            ],
        ),
        (MYSQL_9_7, ("REPLICATION SLAVE", "SUPER", "FLUSH_TABLES"), ROW_LOG, []),
        (
            MYSQL_9_7,
            ("REPLICATION SLAVE", "REPLICATION CLIENT", "RELOAD", "SYSTEM_VARIABLES_ADMIN"),
            ROW_LOG,
            ["BINLOG_ADMIN"],
        ),
        (
            MARIADB_10_11,
            (),
            BinaryLog(False, "MIXED"),
            [
                "log_bin OFF on the server",
                "REPLICATION SLAVE",
                "BINLOG MONITOR (or REPLICATION CLIENT)",
                "BINLOG ADMIN",
                "BINLOG REPLAY",
            ],
        ),
        (MARIADB_10_11, ("REPLICATION REPLICA", "SUPER"), BinaryLog(True, "MIXED"), ["binlog_format MIXED, not ROW"]),
        (
            MARIADB_11_4,
            ("REPLICATION SLAVE", "SUPER"),
            ROW_LOG,
            ["BINLOG ADMIN", "BINLOG REPLAY"],
        ),
        (MARIADB_11_4, ("REPLICATION SLAVE", "REPLICATION CLIENT", "BINLOG ADMIN", "BINLOG REPLAY"), ROW_LOG, []),
    ],
)
def test_what_point_in_time_recovery_needs_each_named_once(flavor, granted, log, missing):
    """The server's binary log and each privilege once (MySQL's REPLICATION CLIENT serves the stream and the dump);
    SUPER covers the fine-grained privileges on MySQL, and on MariaDB all but those 11.0 took out of it (MDEV-29668)."""
    found = missing_for_pitr(Grants([Grant(frozenset(granted), None)]), flavor, "'b'@'%'", log)
    assert [m.what for m in found] == missing
    assert len({m.grant for m in found}) == len(found)
