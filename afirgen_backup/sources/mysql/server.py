"""The MySQL/MariaDB server: which flavor and version, a connection with the settings' credentials, what the
database holds (the inventory a manifest records), and the write counters the CPU yielder watches.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql

from afirgen_backup import process
from afirgen_backup.config import Settings
from afirgen_backup.errors import SourceUnavailable
from afirgen_backup.logs import get_logger
from afirgen_backup.sources.mysql.policy import GeneratedTable


@dataclass(frozen=True)
class Flavor:
    """A server or client program: 'mysql' or 'mariadb', and its version."""

    name: str
    version: tuple[int, ...]
    text: str = ""

    @property
    def is_mariadb(self) -> bool:
        return self.name == "mariadb"

    def describe(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.version))}"


def parse_version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return (0,)
    return tuple(int(part) for part in match.groups() if part is not None)


def parse_server_version(version: str, comment: str = "") -> Flavor:
    """From SELECT VERSION() and @@version_comment: '10.11.19-MariaDB-0+deb12u1' or '8.0.40'."""
    text = f"{version} {comment}"
    name = "mariadb" if "mariadb" in text.lower() else "mysql"
    # MariaDB 10.x behind replication proxies may report '5.5.5-10.11.19-MariaDB'
    if name == "mariadb" and version.startswith("5.5.5-"):
        version = version[len("5.5.5-") :]
    return Flavor(name, parse_version(version), version)


def parse_client_version(output: str) -> Flavor:
    """From `mysqldump --version`.

    MariaDB: 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)'
             'mariadb-dump from 11.4.2-MariaDB, client 10.19 for linux-systemd (x86_64)'
    MySQL:   'mysqldump  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)'
             'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)'
    """
    text = output.strip()
    mariadb = re.search(r"(?:Distrib|from)\s+(\d+\.\d+\.\d+)-MariaDB", text)
    if mariadb:
        return Flavor("mariadb", parse_version(mariadb.group(1)), text)
    distrib = re.search(r"Distrib\s+(\d+\.\d+\.\d+)", text)
    if distrib:
        return Flavor("mysql", parse_version(distrib.group(1)), text)
    ver = re.search(r"Ver\s+(\d+\.\d+\.\d+)", text)
    if ver:
        return Flavor("mysql", parse_version(ver.group(1)), text)
    return Flavor("unknown", (0,), text)


def parse_binlog_client_version(output: str) -> Flavor:
    """From `mysqlbinlog --version`: MySQL's names its release, MariaDB's only its own version (3.x).

    MySQL:   'mysqlbinlog  Ver 9.7.4-2 for Linux on x86_64 ((Debian))'
             'mysqlbinlog  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)'
    MariaDB: 'mariadb-binlog Ver 3.5 for debian-linux-gnu at x86_64' (also as mysqlbinlog)
             'mariadb-binlog from 11.4.2-MariaDB, client 3.5 for linux-systemd (x86_64)'
    (MySQL 5.7's, 'Ver 3.4', reads as MariaDB's: a client too old for MySQL 8.4's log anyway.)
    """
    text = output.strip()
    mariadb = re.search(r"(\d+\.\d+\.\d+)-MariaDB", text)
    if mariadb:
        return Flavor("mariadb", parse_version(mariadb.group(1)), text)
    mysql = re.search(r"\bVer\s+(\d+\.\d+\.\d+)", text)
    if mysql:
        return Flavor("mysql", parse_version(mysql.group(1)), text)
    return Flavor("mariadb", (0,), text)


def detect_binlog_client(program: str) -> Flavor:
    """Whose mysqlbinlog `program` is (MYSQLBINLOG_BIN): their options differ. CommandFailed when it does not run."""
    return parse_binlog_client_version(process.run((program, "--version"), what=f"{program} --version"))


def binlog_status_statement(flavor: Flavor) -> str:
    """The statement that shows where the server writes its binary log now: MySQL 8.2 renamed SHOW MASTER STATUS
    to SHOW BINARY LOG STATUS, and 8.4 removed the old name; MariaDB has the old one."""
    return "SHOW BINARY LOG STATUS" if flavor.name == "mysql" and flavor.version >= (8, 2) else "SHOW MASTER STATUS"


@dataclass(frozen=True)
class Inventory:
    """What the database holds: object names and each table's row count."""

    tables: tuple[str, ...]
    views: tuple[str, ...]
    procedures: tuple[str, ...]
    functions: tuple[str, ...]
    triggers: tuple[str, ...]
    events: tuple[str, ...]
    sequences: tuple[str, ...]
    versioned_tables: tuple[str, ...]
    row_counts: dict[str, int]
    default_character_set: str = ""
    default_collation: str = ""
    generated: dict[str, GeneratedTable] = field(default_factory=dict)  # tables with generated columns
    binary_log: bool = False  # the server writes a binary log (@@log_bin): a dump can record where it stands in it

    def counts(self) -> dict[str, int]:
        return {
            "tables": len(self.tables),
            "views": len(self.views),
            "routines": len(self.procedures) + len(self.functions),
            "procedures": len(self.procedures),
            "functions": len(self.functions),
            "triggers": len(self.triggers),
            "events": len(self.events),
            "sequences": len(self.sequences),
            "system_versioned_tables": len(self.versioned_tables),
        }

    def names(self) -> dict[str, list[str]]:
        return {
            "tables": list(self.tables),
            "views": list(self.views),
            "procedures": list(self.procedures),
            "functions": list(self.functions),
            "triggers": list(self.triggers),
            "events": list(self.events),
            "sequences": list(self.sequences),
        }


@contextlib.contextmanager
def connect(settings: Settings, database: str | None = None, **options: Any) -> Iterator[pymysql.Connection]:
    """A PyMySQL connection with the settings' credentials, or SourceUnavailable naming the server and user.

    The password goes as UTF-8 bytes, as the clients send it from their option file: PyMySQL would encode a str
    as latin-1, which sends `pässwörd` wrong and cannot send `密码€` at all."""
    try:
        connection = pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=settings.mysql_user,
            password=settings.mysql_password.encode("utf-8"),
            database=database,
            charset="utf8mb4",
            connect_timeout=15,
            autocommit=True,
            **options,
        )
    except pymysql.err.OperationalError as error:
        code, message = error.args[0], error.args[1] if len(error.args) > 1 else ""
        raise SourceUnavailable(
            f"cannot connect to MySQL at {settings.mysql_host}:{settings.mysql_port} as {settings.mysql_user}: "
            f"({code}) {message}"
        ) from None
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def server_flavor(connection: pymysql.Connection) -> Flavor:
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@version_comment")
        version, comment = cursor.fetchone()
    return parse_server_version(str(version), str(comment or ""))


def schema_charset(connection: pymysql.Connection, database: str) -> tuple[str, str] | None:
    """(default character set, default collation) of a database, or None when it does not exist."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = %s",
            (database,),
        )
        row = cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def take_inventory(connection: pymysql.Connection, database: str) -> Inventory:
    """Names of every object and each table's row count, read in one consistent snapshot."""

    def names(sql: str) -> tuple[str, ...]:
        cursor.execute(sql, (database,))
        return tuple(sorted(str(row[0]) for row in cursor.fetchall()))

    schema = schema_charset(connection, database)
    if schema is None:
        raise SourceUnavailable(f"database {database!r} does not exist on the server (MYSQL_DB)")
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        try:
            table_sql = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN "
            tables = names(table_sql + "('BASE TABLE', 'SYSTEM VERSIONED')")
            versioned = names(table_sql + "('SYSTEM VERSIONED')")
            sequences = names(table_sql + "('SEQUENCE')")
            views = names(table_sql + "('VIEW')")
            routine_sql = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND "
            procedures = names(routine_sql + "ROUTINE_TYPE = 'PROCEDURE'")
            functions = names(routine_sql + "ROUTINE_TYPE = 'FUNCTION'")
            triggers = names("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s")
            events = names("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s")
            row_counts = count_rows(cursor, database, tables)
            generated = generated_tables(cursor, database, tables)
            cursor.execute("SELECT @@GLOBAL.log_bin")
            binary_log = str(cursor.fetchone()[0]) in ("1", "ON")
        finally:
            cursor.execute("COMMIT")
    return Inventory(
        tables,
        views,
        procedures,
        functions,
        triggers,
        events,
        sequences,
        versioned,
        row_counts,
        *schema,
        generated,
        binary_log,
    )


def is_generated(extra: str) -> bool:
    """A generated column by its information_schema EXTRA: `VIRTUAL GENERATED` or `STORED GENERATED` (MySQL also
    writes `DEFAULT_GENERATED` for an expression default such as CURRENT_TIMESTAMP: a column like any other)."""
    words = extra.upper()
    return "VIRTUAL GENERATED" in words or "STORED GENERATED" in words


def generated_tables(cursor: Any, database: str, tables: tuple[str, ...]) -> dict[str, GeneratedTable]:
    """Every table with generated columns: all its columns in order (invisible ones too), and the generated."""
    cursor.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (database,),
    )
    columns: dict[str, list[tuple[str, bool]]] = {}
    for table, column, extra in cursor.fetchall():
        if str(table) in tables:
            columns.setdefault(str(table), []).append((str(column), is_generated(str(extra or ""))))
    return {
        table: GeneratedTable(tuple(c for c, _ in found), frozenset(c for c, generated in found if generated))
        for table, found in columns.items()
        if any(generated for _, generated in found)
    }


def count_rows(cursor: Any, database: str, tables: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote_identifier(database)}.{quote_identifier(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def count_rows_in_snapshot(connection: pymysql.Connection, database: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Each table's row count, all read in one consistent snapshot."""
    with connection.cursor() as cursor:
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        try:
            return count_rows(cursor, database, tables)
        finally:
            cursor.execute("COMMIT")


WRITE_COUNTERS = (
    "Com_insert",
    "Com_insert_select",
    "Com_update",
    "Com_update_multi",
    "Com_delete",
    "Com_delete_multi",
    "Com_replace",
    "Com_replace_select",
    "Com_load",
)
STATUS_QUERY = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(", ".join(f"'{c}'" for c in WRITE_COUNTERS))


class ServerWrites:
    """The sum of the server's write counters, over a connection of the watcher's own.

    The connection is opened by the watcher thread on its first read, so that a slow or unreachable server never
    delays the backup itself; after a failure the last value is returned (no activity) and the failure is logged
    once. close() after the watcher has stopped.
    """

    def __init__(self, connect: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.connect = connect
        self.stack = contextlib.ExitStack()
        self.cursor: Any = None
        self.failed = False
        self.last: int | None = None

    def __call__(self) -> int | None:
        if self.failed:
            return self.last
        try:
            if self.cursor is None:
                connection = self.stack.enter_context(self.connect())
                self.cursor = self.stack.enter_context(connection.cursor())
            self.cursor.execute(STATUS_QUERY)
            self.last = sum(int(value) for _, value in self.cursor.fetchall())
        except Exception as error:  # noqa: BLE001 - watching must never fail the backup
            self.failed = True
            get_logger().warning("cpu_yield_cannot_watch_mysql", error=f"{type(error).__name__}: {error}")
        return self.last

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()
